"""``asabench evaluate``: run a suite on a trained run, an untrained registry model or any predictor.

The job is :func:`asabench.benchmark.evaluate.evaluate`; every default below is read from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asabench.benchmark.cli import _checks
from asabench.benchmark.evaluate import evaluate as _evaluate_job  # defaults are read from this signature

_EPILOG = """\
the system, exactly one of:
  --run RUN               a run folder of 'asabench train' (RUN/checkpoints/best.pt, else last.pt)
                          or a checkpoint file
  --model M [--config C]  a registry model built with untrained weights (preset names are
                          fitted to the suite's rate and object slots; default config tiny)
  --predictor MOD:ATTR    any object with separate() [uss], detect() [seld], extract() [tse]
                          (a class or factory is called without arguments); with
                          --time-limit SECONDS it runs in a child process that writes the
                          predictions and is killed when it overruns (exit 1)
writes:
  EVAL/predictions/<task>/   in the layout 'asabench score' validates
  EVAL/results/<id>.json     one results file (and per-scene CSV) per suite entry, with the
                             suite's name and SHA-256
  EVAL/evaluation.json       summary: each entry's main score
Exit status: 0 evaluated, 2 invalid suite, dataset, system or options (nothing scored),
1 the job failed.
"""


def _default(name: str):
    return _checks.library_default(_evaluate_job, name)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        "evaluate", help="predict and score a benchmark suite (a run, a model or a predictor)",
        description="Write the system's predictions for the suite's tasks on the test split, "
                    "score each suite entry with the scorer and record the suite in every results file.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", required=True, metavar="S", help="suite name (asabench suites) or file")
    system = p.add_mutually_exclusive_group(required=True)
    system.add_argument("--run", metavar="RUN", help="run folder of asabench train, or a checkpoint file")
    system.add_argument("--model", metavar="M", help="registry model name (untrained weights) or baseline name (asabench baselines)")
    system.add_argument("--predictor", metavar="MODULE:ATTR", help="an object implementing the predictor protocols")
    p.add_argument("--config", metavar="C", help="with --model: preset name or configuration file (default tiny)")
    p.add_argument("--data", required=True, metavar="DIR", help="the suite's dataset folder")
    p.add_argument("--out", required=True, metavar="EVAL", help="evaluation folder to write (absent or empty)")
    p.add_argument("--split", default=_default("split"),
                   help="split to evaluate (default: the suite's test split)")
    p.add_argument("--device", default=_default("device"), help="torch device of a model (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=_default("batch_size"), metavar="N",
                   help="scenes (tse: clues) per forward pass (default %(default)s)")
    workers = _default("workers")
    p.add_argument("--workers", type=_checks.workers_arg, default=workers, metavar="N",
                   help=f"scorer processes, or 'auto' (default {'auto' if workers is None else workers})")
    p.add_argument("--seed", type=int, default=_default("seed"),
                   help="weight seed of an untrained --model (default %(default)s)")
    p.add_argument("--time-limit", type=float, default=_default("time_limit"), metavar="SECONDS",
                   help="with --predictor: run it in a child process killed after SECONDS (import, loading "
                        "and every scene); the parent scores what it wrote")
    p.add_argument("--secret-seed", default=_default("secret_seed"), metavar="FILE",
                   help="the hidden test split's private seed file: refuse a dataset whose split does not "
                        "carry its fingerprint (docs/submissions.md)")
    p.add_argument("--quiet", action="store_true", help="print only the final scores")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    """Check the options, evaluate, print each entry's main score; returns the exit status."""
    if args.config is not None and args.model is None:
        raise _checks.UsageError("--config goes with --model")
    if args.batch_size < 1:
        raise _checks.UsageError(f"--batch-size {args.batch_size}: expected an integer >= 1")
    _checks.workers(args.workers, allow_auto=True)
    if args.time_limit is not None:
        if args.predictor is None:
            raise _checks.UsageError("--time-limit goes with --predictor MODULE:ATTR")
        _checks.positive(args.time_limit, "--time-limit")
    if args.secret_seed is not None:
        _checks.input_path(args.secret_seed, "--secret-seed", folder=False)
    device = _checks.device(args.device)
    data = _checks.input_path(args.data, "--data", folder=True)
    run = _checks.input_path(args.run, "--run") if args.run is not None else None
    out = _checks.out_folder(args.out)
    _checks.outputs_not_over_inputs([out], [data, run])

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr)

    result = _evaluate_job(args.suite, data, out, predictor_spec=args.predictor, model=args.model,
                           config=args.config, run=run, split=args.split, device=device,
                           batch_size=args.batch_size, workers=args.workers, seed=args.seed,
                           time_limit=args.time_limit, secret_seed=args.secret_seed, log=log)
    summary = result.summary
    print(f"{summary['suite']['name']} on {summary['dataset']['split']} "
          f"({summary['predictions']['num_scenes']} scenes):")
    for entry_id, entry in summary["entries"].items():
        value = "n/a" if entry["value"] is None else f"{entry['value']:.4g}"
        print(f"  {entry_id:<16} {entry['name']} {value} ({'higher' if entry['higher_is_better'] else 'lower'} "
              "is better)")
    print(f"wrote {Path(out) / 'results'} and {Path(out) / 'evaluation.json'}")
    return 0
