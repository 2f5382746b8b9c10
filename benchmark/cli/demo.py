"""``asabench demo``: the main job on the built-in defaults, end to end.

Regenerates the shipped demo recipe (``manifests/demo.toml``) on the built-in procedural
banks, verifies it, exports the ASA2 layout, reads both layouts back through
``SceneDataset``, and scores the oracle rows (mixture = the 0 dB line, ground truth = the
upper line) for every task. Running it twice completes nothing new and gives the same
hashes: the dataset is resumable and deterministic. The job is
:func:`asabench.benchmark.demo.run_demo`.
"""

from __future__ import annotations

import argparse

from asabench.benchmark.cli import _checks
from asabench.benchmark.demo import run_demo


_JOB = run_demo  # as imported: its signature gives the defaults


def _default(name: str):
    return _checks.library_default(_JOB, name)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="the whole story on the built-in defaults: simulate, verify, export, score oracles, train and evaluate tiny models",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument("--manifest", default=_default("manifest"), help="recipe to run (default: the shipped %(default)s)")
    p.add_argument("--workers", type=int, default=_default("workers"),
                   help="worker processes for simulation (default %(default)s)")
    p.add_argument("--train-steps", type=int, default=_default("train_steps"),
                   help="optimiser steps of each tiny model (0: oracle rows only; default %(default)s)")
    p.set_defaults(func=_demo_cmd)


def _demo_cmd(args: argparse.Namespace) -> int:
    _checks.workers(args.workers)
    out = _checks.out_folder(args.out)
    _checks.non_negative(args.train_steps, "--train-steps")
    print(run_demo(out, args.manifest, args.workers, log=lambda text: print(text, flush=True),
                   train_steps=args.train_steps))
    return 0
