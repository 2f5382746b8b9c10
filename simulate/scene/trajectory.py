"""Source trajectories of the ASA2 motion model (sinusoidal per axis) and static sources.

Each source starts at a point drawn uniformly in the room with a wall margin. With
probability ``static_prob`` (or always, for the static recipe) it stays there; otherwise
every axis independently follows

    p(n) = p0 + A sin(w n),   n = 0 .. n_points - 1,

with ``A = U^p * min(room-limited amplitude, amplitude_max_m)`` and
``w = (2 pi / n_points) * max_oscillations * U^p``, each ``U`` a fresh uniform [0, 1) draw
per axis. The published generator uses the plain uniforms (``p = 1``, the default);
``p = 3`` is the misreading of asabench manifests before version 2.0, kept so that those
recipes still render the scenes they always did (moving sources then move about three times
less: mean peak speed 0.38 against 1.3 m/s in the ASA2 rooms). The room-limited amplitude
is the distance from ``p0`` to the nearer wall minus the margin, so the whole trajectory
stays inside the margin. One trajectory point covers one segment of ``duration / n_points``
seconds (100 ms in ASA2).

References
----------
ASA2 generator of the DeepASA authors (AudioDataset2.py, scene_generator.cfg): 40 points,
static with probability 0.25, A and w as above with plain uniforms; SoundCompass fixes every
source at its initial position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Trajectory", "sample_start", "sample_trajectory"]


@dataclass(frozen=True)
class Trajectory:
    """A sampled trajectory and the motion parameters that produced it.

    Attributes
    ----------
    points : ``[n_points, 3]`` positions in metres, room coordinates.
    static : whether the source does not move (every row equals the start).
    amplitude_m : ``[3]`` per-axis sine amplitudes in metres (zeros when static).
    omega : ``[3]`` per-axis angular step in radians per trajectory point (zeros when static).
    """

    points: np.ndarray
    static: bool
    amplitude_m: np.ndarray
    omega: np.ndarray


def sample_start(rng: np.random.Generator, room_dim: np.ndarray, margin_m: float) -> np.ndarray:
    """A start position uniform in the room shrunk by ``margin_m`` on every wall.

    Parameters
    ----------
    rng : generator; consumes exactly 3 uniforms.
    room_dim : ``[3]`` room size in metres.
    margin_m : wall margin in metres (must leave a positive extent on every axis).

    Returns
    -------
    np.ndarray
        ``[3]`` float64 position in metres.
    """
    room_dim = np.asarray(room_dim, dtype=np.float64)
    if np.any(room_dim <= 2 * margin_m):
        raise ValueError(f"room {room_dim.tolist()} m leaves no space inside a {margin_m} m margin")
    u = rng.random(3)
    return margin_m + u * (room_dim - 2 * margin_m)


def sample_trajectory(
    rng: np.random.Generator,
    room_dim: np.ndarray,
    *,
    n_points: int,
    static_prob: float,
    amplitude_max_m: float,
    max_oscillations: float,
    margin_m: float,
    force_static: bool = False,
    draw_power: int = 1,
) -> Trajectory:
    """Draw one source trajectory of the ASA2 motion model.

    The number of draws is fixed (start, static coin, then 3 amplitude and 3 frequency
    uniforms, even for a static source) so that a change of ``static_prob`` or
    ``force_static`` never shifts the random stream of later sources: the static recipe
    places every source exactly where the moving recipe starts it.

    Parameters
    ----------
    rng : generator.
    room_dim : ``[3]`` room size in metres.
    n_points : trajectory points (segments) per scene.
    static_prob : probability that the source does not move.
    amplitude_max_m : cap of the sine amplitude in metres.
    max_oscillations : most sine periods over the ``n_points`` points.
    margin_m : wall margin in metres, for the start and for the amplitude limit.
    force_static : the static recipe (SoundCompass): never move.
    draw_power : exponent ``p`` applied to the amplitude and frequency uniforms (1: ASA2;
        3: asabench manifests before 2.0). The draws themselves do not depend on it.

    Returns
    -------
    Trajectory
        ``points`` ``[n_points, 3]`` in metres.
    """
    if isinstance(draw_power, bool) or not isinstance(draw_power, int) or draw_power < 1:
        raise ValueError(f"draw_power: expected an integer >= 1, got {draw_power!r}")
    room_dim = np.asarray(room_dim, dtype=np.float64)
    p0 = sample_start(rng, room_dim, margin_m)
    coin = float(rng.random())
    u_amp = rng.random(3)
    u_freq = rng.random(3)
    static = force_static or coin < static_prob
    if static:
        zeros = np.zeros(3)
        return Trajectory(np.repeat(p0[None, :], n_points, axis=0), True, zeros, zeros.copy())
    room_limit = np.maximum(np.minimum(p0 - margin_m, room_dim - margin_m - p0), 0.0)
    # ``u ** 3`` exactly as before 2.0 (an integer power), so old recipes keep their bits.
    amplitude = u_amp**draw_power * np.minimum(room_limit, amplitude_max_m)
    omega = (2.0 * np.pi / n_points) * max_oscillations * u_freq**draw_power
    n = np.arange(n_points, dtype=np.float64)
    points = p0[None, :] + amplitude[None, :] * np.sin(omega[None, :] * n[:, None])
    return Trajectory(points, False, amplitude, omega)
