"""The ``asabench`` console command.

Each command lives in the module that owns its work; this file only collects them.
A command module exposes ``register(subparsers)`` which adds one or more subparsers and
sets ``func`` (called with the parsed namespace, returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

#: Modules that contribute subcommands, in the order ``--help`` lists them.
COMMAND_MODULES: list[str] = [
    "asabench.benchmark.cli.demo",
    "asabench.benchmark.cli.simulate",
    "asabench.benchmark.cli.dataset",
    "asabench.benchmark.cli.score",
    "asabench.benchmark.cli.prepare",
    "asabench.benchmark.cli.rir",
    "asabench.benchmark.cli.fidelity",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asabench",
        description="Spatial auditory scene analysis: simulate datasets, score systems, size models.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
