"""The accuracy plot: measured error within the bound in ULPs at the problem's scale (log
scale) per implementation and dtype, one panel per check. Points off the scale are drawn on its
edge as triangles, so none is hidden: exact results (0 ULP) at the bottom, any above the top
(a result within its bound stays at a few ULPs, so none should be).

Drawn with matplotlib's object API (``Figure`` and the SVG canvas, no pyplot
and no global backend switch) and written as SVG with a fixed hash salt and no date, so the
same results give the same bytes with the same matplotlib."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from conformance.report.accuracy import CHECKS, Row

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FLOOR = 1e-3  # exact results (0 ULP), and any below, are drawn here as downward triangles
CEILING = 1e4  # any error above is drawn here as an upward triangle


def accuracy_svg(rows: list[Row]) -> str:
    """The SVG document of the accuracy plot (a note in the figure when nothing was measured).

    matplotlib is imported here, not with the module: every run's worker imports the harness."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    width = max(6.0, 1.1 * len(rows) + 2.0)
    fig = Figure(figsize=(width, 6.5), layout="constrained")
    axes = fig.subplots(len(CHECKS), 1, sharex=True, squeeze=False)[:, 0]
    top = _top(rows)
    for ax, check in zip(axes, CHECKS, strict=True):
        _panel(ax, rows, check, top)
    axes[-1].set_xticks(range(len(rows)), [_label(r) for r in rows], fontsize=8)
    fig.suptitle("Error within the bound against the reference (ULPs at the problem's scale)")
    out = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": "ce-conformance", "svg.fonttype": "path"}):
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = out.getvalue()
    return text[text.index("<svg"):]


def _label(row: Row) -> str:
    return f"{row.column}\n{row.dtype}".replace("$", r"\$")


def _top(rows: list[Row]) -> float:
    """A power of ten above every error (at least 100 ULP)."""
    largest = max((min(u, CEILING) for r in rows for v in r.ulps.values() for u in v),
                  default=1.0)
    return float(10 ** np.ceil(np.log10(max(largest, 10.0)) + 1e-9))


def _panel(ax: Axes, rows: list[Row], check: str, top: float) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 2, top * 2)
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=13))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # no mathtext: fast
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel(f"{check} error (ULP)")
    ax.axhline(1.0, color="0.6", linestyle="--", linewidth=0.8)
    ax.grid(axis="y", which="major", color="0.9")
    if not rows:
        ax.text(0.5, 0.5, "no value or gradient comparisons", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
        ax.set_xlim(-0.5, 0.5)
        return
    ax.set_xlim(-0.6, len(rows) - 0.4)
    for i, row in enumerate(rows):
        ulps = np.asarray(row.ulps.get(check, ()), dtype=np.float64)
        if ulps.size == 0:
            continue
        clipped = np.clip(ulps, FLOOR, CEILING)
        ax.boxplot([clipped], positions=[i], widths=0.5, showfliers=False,
                   medianprops={"color": "C1"})
        jitter = np.linspace(-0.18, 0.18, ulps.size) if ulps.size > 1 else np.zeros(1)
        on_scale = (ulps > FLOOR) & (ulps < CEILING)
        ax.scatter((i + jitter)[on_scale], ulps[on_scale], s=6, alpha=0.5, color="C0",
                   linewidths=0)
        for off, marker, color in ((ulps <= FLOOR, "v", "0.45"), (ulps >= CEILING, "^", "C3")):
            if np.any(off):
                ax.scatter((i + jitter)[off], clipped[off], s=14, marker=marker, color=color,
                           linewidths=0, clip_on=False)
