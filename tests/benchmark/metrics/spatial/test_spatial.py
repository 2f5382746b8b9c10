"""Spatial-cue errors and GCC-PHAT against physical delays and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from asabench.benchmark.metrics.guards import GuardReport
from asabench.benchmark.metrics.spatial import definitions, gcc as gcc_engine, kernels
from asabench.benchmark.metrics.spatial import (
    delta_ild,
    delta_ipd,
    delta_itd,
    gcc_phat,
    ild,
    mic_pairs,
    spatial_cue_errors,
    tdoa,
)

FS = 16000


def _delayed(delays: list[float], t: int = 4000, seed: int = 0) -> np.ndarray:
    """White noise seen with per-channel delays (samples, fractional allowed), ``[C, T]``.

    The delay is applied in the frequency domain to a 3x longer signal whose middle is kept,
    so the cropped channels are true (not circular) shifts of one another.
    """
    rng = np.random.default_rng(seed)
    n = 3 * t
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    return np.stack([np.fft.irfft(spec * np.exp(-2j * np.pi * f * d), n=n)[t : 2 * t] for d in delays])


def test_mic_pairs() -> None:
    assert mic_pairs(4) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


@pytest.mark.parametrize("d", [0, 1, 3, -2, 16, -16])
def test_gcc_phat_recovers_integer_delays_exactly(d: int) -> None:
    x = _delayed([d, 0])
    assert float(gcc_phat(x[0], x[1], FS)) * FS == pytest.approx(d, abs=1e-12)
    assert float(gcc_phat(x[1], x[0], FS)) * FS == pytest.approx(-d, abs=1e-12)  # sign convention
    # Crop edges make the PHAT peak slightly asymmetric: the parabola moves it by < 0.01 sample.
    assert float(gcc_phat(x[0], x[1], FS, refine="parabolic")) * FS == pytest.approx(d, abs=0.01)


@pytest.mark.parametrize("d", [0.3, 1.5, -2.7, 3.2])
def test_gcc_phat_fractional_delays(d: float) -> None:
    x = torch.from_numpy(_delayed([d, 0]))
    integer = float(gcc_phat(x[0], x[1], FS)) * FS
    assert abs(integer - d) <= 0.5 + 1e-9  # the reference resolution: nearest sample
    upsampled = float(gcc_phat(x[0], x[1], FS, interp=16, refine="parabolic")) * FS
    assert abs(upsampled - d) < 0.02
    parabola = float(gcc_phat(x[0], x[1], FS, refine="parabolic")) * FS
    assert abs(parabola - d) < 0.2


def test_gcc_phat_search_window_is_one_millisecond() -> None:
    x = _delayed([20, 0])  # 1.25 ms > 1 ms: outside the ±16-sample search
    assert abs(float(gcc_phat(x[0], x[1], FS)) * FS) <= 16
    assert float(gcc_phat(x[0], x[1], FS, max_tau=2e-3)) * FS == pytest.approx(20, abs=1e-12)


def test_tdoa_over_all_pairs_matches_geometry() -> None:
    delays = [0.0, 2.0, -1.0, 3.0]
    x = torch.from_numpy(np.stack([_delayed(delays, seed=1), _delayed(delays, seed=2)]))  # [B=2, C=4, T]
    tau = tdoa(x, FS)
    expected = torch.tensor([(delays[i] - delays[j]) / FS for i, j in mic_pairs(4)], dtype=torch.float64)
    assert tau.shape == (2, 6)
    torch.testing.assert_close(tau, expected.expand(2, 6), atol=1e-12, rtol=0)


def test_all_cues_are_zero_for_identical_signals() -> None:
    ref = _delayed([0.0, 1.3, -0.7, 2.1])
    out = spatial_cue_errors(ref, ref, FS)
    for key in ("delta_ild_db", "delta_ipd_rad", "delta_ipd_masked_rad", "delta_itd_us", "delta_itd_subsample_us"):
        assert float(out[key]) == pytest.approx(0.0, abs=1e-9), key
    assert out["parameters"]["ipd"]["n_fft"] == 256 and out["parameters"]["itd"]["max_tau_s"] == 1e-3
    assert len(out["parameters"]["pairs"]) == 6


def test_scaled_channel_changes_only_ild() -> None:
    ref = _delayed([0.0, 1.0, 2.0, -1.0], seed=3)
    est = ref.copy()
    est[0] *= 0.5
    expected = np.array([20 * math.log10(2) if 0 in p else 0.0 for p in mic_pairs(4)])
    np.testing.assert_allclose(delta_ild(est, ref).numpy(), expected, atol=1e-9)
    energy = (ref**2).sum(-1)
    np.testing.assert_allclose(
        ild(ref).numpy(), [10 * math.log10(energy[i] / energy[j]) for i, j in mic_pairs(4)], atol=1e-9
    )
    np.testing.assert_allclose(delta_ipd(est, ref).numpy(), 0.0, atol=1e-9)
    np.testing.assert_allclose(delta_itd(est, ref, FS).numpy(), 0.0, atol=1e-9)


def test_polarity_flip_gives_pi_ipd_and_delay_gives_itd() -> None:
    ref = _delayed([0.0, 0.0, 0.0, 0.0], seed=4)
    est = ref.copy()
    est[1] *= -1.0
    expected = np.array([math.pi if 1 in p else 0.0 for p in mic_pairs(4)])
    np.testing.assert_allclose(delta_ipd(est, ref).numpy(), expected, atol=1e-9)
    np.testing.assert_allclose(delta_ild(est, ref).numpy(), 0.0, atol=1e-9)
    est = _delayed([0.0, 2.0, 0.0, 0.0], seed=4)  # channel 1 two samples late: 125 µs
    expected = np.array([125.0 if 1 in p else 0.0 for p in mic_pairs(4)])
    np.testing.assert_allclose(delta_itd(est, ref, FS).numpy(), expected, atol=1e-6)


def _np_cross_spectra(x: np.ndarray, n_fft: int = 256, hop: int = 128) -> np.ndarray:
    """Independent STFT: reflect-padded centred frames, rectangular window, one-sided."""
    pad = np.pad(x, [(0, 0), (n_fft // 2, n_fft // 2)], mode="reflect")
    n_frames = 1 + x.shape[-1] // hop
    frames = np.stack([pad[:, k * hop : k * hop + n_fft] for k in range(n_frames)], axis=1)
    spec = np.fft.rfft(frames, axis=-1)  # [C, frames, F]
    return np.stack([spec[i] * spec[j].conj() for i, j in mic_pairs(x.shape[0])])


def test_ipd_matches_hand_computed_stft_with_and_without_mask() -> None:
    rng = np.random.default_rng(5)
    ref = _delayed([0.0, 0.6, 1.7, -0.4], t=2000, seed=5)
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    c_est, c_ref = _np_cross_spectra(est), _np_cross_spectra(ref)
    err = np.abs(np.angle(c_est * c_ref.conj()))
    np.testing.assert_allclose(delta_ipd(est, ref).numpy(), err.mean((-2, -1)), atol=1e-9)
    mag = np.abs(c_ref)
    mask = mag >= mag.max((-2, -1), keepdims=True) * 10 ** (-20 / 10)
    expected = (err * mask).sum((-2, -1)) / mask.sum((-2, -1))
    np.testing.assert_allclose(delta_ipd(est, ref, mask_db=20).numpy(), expected, atol=1e-9)
    assert np.all(expected < err.mean((-2, -1)))  # low-energy bins carry the largest errors


def test_subsample_itd_resolves_fractional_errors() -> None:
    ref = _delayed([0.0, 0.0], seed=6)
    est = _delayed([0.0, 0.4], seed=6)  # 0.4 sample = 25 µs
    assert float(delta_itd(est, ref, FS)[0]) == pytest.approx(0.0, abs=1e-6)  # rounds to 0
    sub = float(delta_itd(est, ref, FS, interp=16, refine="parabolic")[0])
    assert sub == pytest.approx(25.0, abs=1.5)


def test_silent_reference_pairs_are_excluded_and_counted() -> None:
    ref = np.stack([_delayed([0.0, 1.0, 2.0], seed=7), _delayed([0.0, 1.0, 2.0], seed=8)])
    ref[0, 2] = 0.0
    est = ref + 0.1
    report = GuardReport()
    d = delta_ild(est, ref, report=report)
    assert torch.isnan(d[0, 1]) and torch.isnan(d[0, 2]) and torch.isfinite(d[0, 0]) and torch.isfinite(d[1]).all()
    assert report.counts["silent_reference"] == 2
    out = spatial_cue_errors(est, ref, FS)
    assert float(out["delta_ild_db"][0]) == pytest.approx(float(d[0, 0]), abs=1e-12)
    assert all(torch.isfinite(out[k]).all() for k in out if k != "parameters")


def test_zero_estimate_is_counted_and_finite() -> None:
    ref = _delayed([0.0, 1.0], seed=9)
    report = GuardReport()
    d = delta_ild(np.zeros_like(ref), ref, report=report)
    assert report.counts["zero_estimate"] == 1
    assert float(d[0]) == pytest.approx(abs(float(ild(ref)[0])), abs=1e-12)  # ILD of silence taken as 0 dB


def test_errors() -> None:
    ref = _delayed([0.0, 1.0], seed=10)
    with pytest.raises(ValueError, match="channel counts differ"):
        delta_ild(ref[:1], ref)
    with pytest.raises(ValueError, match="invalid pair"):
        delta_ild(ref, ref, pairs=[(0, 2)])
    with pytest.raises(ValueError, match="length mismatch"):
        delta_ipd(ref[:, :100], ref)


# --- fast sub-sample GCC-PHAT pinned to the full zero-padded upsampling it replaced ---


def _reference_tdoa_upsampled(x: torch.Tensor, interp: int, refine: str | None,
                              fft_length: str = "pow2") -> torch.Tensor:
    """The original formulation: one ``n · interp``-point irfft of the whole whitened correlation.

    ``n``: the next power of two >= 2T (the M2M default) or exactly 2T (``fft_length="exact"``).
    """
    from itertools import combinations

    x = x.to(torch.float64)
    n = 2 * x.shape[-1]
    if fft_length == "pow2":
        n = 1 << (n - 1).bit_length()
    m = n * interp
    out = []
    for i, j in combinations(range(x.shape[-2]), 2):
        spec = torch.fft.rfft(x[..., i, :], n=n) * torch.fft.rfft(x[..., j, :], n=n).conj()
        cc = torch.fft.irfft(spec / (spec.abs() + 1e-8), n=m)
        k_max = min(round(FS * 1e-3 * interp), m // 2 - 1)
        lags = torch.arange(-k_max, k_max + 1)
        window = cc[..., lags % m]
        best = window.argmax(-1)
        shift = lags[best].to(torch.float64)
        if refine == "parabolic":
            y0 = window.gather(-1, best.unsqueeze(-1)).squeeze(-1)
            ym = cc.gather(-1, ((lags[best] - 1) % m).unsqueeze(-1)).squeeze(-1)
            yp = cc.gather(-1, ((lags[best] + 1) % m).unsqueeze(-1)).squeeze(-1)
            den = ym - 2 * y0 + yp
            delta = torch.where(den < 0, 0.5 * (ym - yp) / torch.where(den < 0, den, -torch.ones_like(den)), 0.0)
            shift = shift + delta.clamp(-0.5, 0.5)
        out.append(shift / (FS * interp))
    return torch.stack(out, -1)


def _fast_cases() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    coherent = torch.from_numpy(_delayed([0.0, 2.3, -1.7, 3.05], t=3000, seed=4))
    coherent = coherent + 0.3 * torch.randn(coherent.shape, generator=g, dtype=torch.float64)
    noise = torch.randn(4, 3000, generator=g, dtype=torch.float64)  # incoherent: weak peaks
    zero = coherent.clone()
    zero[1] = 0.0  # all-zero channel: flat correlation, first lag wins
    const = torch.ones(4, 3000, dtype=torch.float64)  # DC only
    two_peaks = torch.from_numpy(_delayed([0.0, 4.0], t=3000, seed=5))
    two_peaks = torch.cat([two_peaks, two_peaks[:1] + torch.from_numpy(_delayed([-6.0], t=3000, seed=5))[:1]], 0)
    impulse = torch.zeros(3, 3000, dtype=torch.float64)
    impulse[0, 100], impulse[1, 103], impulse[2, 100] = 1.0, 1.0, -1.0  # flat-magnitude PHAT spectrum
    impulse[2, 107] = 0.3  # breaks the exact sidelobe tie of -delta (see the tie test below)
    return {"coherent": coherent, "noise": noise, "zero": zero, "const": const, "two_peaks": two_peaks,
            "impulse": impulse}


@pytest.mark.parametrize("case", list(_fast_cases()))
@pytest.mark.parametrize("refine", [None, "parabolic"])
@pytest.mark.parametrize("interp", [2, 16])
@pytest.mark.parametrize("fft_length", ["pow2", "exact"])
def test_fast_upsampled_gcc_phat_equals_full_upsampling(case: str, refine: str | None, interp: int,
                                                        fft_length: str) -> None:
    x = _fast_cases()[case]
    expected = _reference_tdoa_upsampled(x, interp, refine, fft_length)
    kw = dict(interp=interp, refine=refine, fft_length=fft_length)
    got = tdoa(x, FS, **kw)
    np.testing.assert_allclose(got.numpy() * FS, expected.numpy() * FS, rtol=0, atol=1e-9)
    np.testing.assert_allclose(tdoa(x, FS, method="reference", **kw).numpy() * FS,
                               expected.numpy() * FS, rtol=0, atol=1e-12)
    # the float32 FFT path certifies its lags against float64: integer and upsampled lags
    # equal, only the parabola vertex moves by float32 rounding
    got32 = tdoa(x, FS, precision=torch.float32, **kw)
    np.testing.assert_allclose(got32.numpy() * FS, expected.numpy() * FS, rtol=0,
                               atol=1e-9 if refine is None else 2e-3)


@pytest.mark.parametrize("precision", [torch.float64, torch.float32])
@pytest.mark.parametrize("interp", [1, 16])
def test_exact_ties_return_a_maximiser(interp: int, precision: torch.dtype) -> None:
    # -delta against delta: the correlation is a negated periodic sinc whose two highest
    # sidelobes tie exactly, so which one wins is decided by rounding (differently by each
    # FFT library); the result must be one of them.
    x = torch.zeros(2, 3000, dtype=torch.float64)
    x[0, 100], x[1, 100] = 1.0, -1.0
    got = float(tdoa(x, FS, interp=interp, precision=precision)[0]) * FS * interp
    n = 6000
    m = n * interp
    spec = torch.fft.rfft(x[0], n=n) * torch.fft.rfft(x[1], n=n).conj()
    cc = torch.fft.irfft(spec / (spec.abs() + 1e-8), n=m)
    k = round(FS * 1e-3 * interp)
    window = cc[torch.arange(-k, k + 1) % m]
    maximisers = (window >= window.max() - 1e-9 * window.abs().max()).nonzero().flatten() - k
    assert len(maximisers) >= 2 and round(got) in maximisers.tolist() and abs(got - round(got)) < 1e-9


@pytest.mark.parametrize("interp", [1, 2, 16])
@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_chirp_z_window_equals_upsampled_irfft(interp: int, dtype: torch.dtype) -> None:
    x = _fast_cases()["coherent"]
    ii, jj = torch.triu_indices(x.shape[0], x.shape[0], 1)
    n = 2 * x.shape[-1]
    spec = torch.fft.rfft(x, n=n)
    cross = spec[ii] * spec[jj].conj()
    cross = cross / (cross.abs() + 1e-8)
    m = n * interp
    full = torch.fft.irfft(cross, n=m) * m  # the reference correlation, unnormalised
    j0, count = -(17 * interp), 34 * interp + 1
    lags = torch.arange(j0, j0 + count)
    got = gcc_engine._correlation_window(cross.to(dtype), n, interp, j0, count)
    scale = float(full.abs().amax())
    tol = 1e-12 if dtype == torch.complex128 else 2e-6
    np.testing.assert_allclose(got.double().numpy() / scale, full[:, lags % m].numpy() / scale, rtol=0, atol=tol)


def test_float32_spatial_cues_match_float64() -> None:
    g = torch.Generator().manual_seed(21)
    src = torch.randn(3, 1, 3100, generator=g, dtype=torch.float64)
    ref = torch.cat([src[..., :3000], src[..., 2:3002], src[..., 5:3005], src[..., 1:3001]], 1)
    ref = ref + 0.2 * torch.randn(ref.shape, generator=g, dtype=torch.float64)
    est = ref + 0.8 * torch.randn(ref.shape, generator=g, dtype=torch.float64)
    est[2] = torch.randn(est[2].shape, generator=g, dtype=torch.float64)  # incoherent: weak peaks
    a = spatial_cue_errors(est, ref, FS)
    b = spatial_cue_errors(est, ref, FS, precision=torch.float32)
    np.testing.assert_array_equal(a["delta_itd_us"].numpy(), b["delta_itd_us"].numpy())
    np.testing.assert_allclose(b["delta_itd_subsample_us"].numpy(), a["delta_itd_subsample_us"].numpy(), rtol=0, atol=0.1)
    for key in ("delta_ild_db", "delta_ipd_rad", "delta_ipd_masked_rad"):
        np.testing.assert_allclose(b[key].numpy(), a[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    assert b["parameters"]["fft_precision"].startswith("float32")
    with pytest.raises(ValueError, match="precision"):
        spatial_cue_errors(est, ref, FS, precision=torch.float16)


def test_fast_delta_itd_equals_reference_method_on_random_scenes() -> None:
    g = torch.Generator().manual_seed(11)
    src = torch.randn(3, 1, 2100, generator=g, dtype=torch.float64)
    ref = torch.cat([src[..., :2000], src[..., 2:2002], src[..., 5:2005], src[..., 1:2001]], 1)
    est = ref + 0.5 * torch.randn(ref.shape, generator=g, dtype=torch.float64)
    kw = dict(interp=16, refine="parabolic")
    np.testing.assert_allclose(delta_itd(est, ref, FS, **kw).numpy(),
                               delta_itd(est, ref, FS, method="reference", **kw).numpy(), rtol=0, atol=1e-6)


def test_spatial_cue_errors_shared_pass_equals_single_cue_functions() -> None:
    g = torch.Generator().manual_seed(12)
    src = torch.randn(2, 1, 2100, generator=g, dtype=torch.float64)
    ref = torch.cat([src[..., :2000], src[..., 2:2002], src[..., 5:2005], 0.5 * src[..., 1:2001]], 1)
    est = ref + 0.4 * torch.randn(ref.shape, generator=g, dtype=torch.float64)
    ref[1, 3] = 0.0  # silent reference channel: its pairs are left out
    out = spatial_cue_errors(est, ref, FS)
    singles = {
        "delta_ild_db": delta_ild(est, ref),
        "delta_ipd_rad": delta_ipd(est, ref),
        "delta_ipd_masked_rad": delta_ipd(est, ref, mask_db=40.0),
        "delta_itd_us": delta_itd(est, ref, FS),
        "delta_itd_subsample_us": delta_itd(est, ref, FS, interp=16, refine="parabolic", method="reference"),
    }
    for key, v in singles.items():
        expected = torch.nanmean(v, dim=-1)
        np.testing.assert_allclose(out[key].numpy(), expected.numpy(), rtol=0, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_cpu_pair_windows_equal_the_two_step_path(dtype: torch.dtype) -> None:
    x = torch.stack([_fast_cases()["coherent"], _fast_cases()["noise"]]).to(dtype)
    ii, jj = definitions._pair_index(4, None, x.device)
    n = 2 * x.shape[-1]
    vals, nyq = gcc_engine._pair_windows_cpu(torch.fft.rfft(x, n=n), ii, jj, n, 16, -273, 547, 1e-8)
    spec = gcc_engine._pair_phat(x, ii, jj, n, 1e-8).reshape(-1, n // 2 + 1)
    assert torch.equal(vals, gcc_engine._correlation_window(spec, n, 16, -273, 547))
    assert torch.equal(nyq, spec[:, -1].real)


def test_float32_near_ties_are_recomputed_from_lazily_built_float64_signals() -> None:
    x = torch.zeros(1, 2, 3000, dtype=torch.float64)
    x[0, 0, 100], x[0, 1, 100] = 1.0, -1.0  # exact sidelobe tie (see the tie test above)
    calls = []

    def channels(signals: torch.Tensor):
        def get(lead: torch.Tensor, channel: torch.Tensor) -> torch.Tensor:
            calls.append((lead.tolist(), channel.tolist()))
            return signals.reshape(-1, 3000)[lead * signals.shape[-2] + channel]
        return get

    ii, jj = definitions._pair_index(2, None, x.device)
    tau, tau_int = gcc_engine._tdoa_variants(channels(x), ii, jj, FS, 1e-3, 16, None, 1e-8, "fast", torch.float32,
                                          True, xp=x.float())
    assert calls == [([0, 0], [0, 1])]  # only the tied pair's two channels, in one call
    ref_tau, ref_int = gcc_engine._tdoa_variants(x, ii, jj, FS, 1e-3, 16, None, 1e-8, "reference", torch.float64, True)
    # a tie: any maximiser of the float64 correlation is right; the reference picks one of the two
    assert abs(float(tau[0, 0])) == pytest.approx(abs(float(ref_tau[0, 0])), abs=1e-12)
    # integer lags: every lag but 0 (the negated peak, the minimum) ties at 0
    assert round(float(tau_int[0, 0]) * FS) != 0 and round(float(ref_int[0, 0]) * FS) != 0
    coherent = torch.from_numpy(_delayed([0.0, 2.5], t=3000, seed=9))[None]
    calls.clear()
    gcc_engine._tdoa_variants(channels(coherent), ii, jj, FS, 1e-3, 16, "parabolic", 1e-8, "fast",
                           torch.float32, True, xp=coherent.float())
    assert calls == []  # a clear peak never needs the float64 signals


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cpu_stft_frames_equal_torch_stft(dtype: torch.dtype) -> None:
    x = torch.randn(2, 3, 1000, generator=torch.Generator().manual_seed(2), dtype=dtype)
    expected = torch.stft(x.reshape(-1, 1000), 256, 128, window=torch.ones(256, dtype=dtype), center=True,
                          pad_mode="reflect", return_complex=True).reshape(2, 3, 129, -1).transpose(-1, -2)
    got = kernels._stft(x, 256, 128)
    assert got.shape == expected.shape == (2, 3, 1000 // 128 + 1, 129)
    tol = 1e-9 if dtype == torch.float64 else 1e-3
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=0, atol=tol)


@pytest.mark.parametrize("precision", [torch.float64, torch.float32])
def test_ipd_counts_bins_without_phase_as_zero_error(precision: torch.dtype) -> None:
    # A reference silent for half the clip (digital silence, as before a source's onset):
    # its STFT bins are exact zeros (of either sign), so atan2 of the products returns 0 or ±π
    # by the signs of the zeros; the definition takes those bins as error 0.
    rng = np.random.default_rng(4)
    ref = rng.standard_normal((2, 4, 4000))
    ref[..., 2000:] = 0.0
    est = ref + 0.5 * rng.standard_normal(ref.shape)
    est[0, :, 3000:] = 0.0  # and an estimate silent in a part of that

    def st(x):
        t = torch.from_numpy(x).reshape(-1, x.shape[-1])
        return torch.stft(t, 256, 128, window=torch.ones(256, dtype=torch.float64), center=True, pad_mode="reflect",
                          return_complex=True).reshape(*x.shape[:-1], 129, -1).numpy()

    e_spec, r_spec = st(est), st(ref)
    expected, naive = [], []
    for i, j in mic_pairs(4):
        z = (e_spec[:, i] * np.conj(e_spec[:, j])) * np.conj(r_spec[:, i] * np.conj(r_spec[:, j]))
        expected.append(np.where(z == 0, 0.0, np.abs(np.angle(z))).mean(axis=(-2, -1)))
        naive.append(np.abs(np.angle(z)).mean(axis=(-2, -1)))
    expected, naive = np.stack(expected, -1), np.stack(naive, -1)
    assert np.abs(naive - expected).max() > 0.05  # the signed-zero artefact is real here
    tol = 1e-12 if precision == torch.float64 else 1e-6
    np.testing.assert_allclose(delta_ipd(est, ref).numpy(), expected, rtol=0, atol=1e-12)
    got = spatial_cue_errors(est, ref, FS, precision=precision)["delta_ipd_rad"].numpy()
    np.testing.assert_allclose(got, expected.mean(-1), rtol=0, atol=tol)


@pytest.mark.parametrize("precision", [torch.float64, torch.float32])
def test_torch_kernel_path_equals_the_numpy_path(monkeypatch, precision: torch.dtype) -> None:
    # The torch branches are what runs on CUDA (no GPU here): run them on CPU and compare.
    rng = np.random.default_rng(13)
    src = rng.standard_normal((2, 1, 3100))
    ref = np.concatenate([src[..., :3000], src[..., 2:3002], src[..., 5:3005], src[..., 1:3001]], 1)
    ref[1, :, 1500:] = 0.0  # digital silence: zero-bin handling on both paths
    est = ref + 0.4 * rng.standard_normal(ref.shape)
    fast = spatial_cue_errors(est, ref, FS, precision=precision)
    monkeypatch.setattr(kernels, "NUMPY_KERNELS", False)
    slow = spatial_cue_errors(est, ref, FS, precision=precision)
    tol = 1e-9 if precision == torch.float64 else 1e-5
    for key in ("delta_ild_db", "delta_ipd_rad", "delta_ipd_masked_rad", "delta_itd_us", "delta_itd_subsample_us"):
        # float32 sub-sample ΔITD: the two paths round their FFTs differently (1.24e-5 us seen on
        # this session's CPU); docs/metrics-speed.md states float32 sub-sample ΔITD within 2.2e-4 us.
        atol = 2.5e-4 if (precision == torch.float32 and key == "delta_itd_subsample_us") else tol
        np.testing.assert_allclose(slow[key].numpy(), fast[key].numpy(), rtol=0, atol=atol, err_msg=key)
    # non-trivial values: the noisy estimate moves phases and the sub-sample delays
    assert float(slow["delta_ipd_rad"].min()) > 0.2 and float(slow["delta_itd_subsample_us"].min()) > 0.1


def test_float32_bound_grows_with_quiet_bins_and_lags_stay_equal_to_float64() -> None:
    rng = np.random.default_rng(17)
    white = rng.standard_normal((6, 4, 2000))
    spec = np.fft.rfft(white, axis=-1)
    spec[..., 500:] *= 1e-7  # a stop band ~140 dB down: float32 cannot resolve its phases
    quiet = np.fft.irfft(spec, n=2000, axis=-1)
    quiet[3:] = rng.standard_normal((3, 4, 2000)) * 1e-3 + quiet[3:]  # and weakly coherent rows
    ii, jj = definitions._pair_index(4, None, torch.device("cpu"))
    bounds = []
    for x in (white, quiet):
        xp = torch.from_numpy(x).float()
        bounds.append(float(kernels._float32_phat_bound(xp, torch.fft.rfft(xp, n=4000), ii, jj, 4000).median()))
    base = float(gcc_engine._window_tolerance(torch.complex64, 2001, torch.device("cpu")))
    assert bounds[0] < 20 * base and bounds[1] > 100 * bounds[0]  # quiet bins dominate the bound
    # the margin holds: float32 windows stay within it of the float64 ones, row by row
    for x in (white, quiet):
        x64 = torch.from_numpy(x)
        half = gcc_engine._window_geometry(4000, FS, 1e-3, 16, True)[0]
        v = [gcc_engine._pair_windows_cpu(torch.fft.rfft(xx, n=4000), ii, jj, 4000, 16, -half, 2 * half + 1, 1e-8)[0]
             for xx in (x64.float(), x64)]
        deviation = (v[0].double() - v[1]).abs().amax(-1)
        margin = base + kernels._float32_phat_bound(x64.float(), torch.fft.rfft(x64.float(), n=4000), ii, jj,
                                                    4000).reshape(-1)
        assert bool((deviation <= margin).all()), float((deviation / margin).max())
    for x in (white, quiet):
        for refine, interp in ((None, 16), ("parabolic", 16), (None, 2)):
            a = tdoa(x, FS, interp=interp, refine=refine)
            b = tdoa(x, FS, interp=interp, refine=refine, precision=torch.float32)
            atol = 1e-9 if refine is None else 1e-3
            np.testing.assert_allclose(b.numpy() * FS, a.numpy() * FS, rtol=0, atol=atol)


def test_given_channel_energies_give_the_same_cues() -> None:
    rng = np.random.default_rng(23)
    ref = rng.standard_normal((3, 4, 2000))
    ref[1, 2] = 0.0  # a silent reference channel
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    est[2, 0] = 0.0  # an all-zero estimate channel
    energies = (torch.from_numpy((est ** 2).sum(-1)), torch.from_numpy((ref ** 2).sum(-1)))
    for precision in (torch.float64, torch.float32):
        r1, r2 = GuardReport(), GuardReport()
        a = spatial_cue_errors(est, ref, FS, precision=precision, report=r1)
        b = spatial_cue_errors(est, ref, FS, precision=precision, report=r2, energies=energies)
        assert r1.counts == r2.counts and r1.counts["silent_reference"] == 3 and r1.counts["zero_estimate"] == 3
        for key in ("delta_ild_db", "delta_ipd_rad", "delta_ipd_masked_rad", "delta_itd_us", "delta_itd_subsample_us"):
            np.testing.assert_allclose(b[key].numpy(), a[key].numpy(), rtol=0, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("numpy_kernels", [True, False])
def test_ipd_engine_equals_the_pair_by_pair_definition(monkeypatch, numpy_kernels: bool) -> None:
    # The engine regroups C_ij(est) C_ij(ref)* into per-channel angles; the definition forms
    # each pair's cross-spectra from torch.stft. Digital silence gives exact-zero bins.
    monkeypatch.setattr(kernels, "NUMPY_KERNELS", numpy_kernels)
    rng = np.random.default_rng(31)
    ref = torch.from_numpy(rng.standard_normal((2, 4, 3000)))
    ref[1, :, 1800:] = 0.0
    est = ref + 0.5 * torch.from_numpy(rng.standard_normal(ref.shape))
    ii, jj = definitions._pair_index(4, None, ref.device)
    plain, masked = definitions._ipd_reference(est, ref, ii, jj, 256, 128, 30.0)
    got, got_masked = kernels._ipd_errors(est, ref, ii, jj, 256, 128, 30.0)
    assert plain.shape == masked.shape == (2, 6) and float(plain.min()) > 0.3
    assert float((masked - plain).abs().max()) > 0.1  # the mask selects bins
    np.testing.assert_allclose(got.numpy(), plain.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_masked.numpy(), masked.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(delta_ipd(est, ref).numpy(), plain.numpy(), rtol=0, atol=1e-12)


def test_numpy_kernel_switch_is_read_from_kernels_only(monkeypatch) -> None:
    x = torch.randn(2, 600, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert kernels._numpy_ok(x)
    monkeypatch.setattr(kernels, "NUMPY_KERNELS", False)
    assert not kernels._numpy_ok(x)
    from asabench.benchmark.metrics import spatial

    assert not hasattr(spatial, "NUMPY_KERNELS")  # no stale copy to set by mistake
    assert not hasattr(gcc_engine, "NUMPY_KERNELS")
