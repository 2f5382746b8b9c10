"""``asabench fidelity``: build the model fidelity table (docs/fidelity.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from asabench.simulate.io.files import atomic_write_text


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
    atomic_write_text(args.out, text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
