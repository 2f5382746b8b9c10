"""The two named spatial-cue definitions, ``m2m`` (default) and ``exact-length``, pinned on hand-made signals.

The expected values come from an independent NumPy GCC-PHAT and ILD written here from the
definitions (reference notes, section 3), not from the engines under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from asabench.benchmark.metrics.spatial import (
    SPATIAL_DEFINITIONS,
    delta_ild,
    delta_itd,
    gcc_fft_length,
    gcc_phat,
    spatial_cue_errors,
    spatial_parameters,
    tdoa,
)

FS = 16000


def _numpy_lag(a: np.ndarray, b: np.ndarray, n: int, fs: int = FS) -> int:
    """Integer GCC-PHAT lag of ``a`` against ``b`` from the definition: ``n``-point FFT, PHAT eps 1e-8, ±1 ms."""
    r = np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n))
    cc = np.fft.irfft(r / (np.abs(r) + 1e-8), n)
    k = round(fs * 1e-3)
    lags = np.arange(-k, k + 1)
    return int(lags[np.argmax(cc[lags % n])])


def _noisy_pair(seed: int = 0, t: int = 1100) -> tuple[np.ndarray, np.ndarray]:
    """Reference: channel 0 leads channel 1 by 3 samples; estimate: the reference plus strong noise."""
    rng = np.random.default_rng(seed)
    s = rng.standard_normal(t + 8)
    ref = np.stack([s[3:3 + t], s[:t]])
    est = ref + 6.0 * rng.standard_normal(ref.shape)
    return est, ref


def test_fft_lengths() -> None:
    assert gcc_fft_length(1100, 1100) == 4096
    assert gcc_fft_length(1100, 1100, "exact") == 2200
    assert gcc_fft_length(1024, 1024) == 2048  # already a power of two: unchanged
    assert gcc_fft_length(64000, 64000) == 131072
    with pytest.raises(ValueError, match="fft_length"):
        gcc_fft_length(10, 10, "nope")


def test_clean_delay_is_the_same_under_both_fft_lengths() -> None:
    _, ref = _noisy_pair()
    for fft_length in ("pow2", "exact"):
        assert float(gcc_phat(ref[0], ref[1], FS, fft_length=fft_length)) * FS == pytest.approx(-3, abs=1e-12)


def test_noisy_itd_follows_each_fft_length() -> None:
    # Seed 0 is a case where the two whitening grids put the noisy peak at different lags
    # (found by search, then pinned): -7 with 4096 points, -10 with 2200; the clean one is -3.
    est, ref = _noisy_pair(seed=0)
    assert _numpy_lag(est[0], est[1], 4096) == -7 and _numpy_lag(est[0], est[1], 2200) == -10
    assert _numpy_lag(ref[0], ref[1], 4096) == _numpy_lag(ref[0], ref[1], 2200) == -3
    pow2 = float(delta_itd(est, ref, FS)[0])
    exact = float(delta_itd(est, ref, FS, fft_length="exact")[0])
    assert pow2 == pytest.approx(4 * 1e6 / FS, abs=1e-9)  # |-7 - -3| samples = 250 µs
    assert exact == pytest.approx(7 * 1e6 / FS, abs=1e-9)  # |-10 - -3| samples = 437.5 µs
    # the fast multichannel path and the float32 FFTs give the same lags
    for precision in (torch.float64, torch.float32):
        got = tdoa(torch.from_numpy(est), FS, precision=precision)
        assert float(got[0]) * FS == pytest.approx(-7, abs=1e-9)
        got = tdoa(torch.from_numpy(est), FS, precision=precision, fft_length="exact")
        assert float(got[0]) * FS == pytest.approx(-10, abs=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_itd_against_numpy_definition_on_four_channels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = 1500
    s = rng.standard_normal(t + 20)
    ref = np.stack([s[d:d + t] for d in (0, 2, 5, 9)])
    est = ref + 3.0 * rng.standard_normal(ref.shape)
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    for fft_length, n in (("pow2", 4096), ("exact", 3000)):
        expected = [abs(_numpy_lag(est[i], est[j], n) - _numpy_lag(ref[i], ref[j], n)) * 1e6 / FS for i, j in pairs]
        np.testing.assert_allclose(delta_itd(est, ref, FS, fft_length=fft_length).numpy(), expected, atol=1e-9)


def test_itd_window_uses_the_given_rate() -> None:
    # 12 samples of delay: inside ±1 ms at 16 kHz (16 lags), outside it at 8 kHz (8 lags)
    rng = np.random.default_rng(4)
    s = rng.standard_normal(2100)
    x = np.stack([s[:2000], s[12:2012]])
    assert float(gcc_phat(x[0], x[1], 16000)) * 16000 == pytest.approx(12, abs=1e-12)
    assert abs(float(gcc_phat(x[0], x[1], 8000)) * 8000) <= 8


def _energies(x: np.ndarray) -> np.ndarray:
    return np.sum(x.astype(np.float64) ** 2, axis=-1)


def test_ild_m2m_equals_plain_at_ordinary_levels() -> None:
    ref = np.ones((2, 100), np.float32)
    est = np.stack([2.0 * np.ones(100), np.ones(100)]).astype(np.float32)  # channel 0 energy x4
    expected = 10 * math.log10(4.0)
    assert float(delta_ild(est, ref, definition="plain")[0]) == pytest.approx(expected, abs=1e-12)
    assert float(delta_ild(est, ref)[0]) == pytest.approx(expected, abs=1e-5)


def test_ild_m2m_eps_and_both_orders_on_a_near_silent_estimate_channel() -> None:
    # Estimate channel 1 has an energy of about float32's machine epsilon: the eps in the
    # denominator and the mean of both orders now matter (1.5 dB apart from the plain ILD).
    t = 100
    ref = np.ones((2, t), np.float32)
    eps = float(np.finfo(np.float32).eps)
    est = np.stack([np.ones(t), np.full(t, math.sqrt(eps / t))]).astype(np.float32)
    e_est, e_ref = _energies(est), _energies(ref)

    def ild(e: np.ndarray, i: int, j: int, eps_: float) -> float:
        return 10 * math.log10(e[i] / (e[j] + eps_))

    m2m = 0.5 * (abs(ild(e_est, 0, 1, eps) - ild(e_ref, 0, 1, eps)) + abs(ild(e_est, 1, 0, eps) - ild(e_ref, 1, 0, eps)))
    plain = abs(ild(e_est, 0, 1, 0.0) - ild(e_ref, 0, 1, 0.0))
    assert plain - m2m == pytest.approx(5 * math.log10(2.0), abs=0.01)  # 1.505 dB by construction
    assert float(delta_ild(est, ref)[0]) == pytest.approx(m2m, abs=1e-9)  # eps of float32 inputs
    assert float(delta_ild(est, ref, definition="plain")[0]) == pytest.approx(plain, abs=1e-9)
    # float64 inputs take float64's epsilon: the m2m value then equals the plain one closely
    assert float(delta_ild(est.astype(np.float64), ref.astype(np.float64))[0]) == pytest.approx(plain, abs=1e-6)
    assert float(delta_ild(est, ref, eps=1e-3)[0]) == pytest.approx(
        0.5 * (abs(ild(e_est, 0, 1, 1e-3) - ild(e_ref, 0, 1, 1e-3)) + abs(ild(e_est, 1, 0, 1e-3) - ild(e_ref, 1, 0, 1e-3))),
        abs=1e-9)


def test_spatial_cue_errors_named_definitions() -> None:
    est, ref = _noisy_pair(seed=0)
    est = np.stack([est, est])  # [2, C, T]: a batch axis
    ref = np.stack([ref, ref])
    assert SPATIAL_DEFINITIONS == ("m2m", "exact-length")
    out = spatial_cue_errors(est, ref, FS)
    old = spatial_cue_errors(est, ref, FS, definition="exact-length")
    np.testing.assert_allclose(out["delta_itd_us"].numpy(), 250.0, atol=1e-9)
    np.testing.assert_allclose(old["delta_itd_us"].numpy(), 437.5, atol=1e-9)
    np.testing.assert_allclose(out["delta_ild_db"].numpy(), delta_ild(est, ref).numpy()[..., 0], atol=1e-12)
    np.testing.assert_allclose(old["delta_ild_db"].numpy(), delta_ild(est, ref, definition="plain").numpy()[..., 0],
                               atol=1e-12)
    assert out["parameters"]["definition"] == "m2m"
    assert out["parameters"]["itd"]["fft_length"] == "next power of two >= T_i + T_j"
    assert out["parameters"]["ild"]["eps"] == float(np.finfo(np.float64).eps)  # float64 inputs
    assert old["parameters"]["definition"] == "exact-length"
    assert old["parameters"]["itd"]["fft_length"] == "exactly T_i + T_j"
    assert "eps" not in old["parameters"]["ild"]
    with pytest.raises(ValueError, match="unknown spatial definition"):
        spatial_cue_errors(est, ref, FS, definition="m2m-ish")
    assert spatial_parameters("exact-length")["ild"]["formula"].startswith("10 log10(E_i / E_j)")
