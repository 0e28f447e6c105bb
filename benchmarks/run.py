"""`make bench`: whole-process timings, engine time, peak memory, the estimate made before the
work, and the ratio to straightforward implementations run in the same benchmark.

Every measurement is a fresh process, as a user runs it: `conslaw count FILE --json` (or `laws`,
`count --per-block`, `--help`) started by a small wrapper process that reports its only child's
peak RSS. References, each in its own process with a time limit:

* the expanded-φ engine (the previous version's algorithm: φ expanded into monomials, fields
  evaluated term by term) for every count case;
* a straightforward sympy implementation of the published algorithm
  (`benchmarks/reference_sympy.py`: symbolic brackets, float rank) for the small cases.

Results go to stdout and benchmarks/results.md."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSLAW = str(Path(sys.executable).parent / "conslaw")
LIMIT = 300  # seconds for any process; beyond it the ratio is a lower bound
REPEAT_BELOW = 2.0  # seconds: cases this short are run REPEATS times and the median run reported
# start-up scale: the machine's noise (±50 ms, in bursts) is the size of the effects measured, and a
# target relative to another case (laws < 2 × count) compares two medians, not a median and one run
REPEATS = 15
MEMORY_CAP = 8 * 2**30  # address space of any process: a reference that needs more fails, the machine lives
sys.path.insert(0, str(ROOT / "tests"))
from conftest import mlp_yaml as mlp  # noqa: E402  (the tests' MLP writer)

CIFAR_BLOCK = """input: {channels: 64, height: 32, width: 32}
layers:
  - residual:
    - conv: {out_channels: 64, kernel_size: 3}
    - relu
    - conv: {out_channels: 64, kernel_size: 3}
"""
TRANSFORMER_BLOCK = """  - residual:
    - attention: {heads: 4, head_dim: 16}
  - residual:
    - linear: {out: 256, bias: true}
    - relu
    - linear: {out: 64, bias: true}
"""
TWO_TRANSFORMER_BLOCKS = "input: {tokens: 8, dim: 64}\nlayers:\n" + TRANSFORMER_BLOCK * 2


CONV_FLATTEN_LINEAR = """input: {channels: 3, height: 4, width: 4}
layers:
  - conv: {out_channels: 3, kernel_size: 3, padding: circular}
  - relu
  - conv: {out_channels: 3, kernel_size: 3, padding: circular}
  - relu
  - flatten
  - linear: {out: 2}
"""


SOFTMAX_HEAD = "  - relu\n  - softmax_head: {classes: 10}\n"
LENET = """input: {channels: 1, height: 28, width: 28}
layers:
  - conv: {out_channels: 6, kernel_size: 5, padding: valid}
  - relu
  - conv: {out_channels: 16, kernel_size: 5, stride: 2, padding: valid}
  - relu
  - flatten
  - linear: {out: 120}
  - relu
  - linear: {out: 84}
""" + SOFTMAX_HEAD
RESNET_BLOCK = """  - residual:
    - conv: {out_channels: 16, kernel_size: 3}
    - relu
    - conv: {out_channels: 16, kernel_size: 3}
  - relu
