"""``asabench plot SCENE_DIR``: a picture of one scene (room, labels, predictions, RIRs).

The job is :func:`asabench.benchmark.plots.scene.plot_scene`; every default below is read from it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asabench.benchmark.cli import _checks
from asabench.benchmark.plots.scene import PLOT_SUFFIXES, default_out
from asabench.benchmark.plots.scene import plot_scene as _plot_scene_job  # defaults are read from this signature

_EPILOG = """\
draws, in one figure:
  the room from above, the front and the side, with the array's capsules and each source's
  trajectory (o start, > end, * static), one colour per source, named by its class;
  the labels as a SED timeline (class x frame) and a DoA timeline (azimuth, elevation,
  distance per track), with --predictions' rows overlaid as black crosses;
  with --rir: each source's RIR at capsule 0, recomputed from the spec, and its Schroeder
  decay with the spec's RT60; the T20/T30 estimates are printed beside the spec's.
--predictions: a DCASE CSV, or a folder holding seld/<scene_id>.csv (EVAL/predictions of
  asabench evaluate) or <scene_id>.csv.
Exit status: 0 drawn, 2 invalid scene folder, predictions or --out (nothing written),
1 the picture could not be written.
"""


def _default(name: str):
    return _checks.library_default(_plot_scene_job, name)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``plot`` subcommand."""
    p = subparsers.add_parser(
        "plot", help="draw a scene: room, trajectories, SED/DoA labels (and predictions), RIR decay",
        description="Draw one scene folder of an asabench dataset (DIR/<split>/<scene_id>) as a PNG or SVG.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scene_dir", metavar="SCENE_DIR", help="a scene folder (holding spec.json and labels.csv)")
    p.add_argument("--predictions", default=_default("predictions"), metavar="PRED",
                   help="a system's SELD predictions: a DCASE CSV or a predictions folder")
    p.add_argument("--out", default=_default("out"), metavar="FILE",
                   help="picture to write, .png or .svg (default: <SCENE_DIR name>.png in the current folder)")
    p.add_argument("--rir", action="store_true", default=_default("rir"),
                   help="recompute the RIRs from the spec and draw them with their decay")
    p.add_argument("--dpi", type=float, default=_default("dpi"), help="resolution (default %(default)s; "
                   "the figure is 15 inches wide)")
    p.add_argument("--device", default=_default("device"), help="torch device of the RIR engine (default %(default)s)")
    p.set_defaults(func=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    """Check the options, draw, print the path (and the RT60s); returns the exit status."""
    scene_dir = _checks.input_path(args.scene_dir, "SCENE_DIR", folder=True)
    predictions = _checks.input_path(args.predictions, "--predictions") if args.predictions is not None else None
    out = _checks.out_file(args.out if args.out is not None else default_out(scene_dir), suffixes=PLOT_SUFFIXES)
    _checks.in_range(args.dpi, "--dpi", 0.0, 1000.0001)
    device = _checks.device(args.device)
    _checks.outputs_not_over_inputs([out], [scene_dir, predictions])
    result = _plot_scene_job(scene_dir, out, predictions=predictions, rir=args.rir, dpi=args.dpi, device=device)
    if result.rirs is not None:
        from asabench.simulate.classes import DCASE_CLASSES

        print(result.rirs.table([DCASE_CLASSES[s.class_idx] for s in result.scene.spec.sources]))
    print(f"wrote {Path(result.path)}")
    return 0
