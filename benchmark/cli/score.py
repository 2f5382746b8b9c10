"""``asabench score``: score system outputs (or an oracle) against a dataset.

The job is :func:`asabench.benchmark.scoring.score` (then
:func:`~asabench.benchmark.scoring.write_results`); every default below is read from it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asabench.benchmark import scoring
from asabench.benchmark.cli import _checks
from asabench.benchmark.metrics.seld import SELD_MODES
from asabench.benchmark.metrics.spatial import SPATIAL_DEFINITIONS
from asabench.benchmark.scoring import score as _score_job  # defaults are read from this signature

_EPILOG = """\
layout of PRED_DIR:
  seld     PRED_DIR/<scene_id>.csv   DCASE CSV: frame,class,track,azimuth,elevation[,distance]
                                     or frame,class,track,x,y,z[,distance] (no header)
  uss/tse  PRED_DIR/<scene_id>/<k>.wav for k = 0..J-1, the dataset's channels, rate, length
           (uss: any order, matched by permutation, and up to max(J, 5) files: the J
           references are matched to the best J; tse: k = the source whose direction was
           the clue)
  seld with --seld-mode deepasa: the track column is the object slot
Definitions of every mode and convention: docs/metric-definitions.md.
The results JSON gets a per-scene CSV beside it (same name, .csv); neither may lie inside
DATASET_DIR or PRED_DIR. Exit status: 0 scored, 2 invalid predictions, dataset or options
(every problem is listed, nothing is written), 1 a worker process died.
"""


def _default(name: str):
    return _checks.library_default(_score_job, name)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``score`` subcommand."""
    workers = _default("workers")
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
    p.add_argument("--seld-mode", default=_default("seld_mode"), choices=list(SELD_MODES),
                   help="SELD metric variant (docs/seld-modes.md): corrected 2022/2023 (default), the "
                        "official dcase2023/dcase2024 algorithms, or deepasa (the DeepASA tables' "
                        "frame-level slot-wise metric)")
    p.add_argument("--separation-convention", default=_default("separation_convention"),
                   choices=list(scoring.SEPARATION_CONVENTIONS),
                   help="uss/tse metrics: pooled (default, channel-pooled headline) or deepasa "
                        "(channel 0, SI-SNR/SNR, permutation by SA-SDR at channel 0)")
    p.add_argument("--spatial-definition", default=_default("spatial_definition"), choices=list(SPATIAL_DEFINITIONS),
                   help="spatial cues: m2m (default, the M2M-TSE evaluation: GCC-PHAT FFT length a power "
                        "of two, ILD with eps over both pair orders) or exact-length")
    p.add_argument("--average", default=_default("average"), choices=["macro", "micro"],
                   help="class averaging of SELD F, LE, LR (default %(default)s)")
    p.add_argument("--split", default=_default("split"),
                   help="split to score (default: test if present, else all scenes)")
    p.add_argument("--target-image", "--tse-target", dest="target", default=_default("target"),
                   choices=["full", "direct"],
                   help="separation reference: full reverberant image (direct + reverb, "
                        "default) or the direct-path image")
    p.add_argument("--bss-eval", action="store_true", default=_default("bss_eval"),
                   help="also compute BSS-Eval v3 SDR (512-tap; slow)")
    p.add_argument("--spatial", dest="spatial", action="store_true", default=_default("spatial"),
                   help="compute the ΔILD/ΔIPD/ΔITD spatial-cue errors (default for tse)")
    p.add_argument("--no-spatial", dest="spatial", action="store_false",
                   help="skip the spatial-cue errors (default for uss)")
    p.add_argument("--workers", type=_checks.workers_arg, default=workers, metavar="N",
                   help=f"worker processes for uss/tse, or 'auto' (one per CPU core when there are "
                        f"at least 16 scenes per worker, else 1); default "
                        f"{'auto' if workers is None else workers}")
    p.add_argument("--spatial-precision", default=_default("spatial_precision"), choices=["float32", "float64"],
                   help="FFT precision of the spatial cues (default %(default)s); float32 is ~2x faster "
                        "and recomputes ΔITD near-ties in float64 (docs/metrics-speed.md)")
    p.add_argument("--alpha", type=float, default=_default("alpha"),
                   help="1 - confidence level of the jackknife intervals (default %(default)s)")
    p.set_defaults(func=run_score)


def run_score(args: argparse.Namespace) -> int:
    """Check the options, score, write the results; returns the exit status."""
    if (args.predictions is None) == (args.oracle is None):
        raise _checks.UsageError("give exactly one of --predictions PRED_DIR or --oracle")
    _checks.workers(args.workers, allow_auto=True)
    _checks.in_range(args.alpha, "--alpha", 0.0, 1.0)
    reference = _checks.input_path(args.reference, "--reference", folder=True)
    predictions = None
    if args.predictions is not None:
        predictions = _checks.input_path(args.predictions, "--predictions", folder=True)
    outputs = scoring.results_paths(Path(args.out))
    for path in outputs:
        _checks.out_file(path)
    _checks.outputs_not_over_inputs(outputs, [reference, predictions])

    scoring.retain_freed_memory()
    results = scoring.score(args.reference, args.task, predictions=args.predictions, oracle=args.oracle,
                            seld_mode=args.seld_mode, average=args.average, split=args.split,
                            target=args.target, bss_eval=args.bss_eval, spatial=args.spatial,
                            alpha=args.alpha, workers=args.workers,
                            spatial_precision=args.spatial_precision,
                            separation_convention=args.separation_convention,
                            spatial_definition=args.spatial_definition)
    json_path, csv_path = scoring.write_results(results, args.out)
    for warning in results.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    agg = results["aggregate"]
    shown = ", ".join(f"{k} {v['value']:.4g}" for k, v in agg.items()
                      if v.get("value") is not None and not k.startswith("delta_"))
    print(f"{results['task']} on {results['dataset']['num_scenes']} scenes: {shown}")
    print(f"wrote {json_path} and {csv_path}")
    return 0
