"""Spherically diffuse multichannel noise for a microphone array (Habets' generator).

In a spherically isotropic (diffuse) sound field the complex coherence between two
omnidirectional microphones at distance ``d`` is real and equals

    Gamma_ij(f) = sin(k d_ij) / (k d_ij),    k = 2 pi f / c.

The generator imposes this coherence on ``M`` mutually uncorrelated noise signals in the
STFT domain: per frequency bin it multiplies the ``M`` channel spectra by a factor ``C(f)``
with ``C(f)^T C(f) = Gamma(f)`` and returns to the time domain by overlap-add.

Two recipes
-----------
``"asa2"`` (the published generator, manifests from 2.0): the mono ambience clip is repeated
end to end until it holds ``M`` scene lengths (:func:`repeated_length`), a window of
``M * N`` samples is cut at the spec's ``clip_start`` and split into ``M`` consecutive
segments, one per microphone, as the mutually independent inputs (:func:`segment_inputs`,
each segment's mean removed). The coherence is imposed with the Cholesky factor of
``Gamma(f)`` per bin, as in Habets' generator; at DC ``Gamma`` is the all-ones (rank-one)
matrix, which has no Cholesky factor, and the DC bin of the output is zero, as in that
generator. For the tetrahedron (all six capsule distances equal) ``Gamma`` has the
eigenvalues ``1 + 3 s`` and ``1 - s`` (three times), ``s = sinc``: positive above DC, so
the factor exists at every other bin.

``"frame_offsets"`` (asabench manifests before 2.0, the choices below): one scene-length
crop, channels from cyclic frame offsets, principal square root.

Choices of the ``"frame_offsets"`` recipe
-----------------------------------------
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
  one at DC), where a Cholesky factorisation fails (at DC; the ``"asa2"`` recipe leaves
  that bin at zero instead, as Habets' generator does). The bare eigen
  factor ``diag(sqrt(w)) V^T`` is not usable either: ``V`` is arbitrary wherever eigenvalues
  (nearly) coincide, so the mixing would jump from bin to bin, i.e. very long filters that
  alias in time within the STFT frames and spoil both coherence and power. The principal
  root is unique and varies smoothly with frequency (and is the identity for ``Gamma = I``).
* STFT (both recipes): periodic Hann analysis and synthesis windows, ``n_fft = 256``,
  hop 64 (75 % overlap), weighted overlap-add normalised by the summed squared windows,
  which reconstructs the input exactly when ``Gamma`` is the identity.

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


#: Factorisations of the coherence matrix: the principal square root ("frame_offsets"
#: recipe) or the upper Cholesky factor (Habets' generator, the "asa2" recipe).
FACTORISATIONS: tuple[str, ...] = ("principal", "cholesky")


def coherence_factor(coherence: np.ndarray, method: str = "principal") -> np.ndarray:
    """A factor ``C`` of coherence matrices with ``C^T C = coherence``, batched.

    Parameters
    ----------
    coherence : np.ndarray
        ``[..., M, M]`` real symmetric positive semi-definite matrices.
    method : str
        ``"principal"``: the symmetric ``V diag(sqrt(w)) V^T`` from ``coherence = V diag(w)
        V^T`` (negative round-off eigenvalues clipped). ``"cholesky"``: the upper-triangular
        ``C`` with positive diagonal (``C^T`` is NumPy's lower Cholesky factor); every matrix
        must be positive definite.

    Returns
    -------
    np.ndarray
        ``[..., M, M]``.

    Raises
    ------
    ValueError
        ``"cholesky"`` on a matrix that is not positive definite (e.g. the DC bin).
    """
    if method == "cholesky":
        try:
            return np.swapaxes(np.linalg.cholesky(coherence), -1, -2)
        except np.linalg.LinAlgError:
            raise ValueError("coherence matrix is not positive definite: no Cholesky factor "
                             "(at DC, or capsules too close for the bin spacing)") from None
    if method != "principal":
        raise ValueError(f"method: expected one of {', '.join(FACTORISATIONS)}, got {method!r}")
    w, v = np.linalg.eigh(coherence)
    return (v * np.sqrt(np.clip(w, 0.0, None))[..., None, :]) @ np.swapaxes(v, -1, -2)


def mixing_factor(freqs_hz: np.ndarray, mic_positions: np.ndarray, c: float = SPEED_OF_SOUND,
                  factorisation: str = "principal") -> np.ndarray:
    """Per-bin mixing matrices ``C(f)`` of :func:`diffuse_noise`: ``[F, M, M]``.

    ``"principal"``: the principal root of ``Gamma(f)`` at every bin. ``"cholesky"``: the
    upper Cholesky factor at every bin but 0 Hz, whose matrix is zero (``Gamma(0)`` is the
    rank-one all-ones matrix; Habets' generator leaves the DC bin at zero).
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    gamma = spherical_coherence(f, mic_positions, c)
    if factorisation != "cholesky":
        return coherence_factor(gamma, factorisation)
    factor = np.zeros_like(gamma)
    above = f > 0
    factor[above] = coherence_factor(gamma[above], "cholesky")
    return factor


def noise_span(field: str, num_samples: int, num_mics: int) -> int:
    """Samples of the noise clip one scene uses: ``num_samples`` (``"frame_offsets"``) or
    ``num_mics * num_samples`` (``"asa2"``: one scene-length segment per microphone)."""
    return num_mics * num_samples if field == "asa2" else num_samples


def repeated_length(clip_len: int, span: int) -> int:
    """Length of the noise a window of ``span`` samples is cut from (``"asa2"`` recipe): the
    clip itself, or, when it is shorter than ``span``, the fewest whole copies of it end to
    end that hold ``span`` samples. A window start lies in ``[0, repeated_length - span]``,
    always inside the first copy."""
    if clip_len <= 0:
        raise ValueError(f"clip_len: expected a positive number of samples, got {clip_len}")
    return clip_len if clip_len >= span else -(-span // clip_len) * clip_len


def segment_inputs(clip: np.ndarray, start: int, num_samples: int, num_mics: int) -> np.ndarray:
    """The ``"asa2"`` recipe's independent inputs: ``[num_mics, num_samples]`` float64.

    Segment ``m`` is samples ``start + m N .. start + (m + 1) N - 1`` of the clip repeated
    end to end (:func:`repeated_length`), ``N = num_samples``, its mean removed.

    Parameters
    ----------
    clip : ``[n]`` mono ambience clip.
    start : first sample of the window (the spec's ``noise.clip_start``).
    num_samples, num_mics : ``N`` and ``M``.

    Raises
    ------
    ValueError
        When the window does not start inside ``[0, repeated_length - M N]``.
    """
    x = np.asarray(clip, dtype=np.float64).reshape(-1)
    span = num_mics * num_samples
    total = repeated_length(x.shape[0], span)
    if not 0 <= start <= total - span:
        raise ValueError(f"start: {start} is outside [0, {total - span}] for a clip of {x.shape[0]} "
                         f"samples and {num_mics} segments of {num_samples}")
    window = np.tile(x, total // x.shape[0])[start:start + span].reshape(num_mics, num_samples)
    return window - window.mean(axis=1, keepdims=True)


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
    factorisation: str = "principal",
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
    factorisation : str
        ``"principal"`` (square root, DC bin mixed by the all-ones coherence) or
        ``"cholesky"`` (Habets' generator: upper Cholesky factor above DC, DC bin zero).

    Returns
    -------
    np.ndarray
        ``[M, N]`` float32 for float32 input, else float64. Each channel has the input's
        power (in expectation, exactly for the diagonal of ``Gamma``; less the DC bin with
        ``"cholesky"``); the complex coherence between channels i and j is
        ``sin(k d_ij) / (k d_ij)``.
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
    if factorisation not in FACTORISATIONS:
        raise ValueError(f"factorisation: expected one of {', '.join(FACTORISATIONS)}, got {factorisation!r}")
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
    factor = mixing_factor(np.fft.rfftfreq(n_fft, 1.0 / fs), pos, c, factorisation)  # [F, M, M]
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
