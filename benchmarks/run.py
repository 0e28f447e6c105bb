"""`make bench`: timings, peak memory and the ratio to a straightforward implementation.

Every case runs in its own subprocess (so that peak RSS is the case's own), and so does the
reference implementation (with a time limit). Results go to stdout and benchmarks/results.md."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_LIMIT = 300  # seconds; beyond it the speed-up is reported as a lower bound
MEMORY_TARGET_MB = 1024  # every case: peak memory under 1 GB
sys.path.insert(0, str(ROOT / "tests"))
from conftest import mlp_yaml as mlp  # noqa: E402  (the tests' MLP writer)


def attention(dim: int, head_dim: int) -> str:
    return f"input: {{tokens: 2, dim: {dim}}}\nlayers:\n  - attention: {{head_dim: {head_dim}}}\n"


# name -> (command, yaml text or "zoo", degree, target seconds, compare with the reference?)
CASES = {
    "count linear 2-3-3-2": ("count", mlp((2, 3, 3, 2)), 0, 0.1, True),
    "count linear 4-3-2-5": ("count", mlp((4, 3, 2, 5)), 0, 0.1, True),
    "count linear 2-4-3-2-3": ("count", mlp((2, 4, 3, 2, 3)), 0, 0.1, True),
    "count relu 2-3-3-2": ("count", mlp((2, 3, 3, 2), "relu"), 0, 0.1, True),
    "count relu 4-5-3": ("count", mlp((4, 5, 3), "relu"), 0, 0.1, True),
    "count relu 2-3-3-2 bias": ("count", mlp((2, 3, 3, 2), "relu", True), 0, 0.1, True),
    "count linear 5-5-5-5-5": ("count", mlp((5, 5, 5, 5, 5)), 0, 1.0, False),
    "count linear 30-40-30": ("count", mlp((30, 40, 30)), 0, 10.0, False),
    "count attention dim 16, head_dim 16": ("count", attention(16, 16), 0, 5.0, False),
    "count relu 100-200-100": ("count", mlp((100, 200, 100), "relu"), 0, 30.0, False),
    "count zoo (12 files)": ("count", "zoo", 0, 2.0, False),
    "laws deg 2 linear 2-3-3-2": ("laws", mlp((2, 3, 3, 2)), 2, 0.05, True),
    "laws deg 2 relu 3-4-2": ("laws", mlp((3, 4, 2), "relu"), 2, 0.05, True),
    "laws deg 2 linear 5-5-5-5": ("laws", mlp((5, 5, 5, 5)), 2, 2.0, False),
    "laws deg 2 attention dim 8, head_dim 8": ("laws", attention(8, 8), 2, 30.0, False),
    "laws deg 4 linear 2-2-2": ("laws", mlp((2, 2, 2)), 4, 5.0, False),
    "count --per-block resnet (zoo)": ("per-block", "architectures/resnet.yaml", 0, 5.0, False),
    "count --per-block transformer_block (zoo)": ("per-block", "architectures/transformer_block.yaml", 0, 5.0, False),
}


def _files(text: str) -> list[Path]:
    if text == "zoo":
        return sorted((ROOT / "architectures").glob("*.yaml"))
    if text.startswith("architectures/"):
        return [ROOT / text]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
    return [Path(f.name)]


def run_case(name: str) -> dict:
    """In a subprocess: the conslaw command on the case, after loading the compiled kernels."""
    from conslaw_cli import analysis

    command, text, degree, _, _ = CASES[name]
    start = time.perf_counter()
    analysis.count(ROOT / "architectures/mlp_linear.yaml")  # loads the compiled kernels
    startup = time.perf_counter() - start
    files = _files(text)

    def once() -> int:
        if command == "count":
            return sum(analysis.count(p).laws for p in files)
        if command == "per-block":
            return sum(sum(row.laws for row in analysis.per_block(p)[1]) for p in files)
        return sum(len(r.laws) + r.products for r in (analysis.laws(p, degree=degree) for p in files))

    timings = []
    while len(timings) < (3 if sum(timings) < 1 else 1):  # best of 3 for sub-second cases
        start = time.perf_counter()
        result = once()
        timings.append(time.perf_counter() - start)
    seconds = min(timings)
    D = sum(analysis.load_graph(p).num_params for p in files)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"D": D, "result": result, "seconds": seconds, "peak_mb": peak, "startup": startup}


def run_reference(name: str) -> dict:
    """In a subprocess: the straightforward sympy + float-rank implementation on the case."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from reference_sympy import reference_law_count, reference_trace_dims

    from conslaw_cli import analysis

    command, text, degree, _, _ = CASES[name]
    graph, phi = analysis.load(_files(text)[0])
    start = time.perf_counter()
    if command == "count":
        result = graph.num_params - reference_trace_dims(phi)[-1]
    else:
        result = reference_law_count(phi, degree)
    return {"seconds": time.perf_counter() - start, "result": int(result)}


