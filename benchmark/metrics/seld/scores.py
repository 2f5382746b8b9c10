"""SELD metrics and scores from counts (ER, F, LE, LR; DCASE 2024 DOAE, RDE), summaries with jackknife intervals.

Counts come from :func:`~asabench.benchmark.metrics.seld.counting.count_seld`; the modes and their
conventions are described in :mod:`~asabench.benchmark.metrics.seld.modes`; the jackknife is
:func:`asabench.benchmark.stats.jackknife`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.metrics.seld.counting import SeldCounts, count_seld
from asabench.benchmark.metrics.seld.modes import (DOA_THRESHOLD_DEG, REL_DIST_THRESHOLD, _EPS, SeldAverage, SeldMode,
                                                   metric_names)
from asabench.benchmark.stats import Jackknife, jackknife


def seld_score(er: np.ndarray | float, f: np.ndarray | float, le_deg: np.ndarray | float,
               lr: np.ndarray | float) -> np.ndarray:
    """DCASE 2022/2023 SELD score ``mean(ER, 1 - F, LE / 180, 1 - LR)`` (lower is better).

    >>> round(float(seld_score(0.288, 0.702, 18.5, 0.769)), 3)
    0.23
    """
    return (np.asarray(er) + 1 - np.asarray(f) + np.asarray(le_deg) / 180.0 + 1 - np.asarray(lr)) / 4.0


def seld_score_2024(f: np.ndarray | float, doae_deg: np.ndarray | float,
                    rde: np.ndarray | float) -> np.ndarray:
    """DCASE 2024 SELD score ``nanmean(1 - F, DOAE / 180, RDE)`` (lower is better)."""
    stack = np.stack(np.broadcast_arrays(1 - np.asarray(f, np.float64),
                                         np.asarray(doae_deg, np.float64) / 180.0,
                                         np.asarray(rde, np.float64)))
    with np.errstate(invalid="ignore"):
        count = np.sum(~np.isnan(stack), axis=0)
        total = np.nansum(stack, axis=0)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _div(num: np.ndarray, den: np.ndarray, exact: bool) -> np.ndarray:
    if not exact:
        return num / (den + _EPS)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n = mask.sum(axis=-1)
    total = np.where(mask, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def seld_metrics(counts: dict[str, np.ndarray], *, mode: SeldMode = "default",
                 average: SeldAverage = "macro") -> dict[str, np.ndarray]:
    """SELD metrics from summed accumulators, vectorised over leading axes.

    Parameters
    ----------
    counts : accumulators as from :meth:`SeldCounts.total` (``[..., C]`` per class,
        ``[...]`` for ``s/d/i``) or :meth:`SeldCounts.leave_one_out` / ``arrays()``.
    mode, average : see the module docstring.

    Returns
    -------
    For ``"deepasa"`` see :func:`~asabench.benchmark.metrics.seld.deepasa.deepasa_metrics`.
    For the 2022/2023 modes ``er, f, le, lr, seld`` ``[...]`` plus per-class ``f_class,
    le_class, lr_class`` ``[..., C]`` and ``classes_averaged`` ``[..., C]`` (bool);
    for ``"dcase2024"`` ``er, f, doae, rde, lr, seld`` (plus per-class ``*_class`` in macro).
    Undefined aggregates (nothing to average) are NaN.
    """
    if average not in ("macro", "micro"):
        raise ValueError(f"average must be 'macro' or 'micro', got {average!r}")
    if mode == "deepasa":
        from asabench.benchmark.metrics.seld.deepasa import deepasa_metrics

        return deepasa_metrics(counts, average=average)
    c = {k: np.asarray(v, np.float64) for k, v in counts.items()}
    if mode == "dcase2024":
        return _metrics_2024(c, average)
    exact = mode != "dcase2023"
    n_ref_total = c["n_ref"].sum(axis=-1)
    er = _div(c["s"] + c["d"] + c["i"], n_ref_total, exact)
    f_den = c["tp"] + c["fp_spatial"] + 0.5 * (c["fp"] + c["fn"])
    lr_den = c["de_tp"] + c["de_fn"]
    f_cls = _div(c["tp"], f_den, exact)
    le_cls = np.where(c["de_tp"] > 0, _div(c["total_de"], c["de_tp"], exact), 180.0)
    lr_cls = _div(c["de_tp"], lr_den, exact)
    present = (c["n_ref"] + c["n_pred"]) > 0
    if mode == "dcase2023":
        averaged = np.ones_like(present)
    else:
        averaged = present
    out: dict[str, np.ndarray] = {"f_class": f_cls, "le_class": le_cls, "lr_class": lr_cls,
                                  "classes_averaged": averaged}
    if average == "macro":
        f, le, lr = (_masked_mean(v, averaged) for v in (f_cls, le_cls, lr_cls))
    else:
        tot = {k: c[k].sum(axis=-1) for k in ("tp", "fp_spatial", "fp", "fn", "de_tp", "de_fn",
                                              "total_de")}
        f = _div(tot["tp"], tot["tp"] + tot["fp_spatial"] + 0.5 * (tot["fp"] + tot["fn"]), exact)
        le = np.where(tot["de_tp"] > 0, _div(tot["total_de"], tot["de_tp"], exact), 180.0)
        lr = _div(tot["de_tp"], tot["de_tp"] + tot["de_fn"], exact)
        if exact:
            nothing = ~present.any(axis=-1)
            f, le, lr = (np.where(nothing, np.nan, v) for v in (f, le, lr))
    if exact:
        nothing = ~present.any(axis=-1)
        er = np.where(nothing, np.nan, er)
    out.update(er=np.asarray(er), f=np.asarray(f), le=np.asarray(le), lr=np.asarray(lr),
               seld=seld_score(er, f, le, lr))
    return out


def _metrics_2024(c: dict[str, np.ndarray], average: str) -> dict[str, np.ndarray]:
    # Mirrors the official 2024 code: eps denominators for F, ER and LR, NaN errors for
    # classes without a matched pair, per-class SELD averaged over all classes in macro.
    er = (c["s"] + c["d"] + c["i"]) / (c["n_ref"].sum(axis=-1) + _EPS)
    with np.errstate(invalid="ignore", divide="ignore"):
        if average == "macro":
            f_cls = c["tp"] / (_EPS + c["tp"] + c["fp_spatial"] + 0.5 * (c["fp"] + c["fn"]))
            matched = c["de_tp"] > 0
            doae_cls = np.where(matched, c["total_de"] / (c["de_tp"] + _EPS), np.nan)
            rde_cls = np.where(matched, c["total_rel_dist_err"] / (c["de_tp"] + _EPS), np.nan)
            lr_cls = c["de_tp"] / (_EPS + c["de_tp"] + c["de_fn"])
            seld_cls = seld_score_2024(f_cls, doae_cls, rde_cls)
            f, lr, seld = f_cls.mean(axis=-1), lr_cls.mean(axis=-1), seld_cls.mean(axis=-1)
            doae, rde = (_masked_mean(v, ~np.isnan(v)) for v in (doae_cls, rde_cls))
            return {"f_class": f_cls, "doae_class": doae_cls, "rde_class": rde_cls,
                    "lr_class": lr_cls, "seld_class": seld_cls, "er": er, "f": f, "doae": doae,
                    "rde": rde, "lr": lr, "seld": seld}
        tot = {k: c[k].sum(axis=-1) for k in ("tp", "fp_spatial", "fp", "fn", "de_tp", "de_fn",
                                              "total_de", "total_rel_dist_err")}
        f = tot["tp"] / (_EPS + tot["tp"] + tot["fp_spatial"] + 0.5 * (tot["fp"] + tot["fn"]))
        n = tot["de_tp"]
        doae = np.where(n > 0, tot["total_de"] / (n + _EPS), np.nan)
        rde = np.where(n > 0, tot["total_rel_dist_err"] / (n + _EPS), np.nan)
        lr = n / (_EPS + n + tot["de_fn"])
    return {"er": er, "f": f, "doae": doae, "rde": rde, "lr": lr,
            "seld": seld_score_2024(f, doae, rde)}


# ----------------------------------------------------------------------------- evaluation


@dataclass
class SeldEvaluation:
    """SELD of a set of scenes: aggregate, jackknife intervals, per-scene and per-class values.

    Attributes
    ----------
    mode, average : how it was computed.
    aggregate : metric name -> value on the whole set.
    intervals : metric name -> :class:`Jackknife` over scenes.
    per_scene : metric name -> [S] value of each scene alone (NaN when undefined).
    per_class : metric name -> [C] value of each class on the whole set.
    counts : the accumulators.
    """

    mode: str
    average: str
    aggregate: dict[str, float]
    intervals: dict[str, Jackknife]
    per_scene: dict[str, np.ndarray]
    per_class: dict[str, np.ndarray]
    counts: SeldCounts


def summarize_seld(counts: SeldCounts, *, average: SeldAverage = "macro",
                   alpha: float = 0.05) -> SeldEvaluation:
    """Aggregate metrics, jackknife intervals (leave one scene out) and per-scene values."""
    mode = counts.mode
    names = metric_names(mode)  # type: ignore[arg-type]
    full = seld_metrics(counts.total(), mode=mode, average=average)  # type: ignore[arg-type]
    loo = seld_metrics(counts.leave_one_out(), mode=mode, average=average)  # type: ignore[arg-type]
    scene = seld_metrics(counts.arrays(), mode=mode, average=average)  # type: ignore[arg-type]
    aggregate = {k: float(full[k]) for k in names}
    intervals = {k: jackknife(aggregate[k], loo[k], alpha=alpha) for k in names}
    per_class = {k: full[k] for k in full if k.endswith("_class")}
    return SeldEvaluation(mode, average, aggregate, intervals, {k: scene[k] for k in names},
                          per_class, counts)


def evaluate_seld(refs: Sequence[DcaseLabels], preds: Sequence[DcaseLabels], *,
                  num_classes: int, mode: SeldMode = "default", average: SeldAverage = "macro",
                  n_frames: np.ndarray | int | None = None,
                  doa_threshold_deg: float = DOA_THRESHOLD_DEG,
                  rel_dist_threshold: float = REL_DIST_THRESHOLD,
                  alpha: float = 0.05) -> SeldEvaluation:
    """Count and summarise SELD over scenes; see :func:`count_seld` and :func:`summarize_seld`."""
    counts = count_seld(refs, preds, num_classes=num_classes, mode=mode, n_frames=n_frames,
                        doa_threshold_deg=doa_threshold_deg, rel_dist_threshold=rel_dist_threshold)
    return summarize_seld(counts, average=average, alpha=alpha)
