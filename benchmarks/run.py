"""`make bench`: timings, peak memory and the ratio to a straightforward implementation.

Every case runs in its own subprocess (so that peak RSS is the case's own). Results go to
stdout and to benchmarks/results.md."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mlp(widths, activation=None, bias=False) -> str:
    lines = [f"input: {widths[0]}", "layers:"]
    for i, width in enumerate(widths[1:]):
        lines.append(f"  - linear: {{out: {width}, bias: {str(bias).lower()}}}")
        if activation and i < len(widths) - 2:
            lines.append(f"  - {activation}")
    return "\n".join(lines) + "\n"


# name -> (yaml text, target seconds, run the reference implementation too?)
COUNT_CASES = {
    "linear 2-3-3-2": (mlp((2, 3, 3, 2)), 0.1, True),
    "linear 4-3-2-5": (mlp((4, 3, 2, 5)), 0.1, True),
    "linear 2-4-3-2-3": (mlp((2, 4, 3, 2, 3)), 0.1, True),
    "relu 2-3-3-2": (mlp((2, 3, 3, 2), "relu"), 0.1, True),
    "relu 4-5-3": (mlp((4, 5, 3), "relu"), 0.1, True),
    "relu 2-3-3-2 bias": (mlp((2, 3, 3, 2), "relu", True), 0.1, True),
    "linear 5-5-5-5-5": (mlp((5, 5, 5, 5, 5)), 1.0, False),
    "linear 30-40-30": (mlp((30, 40, 30)), 10.0, False),
    "attention dim 16, head_dim 16": ("input: {tokens: 2, dim: 16}\nlayers:\n  - attention: {head_dim: 16}\n", 5.0, False),
    "relu 100-200-100": (mlp((100, 200, 100), "relu"), 30.0, False),
}


def run_case(name: str) -> dict:
    """Runs in the subprocess: one count (and the reference on small cases)."""
    from conslaw_cli import analysis

    text, _, with_reference = COUNT_CASES[name] if name != "zoo" else ("", 0, False)
    start = time.perf_counter()
    analysis.count(ROOT / "architectures/mlp_linear.yaml")  # loads the compiled kernels
    startup = time.perf_counter() - start
    start = time.perf_counter()
    if name == "zoo":
        results = [analysis.count(p) for p in sorted((ROOT / "architectures").glob("*.yaml"))]
        D, laws = sum(r.parameters for r in results), sum(r.laws for r in results)
    else:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
        result = analysis.count(f.name)
        D, laws = result.parameters, result.laws
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"D": D, "laws": laws, "seconds": seconds, "peak_mb": peak, "startup": startup}
    if with_reference:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from reference_sympy import reference_trace_dims

        _, phi = analysis.load(f.name)
        start = time.perf_counter()
        dims = reference_trace_dims(phi)
        out["reference_seconds"] = time.perf_counter() - start
        out["reference_laws"] = D - dims[-1]
    return out


def warm_up() -> None:
    """Compile the numba kernels once (cached on disk) so that no case pays for compilation."""
    subprocess.run([sys.executable, "-c", "from conslaw_cli import analysis; "
                    f"analysis.count('{ROOT / 'architectures/mlp_linear.yaml'}')"], check=True)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        print(json.dumps(run_case(sys.argv[2])))
        return
    warm_up()
    rows = ["| case | D | laws | seconds | target s | met | peak MB | reference s (sympy + float rank) | speed-up |"
            " start-up s |", "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for name in [*COUNT_CASES, "zoo"]:
        target = COUNT_CASES[name][1] if name != "zoo" else 2.0
        proc = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True, text=True)
        if proc.returncode:
            rows.append(f"| {name} | | failed: {proc.stderr.strip().splitlines()[-1]} | | | | | | |")
            print(rows[-1], flush=True)
            continue
        r = json.loads(proc.stdout)
        reference, ratio = "", ""
        if "reference_seconds" in r:
            agree = "" if r["reference_laws"] == r["laws"] else f" (says {r['reference_laws']} laws!)"
            reference = f"{r['reference_seconds']:.2f}{agree}"
            ratio = f"{r['reference_seconds'] / r['seconds']:.0f}×"
        rows.append(f"| {name} | {r['D']} | {r['laws']} | {r['seconds']:.3f} | {target:g} | "
                    f"{'yes' if r['seconds'] <= target else 'NO'} | {r['peak_mb']:.0f} | {reference} | {ratio} | "
                    f"{r['startup']:.2f} |")
        print(rows[-1], flush=True)
    text = ("# conslaw benchmarks\n\n`make bench` on this machine (2 cores). `conslaw count`: two random "
            "points, exact ranks mod p = 2^61-1; the zoo row is all of `architectures/`. Peak MB is the "
            "peak RSS of the case's own process (Python, numpy and numba included). Seconds are for the "
            "count alone; start-up is the process's first count of a tiny network (loading the compiled "
            "kernels from numba's cache), paid once per `conslaw` invocation.\n\n" + "\n".join(rows) + "\n")
    (ROOT / "benchmarks" / "results.md").write_text(text)


if __name__ == "__main__":
    main()
