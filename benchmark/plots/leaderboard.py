"""Leaderboard plots (matplotlib, Agg): main score against cost with the Pareto front, breakdown bars.

Each figure is written as PNG and SVG (:func:`save_figure`); the SVG text is what the HTML
page inlines. SVG output is made reproducible (fixed ``svg.hashsalt``, no date metadata)
so that a rebuild from the same inputs gives the same bytes.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only (set before pyplot is imported)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from asabench.simulate.io.files import Pathlike, atomic_write_bytes  # noqa: E402

__all__ = ["pareto_front", "pareto_figure", "breakdown_figures", "save_figure", "board_figures"]

_MARKERS = {"reported": "o", "reproduced": "s", "submitted": "^"}


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Indices of the points no other point beats on both cost (x, lower better) and score (y).

    A point is on the front when every point at most as costly has a worse score (ties in
    cost: the best score only). Returned in order of increasing cost.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1] if higher_is_better
                                                        else points[i][1]))
    front: list[int] = []
    best: float | None = None
    for i in order:
        y = points[i][1]
        if best is None or (y > best if higher_is_better else y < best):
            front.append(i)
            best = y
    return front


def _cost(board: Any) -> tuple[str, str] | None:
    """The one cost definition plotted: the per-second MAC count, else torchinfo Mult-Adds per clip."""
    counts = {attr: sum(1 for r in board.rows if getattr(r, attr) is not None and
                        (board.main.key, board.main.main_metric) in r.cells)
              for attr in ("gmacs_per_s", "torchinfo_gmult_adds_clip")}
    if counts["gmacs_per_s"] >= 2:
        return "gmacs_per_s", "MAC/s (G, per second of audio)"
    if counts["torchinfo_gmult_adds_clip"] >= 2:
        return "torchinfo_gmult_adds_clip", "Mult-Adds per 4-s clip (G, torchinfo)"
    return None


def pareto_figure(board: Any) -> Figure | None:
    """Main score against cost for the rows that have both; the Pareto front as a step line."""
    cost = _cost(board)
    if cost is None:
        return None
    attr, xlabel = cost
    g = board.main
    rows = [r for r in board.rows if getattr(r, attr) is not None and (g.key, g.main_metric) in r.cells]
    pts = [(getattr(r, attr), r.cells[(g.key, g.main_metric)].value) for r in rows]
    fig = Figure(figsize=(7.0, 4.5), dpi=100)
    ax = fig.add_subplot()
    for origin, marker in _MARKERS.items():
        sel = [k for k, r in enumerate(rows) if r.origin == origin]
        if sel:
            ax.scatter([pts[k][0] for k in sel], [pts[k][1] for k in sel], marker=marker, s=36,
                       label=origin, zorder=3)
    for (x, y), r in zip(pts, rows):
        ax.annotate(r.system + (" (oracle)" if r.oracle else ""), (x, y), textcoords="offset points",
                    xytext=(4, 3), fontsize=7)
    front = pareto_front(pts, g.higher_is_better)
    fx = [pts[i][0] for i in front]
    fy = [pts[i][1] for i in front]
    ax.step(fx, fy, where="post", color="0.4", linewidth=1.0, linestyle="--", label="Pareto front", zorder=2)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{g.key}: {g.main_metric} ({'higher' if g.higher_is_better else 'lower'} is better)")
    ax.set_title(f"{board.name}: main score against cost", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def breakdown_figures(board: Any) -> list[tuple[str, Figure]]:
    """Grouped bars of the measured rows' breakdowns of the main entry: per source count
    (the main score) and, for SELD, per class (F20 per class)."""
    g = board.main
    rows = [r for r in board.rows if r.breakdown]
    out: list[tuple[str, Figure]] = []
    for kind, metric, title in (("per_source_count", g.main_metric, "by number of sources"),
                                ("per_class", "f_class", "F20 per class")):
        series = []
        for r in rows:
            bd = (r.breakdown.get(kind) or {}).get("values", {}).get(metric)
            if bd:
                series.append((r.system, bd))
        if not series:
            continue
        keys = list(dict.fromkeys(k for _, bd in series for k in bd))
        fig = Figure(figsize=(min(12.0, max(6.0, 0.5 * len(keys) * len(series) + 2)), 4.0), dpi=100)
        ax = fig.add_subplot()
        width = 0.8 / len(series)
        for j, (name, bd) in enumerate(series):
            xs = [k + (j - (len(series) - 1) / 2) * width for k in range(len(keys))]
            ax.bar(xs, [bd.get(k) if bd.get(k) is not None else float("nan") for k in keys], width, label=name)  # undefined: no bar
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels(keys, rotation=45 if kind == "per_class" else 0, ha="right" if kind == "per_class"
                           else "center", fontsize=8)
        ax.set_xlabel("sources in the scene" if kind == "per_source_count" else "class")
        ax.set_ylabel(f"{g.key}: {metric}")
        ax.set_title(f"{board.name}: {g.key} {title}", fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(True, axis="y", alpha=0.3)
        fig.tight_layout()
        out.append((kind.replace("_", "-"), fig))
    return out


def save_figure(fig: Figure, base: Pathlike) -> tuple[str, bytes]:
    """Write ``base.png`` and ``base.svg`` atomically; returns ``(svg text, png bytes)``."""
    with plt.rc_context({"svg.hashsalt": "asabench", "svg.fonttype": "path"}):
        svg = io.BytesIO()
        fig.savefig(svg, format="svg", metadata={"Date": None})
        png = io.BytesIO()
        fig.savefig(png, format="png", metadata={"Software": None})
    atomic_write_bytes(f"{base}.svg", svg.getvalue())
    atomic_write_bytes(f"{base}.png", png.getvalue())
    return svg.getvalue().decode("utf-8"), png.getvalue()


def board_figures(board: Any) -> list[tuple[str, Figure]]:
    """Every figure of a board: ``("pareto", fig)`` and the breakdowns, those that have data."""
    out = []
    fig = pareto_figure(board)
    if fig is not None:
        out.append(("pareto", fig))
    return out + breakdown_figures(board)
