"""Room impulse responses of shoebox rooms: the public entry point and the torch backend.

Conventions shared by every backend (the others are normalised to them, see
``docs/rir-engines.md``):

=====================  ==================================================================
layout                 ``[S, M, L]`` float32: sources x microphones x samples
time zero              emission: the direct path peaks at sample ``fs * d / c``
amplitude              ``1 / (4 pi d)`` for the direct path (free-field Green's function)
reflection sign        ``"negative"`` (default, gpuRIR and ASA2: each reflection flips
                       the sign, odd-order images are negative) or ``"positive"``
                       (pyroomacoustics)
early part             image sources whose sound arrives before ``Tdiff``
                       (``tdiff_db / 60 * RT60``), Hann-windowed sincs (``window_s``, 8 ms);
                       ``image_set="box"``: gpuRIR's box of ``ceil(2 Tdiff c / L)``
                       images per dimension instead
late part              seeded Gaussian noise from ``Tdiff`` to ``Tmax``
                       (``tmax_db / 60 * RT60``), -60 dB per RT60, anchored to the mean
                       power of the last 10 ms of the early part, from the direct arrival
                       on if later (gpuRIR's model)
walls                  (x0, x1, y0, y1, z0, z1) = x = 0, x = Lx, y = 0, y = Ly, floor, ceiling
=====================  ==================================================================

=================  ==========  ====================  ===============  ======================
backend            amplitude   delay                 sign             tail
=================  ==========  ====================  ===============  ======================
``torch``          1/(4 pi d)  none                  option           seeded, this module
``gpurir``         1/(4 pi d)  none                  negative only    gpuRIR's (unseeded)
``pyroomacoustics``1/d -> x    40 samples removed    positive only    seeded, this module
                   1/(4 pi)    (``frac_delay_length``
                               // 2), HPF disabled
=================  ==========  ====================  ===============  ======================
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from asabench.simulate.rir.diffuse_tail import add_diffuse_tail
from asabench.simulate.geometry import SPEED_OF_SOUND
from asabench.simulate.rir.image_source import image_source_early
from asabench.simulate.rir.request import RirRequest, make_request
from asabench.simulate.rir.sabine import ASA2_ABS_WEIGHTS

#: Names accepted by ``simulate_rirs(backend=...)``.
BACKENDS: tuple[str, ...] = ("torch", "gpurir", "pyroomacoustics")


def _device(device: str | torch.device | None, like: Any) -> torch.device:
    if device is not None:
        return torch.device(device)
    if isinstance(like, torch.Tensor):
        return like.device
    return torch.device("cpu")


def tail_generator(seed: int, device: torch.device) -> torch.Generator:
    """The generator of a request's diffuse tail: seeded from ``seed`` on ``device``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def render_torch(request: RirRequest, device: torch.device, chunk_size: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Run the torch engine on a validated request: ``[S, M, n_total]`` float32 on ``device``."""
    room_dim = torch.as_tensor(request.room_dim, dtype=torch.float64, device=device)
    betas = torch.as_tensor(request.betas, dtype=torch.float64, device=device)
    sources = torch.as_tensor(request.sources, dtype=torch.float64, device=device)
    mics = torch.as_tensor(request.mics, dtype=torch.float64, device=device)
    early = image_source_early(
        room_dim,
        betas,
        sources,
        mics,
        request.fs,
        request.n_early,
        c=request.c,
        reflection_sign=request.reflection_sign,
        max_order=request.max_order,
        window_s=request.window_s,
        chunk_size=chunk_size,
        box=request.box,
    )
    if not request.has_tail:
        return early
    rirs = torch.empty(*early.shape[:2], request.n_total, dtype=torch.float32, device=device)
    rirs[..., : request.n_early] = early
    gen = generator if generator is not None else tail_generator(request.seed, device)
    return add_diffuse_tail(rirs, request.n_early, request.rt60, request.fs, gen, direct_delays(request, device))


