"""Fig. 1-style experiment of Marcotte, Gribonval, Peyré 2025 (§5.2): a conv–ReLU residual block
and a one-layer attention model trained with SGD at τ ∈ {1e-3, 2e-3, 5e-3}, 10 seeds, 50 steps.
The relative error of each law family should scale like τ² (slope ≈ 2), the control ‖θ‖² like τ
(slope ≈ 1). Writes benchmarks/verify_sgd.png and benchmarks/verify_sgd.md.

Run: .venv/bin/python benchmarks/verify_sgd.py   (not a test: about a minute on 2 cores)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conslaw_cli.training.plot import plot_results  # noqa: E402
from conslaw_cli.training.verify import Settings, slope_text, verify  # noqa: E402

FILES = [ROOT / "architectures" / "resnet_block.yaml", ROOT / "architectures" / "attention.yaml"]
SETTINGS = Settings(optimizer="sgd", learning_rates=(1e-3, 2e-3, 5e-3), steps=50, batch=16, seeds=10)


def main() -> None:
    start = time.perf_counter()
    results = [verify(path, SETTINGS) for path in FILES]
    (ROOT / "benchmarks" / "verify_sgd.png").write_bytes(plot_results(results))
    lines = ["# SGD drift of the laws (Marcotte, Gribonval, Peyré 2025, Fig. 1 setting)", "",
             f"SGD, batch {SETTINGS.batch}, τ ∈ {{1e-3, 2e-3, 5e-3}}, {SETTINGS.steps} steps, {SETTINGS.seeds} seeds, "
             "random Gaussian data and teacher. Slope of log(final relative error) against log τ, mean ± std "
             "over seeds. Figure: `verify_sgd.png`.", "",
             "| architecture | family | laws | slope | verdict |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        lines += [f"| {r.name} | {f.name} | {f.laws} | {slope_text(f.slopes)} | {f.verdict} |" for f in r.families]
    lines += ["", f"Total time {time.perf_counter() - start:.0f} s."]
    (ROOT / "benchmarks" / "verify_sgd.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
