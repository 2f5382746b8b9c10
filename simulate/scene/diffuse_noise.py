"""Spherically diffuse multichannel noise for a microphone array (Habets' generator).

In a spherically isotropic (diffuse) sound field the complex coherence between two
omnidirectional microphones at distance ``d`` is real and equals

    Gamma_ij(f) = sin(k d_ij) / (k d_ij),    k = 2 pi f / c.

The generator imposes this coherence on ``M`` mutually uncorrelated noise signals in the
STFT domain: per frequency bin it multiplies the ``M`` channel spectra by a factor ``C(f)``
with ``C(f)^T C(f) = Gamma(f)`` and returns to the time domain by overlap-add.

Choices made here
-----------------
* Independent channels from one recording (the ASA2 recipe has a single ambience channel):
  the recording's STFT frames are reused with a different cyclic frame offset per channel
  (about ``m T / M`` of the ``T`` frames, jittered by ``rng``). Every channel is thus the
  recording itself, time-shifted, with its spectrum, level changes and power, while the
  channels' frames at any instant come from different times, so they are uncorrelated
  provided the recording decorrelates within ``N / M`` samples (true of broadband
  ambience; strictly periodic components such as mains hum stay partly coherent). The
  offsets act on frames, not samples: where a channel wraps around, the overlap-add
  crossfades over one frame (16 ms at 16 kHz) instead of producing the click a circular
  sample shift would. Only frames lying wholly inside the recording are reused, so no
  zero-padded edge frame lands mid-signal. The input's mean is removed first.
  Randomising STFT phases was rejected: it gives an inconsistent STFT whose overlap-add
  loses power and smears transients.
* Factorisation: the principal (symmetric) square root ``C = V diag(sqrt(w)) V^T`` of
  ``Gamma = V diag(w) V^T``, negative round-off eigenvalues clipped to zero. Below a few
  hundred hertz the coherence matrix of a 4 cm array is close to the all-ones matrix (rank
  one at DC), where a Cholesky factorisation fails or amplifies round-off. The bare eigen
  factor ``diag(sqrt(w)) V^T`` is not usable either: ``V`` is arbitrary wherever eigenvalues
  (nearly) coincide, so the mixing would jump from bin to bin, i.e. very long filters that
  alias in time within the STFT frames and spoil both coherence and power. The principal
  root is unique and varies smoothly with frequency (and is the identity for ``Gamma = I``).
* STFT: periodic Hann analysis and synthesis windows, ``n_fft = 256``, hop 64 (75 %
  overlap), weighted overlap-add normalised by the summed squared windows, which
  reconstructs the input exactly when ``Gamma`` is the identity.

References
----------
E. A. P. Habets, I. Cohen, S. Gannot, "Generating nonstationary multisensor signals under a
spatial coherence constraint", J. Acoust. Soc. Am. 124(5), 2008.
"""

from __future__ import annotations

import numpy as np

from asabench.simulate.geometry import SPEED_OF_SOUND


def spherical_coherence(freqs_hz: np.ndarray, mic_positions: np.ndarray, c: float = SPEED_OF_SOUND) -> np.ndarray:
    """Spatial coherence matrix of a spherically diffuse field.

    Parameters
    ----------
    freqs_hz : array_like
        ``[F]`` frequencies in Hz.
    mic_positions : array_like
        ``[M, 3]`` microphone positions in metres.
    c : float
        Speed of sound, m/s.

    Returns
    -------
    np.ndarray
        ``[F, M, M]`` real symmetric matrices ``sin(k d_ij) / (k d_ij)``, ones on the diagonal.
    """
    pos = np.asarray(mic_positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"mic_positions: expected shape [M, 3], got {list(pos.shape)}")
    dist = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    f = np.asarray(freqs_hz, dtype=np.float64)
    # np.sinc(x) = sin(pi x) / (pi x), and k d / pi = 2 f d / c.
    return np.sinc(2.0 * f[:, None, None] * dist[None, :, :] / c)


def coherence_factor(coherence: np.ndarray) -> np.ndarray:
    """Principal square root ``C`` of a coherence matrix (``C^T C = C C = coherence``), batched.

    Parameters
    ----------
    coherence : np.ndarray
        ``[..., M, M]`` real symmetric positive semi-definite matrices.

    Returns
    -------
    np.ndarray
        ``[..., M, M]`` symmetric ``V diag(sqrt(w)) V^T`` from ``coherence = V diag(w) V^T``.
    """
    w, v = np.linalg.eigh(coherence)
    return (v * np.sqrt(np.clip(w, 0.0, None))[..., None, :]) @ np.swapaxes(v, -1, -2)


def independent_frames(spec: np.ndarray, n: int, n_fft: int, hop: int, num_channels: int, rng: np.random.Generator) -> np.ndarray:
    """``num_channels`` mutually uncorrelated frame sequences from one recording's STFT.

    Parameters
    ----------
    spec : np.ndarray
        ``[T, F]`` STFT of the recording by :func:`_stft` (``n`` samples, ``n_fft``, ``hop``).
    n, n_fft, hop : int
        Recording length and STFT parameters, samples.
    num_channels : int
        ``M``.
    rng : np.random.Generator
        Draws the frame offsets: ``m P / M`` plus up to a quarter of ``P / M`` either way,
        ``P`` the number of frames wholly inside the recording.

    Returns
    -------
    np.ndarray
        ``[M, T, F]``; output frame ``t`` of channel ``m`` is full frame
        ``(t + offset_m) mod P``.
    """
    n_frames = spec.shape[0]
    pad = n_fft - hop
    starts = np.arange(n_frames) * hop - pad  # first sample of each frame in the recording
    full = np.flatnonzero((starts >= 0) & (starts + n_fft <= n))
    pool = full if full.size >= num_channels else np.arange(n_frames)
    p = pool.size
    spacing = p / num_channels
    offsets = np.round(np.arange(num_channels) * spacing + rng.uniform(-0.25, 0.25, num_channels) * spacing).astype(np.int64)
    idx = pool[(np.arange(n_frames)[None, :] + offsets[:, None]) % p]
    return spec[idx]


