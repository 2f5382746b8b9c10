"""``asabench baselines``: list the registered baselines (name, kind, tasks, description).

The registry is :mod:`asabench.benchmark.baselines` (``register_baseline``); every name it
lists is accepted by ``asabench evaluate --model NAME``. This module prints.
"""

from __future__ import annotations

import argparse

from asabench.benchmark.baselines import BaselineError, available_baselines, get_baseline
from asabench.benchmark.suites import TASK_KINDS

#: The kinds of the registry, in the order they are explained.
KINDS: tuple[str, ...] = ("reference", "oracle", "dsp")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``baselines`` subcommand."""
    p = subparsers.add_parser(
        "baselines", help="list the baselines that evaluate --model NAME accepts",
        description="One line per registered baseline: name, kind (reference: the mixture line; "
                    "oracle: reads the references, an upper bound; dsp: no training), the tasks it "
                    "predicts, and what it is. With NAME: that baseline only.")
    p.add_argument("name", nargs="?", metavar="NAME", help="one baseline")
    p.add_argument("--task", choices=TASK_KINDS, default=None, help="only baselines that predict this task")
    p.add_argument("--kind", choices=KINDS, default=None, help="only baselines of this kind")
    p.set_defaults(func=run_baselines)


def run_baselines(args: argparse.Namespace) -> int:
    """Print the (filtered) registry; exit 2 for an unknown NAME."""
    names = available_baselines()
    if args.name is not None:
        if args.name not in names:
            raise BaselineError(f"NAME: unknown baseline {args.name!r} (baselines: {', '.join(names) or 'none'})")
        names = [args.name]
    entries = [get_baseline(n) for n in names]
    entries = [e for e in entries if (args.task is None or args.task in e.tasks)
               and (args.kind is None or e.kind == args.kind)]
    width = max([len(e.name) for e in entries] + [4])
    for e in entries:
        print(f"{e.name:<{width}}  {e.kind:<9}  {'+'.join(e.tasks):<12}  {e.description}")
    return 0