def direct_delays(request: RirRequest, device: torch.device) -> torch.Tensor:
    """``[S, M]`` direct-path arrival of every pair, in samples (float64)."""
    src = torch.as_tensor(request.sources, dtype=torch.float64, device=device)
    mic = torch.as_tensor(request.mics, dtype=torch.float64, device=device)
    return torch.linalg.vector_norm(src[:, None, :] - mic[None, :, :], dim=-1) * (request.fs / request.c)


def simulate_rirs_torch(
    room_dim: Sequence[float] | np.ndarray,
    rt60: float | Sequence[float] | None = None,
    sources: torch.Tensor | np.ndarray | None = None,
    mics: torch.Tensor | np.ndarray | None = None,
    fs: float | None = None,
    *,
    betas: Sequence[float] | np.ndarray | None = None,
    tdiff_db: float = 12.0,
    tmax_db: float = 40.0,
    direct_only: bool = False,
    device: str | torch.device | None = None,
    seed: int = 0,
    generator: torch.Generator | None = None,
    abs_weights: Sequence[float] = ASA2_ABS_WEIGHTS,
    reflection_sign: str = "negative",
    max_order: int | None = None,
    window_s: float = 0.008,
    c: float = SPEED_OF_SOUND,
    chunk_size: int | None = None,
    image_set: str = "sphere",
) -> torch.Tensor:
    """Torch engine on tensors: same request as :func:`simulate_rirs`, a tensor back.

    Meant for batching, e.g. the ``S * 40`` trajectory points of one moving scene in one
    call. Runs on ``device`` (default: the device of ``sources`` when it is a tensor, else
    CPU). ``generator`` (on that device) overrides ``seed`` for the diffuse tail.

    Returns
    -------
    torch.Tensor
        ``[S, M, L]`` float32 on the device.
    """
    dev = _device(device, sources)
    request = make_request(
        room_dim, rt60, sources, mics, fs, betas=betas, tdiff_db=tdiff_db, tmax_db=tmax_db, direct_only=direct_only,
        abs_weights=abs_weights, reflection_sign=reflection_sign, max_order=max_order, window_s=window_s, c=c, seed=seed,
        image_set=image_set,
    )
    return render_torch(request, dev, chunk_size, generator)