"""
RESNET_STAGE = ("input: {channels: 3, height: 32, width: 32}\nlayers:\n  - conv: {out_channels: 16, kernel_size: 3}\n"
                "  - relu\n" + RESNET_BLOCK * 3 + "  - flatten\n  - softmax_head: {classes: 10}\n")



def resnet20_shaped() -> str:
    """ResNet-20 without batch norm: conv 16 stem + relu, 3 stages of 3 blocks [conv 3×3, relu,
    conv 3×3] + relu with 16/32/64 channels (the first block of stages 2 and 3: stride 2 and a
    1×1 projection shortcut), flatten, softmax head 10, on 3×32×32."""
    lines = ["input: {channels: 3, height: 32, width: 32}", "layers:", "  - conv: {out_channels: 16, kernel_size: 3}",
             "  - relu"]
    for stage, channels in enumerate((16, 32, 64)):
        for block in range(3):
            stride = 2 if stage and not block else 1
            lines += ["  - residual:"] + (["      shortcut: conv"] if stride == 2 else []) + [
                "      layers:", f"      - conv: {{out_channels: {channels}, kernel_size: 3, stride: {stride}}}",
                "      - relu", f"      - conv: {{out_channels: {channels}, kernel_size: 3}}", "  - relu"]
    return "\n".join(lines + ["  - flatten", "  - softmax_head: {classes: 10}"]) + "\n"


RESNET20 = resnet20_shaped()
RESNET20_GLOBAL_POOL = RESNET20.replace("  - flatten\n", "  - global_avg_pool\n")
LENET5_MAX_POOL = """input: {channels: 1, height: 32, width: 32}
layers:
  - conv: {out_channels: 6, kernel_size: 5, padding: valid, bias: true}
  - relu
  - max_pool: {kernel_size: 2}
  - conv: {out_channels: 16, kernel_size: 5, padding: valid, bias: true}
  - relu
  - max_pool: {kernel_size: 2}
  - flatten
  - linear: {out: 120, bias: true}
  - relu
  - linear: {out: 84, bias: true}
  - relu
  - softmax_head: {classes: 10}
"""


def attention(dim: int, head_dim: int) -> str:
    return f"input: {{tokens: 2, dim: {dim}}}\nlayers:\n  - attention: {{head_dim: {head_dim}}}\n"


GPT2_SMALL_STACK = "input: {tokens: 16, dim: 768}\nlayers:\n" + """  - residual:
      - attention: {heads: 12, head_dim: 64}
  - residual:
      - linear: {out: 3072, bias: true}
      - gelu
      - linear: {out: 768, bias: true}
""" * 12
LLAMA_BLOCK = """input: {tokens: 16, dim: 512}
layers:
  - residual:
      - rms_norm
      - attention: {heads: 8, head_dim: 64, causal: true}
  - residual:
      - rms_norm
      - glu: {out: 1376, gate: silu}
      - linear: {out: 512}
