"""Jackknife and per-source means with intervals (benchmark/stats.py) against hand-worked values."""

import math

import numpy as np
import pytest

from asabench.benchmark import stats


def test_jackknife_hand_worked_and_nan_partials_dropped():
    # partials 1, 2, 4 (one NaN dropped): mean 7/3, bias 2 (7/3 - 2) = 2/3
    jk = stats.jackknife(2.0, np.array([1.0, np.nan, 2.0, 4.0]))
    assert jk.n == 3 and jk.bias == pytest.approx(2 / 3) and jk.estimate == pytest.approx(4 / 3)
    se = math.sqrt(2 / 3 * ((4 / 3) ** 2 + (1 / 3) ** 2 + (5 / 3) ** 2))
    t = 0.95 * math.sqrt(2 / (4 * 0.975 * 0.025))  # Student t quantile, 2 dof, closed form
    assert jk.std_err == pytest.approx(se)
    assert (jk.ci_low, jk.ci_high) == (pytest.approx(4 / 3 - t * se), pytest.approx(4 / 3 + t * se))
    one = stats.jackknife(1.0, np.array([1.0]))
    assert one.n == 1 and math.isnan(one.std_err) and one.to_dict()["ci_low"] is None
    with pytest.raises(ValueError, match="alpha"):
        stats.jackknife(1.0, np.array([1.0, 2.0]), alpha=1.0)


def test_mean_with_jackknife_pools_values_and_leaves_scenes_out():
    # scene 0: values 1, 3 (NaN excluded); scene 1: 5; scene 2: nothing finite
    out = stats.mean_with_jackknife([np.array([1.0, np.nan, 3.0]), np.array([5.0]), np.array([np.nan])])
    assert out["n_values"] == 3 and out["value"] == pytest.approx(3.0)
    # leave-one-out means: 5 (without scene 0), 2 (without 1), 3 (without 2)
    expected = stats.jackknife(3.0, np.array([5.0, 2.0, 3.0])).to_dict()
    assert {k: out[k] for k in expected} == pytest.approx(expected)
    assert out["n"] == 3 and out["bias"] == pytest.approx(2 * (10 / 3 - 3))


def test_old_import_places_give_the_one_implementation():
    from asabench.benchmark import metrics
    from asabench.benchmark.metrics import seld

    assert seld.jackknife is metrics.jackknife is stats.jackknife
    assert seld.Jackknife is stats.Jackknife
