"""``asabench submit`` and ``asabench validate-model``: parsing and printing only.

The jobs are :func:`asabench.benchmark.submissions.submit.submit` and
:func:`asabench.benchmark.submissions.validate.validate_model`; defaults are read from
their signatures.
"""

from __future__ import annotations

import argparse
import json
import sys

from asabench.benchmark.cli import _checks
from asabench.benchmark.submissions.submit import submit as _submit_job
from asabench.benchmark.submissions.validate import validate_model as _validate_job

_SUBMIT_EPILOG = """\
PRED_DIR holds one folder per task of the suite, in the layout 'asabench score' reads:
  PRED_DIR/uss/<scene_id>/<k>.wav   PRED_DIR/tse/<scene_id>/<k>.wav   PRED_DIR/seld/<scene_id>.csv
CARD.yaml is the system card (docs/submissions.md): name, authors, affiliation, description,
parameters, macs_per_s, training_data, external_data, code_url, weights_url, licence (SPDX).
Everything is checked first (card, dataset and its manifest hash, predictions, store); one
line per problem, nothing written. Then every suite entry is scored (or, with --results,
the evaluate folder's results files are checked against a re-scoring) and one entry is
written to STORE/<suite>/<system slug>.json.
Exit status: 0 added, 2 refused (invalid card, dataset, predictions, results, duplicate),
1 the job failed.
"""

_VALIDATE_EPILOG = """\
ENTRY is package.module:factory: a class, a factory called without arguments, or an object,
with separate() [uss], detect() [seld], extract() [tse] and the attributes sample_rate and
num_channels. Checks: import, protocol, sample_rate, num_channels, and per task: output shape
and dtype on a batch of the suite's contract, determinism (two calls equal), time per clip
(judged only with --max-seconds-per-clip). With --time-limit the checks run in a child
process killed when they take longer than SECONDS (counted from the import check; the
child's own Python start is not counted); the table then ends with the check that was running.
Exit status: 0 every check passed, 2 a check failed (the table says which), 1 the time
limit was hit or the child process died (the stderr line names the check).
"""


