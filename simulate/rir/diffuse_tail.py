"""Diffuse late reverberation appended after the image-source part (gpuRIR's model).

After ``Tdiff`` the RIR is white noise with an exponentially decaying envelope, -60 dB
per RT60 in power, anchored so that its power at the end of the image-source part equals
the mean power of the last ``<= 10 ms`` of that part. Each source-receiver pair gets its
own noise; the noise comes from an explicit ``torch.Generator``, so a request gives the
same tail bit for bit on the same device (gpuRIR seeds its generator once per process and
offers no user seed).

As in gpuRIR, the averaging window starts no earlier than the direct-path arrival and its
mean power is placed at the window's centre. Differences from gpuRIR, on purpose:
Gaussian instead of logistic unit-variance noise (both white with the same variance), and
a generator owned by the request.
"""

from __future__ import annotations

import math

import torch

#: Length of the window whose mean power anchors the tail, seconds.
ANCHOR_WINDOW_S: float = 0.010


def add_diffuse_tail(
    rirs: torch.Tensor,
    n_early: int,
    rt60_s: float,
    fs: float,
    generator: torch.Generator,
    direct_delay: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fill ``rirs[..., n_early:]`` with a decaying noise tail, in place.

    Parameters
    ----------
    rirs : ``[..., L]`` float32 tensor whose first ``n_early`` samples hold the
        image-source part; the rest is overwritten.
    n_early : samples of the image-source part (``ceil(Tdiff * fs)``)
    rt60_s : decay time of the tail envelope (-60 dB), seconds
    fs : sample rate, Hz
    generator : torch.Generator on the device of ``rirs``; ``rirs[..., 0].numel()``
        rows of ``L - n_early`` normal samples are drawn from it in one call.
    direct_delay : ``[...]`` direct-path arrival of each RIR in samples, optional; the
        anchor window then starts no earlier than the direct arrival (as gpuRIR's), so
        that a direct peak close to Tdiff does not inflate the tail.

    Returns
    -------
    torch.Tensor
        ``rirs`` (modified in place).
    """
    n_total = rirs.shape[-1]
    n_tail = n_total - n_early
    if n_tail <= 0 or n_early <= 0:
        return rirs
    flat = rirs.view(-1, n_total)
    n_anchor = max(1, min(n_early, int(round(ANCHOR_WINDOW_S * fs))))
    start = torch.full((flat.shape[0], 1), float(n_early - n_anchor), dtype=torch.float64, device=rirs.device)
    if direct_delay is not None:
        arrival = direct_delay.reshape(-1, 1).to(device=rirs.device, dtype=torch.float64).ceil()
        start = torch.minimum(torch.maximum(start, arrival), torch.full_like(start, n_early - 1.0))
    # Mean power over [start, n_early) per row, from a reversed cumulative sum over the
    # last n_anchor samples (rows differ in start).
    first = n_early - n_anchor
    energy = torch.cumsum(flat[:, first:n_early].double().pow(2).flip(1), dim=1).flip(1)  # [:, k]: sum over j >= first + k
    length = n_early - start
    power = energy.gather(1, (start - first).long()) / length
    # Amplitude envelope exp(-ln(1e6) / 2 * t / RT60) measured from the centre of the anchor
    # window, split into a per-row scale and one decay shared by all rows.
    centre = start + (length - 1) / 2.0
    rate = 0.5 * math.log(1e6) / (rt60_s * fs)
    scale = (power.sqrt() * torch.exp(-rate * (n_early - centre))).to(torch.float32)
    decay = torch.exp(-rate * torch.arange(n_tail, device=rirs.device, dtype=torch.float64)).to(torch.float32)
    noise = torch.randn(flat.shape[0], n_tail, generator=generator, device=rirs.device, dtype=torch.float32)
    flat[:, n_early:] = noise.mul_(decay).mul_(scale)
    return rirs
