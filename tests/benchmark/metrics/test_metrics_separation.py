"""SNR / SI-SDR / SI-SNR family and the guards, against mir_eval and closed forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from asabench.benchmark.metrics.guards import DB_CEIL, DB_FLOOR, GuardReport, masked_mean
from asabench.benchmark.metrics.separation import (
    sdr_improvement,
    si_sdr,
    si_sdr_improvement,
    si_snr,
    si_snr_improvement,
    snr,
    snr_improvement,
)

TOL_DB = 1e-6


def _signals(seed: int, shape=(2, 3, 4, 4000)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """References with unequal channel gains, noisy leaky estimates and their mixture."""
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal(shape) * rng.uniform(0.2, 2.0, shape[:-1] + (1,))
    mix = ref.sum(axis=1)
    est = ref + 0.2 * (mix[:, None] - ref) + 0.3 * rng.standard_normal(shape)
    return est, ref, mix


def _np_snr(e: np.ndarray, r: np.ndarray, axis) -> np.ndarray:
    return 10 * np.log10((r**2).sum(axis) / ((r - e) ** 2).sum(axis))


def _np_si_sdr(e: np.ndarray, r: np.ndarray, axis) -> np.ndarray:
    alpha = (e * r).sum(axis, keepdims=True) / (r**2).sum(axis, keepdims=True)
    t = alpha * r
    return 10 * np.log10((t**2).sum(axis) / ((t - e) ** 2).sum(axis))


def test_snr_pooled_equals_mir_eval_bss_eval_images_sdr() -> None:
    mir_eval = pytest.importorskip("mir_eval")
    est, ref, _ = _signals(0, (1, 2, 3, 4000))
    ours = snr(est, ref)[0].numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        # mir_eval images take [n_src, n_samples, n_channels].
        sdr, *_ = mir_eval.separation.bss_eval_images(
            ref[0].transpose(0, 2, 1), est[0].transpose(0, 2, 1), compute_permutation=False
        )
    np.testing.assert_allclose(ours, sdr, atol=TOL_DB, rtol=0)


def test_snr_channel_modes_match_closed_form() -> None:
    est, ref, _ = _signals(1)
    np.testing.assert_allclose(snr(est, ref).numpy(), _np_snr(est, ref, (-2, -1)), atol=TOL_DB, rtol=0)
    each = _np_snr(est, ref, -1)
    np.testing.assert_allclose(snr(est, ref, channels="each").numpy(), each, atol=TOL_DB, rtol=0)
    np.testing.assert_allclose(snr(est, ref, channels="mean").numpy(), each.mean(-1), atol=TOL_DB, rtol=0)
    np.testing.assert_allclose(snr(est, ref, channels=2).numpy(), each[..., 2], atol=TOL_DB, rtol=0)
    # Unequal channel gains make the pooled and averaged conventions differ.
    assert np.abs(snr(est, ref).numpy() - each.mean(-1)).max() > 0.01


def test_si_sdr_matches_closed_form_and_pooled_uses_one_alpha() -> None:
    est, ref, _ = _signals(2)
    np.testing.assert_allclose(si_sdr(est, ref).numpy(), _np_si_sdr(est, ref, (-2, -1)), atol=TOL_DB, rtol=0)
    each = _np_si_sdr(est, ref, -1)
    np.testing.assert_allclose(si_sdr(est, ref, channels="each").numpy(), each, atol=TOL_DB, rtol=0)
    np.testing.assert_allclose(si_sdr(est, ref, channels="mean").numpy(), each.mean(-1), atol=TOL_DB, rtol=0)
    np.testing.assert_allclose(si_sdr(est, ref, channels=0).numpy(), each[..., 0], atol=TOL_DB, rtol=0)


def test_si_sdr_planted_value_and_scale_invariance() -> None:
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((2, 4000))
    noise = rng.standard_normal((2, 4000))
    noise -= (noise * ref).sum() / (ref**2).sum() * ref  # orthogonal to ref over both channels
    noise *= np.sqrt((ref**2).sum() / (noise**2).sum() / 10 ** (17.0 / 10))  # 17 dB below ref
    est = 2.5 * ref + 2.5 * noise
    assert abs(float(si_sdr(est, ref)) - 17.0) < TOL_DB
    assert abs(float(si_sdr(0.01 * est, ref)) - 17.0) < TOL_DB
    assert abs(float(si_sdr(est, 30.0 * ref)) - 17.0) < TOL_DB
    # SNR is not scale invariant: 2.5 ref + 2.5 n has error 1.5 ref + 2.5 n.
    expected_snr = 10 * np.log10((ref**2).sum() / ((1.5 * ref + 2.5 * noise) ** 2).sum())
    assert abs(float(snr(est, ref)) - expected_snr) < TOL_DB


def test_si_snr_removes_the_mean() -> None:
    est, ref, _ = _signals(4, (2, 2, 3, 2000))
    ours = si_snr(est + 3.0, ref - 1.0).numpy()
    e0 = est - est.mean(-1, keepdims=True)
    r0 = ref - ref.mean(-1, keepdims=True)
    np.testing.assert_allclose(ours, _np_si_sdr(e0, r0, (-2, -1)), atol=TOL_DB, rtol=0)
    # SI-SDR (no mean removal) is changed by the offset.
    assert np.abs(si_sdr(est + 3.0, ref - 1.0).numpy() - ours).min() > 0.1


@pytest.mark.parametrize(
    "fn,metric",
    [(si_sdr_improvement, si_sdr), (snr_improvement, snr), (sdr_improvement, snr), (si_snr_improvement, si_snr)],
)
def test_improvement_is_metric_of_estimate_minus_metric_of_mixture(fn, metric) -> None:
    est, ref, mix = _signals(5)
    imp = fn(est, ref, mix).numpy()
    direct = metric(est, ref).numpy() - metric(np.broadcast_to(mix[:, None], ref.shape), ref).numpy()
    np.testing.assert_allclose(imp, direct, atol=1e-9, rtol=0)
    np.testing.assert_allclose(
        fn(est, ref, mix, channels="each").numpy(),
        metric(est, ref, channels="each").numpy() - metric(np.broadcast_to(mix[:, None], ref.shape), ref, channels="each").numpy(),
        atol=1e-9,
        rtol=0,
    )
    # The mixture scored against itself-as-estimate improves by exactly 0 dB.
    np.testing.assert_allclose(fn(np.broadcast_to(mix[:, None], ref.shape), ref, mix).numpy(), 0.0, atol=1e-12)


def test_numpy_torch_float32_and_pairwise_broadcast_agree() -> None:
    est, ref, _ = _signals(6, (2, 3, 2, 1000))
    a = si_sdr(est, ref)
    b = si_sdr(torch.from_numpy(est), torch.from_numpy(ref))
    assert a.dtype == torch.float64
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    c = si_sdr(torch.from_numpy(est).float(), torch.from_numpy(ref).float())
    assert c.dtype == torch.float64
    assert (c - a).abs().max() < 1e-4  # only the float32 input rounding differs
    pair = si_sdr(torch.from_numpy(est)[:, :, None], torch.from_numpy(ref)[:, None])
    assert pair.shape == (2, 3, 3)
    for i in range(3):
        for j in range(3):
            torch.testing.assert_close(pair[:, i, j], si_sdr(est[:, i], ref[:, j]), atol=1e-10, rtol=0)


def test_gradients_flow_in_float32() -> None:
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(2, 2, 800, generator=g)
    est = (ref + 0.5 * torch.randn(2, 2, 800, generator=g)).requires_grad_(True)
    loss = -si_sdr(est, ref, precision=None).mean()
    assert loss.dtype == torch.float32
    loss.backward()
    assert torch.isfinite(est.grad).all() and est.grad.abs().sum() > 0


# ---------------------------------------------------------------- guards


def test_silent_reference_is_nan_counted_and_excluded_from_mean() -> None:
    est, ref, _ = _signals(7, (1, 3, 2, 1000))
    ref[0, 1] = 0.0
    report = GuardReport()
    val = si_sdr(est, ref, report=report)
    assert torch.isnan(val[0, 1]) and torch.isfinite(val[0, [0, 2]]).all()
    assert report.counts["silent_reference"] == 1
    assert float(masked_mean(val)) == pytest.approx(float(val[0, [0, 2]].mean()), abs=1e-12)
    # Per-channel mode: one silent channel is left out of that source's channel average.
    ref2 = ref.copy()
    ref2[0, 0, 1] = 0.0
    each = snr(est, ref2, channels="each")
    assert float(snr(est, ref2, channels="mean")[0, 0]) == pytest.approx(float(each[0, 0, 0]), abs=1e-12)


@pytest.mark.parametrize("metric", [snr, si_sdr, si_snr])
def test_zero_estimate_scores_the_floor_and_is_counted(metric) -> None:
    est, ref, _ = _signals(8, (1, 2, 2, 1000))
    est[0, 0] = 0.0
    report = GuardReport()
    val = metric(est, ref, report=report)
    assert float(val[0, 0]) == DB_FLOOR
    assert np.isfinite(val.numpy()).all()
    assert report.counts["zero_estimate"] == 1


def test_perfect_estimate_clamps_to_ceiling_and_is_counted() -> None:
    _, ref, _ = _signals(9, (1, 2, 2, 1000))
    report = GuardReport()
    assert (snr(ref, ref, report=report) == DB_CEIL).all()
    assert (si_sdr(3 * ref, ref, report=report) == DB_CEIL).all()
    assert report.counts["clamped_high"] == 4


def test_nonfinite_input_raises_or_floors() -> None:
    est, ref, _ = _signals(10, (1, 2, 2, 500))
    est[0, 1, 0, 10] = np.nan
    with pytest.raises(ValueError, match="est: contains NaN"):
        si_sdr(est, ref)
    report = GuardReport()
    val = si_sdr(est, ref, nonfinite="floor", report=report)
    assert float(val[0, 1]) == DB_FLOOR and np.isfinite(float(val[0, 0]))
    assert report.counts["nonfinite_estimate"] == 1
    ref[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="ref: contains NaN"):
        si_sdr(est, ref, nonfinite="floor")


def test_length_mismatch_errors_or_trims() -> None:
    est, ref, _ = _signals(11, (1, 2, 2, 600))
    with pytest.raises(ValueError, match=r"length mismatch.*\(1, 2, 2, 550\).*\(1, 2, 2, 600\)"):
        snr(est[..., :550], ref)
    report = GuardReport()
    trimmed = snr(est[..., :550], ref, length="trim", report=report)
    torch.testing.assert_close(trimmed, snr(est[..., :550], ref[..., :550]), atol=0, rtol=0)
    assert report.counts["length_trimmed"] == 4  # rows of [1, 2, 2]


def test_bad_channel_argument_is_rejected() -> None:
    est, ref, _ = _signals(12, (1, 1, 2, 100))
    with pytest.raises(ValueError, match="channels"):
        snr(est, ref, channels="avg")
    with pytest.raises(ValueError, match="out of range"):
        snr(est, ref, channels=5)


def test_finite_guard_fast_path_matches_elementwise_check() -> None:
    from asabench.benchmark.metrics.guards import check_pair

    # finite samples whose sum overflows must not be flagged; NaN/inf must be, row by row
    big = torch.full((3, 8), 3e38, dtype=torch.float32)
    est, ref, bad = check_pair(big.clone(), big.clone(), nonfinite="floor")
    assert not bool(bad.any()) and torch.equal(est, big)
    est_in = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    est_in[1, 2], est_in[2, 0] = float("nan"), float("inf")
    est, _, bad = check_pair(est_in, big, nonfinite="floor")
    assert bad.tolist() == [False, True, True] == (~torch.isfinite(est_in).all(-1)).tolist()
    assert bool(torch.isfinite(est).all()) and float(est[1, 2]) == 0.0 and float(est[1, 3]) == float(est_in[1, 3])
    bad_ref = big.clone()
    bad_ref[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        check_pair(est_in, bad_ref, nonfinite="floor")
