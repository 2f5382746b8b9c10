"""Statistics over scenes: the leave-one-out jackknife and its t-interval, and means with it.

One implementation for every task: SELD's pooled-count metrics
(:func:`~asabench.benchmark.metrics.seld.scores.summarize_seld`) and the per-source means of
separation and extraction scoring (:func:`mean_with_jackknife`). Leaving out one scene and
recomputing the statistic gives the partial estimates ``θ_(j)``; the bias correction,
standard error and Student-t interval follow from them (``docs/seld-modes.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.stats import t as student_t

__all__ = ["Jackknife", "jackknife", "mean_with_jackknife"]


@dataclass(frozen=True)
class Jackknife:
    """Leave-one-out jackknife of a statistic.

    ``value`` is the statistic on the full set, ``estimate = value - bias`` the
    bias-corrected estimate, ``bias = (n - 1)(mean(partial) - value)``,
    ``std_err = sqrt((n - 1) / n * sum((partial - mean(partial))^2))`` and
    ``ci = estimate -/+ t_{1 - alpha/2, n - 1} * std_err``.
    """

    value: float
    estimate: float
    bias: float
    std_err: float
    ci_low: float
    ci_high: float
    n: int

    def to_dict(self) -> dict[str, float | int | None]:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                for k, v in self.__dict__.items()}


def jackknife(value: float, partial: np.ndarray, *, alpha: float = 0.05) -> Jackknife:
    """Jackknife bias, standard error and t-interval from leave-one-out estimates.

    Parameters
    ----------
    value : statistic on all n items.
    partial : [n] statistic recomputed without item j. NaN partials (a subset where the
        statistic is undefined) are dropped and ``n`` counts the rest.
    alpha : 1 - confidence level (0.05 gives a 95 % interval).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    partial = np.asarray(partial, np.float64)
    partial = partial[~np.isnan(partial)]
    n = len(partial)
    value = float(value)
    if n < 2 or not np.isfinite(value):
        nan = float("nan")
        return Jackknife(value, value, nan, nan, nan, nan, n)
    mean = float(partial.mean())
    bias = (n - 1) * (mean - value)
    se = float(np.sqrt((n - 1) / n * np.sum((partial - mean) ** 2)))
    est = value - bias
    t = float(student_t.ppf(1 - alpha / 2, n - 1))
    return Jackknife(value, est, bias, se, est - t * se, est + t * se, n)


def mean_with_jackknife(values: Sequence[np.ndarray], alpha: float = 0.05) -> dict[str, Any]:
    """Mean of all finite per-source values and its leave-one-scene-out jackknife.

    Parameters
    ----------
    values : per scene, ``[J_s]`` values (NaN = excluded, e.g. silent reference).
    alpha : 1 - confidence level of the interval.

    Returns
    -------
    ``{"n_values", **Jackknife.to_dict()}``: the number of finite values, then ``value``
    (the mean of all of them), ``estimate``, ``bias``, ``std_err``, ``ci_low``, ``ci_high``
    and ``n`` (scenes with a defined partial mean); non-finite entries are None.
    """
    sums = np.asarray([np.nansum(v) for v in values], np.float64)
    counts = np.asarray([np.sum(~np.isnan(v)) for v in values], np.float64)
    total_n = counts.sum()
    value = sums.sum() / total_n if total_n else float("nan")
    with np.errstate(invalid="ignore", divide="ignore"):
        partial = (sums.sum() - sums) / (total_n - counts)
    partial = np.where(total_n - counts > 0, partial, np.nan)
    jk = jackknife(value, partial, alpha=alpha)
    return {"n_values": int(total_n), **jk.to_dict()}
