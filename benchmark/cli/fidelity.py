"""``asabench fidelity``: build the model fidelity table (docs/fidelity.md).

The job is :func:`asabench.benchmark.fidelity.build_table`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asabench.benchmark.cli import _checks
from asabench.simulate.io.files import atomic_write_text


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fidelity", help="parameters and MACs of the paper configurations vs the seed papers",
        description="Measure every registered paper configuration and write the fidelity table.")
    p.add_argument("--out", type=Path, default=None,
                   help="Markdown file to write (e.g. docs/fidelity.md); stdout when omitted")
    # default None = build_table's own; read when the command runs, so that the model
    # registry is imported only by this command
    p.add_argument("--seconds", type=float, default=None,
                   help="clip length used for counting MACs (default: build_table's, 4 s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from asabench.benchmark.fidelity import build_table, render_markdown

    seconds = _checks.library_default(build_table, "seconds") if args.seconds is None else args.seconds
    _checks.positive(seconds, "--seconds")
    if args.out is not None:
        _checks.out_file(args.out)
    results = build_table(seconds=seconds, log=lambda m: print(m, file=sys.stderr))
    text = render_markdown(results, seconds)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
