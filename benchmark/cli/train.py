"""``asabench train``: train a registry system on a benchmark suite into a run folder.

The job is :func:`asabench.benchmark.training.loop.train`; the run folder layout, the
checkpoints and the resume rule are described there and in ``docs/training.md``. Several
GPUs or machines: launch this same command under torchrun, e.g.
``torchrun --nproc-per-node 8 -m asabench.benchmark.cli train --suite asa2-multitask
--model deepasa --data onthefly --out runs/deepasa --device cuda``.
"""

from __future__ import annotations

import argparse

from asabench.benchmark.cli import _checks
from asabench.benchmark.training.loop import train as _train_job

_EPILOG = """\
RUN folder: run.json (suite, model, recipe, data, seed, environment), config.toml,
recipe.toml, suite.toml, metrics.jsonl, checkpoints/last.pt (full training state) and
checkpoints/best.pt (best main validation score); both load with asabench.models.load.
Exit status: 0 trained, 2 invalid input (suite, model, recipe, data, an existing RUN
without --resume), 1 the job failed (a worker died, the loss diverged, a write failed).
"""


def _default(name: str):
    return _checks.library_default(_train_job, name)


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``train`` (``run`` takes them too)."""
    p.add_argument("--suite", required=True, help="suite name (asabench suites) or file")
    p.add_argument("--model", required=True, help="registry system: deepasa, deepasa-coi, soundcompass, ...")
    p.add_argument("--config", default=None, metavar="tiny|paper|FILE",
                   help="model preset or file, fitted to the suite contract (default: the recipe's)")
    p.add_argument("--recipe", default=None, metavar="NAME|FILE",
                   help="training recipe (default: <family>-tiny for --config tiny, else the paper recipe)")
    p.add_argument("--data", required=True, metavar="DIR|onthefly",
                   help="dataset folder with the suite's splits, or 'onthefly' to render scenes in the loader")
    p.add_argument("--max-steps", type=int, default=_default("max_steps"), help="stop after N optimiser steps")
    p.add_argument("--device", default=_default("device"), help="cpu, cuda or cuda:N (default %(default)s)")
    p.add_argument("--seed", type=int, default=_default("seed"), help="overrides the recipe's seed")
    p.add_argument("--init", default=None, metavar="CKPT", help="checkpoint of the earlier stage (CoI, refinement)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers per process (default: the recipe's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a system on a suite (checkpoints, resume, DDP under torchrun)",
                              description=__doc__, epilog=_EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(p)
    p.add_argument("--out", required=True, metavar="RUN", help="run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN from checkpoints/last.pt")
    p.set_defaults(func=_train_cmd)


def check_train_args(args: argparse.Namespace) -> None:
    """Option checks before any work (exit 2 with the option named)."""
    if args.data != "onthefly":
        _checks.input_path(args.data, "--data", folder=True)
    if args.init is not None:
        _checks.input_path(args.init, "--init", folder=False)
    if args.max_steps is not None and args.max_steps < 1:
        raise _checks.UsageError(f"--max-steps {args.max_steps}: expected a whole number >= 1")
    if args.seed is not None and args.seed < 0:
        raise _checks.UsageError(f"--seed {args.seed}: expected a whole number >= 0")
    if args.workers is not None and not 0 <= args.workers <= 256:
        raise _checks.UsageError(f"--workers {args.workers}: expected a whole number from 0 to 256")
    _checks.device(args.device)


def run_training(args: argparse.Namespace, out, *, resume: bool):
    return _train_job(args.suite, args.model, data=args.data, out=out, config=args.config, recipe=args.recipe,
                      resume=resume, max_steps=args.max_steps, device=args.device, seed=args.seed,
                      init=args.init, workers=args.workers, progress=not args.no_progress,
                      log=lambda text: print(text, flush=True))


def _train_cmd(args: argparse.Namespace) -> int:
    check_train_args(args)
    out = _checks.out_folder(args.out)
    if args.data != "onthefly":
        _checks.outputs_not_over_inputs([out], [args.data])
        _checks.inputs_not_inside_outputs([out], [args.data])
    run_training(args, out, resume=args.resume)
    return 0