def simulate_rirs(
    room_dim: Sequence[float] | np.ndarray,
    rt60: float | Sequence[float] | None = None,
    sources: np.ndarray | Sequence[Sequence[float]] | None = None,
    mics: np.ndarray | Sequence[Sequence[float]] | None = None,
    fs: float | None = None,
    *,
    betas: Sequence[float] | np.ndarray | None = None,
    tdiff_db: float = 12.0,
    tmax_db: float = 40.0,
    direct_only: bool = False,
    backend: str = "torch",
    device: str | torch.device = "cpu",
    seed: int = 0,
    abs_weights: Sequence[float] = ASA2_ABS_WEIGHTS,
    reflection_sign: str = "negative",
    max_order: int | None = None,
    window_s: float = 0.008,
    c: float = SPEED_OF_SOUND,
    chunk_size: int | None = None,
    image_set: str = "sphere",
) -> np.ndarray:
    """Room impulse responses from every source to every microphone of a shoebox room.

    Parameters
    ----------
    room_dim : ``[3]`` room size (Lx, Ly, Lz), metres
    rt60 : reverberation time in seconds; the six wall reflection coefficients are fitted
        by Sabine's formula with ``abs_weights``. May instead be the ``[6]`` betas.
    sources : ``[S, 3]`` source positions, metres (inside the room)
    mics : ``[M, 3]`` microphone positions, metres (inside the room)
    fs : sample rate, Hz
    betas : ``[6]`` reflection coefficients (x0, x1, y0, y1, z0, z1) instead of a fit;
        RT60 (for Tdiff, Tmax and the tail) is then ``rt60`` if given, else Sabine's.
    tdiff_db : image sources until the energy has decayed this much,
        ``Tdiff = tdiff_db / 60 * RT60`` (ASA2: 12 dB)
    tmax_db : RIR length, ``Tmax = tmax_db / 60 * RT60`` (ASA2: 40 dB); a diffuse noise tail
        fills ``[Tdiff, Tmax)``; none when ``tmax_db <= tdiff_db``
    direct_only : only the direct image (ASA2's direct-path target), no reflections or
        tail; the length just covers the farthest arrival plus the sinc half-window
    backend : ``"torch"`` (default), ``"gpurir"`` (needs the gpuRIR package and CUDA) or
        ``"pyroomacoustics"`` (CPU check); all return the conventions below
    device : torch device of the ``torch`` backend (``"cpu"``, ``"cuda"``, ...)
    seed : seed of the diffuse tail; same request and device give the same RIRs bit for bit
    abs_weights : ``[6]`` relative absorption of the walls for the Sabine fit (ASA2: 0.8
        everywhere but 0.5 for the ceiling)
    reflection_sign : ``"negative"`` (gpuRIR, ASA2 default: each reflection negates the
        pressure, odd-order images are negative) or ``"positive"`` (pyroomacoustics)
    max_order : keep only images of order ``|u_x| + |u_y| + |u_z| <= max_order`` (the
        pyroomacoustics image set), for like-for-like checks; None keeps every image that
        arrives before Tdiff
    window_s : full length of the Hann window of the fractional-delay sinc, seconds (8 ms
        as gpuRIR; pyroomacoustics uses 81 taps, ``80 / fs`` between the window's zeros)
    c : speed of sound, m/s
    chunk_size : source-receiver pairs per chunk of the torch engine (memory bound)
    image_set : ``"sphere"`` (default: every image arriving before Tdiff) or ``"box"``
        (gpuRIR's ``ceil(2 Tdiff c / L)`` images per dimension, for like-for-like
        comparisons; see ``docs/rir-engines.md``). The ``gpurir`` backend always simulates
        the box; ``pyroomacoustics`` only the diamond of ``max_order`` and refuses ``"box"``.

    Returns
    -------
    np.ndarray
        ``[S, M, L]`` float32, ``L = ceil(Tmax * fs)``. Time zero is the emission, the
        direct path has amplitude ``1 / (4 pi d)`` and peaks at ``fs * d / c`` samples.

    Raises
    ------
    ValueError
        For a bad request, naming the field (see :func:`~asabench.simulate.rir.request.make_request`),
        or an unknown backend.
    RuntimeError
        When the ``gpurir`` backend is asked for but gpuRIR or CUDA is missing.

    Examples
    --------
    >>> from asabench.simulate import simulate_rirs, tetra_array
    >>> rirs = simulate_rirs([6, 5, 3], 0.4, [[1, 1, 1.5]], tetra_array((3, 2.5, 1.5)), 16000)
    >>> rirs.shape
    (1, 4, 4267)
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    request = make_request(
        room_dim, rt60, sources, mics, fs, betas=betas, tdiff_db=tdiff_db, tmax_db=tmax_db, direct_only=direct_only,
        abs_weights=abs_weights, reflection_sign=reflection_sign, max_order=max_order, window_s=window_s, c=c, seed=seed,
        image_set=image_set,
    )
    if backend == "pyroomacoustics" and request.box is not None:
        raise ValueError('image_set: the pyroomacoustics backend simulates a diamond of images (max_order), not gpuRIR\'s box; use backend="torch"')
    if backend == "torch":
        return render_torch(request, torch.device(device), chunk_size).cpu().numpy()
    from asabench.simulate.rir import backends as rir_backends

    if backend == "gpurir":
        return rir_backends.render_gpurir(request)
    return rir_backends.render_pyroomacoustics(request)
