"""Diffuse noise: measured inter-capsule coherence follows sin(kd)/(kd); power, length,
determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, csd, sosfiltfilt, welch

from asabench.simulate.scene.diffuse_noise import (
    _stft,
    coherence_factor,
    diffuse_noise,
    independent_frames,
    mixing_factor,
    spherical_coherence,
)
from asabench.simulate.geometry import SPEED_OF_SOUND, tetra_array
from asabench.simulate.sources import ProceduralNoiseBank

FS = 16_000


def _measured_coherence(y: np.ndarray, i: int, j: int, nperseg: int = 256) -> tuple[np.ndarray, np.ndarray]:
    f, pxy = csd(y[i], y[j], FS, nperseg=nperseg)
    _, pxx = welch(y[i], FS, nperseg=nperseg)
    _, pyy = welch(y[j], FS, nperseg=nperseg)
    return f, pxy / np.sqrt(pxx * pyy)


def test_tetra_capsule_pairs_follow_sinc_coherence() -> None:
    pos = tetra_array()
    x = np.random.default_rng(0).standard_normal(12 * FS)
    y = diffuse_noise(x, pos, FS, rng=np.random.default_rng(1))
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    for i, j in pairs:
        f, coh = _measured_coherence(y, i, j)
        d = np.linalg.norm(pos[i] - pos[j])
        assert 0.0684 < d < 0.0689  # reference notes: 6.85-6.88 cm capsule spacing
        kd = 2 * np.pi * f * d / SPEED_OF_SOUND
        target = np.where(kd > 0, np.sin(kd) / np.where(kd > 0, kd, 1.0), 1.0)
        # Welch estimate over ~1500 segments: standard error ~0.02.
        assert np.max(np.abs(coh.real - target)[1:-1]) < 0.07
        assert np.max(np.abs(coh.imag)[1:-1]) < 0.07
        # The law is not trivially met: coherence is high at low f and ~0 where kd = pi.
        assert coh.real[(f > 100) & (f < 400)].min() > 0.9
        first_zero = SPEED_OF_SOUND / (2 * d)
        assert abs(np.interp(first_zero, f, coh.real)) < 0.07


def test_channel_power_equals_input_power_for_coloured_nonstationary_noise() -> None:
    bank = ProceduralNoiseBank(3, 1)
    x = bank.load(bank.files()[0], FS)
    y = diffuse_noise(x, tetra_array(), FS, rng=np.random.default_rng(2))
    assert y.dtype == np.float32 and y.shape == (4, x.size)
    ratio_db = 10 * np.log10(np.mean(y.astype(np.float64) ** 2, axis=1) / np.mean(x.astype(np.float64) ** 2))
    assert np.all(np.abs(ratio_db) < 0.5)


def test_independent_inputs_and_identity_coherence_reconstruct_exactly() -> None:
    # Microphones 1 km apart: Gamma = I (to 1e-3) at every bin except DC, where sinc(0) = 1
    # for any spacing. Above the DC bin's main lobe the output must equal the input (the
    # STFT pair reconstructs perfectly), so compare both high-passed at 400 Hz.
    rng = np.random.default_rng(4)
    z = rng.standard_normal((3, 8001))
    far = np.array([[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0], [0.0, 1000.0, 0.0]])
    out = diffuse_noise(z, far, FS)
    hp = butter(6, 400.0, btype="highpass", fs=FS, output="sos")
    err = sosfiltfilt(hp, out - z, axis=1)[:, 500:-500]
    assert np.sqrt(np.mean(err**2)) < 0.01 * np.sqrt(np.mean(z**2))
    # ... while the DC region is genuinely mixed (the all-ones coherence at 0 Hz).
    assert np.sqrt(np.mean((out - z) ** 2)) > 0.02


@pytest.mark.parametrize("n", [16001, 100, 0])
def test_output_length_and_determinism(n: int) -> None:
    x = np.random.default_rng(5).standard_normal(n)
    a = diffuse_noise(x, tetra_array(), FS, rng=np.random.default_rng(6))
    b = diffuse_noise(x, tetra_array(), FS, rng=np.random.default_rng(6))
    assert a.shape == (4, n)
    np.testing.assert_array_equal(a, b)
    if n > 1000:
        c = diffuse_noise(x, tetra_array(), FS, rng=np.random.default_rng(7))
        assert not np.array_equal(a, c)


def test_factor_and_frame_offsets() -> None:
    gamma = spherical_coherence(np.linspace(0, 8000, 129), tetra_array())
    assert gamma.shape == (129, 4, 4)
    c = coherence_factor(gamma)
    np.testing.assert_allclose(np.swapaxes(c, -1, -2) @ c, gamma, atol=1e-9)
    n, n_fft, hop = 4000, 256, 64
    spec = _stft(np.random.default_rng(0).standard_normal((1, n)), n_fft, hop)[0]
    frames = independent_frames(spec, n, n_fft, hop, 4, np.random.default_rng(1))
    assert frames.shape == (4,) + spec.shape
    # Each channel cycles through the recording's full frames in order, from its own offset.
    full = [t for t in range(spec.shape[0]) if 0 <= t * hop - (n_fft - hop) and t * hop + hop <= n]
    starts = []
    for ch in frames:
        first = next(i for i in full if np.array_equal(ch[0], spec[i]))
        starts.append(first)
        k = full.index(first)
        for t in range(5):
            np.testing.assert_array_equal(ch[t], spec[full[(k + t) % len(full)]])
    assert len(set(starts)) == 4


def test_wrap_around_is_click_free() -> None:
    # A recording whose end does not meet its start (rumble on a slow drift): a circular
    # *sample* shift would put a step, i.e. a broadband click, at the wrap point; frame
    # offsets crossfade instead. Power above 3 kHz in 4 ms windows stays near its median.
    rng = np.random.default_rng(1)
    rumble = sosfiltfilt(butter(2, [25.0, 60.0], btype="bandpass", fs=FS, output="sos"), rng.standard_normal(2 * FS))
    x = 30 * rumble / rumble.std() + rng.standard_normal(2 * FS) + np.linspace(-40.0, 40.0, 2 * FS)
    hp = butter(4, 3000.0, btype="highpass", fs=FS, output="sos")
    w = int(0.004 * FS)

    def peak_to_median(sig: np.ndarray) -> float:
        hf = sosfiltfilt(hp, sig, axis=-1)
        p = np.mean(hf[..., : hf.shape[-1] // w * w].reshape(*hf.shape[:-1], -1, w) ** 2, axis=-1)
        return float(np.max(p / np.median(p, axis=-1, keepdims=True)))

    assert peak_to_median(np.roll(x, FS // 3)) > 10.0  # the check does catch a wrap click
    y = diffuse_noise(x, tetra_array(), FS, rng=np.random.default_rng(0))
    assert peak_to_median(y) < 4.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rng is required"):
        diffuse_noise(np.zeros(100), tetra_array(), FS)
    with pytest.raises(ValueError, match=r"noise: expected shape \[N\] or \[M=4, N\]"):
        diffuse_noise(np.zeros((3, 100)), tetra_array(), FS)
    with pytest.raises(ValueError, match="mic_positions"):
        diffuse_noise(np.zeros(100), np.zeros((4, 2)), FS, rng=np.random.default_rng(0))


@pytest.mark.parametrize("n_fft, hop", [(256, 64), (256, 128), (250, 60), (64, 16)])
def test_stft_pair_reconstructs_for_any_hop(n_fft: int, hop: int) -> None:
    from asabench.simulate.scene.diffuse_noise import _istft, _stft

    x = np.random.default_rng(8).standard_normal((2, 5003))
    np.testing.assert_allclose(_istft(_stft(x, n_fft, hop), n_fft, hop, x.shape[1]), x, atol=1e-12)
    with pytest.raises(ValueError, match="hop"):
        diffuse_noise(x, tetra_array()[:2], FS, n_fft=n_fft, hop=n_fft)


# ----------------------------------------------------------------- the "asa2" field (2.0)


def test_cholesky_field_follows_sinc_coherence_with_dc_zero() -> None:
    from asabench.simulate.scene.diffuse_noise import segment_inputs

    pos = tetra_array()
    clip = np.random.default_rng(10).standard_normal(50 * FS)  # 50 s: no repetition
    inputs = segment_inputs(clip, 1234, 12 * FS, 4)  # four 12-s segments, as the test above
    y = diffuse_noise(inputs, pos, FS, factorisation="cholesky")
    for i, j in [(0, 1), (0, 3), (1, 2), (2, 3)]:
        f, coh = _measured_coherence(y, i, j)
        kd = 2 * np.pi * f * np.linalg.norm(pos[i] - pos[j]) / SPEED_OF_SOUND
        target = np.sinc(kd / np.pi)
        assert np.max(np.abs(coh.real - target)[1:-1]) < 0.07  # ~1500 Welch segments
        assert coh.real[(f > 100) & (f < 400)].min() > 0.85
    # Each channel keeps the input power (diag Gamma = 1), less the zeroed DC bin.
    ratio = np.mean(y**2, axis=1) / np.mean(inputs**2, axis=1)
    assert np.all(np.abs(10 * np.log10(ratio)) < 0.3)
    # The mixing matrices: zero at DC (Gamma(0) is rank one), Cholesky above; the principal
    # root mixes DC with the all-ones coherence instead.
    freqs = np.fft.rfftfreq(256, 1.0 / FS)
    chol, principal = mixing_factor(freqs, pos, factorisation="cholesky"), mixing_factor(freqs, pos)
    assert not chol[0].any() and np.allclose(principal[0], 0.5)  # sqrt(ones(4, 4)) = ones / 2
    np.testing.assert_allclose(chol[1:], coherence_factor(spherical_coherence(freqs[1:], pos), "cholesky"))
    # With independent inputs the two factors give different fields of the same coherence.
    other = diffuse_noise(inputs, pos, FS)
    assert np.max(np.abs(other - y)) > 0.1 * np.std(y)


def test_cholesky_factor_is_upper_triangular_and_reproduces_gamma() -> None:
    gamma = spherical_coherence(np.linspace(62.5, 8000, 128), tetra_array())
    c = coherence_factor(gamma, "cholesky")
    np.testing.assert_allclose(np.swapaxes(c, -1, -2) @ c, gamma, atol=1e-12)
    assert np.all(np.tril(c, -1) == 0) and np.all(np.diagonal(c, axis1=-2, axis2=-1) > 0)
    # Regular tetrahedron: eigenvalues 1 + 3 s and 1 - s, so C[0, 0] = 1 and C[0, 1] = s.
    assert np.allclose(c[:, 0, 0], 1.0) and np.allclose(c[:, 0, 1], gamma[:, 0, 1])
    with pytest.raises(ValueError, match="not positive definite"):
        coherence_factor(spherical_coherence(np.array([0.0]), tetra_array()), "cholesky")
    with pytest.raises(ValueError, match="method"):
        coherence_factor(gamma, "svd")


def test_channel_inputs_are_disjoint_consecutive_segments_of_the_repeated_clip() -> None:
    from asabench.simulate.scene.diffuse_noise import repeated_length, segment_inputs

    n, m = 1000, 4
    # A clip of distinct values: every sample says where in the clip it came from.
    long = np.arange(5000, dtype=np.float64)
    seg = segment_inputs(long, 700, n, m)
    np.testing.assert_array_equal(seg + np.arange(700, 700 + m * n).reshape(m, n).mean(1, keepdims=True),
                                  np.arange(700, 700 + m * n).reshape(m, n))
    # A clip shorter than M scene lengths is repeated end to end: 1500 samples -> 3 copies
    # hold 4000; the window start stays inside the first copy (0 .. 500).
    short = np.arange(1500, dtype=np.float64)
    assert repeated_length(1500, m * n) == 4500 and repeated_length(5000, m * n) == 5000
    seg = segment_inputs(short, 321, n, m)
    positions = (321 + np.arange(m * n)).reshape(m, n)  # indices into the repeated stream
    expected = short[positions % 1500]
    np.testing.assert_allclose(seg, expected - expected.mean(1, keepdims=True), atol=1e-9)
    # Consecutive and disjoint: segment k+1 starts where segment k ends, no stream index twice.
    assert np.all(positions[1:, 0] == positions[:-1, -1] + 1)
    assert np.unique(positions).size == m * n
    assert np.allclose(seg.mean(axis=1), 0.0)
    with pytest.raises(ValueError, match="start"):
        segment_inputs(short, 501, n, m)


def test_asa2_field_mic_k_mixes_segments_0_to_k_only() -> None:
    # Upper Cholesky factor: output channel k = sum_{j <= k} C[j, k] X_j. So mic 0 is segment
    # 0 itself (above DC) and is uncorrelated with the later segments: the M inputs really
    # are the M segments, in order.
    from asabench.simulate.scene.diffuse_noise import segment_inputs

    n = 4 * FS
    clip = np.random.default_rng(11).standard_normal(4 * n + 999)
    seg = segment_inputs(clip, 999, n, 4)
    y = diffuse_noise(seg, tetra_array(), FS, factorisation="cholesky")
    hp = butter(6, 300.0, btype="highpass", fs=FS, output="sos")
    yh, sh = sosfiltfilt(hp, y, axis=1), sosfiltfilt(hp, seg, axis=1)
    corr = np.corrcoef(np.vstack([yh, sh]))[:4, 4:]  # [output channel, input segment]
    assert corr[0, 0] > 0.999
    # No channel holds a later segment (strict upper triangle of [channel, segment] ~ 0) ...
    assert np.all(np.abs(corr[np.triu_indices(4, 1)]) < 0.03), corr
    # ... and every channel holds its own segment.
    assert np.all(np.diagonal(corr) > 0.3), corr
