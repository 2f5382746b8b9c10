"""SELD evaluation modes: which algorithm counts, averages and divides, and its thresholds.

Four modes (``docs/seld-modes.md`` has worked examples); the fourth, ``"deepasa"``, is not
a DCASE metric: it is the frame-level, slot-wise metric of the DeepASA authors' code
(:mod:`~asabench.benchmark.metrics.seld.deepasa`), the one their ASA2 and STARSS23 tables use.

``"dcase2023"``
    The algorithm of the official DCASE 2022/2023 evaluation code, quirks included:

    1. the evaluated length is ``ceil(f_last / 10)`` one-second blocks where ``f_last`` is
       the last annotated *reference* frame, so predictions after the reference ends (and
       a whole scene whose reference is empty) are never counted;
    2. when a class is in reference and prediction in the same block but never in the
       same frame, ``nb_pred`` is added to FN and nothing to FP;
    3. macro averages run over every class, and a class absent from reference and
       prediction contributes F = 0, LE = 180 and LR = 0;
    4. an ``eps`` of ``finfo(float64).eps`` sits in every denominator.

``"default"`` (the corrected mode, used for every number we publish unless stated)
    Same block-level counting, with: the evaluated length from the file duration
    (``n_frames`` label frames, the last block possibly partial; rows at or beyond it are
    dropped and counted); a class in reference and prediction but in disjoint frames of a
    block adds ``nb_gt`` to FN and ``nb_pred`` to FP (its tracks are missed *and* its
    predictions are spurious); macro averages run over the classes present in the
    reference or the prediction of the evaluated set; exact division (no eps). For a class
    that is averaged, undefined quantities keep the official conventions (LE = 180 when it
    has no matched track, LR = 0 when it has no reference track).

``"dcase2024"``
    Frame-level, distance-aware counting of the DCASE 2024 code: per frame and class, the
    Hungarian association on great-circle angle gives ``K = min(R, P)`` pairs; a pair is a
    TP when its angle is <= 20 deg and its relative distance error ``|d_p - d_r| / d_r``
    is <= 1, otherwise an FP_spatial; unmatched references are FN, unmatched predictions
    FP; per frame S/D/I as above. F = TP / (TP + FP_spatial + (FP + FN) / 2) (eps in the
    denominator, as the official code); DOAE and RDE are averaged over all matched pairs
    and are NaN for a class without pairs. Macro: F is the mean over *all* classes (absent
    ones give 0, as officially), DOAE/RDE the nan-mean over classes, and SELD_2024 the mean
    over classes of the per-class ``nanmean(1 - F_c, DOAE_c / 180, RDE_c)``; micro: the same
    formula on pooled counts. Deviation from the official code: the evaluated length is the
    file duration, as in ``"default"``, not the last annotated reference frame.

``"deepasa"``
    Frame-level and slot-wise: every (object slot, frame, class) is one element, the
    predicted slots are aligned to the reference tracks per scene by the permutation with
    the fewest errors, a class confusion counts twice, and every ratio has 1e-8 in its
    denominator (:mod:`~asabench.benchmark.metrics.seld.deepasa`).

The counting itself is :mod:`~asabench.benchmark.metrics.seld.counting`; the metrics and the
SELD score from the counts :mod:`~asabench.benchmark.metrics.seld.scores`.

References
----------
A. Politis et al., "Overview and evaluation of sound event localization and detection in
DCASE 2019", IEEE/ACM TASLP 2021; K. Shimada et al., multi-ACCDOA, ICASSP 2022;
official evaluation code of DCASE 2022/2023/2024 Task 3 (sharathadavanne/seld-dcase2023).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

SeldMode = Literal["default", "dcase2023", "dcase2024", "deepasa"]
SeldAverage = Literal["macro", "micro"]
SELD_MODES: tuple[str, ...] = ("default", "dcase2023", "dcase2024", "deepasa")

#: Angle below which a matched track counts as correctly localised (degrees).
DOA_THRESHOLD_DEG: float = 20.0
#: Relative distance error up to which a DCASE 2024 pair is a TP.
REL_DIST_THRESHOLD: float = 1.0
#: Label frames per one-second block (100 ms frames).
BLOCK_FRAMES: int = 10
_EPS = float(np.finfo(np.float64).eps)


def metric_names(mode: SeldMode) -> tuple[str, ...]:
    """Headline metric names of a mode."""
    return (("er", "f", "doae", "rde", "lr", "seld") if mode == "dcase2024"
            else ("er", "f", "le", "lr", "seld"))
