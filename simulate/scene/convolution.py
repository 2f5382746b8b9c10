"""Time-varying convolution of a dry signal with the RIRs of a source trajectory.

The signal is cut into ``P`` segments of ``ceil(N / P)`` samples (the last one shorter),
one per trajectory point, as gpuRIR's ``simulateTrajectory`` does; segment ``p`` is
convolved with the RIRs of point ``p`` and the results are overlap-added.

* ``crossfade=False``: rectangular segments (gpuRIR, the ASA2 recipe). The filter switches
  abruptly at segment borders, which can click.
* ``crossfade="hann"``: the segment weights are a partition of unity whose borders are
  raised-cosine ramps of ``fade`` samples (default: one segment) centred on the segment
  borders, so the output has no discontinuity; between trajectory points the source is
  heard through a mix of the neighbouring RIRs (as SpatialScaper/DCASE crossfade IRs).

Both are computed by FFT per segment (``O(P (S + F + L) log(S + F + L))`` per channel),
batched over leading dimensions and microphones.
"""

from __future__ import annotations

import math
from typing import Literal, overload

import numpy as np
import torch

from asabench.simulate.rir.image_source import _fft_size


def segment_weights(n_points: int, seg_len: int, fade: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Weights of the ``P`` extended segments: ``[P, seg_len + fade]``.

    Segment ``p`` covers samples ``p * seg_len - fade // 2`` onwards (of the signal
    left-padded by ``fade // 2``). The weights of overlapping segments sum to one.
    """
    ext = seg_len + fade
    w = torch.ones(n_points, ext, dtype=torch.float64, device=device)
    if fade > 0:
        # Raised-cosine ramp (sin^2 up, cos^2 down): adjacent ramps sum to one.
        t = (torch.arange(fade, dtype=torch.float64, device=device) + 0.5) / fade
        up = torch.sin(0.5 * math.pi * t) ** 2
        w[1:, :fade] = up
        w[:-1, seg_len:] = 1.0 - up
    return w.to(dtype)


def _convolve_trajectory_torch(signal: torch.Tensor, rirs: torch.Tensor, fade: int) -> torch.Tensor:
    n = signal.shape[-1]
    n_points, n_mic, n_taps = rirs.shape[-3:]
    seg_len = -(-n // n_points)
    left = fade // 2
    ext = seg_len + fade
    total = n_points * seg_len + fade
    # Pad so that every extended segment is a full hop-strided window.
    padded = torch.nn.functional.pad(signal, (left, total - left - n))
    frames = padded.unfold(-1, ext, seg_len)  # [..., P, ext]
    frames = frames * segment_weights(n_points, seg_len, fade, signal.dtype, signal.device)
    n_fft = _fft_size(ext + n_taps - 1)
    spec = torch.fft.rfft(frames, n=n_fft).unsqueeze(-2) * torch.fft.rfft(rirs, n=n_fft)  # [..., P, M, F]
    pieces = torch.fft.irfft(spec, n=n_fft)[..., : ext + n_taps - 1]  # [..., P, M, ext + L - 1]
    lead = torch.broadcast_shapes(signal.shape[:-1], rirs.shape[:-3])
    pieces = pieces.expand(*lead, n_points, n_mic, ext + n_taps - 1)
    # Overlap-add with hop seg_len: fold sums the P frames into one signal per channel.
    cols = pieces.movedim(-3, -1).reshape(-1, ext + n_taps - 1, n_points)
    out_len = (n_points - 1) * seg_len + ext + n_taps - 1
    summed = torch.nn.functional.fold(cols, output_size=(1, out_len), kernel_size=(1, ext + n_taps - 1), stride=(1, seg_len))
    summed = summed.reshape(*lead, n_mic, out_len)
    return summed[..., left : left + n + n_taps - 1]


@overload
def convolve_trajectory(signal: np.ndarray, rirs: np.ndarray, *, crossfade: Literal[False, "hann"] = False, fade: int | None = None) -> np.ndarray: ...
@overload
def convolve_trajectory(signal: torch.Tensor, rirs: torch.Tensor, *, crossfade: Literal[False, "hann"] = False, fade: int | None = None) -> torch.Tensor: ...


def convolve_trajectory(signal, rirs, *, crossfade=False, fade=None):
    """Render a moving source: segment-wise convolution with trajectory RIRs, overlap-added.

    Parameters
    ----------
    signal : ``[..., N]`` dry signal (numpy or torch, float)
    rirs : ``[..., P, M, L]`` RIRs of the ``P`` trajectory points to ``M`` microphones;
        leading dimensions broadcast against the signal's. ``P = 1`` is a static source.
    crossfade : ``False`` (rectangular segments, gpuRIR) or ``"hann"`` (raised-cosine
        crossfade between neighbouring segments, no clicks)
    fade : crossfade length in samples (default: one segment, ``ceil(N / P)``); must be
        even and at most one segment

    Returns
    -------
    ``[..., M, N + L - 1]`` of the input's type and dtype (torch: on its device).

    Raises
    ------
    ValueError
        For mismatched or empty shapes and unknown crossfade modes.
    """
    is_numpy = not isinstance(signal, torch.Tensor)
    x = torch.as_tensor(np.asarray(signal) if is_numpy else signal)
    h = torch.as_tensor(np.asarray(rirs) if not isinstance(rirs, torch.Tensor) else rirs, device=x.device)
    if not (x.is_floating_point() and h.is_floating_point()):
        raise ValueError("signal, rirs: expected floating-point arrays")
    if x.ndim < 1 or x.shape[-1] == 0:
        raise ValueError(f"signal: expected shape [..., N] with N >= 1, got {list(x.shape)}")
    if h.ndim < 3 or 0 in h.shape[-3:]:
        raise ValueError(f"rirs: expected shape [..., P, M, L] with P, M, L >= 1, got {list(h.shape)}")
    try:
        torch.broadcast_shapes(x.shape[:-1], h.shape[:-3])
    except RuntimeError as err:
        raise ValueError(f"signal, rirs: leading dimensions {list(x.shape[:-1])} and {list(h.shape[:-3])} do not broadcast") from err
    dtype = torch.promote_types(x.dtype, h.dtype)
    x, h = x.to(dtype), h.to(dtype)
    n, n_points = x.shape[-1], h.shape[-3]
    if n_points > n:
        raise ValueError(f"rirs: {n_points} trajectory points for a signal of {n} samples")
    seg_len = -(-n // n_points)
    if crossfade is False or crossfade is None:
        width = 0
    elif crossfade == "hann":
        width = seg_len if fade is None else int(fade)
        width -= width % 2
        if not 0 <= width <= seg_len:
            raise ValueError(f"fade: expected 0..{seg_len} samples (one segment), got {fade}")
    else:
        raise ValueError(f"crossfade: expected False or 'hann', got {crossfade!r}")
    out = _convolve_trajectory_torch(x, h, width)
    return out.cpu().numpy() if is_numpy else out