def _subprocess(flag: str, name: str, timeout: float | None = None) -> dict | str:
    try:
        proc = subprocess.run([sys.executable, __file__, flag, name], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    if proc.returncode:
        return "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return json.loads(proc.stdout)


def main() -> None:
    if len(sys.argv) == 3:
        runner = {"--case": run_case, "--reference": run_reference}[sys.argv[1]]
        print(json.dumps(runner(sys.argv[2])))
        return
    subprocess.run([sys.executable, "-c", "from conslaw_cli import analysis; "
                    f"analysis.count('{ROOT / 'architectures/mlp_linear.yaml'}')"], check=True)  # compile
    rows = ["| case | D | result | seconds | target s | met | peak MB | reference s | speed-up | start-up s |",
            "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for name, (_, _, _, target, with_reference) in CASES.items():
        r = _subprocess("--case", name)
        if isinstance(r, str):
            rows.append(f"| {name} | | {r} | | {target:g} | NO | | | | |")
            print(rows[-1], flush=True)
            continue
        reference, ratio = "", ""
        if with_reference:
            ref = _subprocess("--reference", name, timeout=REFERENCE_LIMIT)
            if ref == "timeout":
                reference, ratio = f"> {REFERENCE_LIMIT}", f"> {REFERENCE_LIMIT / r['seconds']:.0f}×"
            elif isinstance(ref, str):
                reference = ref
            else:
                agree = "" if ref["result"] == r["result"] else f" (reference says {ref['result']})"
                reference, ratio = f"{ref['seconds']:.2f}{agree}", f"{ref['seconds'] / r['seconds']:.0f}×"
        met = "yes" if r["seconds"] <= target and r["peak_mb"] < MEMORY_TARGET_MB else "NO"
        rows.append(f"| {name} | {r['D']} | {r['result']} | {r['seconds']:.3f} | {target:g} | {met} | "
                    f"{r['peak_mb']:.0f} | {reference} | {ratio} | {r['startup']:.2f} |")
        print(rows[-1], flush=True)
    text = ("# conslaw benchmarks\n\n`make bench` on this machine (2 cores). `count`: laws counted with two "
            "random points, exact ranks mod p = 2^61 − 1; `laws`: result = laws listed + independent "
            "products. Seconds are the command's own work; start-up is the first count of a tiny network "
            "in a fresh process (loading numba's cached kernels), paid once per `conslaw` invocation; cases "
            "under a second are the best of three runs. `met` = within the time target and under 1 GB peak. "
            "`per-block`: result = sum of the block laws listed. Peak "
            "MB is the peak RSS of the case's process. Reference: a straightforward implementation of the "
            "published algorithms (`benchmarks/reference_sympy.py`: symbolic sympy brackets or laws "
            f"system, float rank at one point), run in the same `make bench`, stopped after {REFERENCE_LIMIT} s."
            "\n\n" + "\n".join(rows) + "\n")
    (ROOT / "benchmarks" / "results.md").write_text(text)


if __name__ == "__main__":
    main()
