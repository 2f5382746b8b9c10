"""Sabine's reverberation formula: wall reflection coefficients from RT60 and back.

Walls are ordered as in gpuRIR: (x0, x1, y0, y1, z0, z1), i.e. the walls at x = 0,
x = Lx, y = 0, y = Ly, the floor and the ceiling. A wall's pressure reflection coefficient
``beta`` and its energy absorption ``alpha`` are related by ``alpha = 1 - beta**2``.

Sabine: ``RT60 = 24 ln(10) V / (c * sum_i S_i alpha_i)`` (0.161 V / A at c = 343 m/s).

References
----------
W. C. Sabine, Collected Papers on Acoustics, 1922. gpuRIR (Diaz-Guerra et al., 2021)
uses the same fit with relative absorption weights and the same time/image helpers.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from asabench.simulate.geometry import SPEED_OF_SOUND

#: ASA2 relative absorption weights in wall order (x0, x1, y0, y1, z0, z1): ceiling 0.5.
ASA2_ABS_WEIGHTS: tuple[float, ...] = (0.8, 0.8, 0.8, 0.8, 0.8, 0.5)


def _room(room_dim: Sequence[float] | np.ndarray) -> np.ndarray:
    d = np.asarray(room_dim, dtype=np.float64)
    if d.shape != (3,) or not np.all(np.isfinite(d)) or not np.all(d > 0):
        raise ValueError(f"room_dim: expected 3 positive side lengths in metres, got {np.asarray(room_dim).tolist()}")
    return d


def _areas(d: np.ndarray) -> np.ndarray:
    return np.array([d[1] * d[2], d[1] * d[2], d[0] * d[2], d[0] * d[2], d[0] * d[1], d[0] * d[1]])


def sabine_constant(c: float = SPEED_OF_SOUND) -> float:
    """``24 ln(10) / c`` in s/m: RT60 = constant * V / A (0.1611 at 343 m/s)."""
    return 24.0 * math.log(10.0) / c


def betas_from_rt60(
    room_dim: Sequence[float] | np.ndarray,
    rt60: float,
    abs_weights: Sequence[float] = ASA2_ABS_WEIGHTS,
    c: float = SPEED_OF_SOUND,
) -> np.ndarray:
    """Per-wall reflection coefficients giving ``rt60`` by Sabine's formula.

    The absorption of wall i is ``alpha_i = s * w_i / max(w)`` with one scale ``s``
    solved in closed form; ``beta_i = sqrt(1 - alpha_i)``.

    Parameters
    ----------
    room_dim : array_like, ``[3]``, metres
    rt60 : float, seconds (> 0)
    abs_weights : ``[6]`` relative absorption weights, wall order (x0, x1, y0, y1, z0, z1)
    c : speed of sound, m/s

    Returns
    -------
    np.ndarray
        ``[6]`` float64 reflection coefficients in [0, 1).

    Raises
    ------
    ValueError
        If ``rt60`` is not positive, the weights are malformed, or the room is too
        absorbent even with the most absorbent wall at ``alpha = 1`` (Sabine cannot reach
        such a short RT60).
    """
    d = _room(room_dim)
    if not (np.isfinite(rt60) and rt60 > 0):
        raise ValueError(f"rt60: must be a positive number of seconds, got {rt60}")
    w = np.asarray(abs_weights, dtype=np.float64)
    if w.shape != (6,) or not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise ValueError(f"abs_weights: expected 6 non-negative weights, not all zero, got {np.asarray(abs_weights).tolist()}")
    w = w / w.max()
    scale = sabine_constant(c) * float(np.prod(d)) / (rt60 * float(np.sum(_areas(d) * w)))
    if scale >= 1.0:
        shortest = sabine_constant(c) * float(np.prod(d)) / float(np.sum(_areas(d) * w))
        raise ValueError(
            f"rt60: {rt60:.3f} s is shorter than Sabine can reach in a room of {d.tolist()} m with "
            f"abs_weights {np.asarray(abs_weights).tolist()} (shortest: {shortest:.3f} s with the most "
            "absorbent wall fully absorbing)"
        )
    return np.sqrt(1.0 - scale * w)


def rt60_from_betas(room_dim: Sequence[float] | np.ndarray, betas: Sequence[float] | np.ndarray, c: float = SPEED_OF_SOUND) -> float:
    """Sabine RT60 in seconds for per-wall reflection coefficients ``betas`` ``[6]``.

    Returns ``inf`` for a room with no absorption (all ``betas == 1``).
    """
    d = _room(room_dim)
    b = np.asarray(betas, dtype=np.float64)
    if b.shape != (6,) or not np.all(np.isfinite(b)) or np.any(np.abs(b) > 1):
        raise ValueError(f"betas: expected 6 reflection coefficients in [-1, 1], got {np.asarray(betas).tolist()}")
    absorption = float(np.sum(_areas(d) * (1.0 - b**2)))
    if absorption <= 0:
        return math.inf
    return sabine_constant(c) * float(np.prod(d)) / absorption


def att_to_time(att_db: float, rt60: float) -> float:
    """Time in seconds for an exponential decay of ``rt60`` to fall by ``att_db`` dB."""
    return att_db / 60.0 * rt60


def images_per_dim(t: float, room_dim: Sequence[float] | np.ndarray, c: float = SPEED_OF_SOUND) -> np.ndarray:
    """Image sources per dimension covering a travel time ``t``: ``ceil(2 t c / L)``.

    The box gpuRIR simulates (its ``t2n``); the torch engine culls this box further to
    the sphere the sound can actually cross in ``t``.

    Returns
    -------
    np.ndarray
        ``[3]`` int64 counts.
    """
    d = _room(room_dim)
    return np.ceil(2.0 * t * c / d).astype(np.int64)