def diffuse_noise(
    noise: np.ndarray,
    mic_positions: np.ndarray,
    fs: int,
    *,
    rng: np.random.Generator | None = None,
    n_fft: int = 256,
    hop: int = 64,
    c: float = SPEED_OF_SOUND,
) -> np.ndarray:
    """Spherically diffuse noise at the microphones of an array.

    Parameters
    ----------
    noise : np.ndarray
        ``[N]`` single-channel recording (turned into ``M`` uncorrelated channels by
        :func:`independent_frames`), or ``[M, N]`` mutually independent inputs.
    mic_positions : np.ndarray
        ``[M, 3]`` microphone positions, metres (only distances matter).
    fs : int
        Sample rate, Hz.
    rng : np.random.Generator
        Needed for single-channel input (channel offsets); unused for ``[M, N]`` input.
    n_fft, hop : int
        STFT frame length and hop in samples (defaults: 256 and 64, 75 % overlap);
        ``hop <= n_fft // 2``.
    c : float
        Speed of sound, m/s.

    Returns
    -------
    np.ndarray
        ``[M, N]`` float32 for float32 input, else float64. Each channel has the input's
        power (in expectation, exactly for the diagonal of ``Gamma``); the complex
        coherence between channels i and j is ``sin(k d_ij) / (k d_ij)``.
    """
    x = np.asarray(noise)
    pos = np.asarray(mic_positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"mic_positions: expected shape [M, 3], got {list(pos.shape)}")
    m = pos.shape[0]
    if x.ndim in (1, 2) and x.shape[-1] == 0:
        return np.zeros((m, 0), dtype=np.float32 if x.dtype == np.float32 else np.float64)
    if x.ndim == 1:
        if rng is None:
            raise ValueError("diffuse_noise: rng is required to derive channels from a single-channel input")
    elif not (x.ndim == 2 and x.shape[0] == m):
        raise ValueError(f"noise: expected shape [N] or [M={m}, N], got {list(x.shape)}")
    if n_fft <= 0 or not 0 < hop <= n_fft // 2:
        # Hann windows need at least 50 % overlap to cover every sample.
        raise ValueError(f"need n_fft > 0 and 0 < hop <= n_fft // 2, got n_fft={n_fft}, hop={hop}")
    n = x.shape[-1]
    if x.ndim == 1:
        # A DC offset is not sound and would add coherently across the channels.
        mono = x.astype(np.float64)
        spec = independent_frames(_stft((mono - mono.mean())[None, :], n_fft, hop)[0], n, n_fft, hop, m, rng)  # type: ignore[arg-type]
    else:
        spec = _stft(x.astype(np.float64), n_fft, hop)  # [M, T, F]
    freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
    factor = coherence_factor(spherical_coherence(freqs, pos, c))  # [F, M, M], symmetric
    # Output channel i at bin f: sum_j C[f, j, i] X_j  (X^T C per frame, as in Habets' code).
    mixed = np.matmul(np.swapaxes(factor, 1, 2), spec.transpose(2, 0, 1))  # [F, M, T]
    y = _istft(mixed.transpose(1, 2, 0), n_fft, hop, n)
    return y.astype(np.float32) if x.dtype == np.float32 else y


def _frames_window(n_fft: int) -> np.ndarray:
    # Periodic Hann: its squares overlap-add to a constant at hops n_fft/4, n_fft/2, ...
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)


def _stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``[M, N]`` -> ``[M, T, n_fft // 2 + 1]``; the signal is zero-padded by ``n_fft - hop``
    on both sides so that every output sample is covered by the same number of frames."""
    pad = n_fft - hop
    n = x.shape[-1]
    n_frames = -(-(n + pad) // hop)
    total = (n_frames - 1) * hop + n_fft
    padded = np.zeros((x.shape[0], total))
    padded[:, pad : pad + n] = x
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop, :]
    return np.fft.rfft(frames * _frames_window(n_fft), axis=-1)


def _istft(spec: np.ndarray, n_fft: int, hop: int, n: int) -> np.ndarray:
    """Weighted overlap-add inverse of :func:`_stft`: ``[M, T, F]`` -> ``[M, n]``."""
    window = _frames_window(n_fft)
    frames = np.fft.irfft(spec, n_fft, axis=-1) * window  # [M, T, n_fft]
    m, n_frames, _ = frames.shape
    total = (n_frames - 1) * hop + n_fft
    out = np.zeros((m, total))
    norm = np.zeros(total)
    if n_fft % hop == 0:
        r = n_fft // hop
        blocks = frames.reshape(m, n_frames, r, hop)
        out_blocks = out.reshape(m, -1, hop)
        norm_blocks = norm.reshape(-1, hop)
        for q in range(r):
            out_blocks[:, q : q + n_frames] += blocks[:, :, q]
            norm_blocks[q : q + n_frames] += (window**2).reshape(r, hop)[q]
    else:
        for t in range(n_frames):
            out[:, t * hop : t * hop + n_fft] += frames[:, t]
            norm[t * hop : t * hop + n_fft] += window**2
    pad = n_fft - hop
    return out[:, pad : pad + n] / norm[pad : pad + n]
