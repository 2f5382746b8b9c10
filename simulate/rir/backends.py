"""The other RIR backends, normalised to the conventions of :mod:`asabench.simulate.rir.engine`.

* ``pyroomacoustics`` (CPU, an independent check of the torch engine). Its image sources
  have amplitude ``1 / d`` (here multiplied by ``1 / (4 pi)``), every RIR is delayed by
  ``frac_delay_length // 2`` = 40 samples (removed here), its 10 Hz high-pass is switched
  off for the call, and its reflections keep their sign (only ``reflection_sign="positive"``
  is accepted). Its fractional delays are 81-tap Hann-windowed sincs with the window on
  the sample grid. The early part is truncated to Tdiff and the same seeded diffuse tail as
  the torch backend is appended.
* ``gpurir`` (CUDA). Same amplitude (``1 / (4 pi d)``) and time origin; gpuRIR negates
  every reflection (only ``reflection_sign="negative"``), simulates a box of
  ``ceil(2 Tdiff c / L)`` images per axis and draws its own diffuse tail from a generator
  seeded once per process: its tails are not reproducible from ``seed``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from asabench.simulate.rir.diffuse_tail import add_diffuse_tail
from asabench.simulate.rir.image_source import half_window_taps
from asabench.simulate.rir.request import RirRequest
from asabench.simulate.rir.sabine import images_per_dim

_PRA_WALLS: tuple[str, ...] = ("west", "east", "south", "north", "floor", "ceiling")


def covering_order(request: RirRequest) -> int:
    """Smallest image order whose diamond holds every image arriving before Tdiff.

    The pyroomacoustics image set that contains the torch engine's set, worst case over
    the source-receiver pairs.
    """
    _, taps = half_window_taps(request.fs, request.window_s)
    radius = request.c * (request.n_early + taps) / request.fs
    # Enumerate the images of every pair inside the sphere (the torch engine's set) and
    # take their largest order.
    n_axis = [int(math.ceil(radius / request.room_dim[d])) + 1 for d in range(3)]
    axes = []
    for d in range(3):
        u = np.arange(-n_axis[d], n_axis[d] + 1)
        pos = np.where(u % 2 == 0, 1.0, -1.0)[None, :] * request.sources[:, d : d + 1] + (u + u % 2)[None, :] * request.room_dim[d]
        sq = (pos[:, None, :] - request.mics[None, :, d : d + 1]) ** 2  # [S, M, n_u]
        axes.append((np.abs(u), sq))
    (ux, sx), (uy, sy), (uz, sz) = axes
    dist2 = sx[..., :, None, None] + sy[..., None, :, None] + sz[..., None, None, :]
    inside = (dist2 < radius * radius).any(axis=(0, 1))
    order = ux[:, None, None] + uy[None, :, None] + uz[None, None, :]
    return int(order[inside].max())


def render_pyroomacoustics(request: RirRequest, max_order: int | None = None) -> np.ndarray:
    """pyroomacoustics image sources, normalised, plus the seeded tail: ``[S, M, L]`` float32.

    ``max_order`` defaults to the request's, else to :func:`covering_order`.
    """
    import pyroomacoustics as pra

    if request.reflection_sign != "positive":
        raise ValueError('reflection_sign: the pyroomacoustics backend only supports "positive" (it never negates reflections)')
    order = max_order if max_order is not None else request.max_order
    if order is None:
        order = covering_order(request)
    absorption = 1.0 - request.betas**2
    materials = {wall: pra.Material(energy_absorption=float(a)) for wall, a in zip(_PRA_WALLS, absorption)}
    delay = pra.constants.get("frac_delay_length") // 2
    hpf = pra.constants.get("rir_hpf_enable")
    pra.constants.set("rir_hpf_enable", False)
    try:
        room = pra.ShoeBox(
            request.room_dim, fs=int(request.fs), materials=materials, max_order=int(order), air_absorption=False, ray_tracing=False,
        )
        room.set_sound_speed(request.c)
        for s in request.sources:
            room.add_source(s)
        room.add_microphone_array(request.mics.T)
        room.compute_rir()
    finally:
        pra.constants.set("rir_hpf_enable", hpf)
    n_src, n_mic = request.sources.shape[0], request.mics.shape[0]
    out = torch.zeros(n_src, n_mic, request.n_total, dtype=torch.float32)
    for m in range(n_mic):
        for s in range(n_src):
            r = np.asarray(room.rir[m][s][delay:], dtype=np.float64) / (4.0 * math.pi)
            n = min(r.shape[0], request.n_early)
            out[s, m, :n] = torch.from_numpy(r[:n].astype(np.float32))
    if request.has_tail:
        gen = torch.Generator(device="cpu")
        gen.manual_seed(request.seed)
        delays = np.linalg.norm(request.sources[:, None] - request.mics[None], axis=-1) * (request.fs / request.c)
        add_diffuse_tail(out, request.n_early, request.rt60, request.fs, gen, torch.from_numpy(delays))
    return out.numpy()


def gpurir_available() -> tuple[bool, str]:
    """Whether the gpurir backend can run, and what is missing if not."""
    try:
        import gpuRIR  # noqa: F401
    except ImportError:
        return False, "the gpuRIR package is not installed (pip install https://github.com/DavidDiazGuerra/gpuRIR/zipball/master)"
    if not torch.cuda.is_available():
        return False, "no CUDA device is available"
    return True, ""


def render_gpurir(request: RirRequest) -> np.ndarray:
    """gpuRIR's simulateRIR on the same request: ``[S, M, L]`` float32.

    Raises
    ------
    RuntimeError
        When gpuRIR or CUDA is missing.
    ValueError
        For options gpuRIR cannot honour (positive reflections, ``max_order``).
    """
    ok, why = gpurir_available()
    if not ok:
        raise RuntimeError(f"backend 'gpurir' unavailable: {why}; use backend='torch' (device='cuda' works too)")
    import gpuRIR

    if request.reflection_sign != "negative":
        raise ValueError('reflection_sign: the gpurir backend only supports "negative" (gpuRIR negates every reflection)')
    if request.max_order is not None and not request.direct_only:
        raise ValueError("max_order: the gpurir backend simulates a box of images, not a diamond; use max_order=None")
    t_max = request.n_total / request.fs
    if request.direct_only:
        nb_img = [1, 1, 1]
        t_diff = None
    else:
        t_diff = request.n_early / request.fs
        nb_img = [int(n) for n in images_per_dim(t_diff, request.room_dim, request.c)]
    rirs = gpuRIR.simulateRIR(
        request.room_dim.astype(np.float32), request.betas.astype(np.float32), request.sources.astype(np.float32),
        request.mics.astype(np.float32), nb_img, t_max, int(request.fs), Tdiff=t_diff if request.has_tail else None,
        mic_pattern="omni", c=request.c,
    )
    out = np.zeros((request.sources.shape[0], request.mics.shape[0], request.n_total), dtype=np.float32)
    n = min(out.shape[-1], rirs.shape[-1])
    out[..., :n] = rirs[..., :n]
    return out
