"""Batched BSS-Eval v3 against mir_eval.separation.bss_eval_sources and fast_bss_eval."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from asabench.benchmark.metrics.bss_eval import (
    best_permutation,
    bss_eval_sdr,
    bss_eval_sources,
    bss_eval_sources_per_channel,
    bss_sdr_improvement,
    bss_sdr_pairwise,
)
from asabench.benchmark.metrics.guards import DB_FLOOR, GuardReport

mir_eval = pytest.importorskip("mir_eval")
TOL_DB = 1e-6


def _mir(ref: np.ndarray, est: np.ndarray, compute_permutation: bool = True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=compute_permutation)


def _scenes(seed: int, n: int, j: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Coloured references, leaky filtered estimates in a shuffled order."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((n, j, t + 8))
    ref = np.stack([np.convolve(w, rng.standard_normal(9), mode="valid") for w in white.reshape(-1, t + 8)])
    ref = ref.reshape(n, j, t)
    leak = rng.uniform(0.05, 0.5, (n, j, j)) + 2.0 * np.eye(j)
    est = np.einsum("nij,njt->nit", leak, ref) + 0.2 * rng.standard_normal((n, j, t))
    est[..., 1:] += 0.3 * est[..., :-1]  # a short filter, partly absorbed by the 512 taps
    order = np.stack([rng.permutation(j) for _ in range(n)])
    return np.take_along_axis(est, order[:, :, None], axis=1), ref


@pytest.mark.parametrize("j", [2, 3])
def test_sources_match_mir_eval_with_permutation(j: int) -> None:
    est, ref = _scenes(j, 2, j, 4000)
    res = bss_eval_sources(est, ref)
    for n in range(est.shape[0]):
        sdr, sir, sar, perm = _mir(ref[n], est[n])
        np.testing.assert_allclose(res.sdr[n].numpy(), sdr, atol=TOL_DB, rtol=0)
        np.testing.assert_allclose(res.sir[n].numpy(), sir, atol=TOL_DB, rtol=0)
        np.testing.assert_allclose(res.sar[n].numpy(), sar, atol=TOL_DB, rtol=0)
        np.testing.assert_array_equal(res.perm[n].numpy(), perm)


def test_sources_without_permutation_and_short_filter_match_mir_eval() -> None:
    est, ref = _scenes(10, 1, 3, 3000)
    res = bss_eval_sources(torch.from_numpy(est).float(), torch.from_numpy(ref).float(), compute_permutation=False)
    sdr, sir, sar, _ = _mir(ref[0].astype(np.float32).astype(np.float64), est[0].astype(np.float32).astype(np.float64), False)
    np.testing.assert_allclose(res.sdr[0].numpy(), sdr, atol=TOL_DB, rtol=0)
    np.testing.assert_allclose(res.sir[0].numpy(), sir, atol=TOL_DB, rtol=0)
    np.testing.assert_allclose(res.sar[0].numpy(), sar, atol=TOL_DB, rtol=0)
    np.testing.assert_array_equal(res.perm[0].numpy(), [0, 1, 2])


def test_per_channel_equals_mir_eval_channel_by_channel() -> None:
    est, ref = _scenes(11, 2, 2, 3000)  # read as [J=2, C=2, T] per example
    est = est.reshape(1, 2, 2, 3000)
    ref = ref.reshape(1, 2, 2, 3000)
    res = bss_eval_sources_per_channel(est, ref)
    assert res.sdr.shape == (1, 2, 2)
    for c in range(2):
        sdr, sir, sar, perm = _mir(ref[0, :, c], est[0, :, c])
        np.testing.assert_allclose(res.sdr[0, c].numpy(), sdr, atol=TOL_DB, rtol=0)
        np.testing.assert_allclose(res.sar[0, c].numpy(), sar, atol=TOL_DB, rtol=0)
        np.testing.assert_array_equal(res.perm[0, c].numpy(), perm)


def test_sdr_only_path_matches_fast_bss_eval_and_full_path() -> None:
    fbe = pytest.importorskip("fast_bss_eval")
    est, ref = _scenes(12, 2, 3, 4000)
    sdr, perm = bss_eval_sdr(est, ref, compute_permutation=True)
    ref_sdr, ref_perm = fbe.sdr(ref, est, return_perm=True)
    np.testing.assert_allclose(sdr.numpy(), ref_sdr, atol=TOL_DB, rtol=0)
    np.testing.assert_array_equal(perm.numpy(), ref_perm)
    full = bss_eval_sources(est, ref)
    np.testing.assert_allclose(sdr.numpy(), full.sdr.numpy(), atol=1e-9, rtol=0)
    pair = bss_sdr_pairwise(est, ref)
    for i in range(3):
        for k in range(3):
            assert abs(float(pair[0, i, k]) - float(bss_eval_sdr(est[:1, [i]], ref[:1, [k]])[0][0, 0])) < 1e-9


def test_sdr_improvement_is_difference_against_mixture() -> None:
    est, ref = _scenes(13, 1, 2, 3000)
    res = bss_eval_sources(est, ref)
    est_sorted = np.take_along_axis(est, res.perm.numpy()[:, :, None], axis=1)
    mix = ref.sum(1)
    imp = bss_sdr_improvement(est_sorted, ref, mix)
    mix_sdr, *_ = _mir(ref[0], np.stack([mix[0], mix[0]]), False)
    np.testing.assert_allclose(imp[0].numpy(), res.sdr[0].numpy() - mix_sdr, atol=TOL_DB, rtol=0)


def test_silent_reference_and_zero_estimate_are_guarded() -> None:
    est, ref = _scenes(14, 1, 3, 2000)
    ref[0, 2] = 0.0
    est[0, 0] = 0.0
    report = GuardReport()
    res = bss_eval_sources(est, ref, compute_permutation=False, report=report)
    assert torch.isnan(res.sdr[0, 2]) and torch.isnan(res.sir[0, 2])
    assert float(res.sdr[0, 0]) == DB_FLOOR and float(res.sar[0, 0]) == DB_FLOOR
    assert np.isfinite(res.sdr[0, 1].item())
    assert report.counts["silent_reference"] == 1 and report.counts["zero_estimate"] == 1
    with pytest.raises(ValueError):
        _mir(ref[0], est[0], False)  # mir_eval refuses the whole example
    # A silent reference spans nothing: source 1 scores as in mir_eval on the example
    # without reference 2 (slot 0 gets any non-zero estimate; it does not affect slot 1).
    sdr, sir, sar, _ = _mir(ref[0, :2], np.stack([est[0, 2], est[0, 1]]), False)
    assert abs(float(res.sdr[0, 1]) - sdr[1]) < TOL_DB
    assert abs(float(res.sir[0, 1]) - sir[1]) < TOL_DB
    assert abs(float(res.sar[0, 1]) - sar[1]) < TOL_DB


def test_perfect_estimate_clamped() -> None:
    _, ref = _scenes(15, 1, 2, 2000)
    report = GuardReport()
    res = bss_eval_sources(ref, ref, report=report)
    assert (res.sdr == 100.0).all() and (res.sir == 100.0).all() and (res.sar == 100.0).all()
    assert report.counts["clamped_high"] == 6


def test_hungarian_fallback_equals_exhaustive_search() -> None:
    g = torch.Generator().manual_seed(0)
    score = torch.randn(20, 6, 6, generator=g, dtype=torch.float64)
    exhaustive = best_permutation(score, exhaustive_max=6)
    hungarian = best_permutation(score, exhaustive_max=0)
    cols = torch.arange(6)
    rows = torch.arange(20)[:, None]
    torch.testing.assert_close(score[rows, exhaustive, cols].sum(-1), score[rows, hungarian, cols].sum(-1))
    np.testing.assert_array_equal(exhaustive.numpy(), hungarian.numpy())


def test_shape_errors_are_clear() -> None:
    est, ref = _scenes(16, 1, 2, 1000)
    with pytest.raises(ValueError, match="same batch and source axes"):
        bss_eval_sources(est[:, :1], ref)
    with pytest.raises(ValueError, match="length mismatch"):
        bss_eval_sources(est[..., :900], ref)
