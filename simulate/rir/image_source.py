"""Image-source method for shoebox rooms in PyTorch (same code on CPU and CUDA).

The early part of a room impulse response is the sum over image sources of
``g * sign * prod(beta_wall ** n_wall) / (4 pi d) * h(t - d / c)``, where ``d`` is the
image-to-receiver distance and ``h`` a Hann-windowed sinc (fractional delay).

Image indexing. Along one axis of length ``L`` the image with reflection index
``u`` (any integer) sits at ``(-1)**u * x_s + (u + (u mod 2)) * L``; it has met the wall at
0 ``|floor(u / 2)|`` times and the wall at ``L`` ``|ceil(u / 2)|`` times, so its order is
``|u_x| + |u_y| + |u_z|`` (pyroomacoustics' ``max_order`` keeps the diamond
``|u_x| + |u_y| + |u_z| <= max_order``).

Image sets. By default every image whose sound can reach the window is kept (a sphere).
``box = (N_x, N_y, N_z)`` restricts each axis to gpuRIR's box of ``N`` images: reflection
indices ``u = -floor(N / 2) .. N - 1 - floor(N / 2)`` (gpuRIR's thread index ``n`` minus
``N / 2``, with the same image positions and wall counts as here); with
``N = ceil(2 Tdiff c / L)`` some images arriving just before Tdiff are missing and the
corners of the box reach past it (those arriving later than the window contribute nothing
either way). ``docs/rir-engines.md`` gives the measured difference.

Cost. An image whose sound arrives after the end of the requested window cannot
contribute, so images are culled per source-receiver pair to the sphere of radius
``c * (n_samples + half_window) / fs`` before anything else is computed: the work grows
with the number of images that matter, not with gpuRIR's box.

Fractional delays. Every image is binned onto a 16x oversampled time line per pair (two
neighbouring points, linear interpolation), the line is read as a polyphase grid
``[pair, phase, sample]``, and the grid is convolved with a table of the 16 phase-shifted
windowed sincs by FFT. This replaces
``n_images * n_taps`` scattered multiply-adds by ``2 * n_images`` scatters and a few FFTs;
the kernel interpolation error is below -50 dB.

References
----------
J. B. Allen and D. A. Berkley, "Image method for efficiently simulating small-room
acoustics", JASA 65(4), 1979. D. Diaz-Guerra, A. Miguel, J. R. Beltran, "gpuRIR: A python
library for room impulse response simulation with GPU acceleration", Multimedia Tools and
Applications, 2021 (Hann-windowed sinc of 8 ms, 16x oversampled lookup table).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

#: Phases per sample of the fractional-delay kernel table.
OVERSAMPLE: int = 16

#: Elements of the per-chunk work arrays (the distance box ``[pairs, nx, ny, nz]`` and
#: the polyphase grid ``[pairs, 16, samples]``): small enough to stay in cache, which
#: measured 2-5x faster on CPU than one big chunk. GPUs want few, large launches.
_CHUNK_BUDGET: dict[str, int] = {"cpu": 1 << 21, "cuda": 1 << 25}

_FFT_SIZES = sorted({2**a * 3**b * 5**c for a in range(25) for b in range(4) for c in range(3) if 2**a * 3**b * 5**c <= 1 << 24})


def _fft_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c at least ``n`` (fast for every FFT library)."""
    for s in _FFT_SIZES:
        if s >= n:
            return s
    return n


def half_window_taps(fs: float, window_s: float) -> tuple[float, int]:
    """Half-width of the Hann window in samples, and its ceiling in taps."""
    half = window_s * fs / 2.0
    return half, int(math.ceil(half))


def windowed_sinc(x: torch.Tensor, half: float) -> torch.Tensor:
    """Hann-windowed sinc ``sinc(x) * 0.5 (1 + cos(pi x / half))`` on ``|x| < half``, else 0.

    ``x`` in samples, relative to the arrival time; the window is centred on the arrival
    (as gpuRIR's), not on the sample grid (as pyroomacoustics').
    """
    window = 0.5 * (1.0 + torch.cos(math.pi * x / half))
    return torch.where(x.abs() < half, torch.sinc(x) * window, torch.zeros_like(x))


