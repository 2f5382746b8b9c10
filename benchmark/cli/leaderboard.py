"""``asabench leaderboard``: put evaluations into the results store and build the boards.

The jobs are :func:`asabench.benchmark.leaderboard.store.add_evaluation` and
:func:`asabench.benchmark.leaderboard.build.build_leaderboards`; defaults are read from them.
"""

from __future__ import annotations

import argparse

from asabench.benchmark.cli import _checks
from asabench.benchmark.leaderboard.build import build_leaderboards
from asabench.benchmark.leaderboard.store import KINDS, ORIGINS, add_evaluation

_EPILOG = """\
files:
  leaderboards/reported/*.csv           paper rows (single source, with each column's definition)
  leaderboards/results/<suite>/<system>.json   accepted entries (asabench leaderboard add)
  leaderboards/<board>.md, .csv, .html  generated tables (asabench leaderboard build)
  leaderboards/<board>.<plot>.png/.svg  generated plots (pareto, per-source-count, per-class)
Exit status: 0 done, 2 invalid input (a malformed entry or table, a duplicate; nothing
written), 1 the job failed.
"""


def _build(args: argparse.Namespace) -> int:
    written = build_leaderboards(args.suite, args.board, store=args.store, out=args.out,
                                 reported=args.reported, plots=not args.no_plots)
    for board, paths in written.items():
        print(f"{board}: {', '.join(str(p) for p in paths)}")
    return 0


def _add(args: argparse.Namespace) -> int:
    _checks.input_path(args.eval_dir, "EVAL_DIR", folder=True)
    path = add_evaluation(args.eval_dir, origin=args.origin, store=args.store, replace=args.replace,
                          kind=args.kind, name=args.name, parameters=args.parameters,
                          macs_per_s=args.macs_per_s)
    print(f"added {path}")
    return 0


def _count(text: str) -> int:
    try:
        value = int(float(text)) if "e" in text.lower() else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``leaderboard build`` and ``leaderboard add``."""
    p = subparsers.add_parser("leaderboard", help="results store and generated leaderboards",
                              description="Build the leaderboards from the reported tables and the results "
                                          "store, or add an evaluation to the store.",
                              epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    b = sub.add_parser("build", help="generate <board>.md, .csv, .html and plots",
                       description="Generate each board's Markdown, CSV and static HTML page (with plots) "
                                   "from the reported tables and the results store.")
    b.add_argument("--suite", metavar="S", help="only the board this suite feeds (default: every board with rows)")
    b.add_argument("--board", metavar="B", help="only this board")
    b.add_argument("--store", default=_checks.library_default(build_leaderboards, "store"), metavar="DIR",
                   help="results store (default %(default)s)")
    b.add_argument("--out", default=_checks.library_default(build_leaderboards, "out"), metavar="DIR",
                   help="where the tables are written (default %(default)s)")
    b.add_argument("--reported", metavar="DIR", help="reported tables (default: leaderboards/reported of this checkout)")
    b.add_argument("--no-plots", action="store_true", help="tables only")
    b.set_defaults(func=_build)

    a = sub.add_parser("add", help="put an 'asabench evaluate' folder into the results store",
                       description="Validate an evaluation folder's results files and write them as one store "
                                   "entry leaderboards/results/<suite>/<system slug>.json.")
    a.add_argument("eval_dir", metavar="EVAL_DIR", help="folder written by asabench evaluate")
    a.add_argument("--origin", choices=ORIGINS, default=_checks.library_default(add_evaluation, "origin"),
                   help="where the numbers come from (default %(default)s)")
    a.add_argument("--kind", choices=KINDS, help="what the system is (default: the baseline kind evaluate recorded)")
    a.add_argument("--name", help="system name shown on the board (default: the recorded baseline/predictor name)")
    a.add_argument("--parameters", type=_count, metavar="N", help="trainable parameters")
    a.add_argument("--macs-per-s", type=_rate, metavar="X", help="multiply-accumulates per second of audio")
    a.add_argument("--store", default=_checks.library_default(add_evaluation, "store"), metavar="DIR",
                   help="results store (default %(default)s)")
    a.add_argument("--replace", action="store_true", help="replace an entry of the same system")
    a.set_defaults(func=_add)
