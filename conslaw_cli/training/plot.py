"""The figure of `conslaw verify --plot`: relative conservation error against the step, one panel
per law family and the control, one curve per learning rate (median over seeds, band from the
smallest to the largest seed), in the style of Marcotte, Gribonval, Peyré 2025, Fig. 1."""

from __future__ import annotations

import io
import textwrap
import warnings

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .verify import slope_text  # noqa: E402

TINY = 1e-17  # floor for log axes (an error of exactly 0 after rounding)
HUGE = 1e100  # errors above this (a run diverging) are left off: log-axis ticks would overflow


def plot_results(results) -> bytes:
    """One PNG: a row per architecture, a panel per family (VerifyResult objects)."""
    columns = max(len(r.families) for r in results)
    figure, axes = plt.subplots(len(results), columns, figsize=(3.6 * columns, 3.0 * len(results)),
                                squeeze=False)
    for row, result in zip(axes, results):
        for ax, family in zip(row, result.families):
            _panel(ax, family, result.settings.learning_rates)
        for ax in row[len(result.families):]:
            ax.axis("off")
        row[0].set_ylabel(f"{result.name}\nrelative error")
    axes[0][0].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=110)
    plt.close(figure)
    return png.getvalue()


def _panel(ax, family, learning_rates) -> None:
    steps = np.arange(1, family.curves.shape[2])  # step 0 has error 0 by definition
    for index, rate in enumerate(learning_rates):
        raw = family.curves[:, index, 1:]
        curves = np.where(raw <= HUGE, np.maximum(raw, TINY), np.nan)  # a diverged run: drawn while it is finite
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # steps where every seed has diverged
            line, = ax.plot(steps, np.nanmedian(curves, axis=0), label=f"τ = {rate:g}")
            ax.fill_between(steps, np.nanmin(curves, axis=0), np.nanmax(curves, axis=0), color=line.get_color(), alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    text = slope_text(family.slopes)
    if not np.isfinite(family.curves).all():
        slope = "a run diverged: no slope"
    else:
        slope = "at rounding level" if text == "—" else f"slope {text}"
    ax.set_title("\n".join(textwrap.wrap(family.name, 40)[:3]) + f"\n{slope}", fontsize=8)
