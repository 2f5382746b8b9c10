"""``asabench fidelity``: build the model fidelity table (docs/fidelity.md)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fidelity", help="parameters and MACs of the paper configurations vs the seed papers",
        description="Measure every registered paper configuration and write the fidelity table.")
    p.add_argument("--out", type=Path, default=None,
                   help="Markdown file to write (e.g. docs/fidelity.md); stdout when omitted")
    p.add_argument("--seconds", type=float, default=4.0, help="clip length used for counting MACs (4 s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from asabench.benchmark.fidelity import build_table, render_markdown

    results = build_table(seconds=args.seconds, log=lambda m: print(m, file=sys.stderr))
    text = render_markdown(results, args.seconds)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, prefix=f".{args.out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, args.out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