@lru_cache(maxsize=16)
def _kernel_spectrum(fs: float, window_s: float, n_fft: int, device: str) -> torch.Tensor:
    """rfft of the polyphase kernel table: ``[OVERSAMPLE, n_fft // 2 + 1]`` complex64.

    Row ``p`` holds ``h(j - p / OVERSAMPLE)`` for taps ``j = -K..K`` at indices ``j + K``.
    """
    half, k = half_window_taps(fs, window_s)
    j = torch.arange(-k, k + 1, dtype=torch.float64)
    phase = torch.arange(OVERSAMPLE, dtype=torch.float64)[:, None] / OVERSAMPLE
    table = windowed_sinc(j[None, :] - phase, half)
    return torch.fft.rfft(table, n=n_fft).to(torch.complex64).to(device)


def box_range(n_images: int) -> tuple[int, int]:
    """Reflection indices ``(first, last)`` of gpuRIR's ``n_images`` images along one axis."""
    if n_images < 1:
        raise ValueError(f"box: expected at least 1 image per dimension, got {n_images}")
    first = -(n_images // 2)
    return first, first + n_images - 1


def _axis_images(lo: int, hi: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reflection indices ``u = lo..hi`` with parity sign, lattice offset and wall-hit counts."""
    u = torch.arange(lo, hi + 1, device=device)
    odd = u.remainder(2)
    parity = (1 - 2 * odd).to(dtype)
    offset = (u + odd).to(dtype)
    hits_low = torch.div(u, 2, rounding_mode="floor").abs()
    hits_high = (-torch.div(-u, 2, rounding_mode="floor")).abs()
    return u, parity, offset, torch.stack([hits_low, hits_high])


def _accumulate(target: torch.Tensor, index: torch.Tensor, values: torch.Tensor) -> None:
    """``target[index] += values`` with repeated indices, bit-reproducible.

    On CPU ``index_add_`` gives the same bits for any thread count (``index_put_`` with
    accumulation does not, measured with torch 2.13); on CUDA ``index_add_`` uses atomics
    in arbitrary order while ``index_put_(accumulate=True)`` sorts first (deterministic).
    """
    if target.device.type == "cpu":
        target.index_add_(0, index, values)
    else:
        target.index_put_((index,), values, accumulate=True)


def image_source_early(
    room_dim: torch.Tensor,
    betas: torch.Tensor,
    sources: torch.Tensor,
    mics: torch.Tensor,
    fs: float,
    n_samples: int,
    *,
    c: float,
    reflection_sign: str = "negative",
    max_order: int | None = None,
    window_s: float = 0.008,
    chunk_size: int | None = None,
    box: tuple[int, int, int] | None = None,
) -> torch.Tensor:
    """Image-source part of the RIRs of every source-receiver pair, first ``n_samples`` samples.

    Parameters
    ----------
    room_dim : ``[3]`` float64 tensor, metres
    betas : ``[6]`` float64 tensor, reflection coefficients (x0, x1, y0, y1, z0, z1)
    sources : ``[S, 3]`` float64 tensor, metres (the device of the computation)
    mics : ``[M, 3]`` float64 tensor, metres
    fs : sample rate, Hz
    n_samples : samples of output (time zero = emission)
    c : speed of sound, m/s
    reflection_sign : ``"negative"`` (gpuRIR: every reflection flips the sign, so images
        of odd order are negative) or ``"positive"`` (pyroomacoustics)
    max_order : keep only images with ``|u_x| + |u_y| + |u_z| <= max_order`` (all inside
        the time window when None)
    window_s : full length of the Hann window of the fractional-delay sinc, seconds
    chunk_size : source-receiver pairs per chunk (automatic when None)
    box : ``(N_x, N_y, N_z)``: keep only gpuRIR's box of images per axis (see the module
        docstring); None keeps every image that reaches the window

    Returns
    -------
    torch.Tensor
        ``[S, M, n_samples]`` float32 on the device of ``sources``.
    """
    device = sources.device
    n_src, n_mic = sources.shape[0], mics.shape[0]
    half, k_taps = half_window_taps(fs, window_s)
    n_grid = n_samples + k_taps  # integer delays that can still reach the window
    # Inside the grid by more than one oversampled step, so that the interpolation's upper
    # neighbour never leaves the pair's line; images cut off there are more than half a
    # window past the last output sample and contribute nothing.
    radius = c * (n_grid - 1.5 / OVERSAMPLE) / fs
    n_axis = [int(math.ceil(radius / float(room_dim[d]))) + 1 for d in range(3)]
    if max_order is not None:
        n_axis = [min(n, max_order) for n in n_axis]

    ranges = [(-n, n) for n in n_axis]
    if box is not None:
        ranges = [(max(lo, first), min(hi, last))
                  for (lo, hi), (first, last) in zip(ranges, (box_range(int(b)) for b in box))]
    axes = [_axis_images(lo, hi, torch.float64, device) for lo, hi in ranges]
    sign = -1.0 if reflection_sign == "negative" else 1.0
    # Reflection gain of every image of the box, shared by all pairs: [nx, ny, nz].
    gains = []
    for d, (u, _, _, hits) in enumerate(axes):
        g = betas[2 * d] ** hits[0] * betas[2 * d + 1] ** hits[1] * sign ** u.abs().to(torch.float64)
        gains.append(g)
    gain_box = (gains[0][:, None, None] * gains[1][None, :, None] * gains[2][None, None, :]).to(torch.float32)
    keep_box = None
    if max_order is not None:
        order = axes[0][0].abs()[:, None, None] + axes[1][0].abs()[None, :, None] + axes[2][0].abs()[None, None, :]
        keep_box = order <= max_order
    box = gain_box.numel()
    gain_flat = gain_box.reshape(-1)

    n_pairs = n_src * n_mic
    if chunk_size is None:
        budget = _CHUNK_BUDGET.get(device.type, _CHUNK_BUDGET["cuda"])
        chunk_size = max(1, min(n_pairs, budget // box, budget // (OVERSAMPLE * n_grid)))
    n_fft = _fft_size(n_samples + 2 * k_taps)
    spectrum = _kernel_spectrum(float(fs), float(window_s), n_fft, str(device))
    line = n_grid * OVERSAMPLE  # oversampled time line of one pair

    src_idx = torch.arange(n_pairs, device=device) // n_mic
    mic_idx = torch.arange(n_pairs, device=device) % n_mic
    out = torch.empty(n_pairs, n_samples, dtype=torch.float32, device=device)
    to_grid = fs / c * OVERSAMPLE
    for start in range(0, n_pairs, chunk_size):
        stop = min(start + chunk_size, n_pairs)
        pc = stop - start
        src = sources[src_idx[start:stop]]
        mic = mics[mic_idx[start:stop]]
        # Squared image-to-receiver distance along each axis, [pc, n_u] (float64 for the
        # differences of large coordinates, float32 once squared).
        sq = []
        for d, (_, parity, offset, _) in enumerate(axes):
            delta = parity[None, :] * src[:, d : d + 1] + offset[None, :] * room_dim[d] - mic[:, d : d + 1]
            sq.append((delta * delta).to(torch.float32))
        dist2 = sq[0][:, :, None, None] + sq[1][:, None, :, None]
        dist2 = dist2 + sq[2][:, None, None, :]
        keep = dist2 < radius * radius
        if keep_box is not None:
            keep &= keep_box
        flat = keep.reshape(-1).nonzero().squeeze(1)
        dist = dist2.reshape(-1)[flat].sqrt()
        pair = torch.div(flat, box, rounding_mode="floor")
        amp = gain_flat[flat - pair * box] / (4.0 * math.pi * dist)
        # Position on the 16x oversampled line; linear interpolation between its two
        # neighbouring points (phase 15 -> next sample's phase 0 is just the next point).
        pos = dist * to_grid
        lower = pos.floor()
        frac = pos - lower
        index = pair * line + lower.long()
        grid = torch.zeros(pc * line, dtype=torch.float32, device=device)
        _accumulate(grid, index, amp * (1.0 - frac))
        _accumulate(grid, index + 1, amp * frac)
        # [pc, n_grid, phase] -> phases as channels, FFT along time.
        grid_f = torch.fft.rfft(grid.view(pc, n_grid, OVERSAMPLE).transpose(1, 2), n=n_fft)
        rir_f = (grid_f * spectrum).sum(dim=1)
        out[start:stop] = torch.fft.irfft(rir_f, n=n_fft)[:, k_taps : k_taps + n_samples]
    return out.view(n_src, n_mic, n_samples)
