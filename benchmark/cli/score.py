"""The ``asabench score`` command: score system outputs (or an oracle) against a dataset."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures.process import BrokenProcessPool

from asabench.benchmark.io.dcase_csv import DcaseFormatError
from asabench.benchmark.submissions.layout import SubmissionError
from asabench.simulate.dataset.format import DatasetFormatError

_EPILOG = """\
layout of PRED_DIR:
  seld     PRED_DIR/<scene_id>.csv   DCASE CSV: frame,class,track,azimuth,elevation[,distance]
                                     or frame,class,track,x,y,z[,distance] (no header)
  uss/tse  PRED_DIR/<scene_id>/<k>.wav for k = 0..J-1, the dataset's channels, rate, length
           (uss: any order, matched by permutation; tse: k = the source whose direction was
           the clue)
The results JSON gets a per-scene CSV beside it (same name, .csv). Exit status: 0 scored,
2 invalid predictions or dataset (every problem is listed), 1 a worker process died.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``score`` subcommand."""
    p = subparsers.add_parser(
        "score", help="score predictions against a dataset (USS, TSE, SELD)",
        description="Validate PRED_DIR against the dataset, compute the task's metrics per "
                    "scene, aggregate with jackknife confidence intervals and write results.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", required=True, choices=["uss", "tse", "seld"])
    p.add_argument("--reference", required=True, metavar="DATASET_DIR",
                   help="asabench dataset folder (with dataset.json and index.jsonl)")
    p.add_argument("--predictions", metavar="PRED_DIR",
                   help="folder of system outputs (omit with --oracle)")
    p.add_argument("--out", required=True, metavar="RESULTS_JSON", help="results file to write")
    p.add_argument("--oracle", choices=["mixture", "targets"],
                   help="score the mixture (0 dB improvement line) or the references "
                        "(upper line) instead of PRED_DIR")
    p.add_argument("--seld-mode", default="default", choices=["default", "dcase2023", "dcase2024"],
                   help="SELD metric variant (docs/seld-modes.md); default: corrected 2022/2023")
    p.add_argument("--average", default="macro", choices=["macro", "micro"],
                   help="class averaging of SELD F, LE, LR")
    p.add_argument("--split", help="split to score (default: test if present, else all scenes)")
    p.add_argument("--target-image", "--tse-target", dest="target", default="full",
                   choices=["full", "direct"],
                   help="separation reference: full reverberant image (direct + reverb, "
                        "default) or the direct-path image")
    p.add_argument("--bss-eval", action="store_true",
                   help="also compute BSS-Eval v3 SDR (512-tap; slow)")
    p.add_argument("--spatial", dest="spatial", action="store_true", default=None,
                   help="compute the ΔILD/ΔIPD/ΔITD spatial-cue errors (default for tse)")
    p.add_argument("--no-spatial", dest="spatial", action="store_false",
                   help="skip the spatial-cue errors (default for uss)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes for uss/tse (default: one per CPU core when there are "
                        "at least 16 scenes per worker, else 1)")
    p.add_argument("--spatial-precision", default="float32", choices=["float32", "float64"],
                   help="FFT precision of the spatial cues; float32 (default) is ~2x faster and "
                        "recomputes ΔITD near-ties in float64 (docs/metrics-speed.md)")
    p.add_argument("--alpha", type=float, default=0.05,
                   help="1 - confidence level of the jackknife intervals (default 0.05)")
    p.set_defaults(func=run_score)


def run_score(args: argparse.Namespace) -> int:
    """Run the command; returns the exit status."""
    from asabench.benchmark.scoring import ScoringError, retain_freed_memory, score, write_results

    retain_freed_memory()

    if (args.predictions is None) == (args.oracle is None):
        print("asabench score: give exactly one of --predictions PRED_DIR or --oracle", file=sys.stderr)
        return 2
    try:
        results = score(args.reference, args.task, predictions=args.predictions, oracle=args.oracle,
                        seld_mode=args.seld_mode, average=args.average, split=args.split,
                        target=args.target, bss_eval=args.bss_eval, spatial=args.spatial,
                        alpha=args.alpha, workers=args.workers,
                        spatial_precision=args.spatial_precision)
    except (SubmissionError, ScoringError, DatasetFormatError, DcaseFormatError) as err:
        print(f"asabench score: {err}", file=sys.stderr)
        return 2
    except BrokenProcessPool as err:
        print(f"asabench score: a scoring worker process died ({err}); nothing was written. "
              "Out of memory? Rerun with fewer --workers (e.g. --workers 1).", file=sys.stderr)
        return 1
    json_path, csv_path = write_results(results, args.out)
    for warning in results.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    agg = results["aggregate"]
    shown = ", ".join(f"{k} {v['value']:.4g}" for k, v in agg.items()
                      if v.get("value") is not None and not k.startswith("delta_"))
    print(f"{results['task']} on {results['dataset']['num_scenes']} scenes: {shown}")
    print(f"wrote {json_path} and {csv_path}")
    return 0
