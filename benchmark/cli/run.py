"""``asabench run``: train a system on a suite, then evaluate its best checkpoint on the test split.

Training is ``asabench train`` into RUN; evaluation is ``asabench evaluate --run RUN`` into
``RUN/evaluation/`` (predictions, one results file per suite entry, evaluation.json). With
``--data onthefly`` the test split is first simulated into ``RUN/test-data/`` unless
``--eval-data`` names a stored copy. The job is :func:`asabench.benchmark.training.pipeline.run`.
"""

from __future__ import annotations

import argparse

from asabench.benchmark.cli import _checks
from asabench.benchmark.cli.train import add_train_arguments, check_train_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help="train then evaluate on a suite (one command)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(p)
    p.add_argument("--out", required=True, metavar="RUN", help="run folder (evaluation in RUN/evaluation)")
    p.add_argument("--eval-data", default=None, metavar="DIR",
                   help="stored dataset for the evaluation (default: --data, or the test split simulated into RUN)")
    p.add_argument("--eval-workers", type=_checks.workers_arg, default=None, metavar="N",
                   help="scorer processes (default: automatic)")
    p.set_defaults(func=_run_cmd)


def _run_cmd(args: argparse.Namespace) -> int:
    from asabench.benchmark.training.pipeline import run

    check_train_args(args)
    _checks.workers(args.eval_workers, "--eval-workers", allow_auto=True)
    if args.eval_data is not None:
        _checks.input_path(args.eval_data, "--eval-data", folder=True)
    out = _checks.out_folder(args.out)
    inputs = [p for p in (None if args.data == "onthefly" else args.data, args.eval_data, args.init) if p]
    _checks.outputs_not_over_inputs([out], inputs)
    _checks.inputs_not_inside_outputs([out], inputs)
    run(args.suite, args.model, data=args.data, out=out, eval_data=args.eval_data, eval_workers=args.eval_workers,
        config=args.config, recipe=args.recipe, max_steps=args.max_steps, device=args.device, seed=args.seed,
        init=args.init, workers=args.workers, progress=not args.no_progress,
        log=lambda text: print(text, flush=True))
    return 0
