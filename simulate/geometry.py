"""Shoebox rooms, microphone arrays and the DCASE angle convention.

Units are metres, seconds and degrees. Angles follow the DCASE convention: azimuth
counter-clockwise from +x (front), elevation up from the horizontal plane, so that
``x = cos(el) cos(az)``, ``y = cos(el) sin(az)``, ``z = sin(el)``.

References
----------
DCASE 2022/2023 Task 3 (STARSS22/23) array description: a tetrahedral array of radius
4.2 cm with capsules at (azimuth, elevation) = (45, 35), (-45, -35), (135, -35),
(-135, 35) degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

#: Speed of sound used by every engine in the package, metres per second.
SPEED_OF_SOUND: float = 343.0

#: (azimuth, elevation) of the four capsules of the DCASE tetrahedral array, degrees.
TETRA_CAPSULES_DEG: tuple[tuple[float, float], ...] = ((45.0, 35.0), (-45.0, -35.0), (135.0, -35.0), (-135.0, 35.0))

#: Radius of the DCASE tetrahedral array, metres.
TETRA_RADIUS_M: float = 0.042


def dcase_to_cartesian(azimuth_deg: np.ndarray | float, elevation_deg: np.ndarray | float, distance: np.ndarray | float = 1.0) -> np.ndarray:
    """Convert DCASE (azimuth, elevation, distance) to Cartesian coordinates.

    Parameters
    ----------
    azimuth_deg, elevation_deg : array_like, broadcastable, degrees
        Azimuth counter-clockwise from +x, elevation up from the horizontal plane.
    distance : array_like, broadcastable, metres

    Returns
    -------
    np.ndarray
        ``[..., 3]`` float64 positions ``(x, y, z)`` in metres.
    """
    az = np.deg2rad(np.asarray(azimuth_deg, dtype=np.float64))
    el = np.deg2rad(np.asarray(elevation_deg, dtype=np.float64))
    r = np.asarray(distance, dtype=np.float64)
    az, el, r = np.broadcast_arrays(az, el, r)
    return np.stack([r * np.cos(el) * np.cos(az), r * np.cos(el) * np.sin(az), r * np.sin(el)], axis=-1)


def cartesian_to_dcase(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convert Cartesian vectors to DCASE (azimuth, elevation, distance).

    Parameters
    ----------
    xyz : array_like
        ``[..., 3]`` vectors in metres (relative to the array centre for labels).

    Returns
    -------
    azimuth_deg : np.ndarray
        ``[...]`` in (-180, 180], counter-clockwise from +x.
    elevation_deg : np.ndarray
        ``[...]`` in [-90, 90], up from the horizontal plane.
    distance : np.ndarray
        ``[...]`` Euclidean norm, metres. The zero vector maps to (0, 0, 0).
    """
    v = np.asarray(xyz, dtype=np.float64)
    if v.shape[-1:] != (3,):
        raise ValueError(f"xyz: expected shape [..., 3], got {list(v.shape)}")
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    horizontal = np.hypot(x, y)
    azimuth = np.rad2deg(np.arctan2(y, x))
    # arctan2 returns -180 for (-1, -0.0); the convention's interval is (-180, 180].
    azimuth = np.where(azimuth <= -180.0, azimuth + 360.0, azimuth)
    elevation = np.rad2deg(np.arctan2(z, horizontal))
    return azimuth, elevation, np.sqrt(horizontal**2 + z**2)


def tetra_array(center: Sequence[float] | np.ndarray = (0.0, 0.0, 0.0), radius: float = TETRA_RADIUS_M) -> np.ndarray:
    """Capsule positions of the DCASE tetrahedral array.

    Parameters
    ----------
    center : array_like, ``[3]``, metres
    radius : float, metres (default 0.042)

    Returns
    -------
    np.ndarray
        ``[4, 3]`` capsule positions in metres, in the order of :data:`TETRA_CAPSULES_DEG`.
    """
    c = np.asarray(center, dtype=np.float64)
    if c.shape != (3,):
        raise ValueError(f"center: expected shape [3], got {list(c.shape)}")
    if not radius > 0:
        raise ValueError(f"radius: must be positive, got {radius}")
    angles = np.asarray(TETRA_CAPSULES_DEG)
    return c + dcase_to_cartesian(angles[:, 0], angles[:, 1], radius)


@dataclass(frozen=True)
class MicArray:
    """Omnidirectional microphone array.

    Attributes
    ----------
    positions : np.ndarray
        ``[M, 3]`` capsule positions, metres (room coordinates).
    name : str
        Label stored in scene specs.
    """

    positions: np.ndarray
    name: str = "custom"

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] == 0:
            raise ValueError(f"positions: expected shape [M >= 1, 3], got {list(pos.shape)}")
        if not np.all(np.isfinite(pos)):
            raise ValueError("positions: must be finite")
        object.__setattr__(self, "positions", pos)

    @classmethod
    def from_positions(cls, positions: np.ndarray | Sequence[Sequence[float]], name: str = "custom") -> "MicArray":
        """Array from explicit ``[M, 3]`` capsule positions in metres."""
        return cls(np.asarray(positions, dtype=np.float64), name)

    @classmethod
    def tetrahedral(cls, center: Sequence[float] | np.ndarray = (0.0, 0.0, 0.0), radius: float = TETRA_RADIUS_M) -> "MicArray":
        """The DCASE tetrahedral array (4 capsules, radius 4.2 cm) centred at ``center``."""
        return cls(tetra_array(center, radius), "tetra")

    @property
    def num_mics(self) -> int:
        return int(self.positions.shape[0])

    @property
    def center(self) -> np.ndarray:
        """``[3]`` centroid of the capsules, metres (the reference point of labels)."""
        return self.positions.mean(axis=0)


@dataclass(frozen=True)
class Room:
    """Shoebox room ``[0, Lx] x [0, Ly] x [0, Lz]``.

    Attributes
    ----------
    dims : np.ndarray
        ``[3]`` side lengths (Lx, Ly, Lz), metres.
    """

    dims: np.ndarray = field(default_factory=lambda: np.array([6.0, 5.0, 3.0]))

    def __post_init__(self) -> None:
        d = np.asarray(self.dims, dtype=np.float64)
        if d.shape != (3,) or not np.all(np.isfinite(d)) or not np.all(d > 0):
            raise ValueError(f"room_dim: expected 3 positive side lengths in metres, got {np.asarray(self.dims).tolist()}")
        object.__setattr__(self, "dims", d)

    @property
    def center(self) -> np.ndarray:
        """``[3]`` centre of the room, metres."""
        return self.dims / 2.0

    @property
    def volume(self) -> float:
        """Volume in cubic metres."""
        return float(np.prod(self.dims))

    @property
    def wall_areas(self) -> np.ndarray:
        """``[6]`` wall areas in gpuRIR's wall order (x0, x1, y0, y1, z0, z1), square metres."""
        lx, ly, lz = self.dims
        return np.array([ly * lz, ly * lz, lx * lz, lx * lz, lx * ly, lx * ly])

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Whether points lie inside the room at least ``margin`` metres from every wall.

        Parameters
        ----------
        points : array_like, ``[..., 3]``, metres
        margin : float, metres

        Returns
        -------
        np.ndarray
            ``[...]`` bool.
        """
        p = np.asarray(points, dtype=np.float64)
        if p.shape[-1:] != (3,):
            raise ValueError(f"points: expected shape [..., 3], got {list(p.shape)}")
        return np.all((p >= margin) & (p <= self.dims - margin), axis=-1)
