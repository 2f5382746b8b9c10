"""A validated RIR request: the one object every RIR backend receives.

Validation lives here so that every backend rejects the same bad requests with the same
messages, each naming the offending field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from asabench.simulate.geometry import SPEED_OF_SOUND
from asabench.simulate.rir.image_source import half_window_taps
from asabench.simulate.rir.sabine import ASA2_ABS_WEIGHTS, att_to_time, betas_from_rt60, images_per_dim, rt60_from_betas

#: Reflection sign conventions: gpuRIR negates every reflection, pyroomacoustics does not.
REFLECTION_SIGNS: tuple[str, ...] = ("negative", "positive")

#: Image sets of the early part: every image reaching Tdiff, or gpuRIR's box of t2n(Tdiff).
IMAGE_SETS: tuple[str, ...] = ("sphere", "box")

#: Closest a source may come to a microphone, metres (the 1/d amplitude diverges).
MIN_DISTANCE_M: float = 1e-3


@dataclass(frozen=True)
class RirRequest:
    """Everything a backend needs, resolved and checked.

    Attributes
    ----------
    room_dim : ``[3]`` metres
    betas : ``[6]`` reflection coefficients, wall order (x0, x1, y0, y1, z0, z1)
    rt60 : seconds; sets Tdiff, Tmax and the decay of the diffuse tail (Sabine RT60 of
        ``betas`` when only betas were given); NaN for direct-only requests without one
    sources : ``[S, 3]`` metres
    mics : ``[M, 3]`` metres
    fs : Hz
    n_early : samples of the image-source part, ``ceil(Tdiff * fs)`` capped at ``n_total``
    n_total : samples of the RIR, ``ceil(Tmax * fs)``
    direct_only : only the direct image (``max_order == 0``, no tail)
    max_order : diamond limit on image order, or None (all images inside Tdiff)
    reflection_sign : ``"negative"`` (gpuRIR) or ``"positive"`` (pyroomacoustics)
    window_s : full Hann window length of the fractional-delay sinc, seconds
    c : speed of sound, m/s
    seed : seed of the diffuse tail's generator
    image_set : ``"sphere"`` or ``"box"``
    box : ``(N_x, N_y, N_z)`` images per dimension of the ``"box"`` set,
        ``ceil(2 Tdiff c / L)`` with ``Tdiff = tdiff_db / 60 * RT60`` (gpuRIR's ``t2n``);
        None for the sphere and for direct-only requests
    """

    room_dim: np.ndarray
    betas: np.ndarray
    rt60: float
    sources: np.ndarray
    mics: np.ndarray
    fs: float
    n_early: int
    n_total: int
    direct_only: bool
    max_order: int | None
    reflection_sign: str
    window_s: float
    c: float
    seed: int
    image_set: str = "sphere"
    box: tuple[int, int, int] | None = None

    @property
    def has_tail(self) -> bool:
        return self.n_total > self.n_early


def _ceil_samples(t_s: float, fs: float) -> int:
    """``ceil(t * fs)``, tolerant to rounding (0.3 * 12 / 60 * 16000 is 960, not 961)."""
    return int(math.ceil(t_s * fs - 1e-6))


def _points(value: Any, name: str) -> np.ndarray:
    if value is None:
        raise ValueError(f"{name}: required, expected an array of shape [N, 3] in metres")
    try:
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected numbers of shape [N, 3], got {type(value).__name__}") from err
    if arr.ndim == 1 and arr.shape == (3,):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name}: expected shape [N, 3], got {list(arr.shape)}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: empty, at least one position is needed")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: positions must be finite")
    return arr


def _inside(points: np.ndarray, room_dim: np.ndarray, name: str) -> None:
    outside = ~np.all((points >= 0.0) & (points <= room_dim), axis=1)
    if np.any(outside):
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{name}: {int(outside.sum())} position(s) outside the room {room_dim.tolist()} m, "
            f"first is {name}[{i}] = {points[i].tolist()}"
        )


def make_request(
    room_dim: Sequence[float] | np.ndarray,
    rt60: float | Sequence[float] | np.ndarray | None,
    sources: Any,
    mics: Any,
    fs: float | None,
    *,
    betas: Sequence[float] | np.ndarray | None = None,
    tdiff_db: float = 12.0,
    tmax_db: float = 40.0,
    direct_only: bool = False,
    abs_weights: Sequence[float] = ASA2_ABS_WEIGHTS,
    reflection_sign: str = "negative",
    max_order: int | None = None,
    window_s: float = 0.008,
    c: float = SPEED_OF_SOUND,
    seed: int = 0,
    image_set: str = "sphere",
) -> RirRequest:
    """Check and resolve a request; see :func:`asabench.simulate.rir.engine.simulate_rirs`.

    Raises
    ------
    ValueError
        Naming the field: malformed room, RT60 Sabine cannot reach, reflection
        coefficients out of range, empty or mis-shaped positions, positions outside the
        room, a source on a microphone, a direct path arriving after Tdiff, bad options.
    """
    dim = np.asarray(room_dim, dtype=np.float64) if room_dim is not None else np.zeros(0)
    if dim.shape != (3,) or not np.all(np.isfinite(dim)) or not np.all(dim > 0):
        raise ValueError(f"room_dim: expected 3 positive side lengths in metres, got {np.asarray(room_dim).tolist()}")
    if fs is None or not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"fs: expected a positive sample rate in Hz, got {fs}")
    if not (np.isfinite(c) and c > 0):
        raise ValueError(f"c: expected a positive speed of sound in m/s, got {c}")
    if reflection_sign not in REFLECTION_SIGNS:
        raise ValueError(f"reflection_sign: expected one of {REFLECTION_SIGNS}, got {reflection_sign!r}")
    if not (np.isfinite(window_s) and window_s * fs >= 2.0):
        raise ValueError(f"window_s: the sinc window must span at least 2 samples, got {window_s} s at {fs} Hz")
    if image_set not in IMAGE_SETS:
        raise ValueError(f"image_set: expected one of {IMAGE_SETS}, got {image_set!r}")
    if max_order is not None and (int(max_order) != max_order or max_order < 0):
        raise ValueError(f"max_order: expected a non-negative integer or None, got {max_order}")
    if not (np.isfinite(tdiff_db) and tdiff_db > 0):
        raise ValueError(f"tdiff_db: expected a positive attenuation in dB, got {tdiff_db}")
    if not (np.isfinite(tmax_db) and tmax_db > 0):
        raise ValueError(f"tmax_db: expected a positive attenuation in dB, got {tmax_db}")

    # The second positional argument may carry the six betas (issue signature "rt60 or betas").
    if rt60 is not None and np.ndim(rt60) == 1:
        if betas is not None:
            raise ValueError("betas: given twice (as the second positional argument and as betas=)")
        betas, rt60 = rt60, None
    if betas is not None:
        b = np.asarray(betas, dtype=np.float64)
        if b.shape != (6,) or not np.all(np.isfinite(b)) or np.any(b < 0) or np.any(b > 1):
            raise ValueError(f"betas: expected 6 reflection coefficients in [0, 1] (x0, x1, y0, y1, z0, z1), got {np.asarray(betas).tolist()}")
        if rt60 is None:
            rt60 = rt60_from_betas(dim, b, c)
    elif rt60 is not None:
        b = betas_from_rt60(dim, float(rt60), abs_weights, c)
    elif direct_only:
        b = np.zeros(6)
    else:
        raise ValueError("rt60: either rt60 (seconds) or betas (6 reflection coefficients) is required")
    rt60_f = float("nan") if rt60 is None else float(rt60)
    if not direct_only and not (np.isfinite(rt60_f) and rt60_f > 0):
        raise ValueError(f"rt60: expected a positive finite RT60 in seconds, got {rt60_f} (betas {b.tolist()})")

    src = _points(sources, "sources")
    mic = _points(mics, "mics")
    _inside(src, dim, "sources")
    _inside(mic, dim, "mics")
    dist = np.linalg.norm(src[:, None, :] - mic[None, :, :], axis=-1)
    if np.any(dist < MIN_DISTANCE_M):
        s, m = np.argwhere(dist < MIN_DISTANCE_M)[0]
        raise ValueError(f"sources: sources[{s}] is within {MIN_DISTANCE_M} m of mics[{m}]")

    half, _ = half_window_taps(fs, window_s)
    box = None
    if direct_only:
        n_total = int(math.ceil(dist.max() * fs / c + half)) + 1
        n_early = n_total
        max_order = 0
    else:
        n_total = _ceil_samples(att_to_time(tmax_db, rt60_f), fs)
        n_early = min(_ceil_samples(att_to_time(tdiff_db, rt60_f), fs), n_total)
        latest = dist.max() * fs / c
        if latest >= n_early:
            raise ValueError(
                f"tdiff_db: the image-source part ({n_early} samples = {tdiff_db} dB of RT60 {rt60_f:.3f} s) "
                f"ends before the farthest direct path arrives ({latest:.1f} samples); raise tdiff_db or tmax_db"
            )
        if image_set == "box":
            n_img = images_per_dim(att_to_time(tdiff_db, rt60_f), dim, c)
            box = (int(n_img[0]), int(n_img[1]), int(n_img[2]))
    return RirRequest(
        room_dim=dim,
        betas=b,
        rt60=rt60_f,
        sources=src,
        mics=mic,
        fs=float(fs),
        n_early=n_early,
        n_total=n_total,
        direct_only=bool(direct_only),
        max_order=None if max_order is None else int(max_order),
        reflection_sign=reflection_sign,
        window_s=float(window_s),
        c=float(c),
        seed=int(seed),
        image_set=image_set,
        box=box,
    )