def _submit_default(name: str):
    return _checks.library_default(_submit_job, name)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``submit`` and ``validate-model``."""
    p = subparsers.add_parser(
        "submit", help="add a predictions folder with its system card to the results store",
        description="Validate a system card and a predictions folder, score the predictions with the "
                    "suite's definitions (or check an evaluate folder's results against them) and add the "
                    "entry to the leaderboard's results store.",
        epilog=_SUBMIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pred_dir", metavar="PRED_DIR", help="predictions folder: PRED_DIR/<task>/...")
    p.add_argument("--suite", required=True, metavar="S", help="suite name (asabench suites) or file")
    p.add_argument("--card", required=True, metavar="CARD.yaml", help="the system card")
    p.add_argument("--data", required=True, metavar="DIR", help="the suite's dataset folder")
    p.add_argument("--results", default=_submit_default("results"), metavar="EVAL",
                   help="an 'asabench evaluate' folder (or its evaluation.json): its results files are "
                        "checked (suite and manifest hashes, options, predictions hash, then definitions and "
                        "values against a re-scoring) and stored instead of fresh ones")
    p.add_argument("--store", default=_submit_default("store"), metavar="DIR",
                   help="results store root (default %(default)s)")
    p.add_argument("--replace", action="store_true", help="replace the system's existing entry")
    p.add_argument("--split", default=_submit_default("split"), help="split (default: the suite's test split)")
    p.add_argument("--kind", default=_submit_default("kind"),
                   choices=("oracle", "reference", "dsp", "learned", "external"),
                   help="what the system is (default %(default)s)")
    p.add_argument("--secret-seed", default=_submit_default("secret_seed"), metavar="FILE",
                   help="the hidden test split's private seed file: the dataset must carry its fingerprint")
    workers = _submit_default("workers")
    p.add_argument("--workers", type=_checks.workers_arg, default=workers, metavar="N",
                   help=f"scorer processes, or 'auto' (default {'auto' if workers is None else workers})")
    p.add_argument("--quiet", action="store_true", help="print only the stored entry's path")
    p.set_defaults(func=run_submit)

    v = subparsers.add_parser(
        "validate-model", help="check a model entry point against a suite (HEAR-style checks)",
        description="Import a predictor entry point and check it item by item against the suite's contract "
                    "before anything is scored.",
        epilog=_VALIDATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("entry", metavar="ENTRY", help="package.module:factory")
    v.add_argument("--suite", required=True, metavar="S", help="suite name (asabench suites) or file")
    v.add_argument("--data", default=_checks.library_default(_validate_job, "data"), metavar="DIR",
                   help="the suite's dataset: its first scenes are the batch (default: seeded noise)")
    v.add_argument("--split", default=_checks.library_default(_validate_job, "split"),
                   help="split of --data (default: the suite's test split)")
    v.add_argument("--time-limit", type=float, default=_checks.library_default(_validate_job, "time_limit"),
                   metavar="SECONDS", help="run the checks in a child process killed after SECONDS (from the "
                                           "import check on); exit 1 naming the check that was running")
    v.add_argument("--max-seconds-per-clip", type=float,
                   default=_checks.library_default(_validate_job, "max_seconds_per_clip"), metavar="SECONDS",
                   help="fail a task's 'time per clip' check when its first call took longer than SECONDS per "
                        "mixture (default: reported, not judged)")
    v.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    v.set_defaults(func=run_validate_model)


def run_submit(args: argparse.Namespace) -> int:
    """Check the options, submit, print the stored entry; returns the exit status."""
    _checks.workers(args.workers, allow_auto=True)
    pred_dir = _checks.input_path(args.pred_dir, "PRED_DIR", folder=True)
    card = _checks.input_path(args.card, "--card", folder=False)
    data = _checks.input_path(args.data, "--data", folder=True)
    results = _checks.input_path(args.results, "--results") if args.results is not None else None
    store = _checks.out_folder(args.store, "--store")
    _checks.outputs_not_over_inputs([store], [pred_dir, data, card, results], option="--store")

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr)

    result = _submit_job(pred_dir, args.suite, card, data, results=results, store=store, replace=args.replace,
                         split=args.split, workers=args.workers, secret_seed=args.secret_seed, kind=args.kind,
                         log=log)
    entry = result.entry
    if not args.quiet:
        how = "checked against a re-scoring" if result.checked_results else "scored"
        print(f"{entry['system']['name']} on {entry['suite']['name']} ({entry['split']['name']}, "
              f"{entry['split']['num_scenes']} scenes{', hidden test' if entry['split']['hidden'] else ''}; {how}):")
        for entry_id, item in entry["entries"].items():
            main = item["main_score"]
            value = "n/a" if main["value"] is None else f"{main['value']:.4g}"
            print(f"  {entry_id:<16} {main['name']} {value} ({'higher' if main['higher_is_better'] else 'lower'} "
                  "is better)")
    print(f"{'replaced' if result.replaced else 'added'} {result.path}")
    return 0


def run_validate_model(args: argparse.Namespace) -> int:
    """Run the checks and print the table; exit 2 when any check failed, 1 when they were stopped."""
    _checks.positive(args.time_limit, "--time-limit", allow_none=True)
    _checks.positive(args.max_seconds_per_clip, "--max-seconds-per-clip", allow_none=True)
    data = _checks.input_path(args.data, "--data", folder=True) if args.data is not None else None
    report = _validate_job(args.entry, args.suite, data=data, split=args.split, time_limit=args.time_limit,
                           max_seconds_per_clip=args.max_seconds_per_clip)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.table())
    if report.stopped is not None:
        print(f"asabench validate-model: {args.entry}: {report.stopped}", file=sys.stderr)
        return 1
    if not report.ok:
        failed = [c.name for c in report.checks if c.failed]
        print(f"asabench validate-model: {args.entry}: {len(failed)} check(s) failed: {', '.join(failed)}",
              file=sys.stderr)
        return 2
    return 0