"""
SWIGLU_AFTER_RELU = "input: 3\nlayers:\n  - linear: {out: 4}\n  - relu\n  - glu: {out: 3, gate: silu}\n  - linear: {out: 2}\n"


# name -> (command, yaml text | "zoo" | zoo file, target seconds, target MB, references)
# references: "expanded" (previous engine), "sympy" (published algorithm, straightforward)
STEM_STACK = ("input: 3\nlayers:\n  - linear: {out: 3}\n  - relu\n"
              + "  - residual: [{linear: {out: 3}}, relu, {linear: {out: 3}}]\n" * 2 + "  - linear: {out: 2}\n")

CASES = {
    "count ReLU 20-60-60-10 (bias)": ("count", mlp((20, 60, 60, 10), "relu", True), 20, 2048, ("expanded",)),
    "count deep linear 8-8-8-8-8-8": ("count", mlp((8,) * 6), 2, None, ("expanded",)),
    "count CIFAR block 64×32×32": ("count", CIFAR_BLOCK, 20, 2048, ("expanded",)),
    "count linear 30-40-30": ("count", mlp((30, 40, 30)), 5, None, ("expanded",)),
    "count attention dim 32, head_dim 32": ("count", attention(32, 32), 3, None, ("expanded",)),
    "count MNIST MLP 784-128-64-10 (bias)": ("count", mlp((784, 128, 64, 10), "relu", True), 120, 4096, ("expanded",)),
    "count two transformer blocks": ("count", TWO_TRANSFORMER_BLOCKS, 120, 4096, ("expanded",)),
    "count ReLU 784-128-64 + softmax head 10 (bias)": ("count", mlp((784, 128, 64), "relu", True) + SOFTMAX_HEAD,
                                                       "count MNIST MLP 784-128-64-10 (bias)", 4096, ()),
    "count ReLU 784-1024-1024 + softmax head 10": ("count", mlp((784, 1024, 1024), "relu") + SOFTMAX_HEAD, 30, 4096, ()),
    "count LeNet-5-like + softmax head 10 on 1×28×28": ("count", LENET, 10, 4096, ()),
    "count ResNet stage: stem 16 + 3 blocks relu(x + body), 16×32×32, softmax head 10": ("count", RESNET_STAGE, 60,
                                                                                        4096, ()),
    "count ResNet-20-shaped (16/32/64, stride-2 projections, no batch norm) + softmax head 10": (
        "count", RESNET20, 60, 4096, ()),
    "count LeNet-5 (max pooling, biases) + softmax head 10 on 1×32×32": ("count", LENET5_MAX_POOL, 10, 4096, ()),
    "count ResNet-20-shaped with global average pooling (no batch norm) + softmax head 10": (
        "count", RESNET20_GLOBAL_POOL, 60, 4096, ()),
    "report latex ReLU 784-128-64 + softmax head 10 (bias)": ("report", mlp((784, 128, 64), "relu", True) + SOFTMAX_HEAD,
                                                              "count ReLU 784-128-64 + softmax head 10 (bias)", None, ()),
    "report latex LeNet-5-like + softmax head 10 on 1×28×28": ("report", LENET,
                                                               "count LeNet-5-like + softmax head 10 on 1×28×28", None, ()),
    "report latex ResNet stage 16×32×32": ("report", RESNET_STAGE,
                                           "count ResNet stage: stem 16 + 3 blocks relu(x + body), 16×32×32, softmax head 10",
                                           None, ()),
    "report latex ResNet-20-shaped": ("report", RESNET20, "count ResNet-20-shaped (16/32/64, stride-2 projections, "
                                      "no batch norm) + softmax head 10", None, ()),
    "count linear 100000-100000 (refused)": ("count", "input: 100000\nlayers:\n  - linear: {out: 100000}\n", 1, 200, ()),
    "count linear 2-4-3-2-3": ("count", mlp((2, 4, 3, 2, 3)), 0.25, None, ("expanded", "sympy")),
    "count ReLU 4-5-3": ("count", mlp((4, 5, 3), "relu"), 0.25, None, ("expanded", "sympy")),
    "count ReLU 2-3-3-2 (bias)": ("count", mlp((2, 3, 3, 2), "relu", True), 0.25, None, ("expanded", "sympy")),
    "count ReLU 100-200-100": ("count", mlp((100, 200, 100), "relu"), 30, 1024, ("expanded",)),
    "count zoo (14 files)": ("count", "zoo", 4, None, ()),
    "count ReLU stem 3 + 2 residual ReLU blocks (certified)": ("count", STEM_STACK, 1, None, ()),
    "count tanh 10-20-20-10 (ball-arithmetic certificate)": ("count", mlp((10, 20, 20, 10), "tanh"), 30, None, ()),
    "count GPT-2-small-shaped stack (12 blocks, dim 768, 12 heads of 64, MLP 3072 GELU, 16 tokens, no embeddings)": (
        "count", GPT2_SMALL_STACK, 600, 16384, ()),
    "count LLaMA-shaped block (dim 512, 8 causal heads, RMSNorm, SwiGLU 1376; no RoPE)": ("count", LLAMA_BLOCK, 60, 4096, ()),
    "count ReLU 3-4 + SwiGLU 3 + linear 2 (certified)": ("count", SWIGLU_AFTER_RELU, 5, None, ()),
    "conslaw --help": ("help", "", 0.15, None, ()),
    "start-up floor: python -c 'import numpy, typer, yaml' (one BLAS thread)": ("floor", "", None, None, ()),
    "laws deg 2 linear 2-3-3-2": ("laws", mlp((2, 3, 3, 2)), 0.5, None, ("sympy",)),
    "laws deg 2 ReLU 3-4-2": ("laws", mlp((3, 4, 2), "relu"), 0.5, None, ("sympy",)),
    "laws deg 2 linear 5-5-5-5": ("laws", mlp((5, 5, 5, 5)), 2, None, ()),
    "laws deg 2 attention dim 8, head_dim 8": ("laws", attention(8, 8), 30, None, ()),
    "count --flow sign ReLU 10-20-10": ("sign", mlp((10, 20, 10), "relu"), 2, None, ()),
    "count --flow sign ReLU 30-40-30": ("sign", mlp((30, 40, 30), "relu"), 60, None, ()),
    "count --per-block resnet (zoo)": ("per-block", "architectures/resnet.yaml", 5, None, ()),
    "laws deg 2 conv 3→3→3 on 3×4×4 + flatten + linear 2": ("laws", CONV_FLATTEN_LINEAR, 10, 1024, ()),
    "laws deg 2 ReLU 8-20-20-4": ("laws", mlp((8, 20, 20, 4), "relu"), 5, None, ()),
    "laws deg 2 MNIST MLP 784-128-64-10 (bias)": ("laws", mlp((784, 128, 64, 10), "relu", True),
                                                  "count MNIST MLP 784-128-64-10 (bias)", None, ()),
    "laws deg 2 CIFAR block 64×32×32": ("laws", CIFAR_BLOCK, "count CIFAR block 64×32×32", None, ()),
    "laws deg 2 two transformer blocks": ("laws", TWO_TRANSFORMER_BLOCKS, "count two transformer blocks", None, ()),
}
# a target given as a case name: at most twice that case's whole-process time in the same run (three
# times for a report, which counts and finds the laws);
# no target: a row for context (the floor: the libraries every count imports, as conslaw starts them
# (OpenBLAS with one thread, see conslaw_cli/blas_threads.py), and nothing else)
FLOOR = ["env", "OPENBLAS_NUM_THREADS=1", sys.executable, "-c", "import numpy, typer, yaml"]


def _files(text: str, folder: Path) -> list[str]:
    if text == "zoo":
        return [str(p) for p in sorted((ROOT / "architectures").glob("*.yaml"))]
    if text.startswith("architectures/"):
        return [str(ROOT / text)]
    path = folder / "case.yaml"
    path.write_text(text)
    return [str(path)]


def measure(argv: list[str], timeout: float = LIMIT) -> dict:
    """Run `argv` as the only child of a fresh wrapper process: wall seconds, peak MB, exit code,
    stdout (the wrapper's own start-up is not counted)."""
    wrapper = ("import json, resource, subprocess, sys, time\n"
               f"cap = lambda: resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))\n"
               "start = time.perf_counter()\n"
               "try:\n"
               f"    proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout={timeout}, "
               "preexec_fn=cap)\n"
               "    code, out, err = proc.returncode, proc.stdout, proc.stderr\n"
               "except subprocess.TimeoutExpired:\n"
               "    code, out, err = 'timeout', '', ''\n"
               "wall = time.perf_counter() - start\n"
               "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
               "print(json.dumps({'wall': wall, 'peak_mb': peak, 'code': code, 'out': out, 'err': err}))\n")
    proc = subprocess.run([sys.executable, "-c", wrapper, *argv], capture_output=True, text=True)
    return json.loads(proc.stdout)


def _command(command: str, files: list[str]) -> list[str]:
    if command == "help":
        return [CONSLAW, "--help"]
    if command == "floor":
        return FLOOR
    if command == "per-block":
        return [CONSLAW, "count", "--per-block", *files]
    if command == "laws":
        return [CONSLAW, "laws", "--json", *files]
    if command == "report":
        return [CONSLAW, "report", "--format", "latex", *files]
    if command == "sign":
        return [CONSLAW, "count", "--flow", "sign", "--json", *files]
    return [CONSLAW, "count", "--json", *files]


def measure_cases(chosen: list[str], folder: Path) -> dict[str, tuple[dict, list[str]]]:
    """Every chosen case once, then the cases under REPEAT_BELOW in REPEATS − 1 more rounds over all
    of them (round robin: a burst of the machine's noise falls on several cases, not on all the runs
    of one); for each case its median run and its files."""
    runs, files = {}, {}
    for k, name in enumerate(chosen):
        command, text = CASES[name][:2]
        (folder / str(k)).mkdir()
        files[name] = _files(text, folder / str(k))
        runs[name] = [measure(_command(command, files[name]))]
    short = [name for name in chosen if runs[name][0]["wall"] < REPEAT_BELOW]
    for _ in range(REPEATS - 1):
        for name in short:
            runs[name].append(measure(_command(CASES[name][0], files[name])))
    return {name: (sorted(r, key=lambda run: run["wall"])[len(r) // 2], files[name]) for name, r in runs.items()}


def case_row(name: str, run: dict) -> dict:
    """What one (median) run of a case says: its result, times, peak and the estimate."""
    command = CASES[name][0]
    row = {"wall": run["wall"], "peak_mb": run["peak_mb"], "result": "", "engine": "", "estimate": ""}
    if run["code"] == "timeout":
        row["result"] = f"timeout ({LIMIT} s)"
    elif command == "count" and run["code"] == 0:
        results = json.loads(run["out"])
        row["result"] = str(sum(r["laws"] for r in results))
        row["engine"] = f"{sum(r['seconds'] for r in results):.3f}"
        row["D"] = sum(r["parameters"] for r in results)
        statuses = sorted({r["status"] for r in results})
        row["exact"] = statuses[0] if len(statuses) == 1 else ", ".join(
            f"{sum(r['status'] == s for r in results)} {s}" for s in statuses)
        est = [r for r in results if r.get("estimate_seconds") is not None]
        if est:
            seconds, megabytes = sum(r["estimate_seconds"] for r in est), max(r["estimate_bytes"] for r in est) / 2**20
            engine = sum(r["seconds"] for r in est)
            row["estimate"] = (f"{seconds:.2f} s, {megabytes:.0f} MB ({seconds / max(engine, 1e-3):.1f}× / "
                               f"{megabytes / run['peak_mb']:.1f}×)")
    elif command == "sign" and run["code"] == 0:
        results = json.loads(run["out"])
        row["result"] = str(sum(r["laws"] for r in results))
        row["engine"] = f"{sum(r['seconds'] for r in results):.3f}"
        row["D"] = sum(r["parameters"] for r in results)
        row["exact"] = "upper bound"
        seconds = sum(r["estimate_seconds"] for r in results)
        row["estimate"] = f"{seconds:.2f} s ({seconds / max(float(row['engine']), 1e-3):.1f}×)"
    elif command == "laws" and run["code"] == 0:
        results = json.loads(run["out"])
        row["result"] = str(sum(len(r["laws"]) + r["products"] for r in results))
        row["D"] = sum(r["parameters"] for r in results) if all("parameters" in r for r in results) else ""
        row["exact"] = "complete" if all(r["complete"] for r in results) else "incomplete"
    elif command == "report" and run["code"] == 0:
        row["result"] = f"{len(run['out'].splitlines())} lines of LaTeX"
    elif command == "help" and run["code"] == 0:
        row["result"] = "usage printed"
    elif command == "floor" and run["code"] == 0:
        row["result"] = "imports done"
    elif command == "per-block" and run["code"] == 0:
        total = [line for line in run["out"].splitlines() if "total count" in line]
        row["result"] = total[0].split("│")[-3].strip() + " (total count)" if total else "exit 0"
    elif command == "count" and run["code"] == 2:
        row["result"] = "refused: " + run["err"].splitlines()[0].split(": ", 1)[1][:90]
    elif run["code"] != 0:
        row["result"] = f"exit {run['code']}"
    return row


def run_expanded(files: list[str]) -> dict:
    """The previous version's engine (φ expanded into monomials), whole process."""
    code = ("import sys\nfrom conslaw_cli import analysis\nfrom conslaw_cli.counting import expanded_phi as engine\n"
            "total = 0\n"
            "for f in sys.argv[1:]:\n"
            "    graph, phi = analysis.load(f, max_terms=10**9)\n"
            "    total += graph.num_params - engine.trace_dimension(phi, max_block=10**9).dimension\n"
            "print(total)\n")
    return measure([sys.executable, "-c", code, *files])


def run_sympy(command: str, files: list[str]) -> dict:
    code = ("import sys\nsys.path.insert(0, sys.argv[1])\n"
            "from reference_sympy import reference_law_count, reference_trace_dims\n"
            "from conslaw_cli import analysis\n"
            "graph, phi = analysis.load(sys.argv[3])\n"
            "print(graph.num_params - reference_trace_dims(phi)[-1] if sys.argv[2] == 'count' "
            "else reference_law_count(phi, 2))\n")
    return measure([sys.executable, "-c", code, str(ROOT / "benchmarks"), command, files[0]])


def _reference_cell(run: dict, ours: dict) -> tuple[str, str]:
    if run["code"] == "timeout":
        return f"> {LIMIT}", f"> {LIMIT / ours['wall']:.0f}×"
    if run["code"] != 0:
        if "polynomial terms (limit" in run["err"]:  # its own size guard, before any work
            return "refused: " + run["err"].split("needs about ", 1)[1].split(" (limit")[0], ""
        return "failed" + (" (memory cap)" if "MemoryError" in run["err"] else ""), ""
    agree = "" if run["out"].strip() == ours["result"] else f" (says {run['out'].strip()})"
    return f"{run['wall']:.2f}{agree}", f"{run['wall'] / ours['wall']:.1f}×"


def _measured_references() -> dict[str, tuple[str, str]]:
    """The reference cells (expanded-φ s, sympy s) of every row of benchmarks/results.md."""
    rows = [line.split(" | ") for line in (ROOT / "benchmarks" / "results.md").read_text().splitlines()
            if line.startswith("| count") or line.startswith("| laws") or line.startswith("| conslaw")]
    return {cells[0].removeprefix("| "): (cells[10], cells[12]) for cells in rows}


def _ratio_again(seconds: str, ours: dict) -> tuple[str, str]:
    """A reference cell kept from results.md, with its ratio to the new measurement."""
    if seconds.startswith("> "):
        return seconds, f"> {float(seconds[2:]) / ours['wall']:.0f}×"
    try:
        return seconds, f"{float(seconds.split()[0]) / ours['wall']:.1f}×"
    except (ValueError, IndexError):
        return seconds, ""


def _intro() -> str:
    """The paragraph above the table: what every column means."""
    return ("# conslaw benchmarks\n\n`make bench` on this machine (2 cores, idle unless said otherwise; it is a "
            "virtual machine whose neighbours make the same command vary by ±20 % from one run to the next). Every "
            "number is a fresh process as a user runs it (`conslaw count FILE --json`, imports included): "
            "**whole process s** is the wall time a user waits, **engine s** the `seconds` the command "
            "reports (its own work, without start-up), **peak MB** the process's peak RSS, **estimate** what "
            "the refusal logic predicted from the layer shapes before any work, and in brackets its ratio to what was "
            "measured (estimated ÷ engine seconds / estimated ÷ peak MB; the refusal logic needs them within 3×); cases under two seconds are run "
            f"{REPEATS} times, in rounds over all of them, and the median run is shown (bytecode compiled first, as `pip install` leaves it; "
            "the *start-up floor* row is a Python that only imports the libraries every count needs: numpy, "
            "typer, pyyaml, with OpenBLAS started on one thread as conslaw starts it). `count` results are laws "
            "(exact mod p = 2^61 − 1, two random points); `laws` results are laws listed + independent "
            "products. References run in the same benchmark, each in its own process, stopped after "
            f"{LIMIT} s: the **expanded-φ engine** is the previous version's algorithm (φ expanded into "
            "monomials, fields evaluated term by term); the **sympy reference** is a straightforward "
            "implementation of the published algorithm (`benchmarks/reference_sympy.py`: symbolic "
            "brackets, float rank). Ratios are reference wall time / ours.\n\n")


KEPT_NOTE = ("The references were not run again (`--keep-references`): their seconds are from the last run that "
             "measured them (a full run or an earlier --update), the ratios are to the new measurement.\n\n")


def _update_rows(rows: list[str], references_kept: bool = False) -> None:
    """Replace the rows of these cases in benchmarks/results.md (`--update`: a case measured again)."""
    path = ROOT / "benchmarks" / "results.md"
    fresh = {row.split(" | ")[0]: row for row in rows[2:]}
    lines = path.read_text().splitlines()
    table = [line for line in lines if line.startswith("|")]
    kept = {line.split(" | ")[0]: line for line in table[2:]}
    # in the order of CASES; a case new to results.md gets its row, one no longer in CASES is dropped
    merged = table[:2] + [row for name in CASES if (row := fresh.get(f"| {name}", kept.get(f"| {name}")))]
    prefix = "Rows measured again with `benchmarks/run.py --update` (same script, idle machine): "
    earlier = [line.removeprefix(prefix).removesuffix(".").split("; ") for line in lines if line.startswith(prefix)]
    names = [line.split(" | ")[0].removeprefix("| ") for line in merged[2:]]
    again = set(sum(earlier, [])) | {row.split(" | ")[0].removeprefix("| ") for row in rows[2:]}
    note = prefix + "; ".join(name for name in names if name in again) + ".\n\n"
    references_kept = references_kept or KEPT_NOTE.strip() in lines  # other rows may keep theirs from before
    path.write_text(_intro() + note + (KEPT_NOTE if references_kept else "") + "\n".join(merged) + "\n")


def main() -> None:
    """All cases, or those whose name contains one of the arguments (then results.md is kept, or
    with --update the rows of those cases are replaced in it; --keep-references keeps the
    references' seconds from results.md instead of running them again)."""
    update = "--update" in sys.argv
    kept = _measured_references() if "--keep-references" in sys.argv else None
    words = [word for word in sys.argv[1:] if word not in ("--update", "--keep-references")]
    chosen = [name for name in CASES if not words or any(word in name for word in words)]
    if shutil.which(CONSLAW) is None:
        sys.exit("run `make bench` (the venv's conslaw is needed)")
    # bytecode compiled, as `pip install` leaves a package (with PYTHONDONTWRITEBYTECODE set, an
    # editable checkout would compile every module on every run: +40 ms on a small count), and
    # the numba kernels cached
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "conslaw_cli")], capture_output=True)
    subprocess.run([CONSLAW, "count", str(ROOT / "architectures/mlp_linear.yaml")], capture_output=True)
    print(f"measuring every case (those under {REPEAT_BELOW:g} s in rounds), then the references …", flush=True)
    header = ("| case | D | result | status | whole process s | engine s | peak MB | estimate (before work) "
              "| target | met | expanded-φ engine s | ratio | sympy reference s | ratio |")
    rows = [header, "|" + "---|" * 14]
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        measured = measure_cases(chosen, Path(tmp))
        for name in chosen:
            command, text, target_s, target_mb, refs = CASES[name]
            run, files = measured[name]
            ours = case_row(name, run)
            walls[name] = ours["wall"]
            factor = 3 if command == "report" else 2  # a report: < 3 × its count (issue 22)
            target = f"< {target_s:g} s" if isinstance(target_s, (int, float)) else f"< {factor} × {target_s}"
            if isinstance(target_s, str):
                target_s = factor * walls[target_s] if target_s in walls else float("nan")
            met = ours["wall"] <= target_s and (target_mb is None or ours["peak_mb"] <= target_mb) \
                if target_s is not None else None
            if not ours["result"] or ours["result"].startswith(("exit", "timeout")):
                met = False
            if target_s is None:
                target = "(context)"
            if kept is not None and name in kept:  # the references do not change: their seconds, new ratios
                expanded, symbolic = (_ratio_again(cell, ours) for cell in kept[name])
            else:
                expanded = _reference_cell(run_expanded(files), ours) if "expanded" in refs else ("", "")
                symbolic = _reference_cell(run_sympy(command, files), ours) if "sympy" in refs else ("", "")
            target += f", < {target_mb} MB" if target_mb else ""
            rows.append(f"| {name} | {ours.get('D', '')} | {ours['result']} | {ours.get('exact', '')} | "
                        f"{ours['wall']:.2f} | {ours['engine']} | {ours['peak_mb']:.0f} | {ours['estimate']} | "
                        f"{target} | {'' if met is None else 'yes' if met else 'NO'} | {expanded[0]} | {expanded[1]} | "
                        f"{symbolic[0]} | {symbolic[1]} |")
            print(rows[-1], flush=True)

    if update:
        _update_rows(rows, references_kept=kept is not None)
    elif len(chosen) == len(CASES):
        kept_note = KEPT_NOTE if kept is not None else ""
        (ROOT / "benchmarks" / "results.md").write_text(_intro() + kept_note + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
