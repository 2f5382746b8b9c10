"""Pictures of one scene: the room, the labels (with a system's predictions) and the RIRs.

:func:`plot_scene` is the job behind ``asabench plot SCENE_DIR``. It reads a scene folder of
an asabench dataset (``docs/dataset-format.md``) through the existing readers: the spec with
:func:`asabench.simulate.scene.spec.load_spec`, the labels with
:func:`asabench.simulate.dataset.labels_csv.read_label_csv`, predictions with
:func:`asabench.benchmark.io.dcase_csv.read_dcase_csv`. :func:`scene_figure` draws

* the room seen from above (x-y), from the front (x-z) and from the side (y-z), with the
  array's capsules and each source's trajectory (``o`` its start, ``>`` its end, ``*`` a
  static source), one colour per source, and the capsules magnified beside them;
* the labels as a SED timeline (class x 100 ms frame, each active cell in its source's
  colour, two sources of one class side by side in its row) and a DoA timeline (azimuth,
  elevation and distance against time per track, from ``labels.csv``), a system's
  predicted rows overlaid as black crosses;
* optionally the RIR of each source's first point at the reference capsule and its
  Schroeder decay curve, with the spec's RT60 as the -60 dB-per-RT60 line and the T20/T30
  estimates in the legend (:mod:`asabench.benchmark.plots.decay`).

Drawing uses matplotlib's object API on an Agg canvas (no pyplot, no global figure state),
so it runs headless and in threads. Every artist that carries data has a ``gid``
(``trajectory-xy-<k>``, ``sed-reference``, ``azimuth-<k>``, ``edc-<k>``, ...) so tests
and users can find it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asabench.benchmark.io.dcase_csv import DcaseLabels, read_dcase_csv
from asabench.benchmark.plots.decay import REFERENCE_MIC, SceneRirs, scene_rirs
from asabench.benchmark.submissions.layout import resolve_member
from asabench.simulate.classes import DCASE_CLASSES, NUM_CLASSES
from asabench.simulate.dataset.format import DATASET_JSON, DatasetFormatError, Pathlike
from asabench.simulate.dataset.labels_csv import read_label_csv
from asabench.simulate.io.files import atomic_write_bytes, refuse_output_over_inputs
from asabench.simulate.scene.spec import load_spec, SceneSpec

__all__ = ["PLOT_SUFFIXES", "SceneView", "ScenePlot", "default_out", "load_scene", "load_predictions",
           "scene_figure", "sed_slots", "figure_bytes", "plot_scene"]

#: Formats written, chosen by the output's suffix.
PLOT_SUFFIXES: tuple[str, ...] = (".png", ".svg")
SPEC_JSON, LABELS_CSV = "spec.json", "labels.csv"
#: Figure width and the height of each row of panels, inches.
_WIDTH_IN = 15.0
_ROW_IN = {"room": 4.0, "sed": 2.8, "doa": 2.6, "rir": 3.0}


@dataclass(frozen=True)
class SceneView:
    """What a scene folder holds that the pictures need.

    Attributes
    ----------
    path : the scene folder.
    spec : its ``spec.json``.
    labels : ``[n_rows, 6]`` int64 rows of its ``labels.csv`` (frame, class, track,
        azimuth deg, elevation deg, distance cm).
    """

    path: Path
    spec: SceneSpec
    labels: np.ndarray

    def activity(self) -> np.ndarray:
        """``[NUM_CLASSES, num_frames]`` bool: class active in frame (any track)."""
        out = np.zeros((NUM_CLASSES, self.spec.num_frames), dtype=bool)
        out[self.labels[:, 1], self.labels[:, 0]] = True
        return out


@dataclass(frozen=True)
class ScenePlot:
    """What :func:`plot_scene` wrote: the picture and, when asked for, the RIRs it drew."""

    path: Path
    scene: SceneView
    rirs: SceneRirs | None
    predictions: Path | None


def load_scene(scene_dir: Pathlike) -> SceneView:
    """Read and cross-check a scene folder's spec and labels.

    Raises
    ------
    DatasetFormatError
        Naming the folder or file: not a folder, a dataset root instead of a scene, no
        ``spec.json``, no ``labels.csv``, or labels that contradict the spec (a track the
        spec has not, a class other than its source's, a frame past the scene's end).
    SpecError
        A malformed ``spec.json`` (file and field named).
    """
    root = Path(scene_dir)
    if not root.is_dir():
        raise DatasetFormatError(root, "no such scene folder" if not root.exists() else "not a folder; "
                                 "expected a scene folder holding spec.json and labels.csv")
    if (root / DATASET_JSON).is_file():
        raise DatasetFormatError(root, "is a dataset folder, not a scene; pass one scene folder, "
                                 "e.g. DIR/test/test-000000")
    spec_path, labels_path = root / SPEC_JSON, root / LABELS_CSV
    if not spec_path.exists():
        what = "a scene folder without its spec" if labels_path.exists() else "not a scene folder"
        raise DatasetFormatError(spec_path, f"missing ({what}; a scene folder holds spec.json and labels.csv)")
    spec = load_spec(spec_path)
    labels = read_label_csv(labels_path)
    _check_labels(labels, spec, labels_path)
    return SceneView(root, spec, labels)


def _check_labels(labels: np.ndarray, spec: SceneSpec, path: Path) -> None:
    """Labels that contradict the spec would draw a wrong picture; refuse them."""
    j = spec.num_sources
    for i, (frame, cls, track) in enumerate(labels[:, :3]):
        if track >= j:
            raise DatasetFormatError(path, f"track {track}, but the spec has {j} source(s)", line=i + 1,
                                     field="track")
        if cls != spec.sources[track].class_idx:
            raise DatasetFormatError(path, f"class {cls} for track {track}, whose source in the spec is "
                                     f"class {spec.sources[track].class_idx}", line=i + 1, field="class")
        if frame >= spec.num_frames:
            raise DatasetFormatError(path, f"frame {frame} is past the scene's {spec.num_frames} frames",
                                     line=i + 1, field="frame")


def load_predictions(path: Pathlike, scene_id: str) -> tuple[Path, DcaseLabels]:
    """A system's SELD predictions of one scene: a DCASE CSV, or a predictions folder.

    A folder is searched for ``seld/<scene_id>.csv`` (the layout ``asabench evaluate``
    writes under ``EVAL/predictions``), then ``<scene_id>.csv`` (a SELD prediction folder
    as ``asabench score`` reads it); names are resolved inside it, links not followed.

    Returns
    -------
    (file, labels)

    Raises
    ------
    DatasetFormatError
        No prediction file of the scene in the folder.
    DcaseFormatError
        The file does not parse (every problem listed, with file, line and field).
    """
    p = Path(path)
    if p.is_dir():
        names = (f"seld/{scene_id}.csv", f"{scene_id}.csv")
        found = [f for f in (resolve_member(p, n) for n in names) if f.is_file()]
        if not found:
            raise DatasetFormatError(p, f"no predictions of scene {scene_id} ({' or '.join(names)})")
        p = found[0]
    elif not p.is_file():
        raise DatasetFormatError(p, "no such predictions file or folder")
    return p, read_dcase_csv(p, num_classes=NUM_CLASSES)


def default_out(scene_dir: Pathlike) -> Path:
    """``<scene folder name>.png`` in the current folder."""
    return Path.cwd() / f"{Path(scene_dir).resolve().name}.png"


# ----------------------------------------------------------------------------- drawing


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(k % 10) for k in range(n)]


def _source_label(spec: SceneSpec, k: int) -> str:
    s = spec.sources[k]
    return f"{k}: {DCASE_CLASSES[s.class_idx]} ({'static' if s.static else 'moving'})"


def _room_views(fig, cell, spec: SceneSpec, colours: list[Any]) -> list[Any]:
    """Top, front and side views with trajectories and capsules, and the capsules magnified."""
    from matplotlib.patches import Rectangle

    dims = spec.room_dim
    views = (("xy", 0, 1, "top view (x-y)"), ("xz", 0, 2, "front view (x-z)"), ("yz", 1, 2, "side view (y-z)"))
    grid = cell.subgridspec(1, 4, width_ratios=[1, 1, 1, 0.7], wspace=0.3)
    mics, centre = spec.mics, spec.array_center
    handles = []
    for col, (name, a, b, title) in enumerate(views):
        ax = fig.add_subplot(grid[0, col])
        ax.add_patch(Rectangle((0, 0), dims[a], dims[b], fill=False, edgecolor="0.3", linewidth=1.2,
                               gid=f"room-{name}"))
        for k, s in enumerate(spec.sources):
            pts = s.points
            line, = ax.plot(pts[:, a], pts[:, b], color=colours[k], linewidth=1.8,
                            linestyle="none" if s.static else "-", marker="*" if s.static else None,
                            markersize=12 if s.static else None, gid=f"trajectory-{name}-{k}",
                            label=_source_label(spec, k))
            if col == 0:
                handles.append(line)
            if not s.static:
                ax.plot(pts[0, a], pts[0, b], "o", color=colours[k], markersize=6, gid=f"start-{name}-{k}")
                step = pts[-1] - pts[-2] if len(pts) > 1 else np.zeros(3)
                angle = np.degrees(np.arctan2(step[b], step[a]))
                ax.plot(pts[-1, a], pts[-1, b], marker=(3, 0, angle - 90), color=colours[k], markersize=8,
                        linestyle="none", gid=f"end-{name}-{k}")
        ax.plot(mics[:, a], mics[:, b], ".", color="k", markersize=3, gid=f"capsules-{name}")
        ax.set_xlim(-0.05 * dims[a], 1.05 * dims[a])
        ax.set_ylim(-0.05 * dims[b], 1.05 * dims[b])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(f"{'xyz'[a]} (m)")
        ax.set_ylabel(f"{'xyz'[b]} (m)")
        ax.set_title(title, fontsize=10)
    ax = fig.add_subplot(grid[0, 3])
    rel = (mics - centre) * 100.0
    ax.scatter(rel[:, 0], rel[:, 1], c=rel[:, 2], cmap="coolwarm", s=60, edgecolors="k", gid="capsules-zoom")
    for m, (x, y, z) in enumerate(rel):
        ax.annotate(f"{m}{' (ref)' if m == REFERENCE_MIC else ''}\nz {z:+.1f}", (x, y), fontsize=7,
                    textcoords="offset points", xytext=(6, 4))
    r = max(float(np.abs(rel).max()), 1e-3) * 1.8
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x - centre (cm)")
    ax.set_ylabel("y - centre (cm)")
    ax.set_title(f"array: {spec.array['type']}, r {spec.array['radius_m'] * 100:.1f} cm", fontsize=10)
    return handles


def sed_slots(spec: SceneSpec) -> tuple[np.ndarray, int]:
    """Where each track sits in its class's row of the SED image.

    Two sources of one class would hide each other in one row, so each class row of the
    image is split into ``per_class`` sub-rows (the most sources any class has) and track
    ``k`` takes sub-row ``slots[k]`` (its rank among its class's tracks): image row
    ``class * per_class + slots[track]``.

    Returns
    -------
    (slots, per_class) : ``[J]`` int64 and an int >= 1.
    """
    classes = np.array([s.class_idx for s in spec.sources], dtype=np.int64)
    slots = np.array([int(np.sum(classes[:k] == c)) for k, c in enumerate(classes)], dtype=np.int64)
    return slots, int(slots.max(initial=0)) + 1


def _sed(fig, cell, scene: SceneView, pred: DcaseLabels | None, colours: list[Any]) -> None:
    from matplotlib.colors import ListedColormap

    spec, labels = scene.spec, scene.labels
    hop, n_frames = spec.label_hop_s, spec.num_frames
    ax = fig.add_subplot(cell)
    slots, per_class = sed_slots(spec)
    cells = np.full((NUM_CLASSES * per_class, n_frames), np.nan)
    cells[labels[:, 1] * per_class + slots[labels[:, 2]], labels[:, 0]] = labels[:, 2]
    j = max(spec.num_sources, 1)
    ax.imshow(np.ma.masked_invalid(cells), aspect="auto", interpolation="nearest", origin="lower",
              cmap=ListedColormap(colours[:j]), vmin=-0.5, vmax=j - 0.5,
              extent=(0.0, n_frames * hop, -0.5, NUM_CLASSES - 0.5), gid="sed-reference")
    if pred is not None and pred.num_rows:
        ax.scatter((pred.frame + 0.5) * hop, pred.cls, marker="x", color="k", s=14, linewidths=0.8,
                   gid="sed-predicted", label="predicted")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_yticks(range(NUM_CLASSES), DCASE_CLASSES, fontsize=7)
    ax.set_xlim(0.0, n_frames * hop)
    ax.set_ylim(-0.5, NUM_CLASSES - 0.5)
    ax.hlines(np.arange(NUM_CLASSES - 1) + 0.5, 0.0, n_frames * hop, color="0.9", linewidth=0.5, zorder=0.5)
    ax.set_xlabel("time (s)")
    shown = "" if pred is None else ", predictions as x" if pred.num_rows else ", no predicted events"
    ax.set_title(f"SED: labels ({hop * 1000:.0f} ms frames, coloured by source){shown}", fontsize=10)


def _gaps(t: np.ndarray, y: np.ndarray, frames: np.ndarray, wrap: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Insert NaN between non-consecutive frames (and across an azimuth wrap) so lines break."""
    cut = np.diff(frames) > 1
    if wrap is not None:
        cut |= np.abs(np.diff(y)) > wrap
    idx = np.flatnonzero(cut) + 1
    return np.insert(t, idx, np.nan), np.insert(y.astype(np.float64), idx, np.nan)


def _doa(fig, cell, scene: SceneView, pred: DcaseLabels | None, colours: list[Any]) -> None:
    spec, labels = scene.spec, scene.labels
    hop = spec.label_hop_s
    grid = cell.subgridspec(1, 3, wspace=0.25)
    pred_values = None
    if pred is not None and pred.num_rows:
        pred_values = [pred.azimuth_deg, pred.elevation_deg,
                       None if pred.distance is None else pred.distance / 100.0]
    panels = (("azimuth", 3, "azimuth (deg)", (-180, 180), 180.0), ("elevation", 4, "elevation (deg)", (-90, 90), None),
              ("distance", 5, "distance (m)", None, None))
    for col, (name, column, ylabel, ylim, wrap) in enumerate(panels):
        ax = fig.add_subplot(grid[0, col])
        for k in range(spec.num_sources):
            rows = labels[labels[:, 2] == k]
            rows = rows[np.argsort(rows[:, 0], kind="stable")]
            value = rows[:, column] / (100.0 if name == "distance" else 1.0)
            t, y = _gaps((rows[:, 0] + 0.5) * hop, value, rows[:, 0], wrap)
            ax.plot(t, y, color=colours[k], linewidth=1.8, gid=f"{name}-{k}")
        if pred_values is not None and pred_values[col] is not None:
            ax.scatter((pred.frame + 0.5) * hop, pred_values[col], marker="x", color="k", s=12,
                       linewidths=0.8, gid=f"{name}-predicted")
        ax.set_xlim(0.0, spec.num_frames * hop)
        if ylim is not None:
            ax.set_ylim(*ylim)
            ax.set_yticks(np.linspace(ylim[0], ylim[1], 5))
        ax.set_xlabel("time (s)")
        ax.set_ylabel(ylabel)
        ax.grid(color="0.9", linewidth=0.5)
        ax.set_title(f"DoA: {name} per track (DCASE convention)" if col == 0 else name, fontsize=10)


def _rir_panels(fig, cell, spec: SceneSpec, rirs: SceneRirs, colours: list[Any]) -> None:
    grid = cell.subgridspec(1, 2, wspace=0.2)
    t_ms = np.arange(rirs.rirs.shape[-1]) / rirs.fs * 1000.0
    ax = fig.add_subplot(grid[0, 0])
    for k, h in enumerate(rirs.reference):
        ax.plot(t_ms, h, color=colours[k], linewidth=0.7, alpha=0.85, gid=f"rir-{k}", label=f"source {k}")
    ax.set_xlabel("time from emission (ms)")
    ax.set_ylabel("pressure (1/(4 pi d) units)")
    ax.set_title(f"RIR of each source's first point at mic {REFERENCE_MIC} ({spec.render.get('backend', 'torch')} "
                 f"engine, recomputed from the spec)", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    ax = fig.add_subplot(grid[0, 1])
    t_s = t_ms / 1000.0
    for k, edc in enumerate(rirs.edc_db):
        est = ", ".join(f"{fit.upper()} {v[k]:.3f} s" for fit, v in rirs.rt60_s.items())
        ax.plot(t_ms, np.where(np.isfinite(edc), edc, np.nan), color=colours[k], linewidth=1.4, gid=f"edc-{k}",
                label=f"source {k}: {est}")
    ax.plot(t_ms, -60.0 * t_s / rirs.rt60_spec_s, color="k", linestyle="--", linewidth=1.0, gid="rt60-spec",
            label=f"spec RT60 {rirs.rt60_spec_s:.3f} s (-60 dB per RT60)")
    for level in (-5.0, -25.0, -35.0):
        ax.axhline(level, color="0.75", linewidth=0.6, linestyle=":")
    ax.set_ylim(-65.0, 2.0)
    ax.set_xlim(0.0, t_ms[-1])
    ax.set_xlabel("time from emission (ms)")
    ax.set_ylabel("energy decay (dB)")
    ax.set_title("Schroeder decay curves; T20 fit -5..-25 dB, T30 fit -5..-35 dB (dotted)", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")


def scene_figure(scene: SceneView, predictions: DcaseLabels | None = None, rirs: SceneRirs | None = None, *,
                 dpi: float = 100.0):
    """The picture of a scene as a matplotlib ``Figure`` on an Agg canvas (see the module docstring).

    Parameters
    ----------
    scene : from :func:`load_scene`.
    predictions : a system's rows for this scene, overlaid on the SED and DoA timelines.
    rirs : from :func:`~asabench.benchmark.plots.decay.scene_rirs`; adds the RIR row.
    dpi : resolution; the figure is 15 inches wide (``15 * dpi`` pixels).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spec = scene.spec
    rows = ["room", "sed", "doa"] + (["rir"] if rirs is not None else [])
    heights = [_ROW_IN[r] for r in rows]
    top_in = 1.2  # suptitle and source legend
    fig = Figure(figsize=(_WIDTH_IN, sum(heights) + top_in), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(rows), 1, height_ratios=heights, hspace=0.45, left=0.09, right=0.98,
                            bottom=0.05, top=1.0 - top_in / (sum(heights) + top_in))
    colours = _colours(spec.num_sources)
    handles = _room_views(fig, grid[0], spec, colours)
    _sed(fig, grid[1], scene, predictions, colours)
    _doa(fig, grid[2], scene, predictions, colours)
    if rirs is not None:
        _rir_panels(fig, grid[3], spec, rirs, colours)
    dims = "x".join(f"{d:.2f}" for d in spec.room_dim)
    fig.suptitle(f"{spec.id}  |  {spec.manifest['name']} v{spec.manifest['version']}  |  room {dims} m, "
                 f"RT60 {spec.rt60_s:.3f} s  |  SNR {spec.noise.snr_db:.1f} dB  |  {spec.fs} Hz, "
                 f"{spec.num_samples / spec.fs:.1f} s  |  {spec.num_sources} source(s)", fontsize=12,
                 y=1.0 - 0.15 / (sum(heights) + top_in))
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 5), fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, 1.0 - 0.45 / (sum(heights) + top_in)))
    return fig


def figure_bytes(fig, suffix: str) -> bytes:
    """The figure encoded as PNG or SVG (by ``suffix``), with no timestamp in the file."""
    fmt = suffix.lower().lstrip(".")
    if f".{fmt}" not in PLOT_SUFFIXES:
        raise ValueError(f"out: expected a {' or '.join(PLOT_SUFFIXES)} path, got suffix {suffix!r}")
    import matplotlib

    buf = io.BytesIO()
    # a fixed SVG id salt and no date: the same scene gives the same bytes
    with matplotlib.rc_context({"svg.hashsalt": "asabench"}):
        fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def plot_scene(scene_dir: Pathlike, out: Pathlike | None = None, *, predictions: Pathlike | None = None,
               rir: bool = False, dpi: float = 100.0, device: str = "cpu") -> ScenePlot:
    """Draw a scene folder's picture to ``out`` (the job behind ``asabench plot``).

    Parameters
    ----------
    scene_dir : a scene folder of an asabench dataset (``DIR/<split>/<scene_id>``).
    out : ``.png`` or ``.svg`` file (default :func:`default_out`); never inside ``scene_dir``
        or over the predictions. Written atomically.
    predictions : a DCASE CSV or a predictions folder (:func:`load_predictions`).
    rir : recompute and draw the RIRs and their decay (:func:`~asabench.benchmark.plots.decay.scene_rirs`).
    dpi : resolution (the figure is 15 inches wide).
    device : torch device of the RIR engine.

    Raises
    ------
    OutputOverlapsInputError, DatasetFormatError, SpecError, DcaseFormatError, ValueError
        Bad inputs or output, before anything is written.
    """
    out = default_out(scene_dir) if out is None else Path(out)
    if out.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"out: {out}: expected a {' or '.join(PLOT_SUFFIXES)} path")
    if not (dpi > 0 and np.isfinite(dpi)) or dpi > 1000:
        raise ValueError(f"dpi: {dpi}: expected a number in (0, 1000]")
    refuse_output_over_inputs([out], [scene_dir] + ([predictions] if predictions is not None else []))
    scene = load_scene(scene_dir)
    pred_path, pred = (None, None) if predictions is None else load_predictions(predictions, scene.spec.id)
    rirs = scene_rirs(scene.spec, device=device) if rir else None
    fig = scene_figure(scene, pred, rirs, dpi=dpi)
    data = figure_bytes(fig, out.suffix)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, data)
    return ScenePlot(out, scene, rirs, pred_path)
