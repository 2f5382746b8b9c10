"""SELD metrics of the DCASE evaluations and of the DeepASA authors' code: modes, counting, scores, multi-ACCDOA decoding.

* :mod:`.modes`: the ``default``, ``dcase2023`` and ``dcase2024`` modes (what each counts,
  averages and divides), thresholds and headline metric names;
* :mod:`.deepasa`: the frame-level, slot-wise ``deepasa`` mode (DeepASA's tables);
* :mod:`.counting`: per-scene, per-class accumulators (:func:`count_seld`), vectorised
  over every frame of every scene;
* :mod:`.scores`: metrics and SELD scores from counts, summaries with jackknife intervals
  (:func:`evaluate_seld`);
* :mod:`.reference`: the per-frame loop restatement the tests compare the counting against;
* :mod:`.accdoa`: multi-ACCDOA network outputs to DCASE predictions.

The jackknife itself is :mod:`asabench.benchmark.stats` (re-exported here).
"""

from asabench.benchmark.metrics.seld.accdoa import decode_multi_accdoa, split_multi_accdoa
from asabench.benchmark.metrics.seld.counting import SeldCounts, angular_distance_deg, count_seld
from asabench.benchmark.metrics.seld.deepasa import DeepasaCounts, count_seld_deepasa, deepasa_metrics
from asabench.benchmark.metrics.seld.modes import (
    BLOCK_FRAMES,
    DOA_THRESHOLD_DEG,
    REL_DIST_THRESHOLD,
    SELD_MODES,
    SeldAverage,
    SeldMode,
    metric_names,
)
from asabench.benchmark.metrics.seld.scores import (
    SeldEvaluation,
    evaluate_seld,
    seld_metrics,
    seld_score,
    seld_score_2024,
    summarize_seld,
)
from asabench.benchmark.stats import Jackknife, jackknife

__all__ = [
    "BLOCK_FRAMES",
    "DOA_THRESHOLD_DEG",
    "DeepasaCounts",
    "Jackknife",
    "REL_DIST_THRESHOLD",
    "SELD_MODES",
    "SeldAverage",
    "SeldCounts",
    "SeldEvaluation",
    "SeldMode",
    "angular_distance_deg",
    "count_seld",
    "count_seld_deepasa",
    "decode_multi_accdoa",
    "deepasa_metrics",
    "evaluate_seld",
    "jackknife",
    "metric_names",
    "seld_metrics",
    "seld_score",
    "seld_score_2024",
    "split_multi_accdoa",
    "summarize_seld",
]
