"""Read, validate and write DCASE SELD label/prediction CSV files.

Four row layouts exist, all without a header and with one row per active event per frame:

* polar ``frame,class,track,azimuth,elevation`` (degrees, DCASE 2022/2023 labels),
* polar with distance ``frame,class,track,azimuth,elevation,distance`` (DCASE 2024; our
  dataset labels, distance in centimetres),
* Cartesian ``frame,class,track,x,y,z`` (DCASE 2023 baseline output),
* Cartesian with distance ``frame,class,track,x,y,z,distance`` (DCASE 2024 output).

Angles follow the DCASE convention: azimuth counter-clockwise from +x, elevation up from the
horizontal plane, ``x = cos(el) cos(az)``, ``y = cos(el) sin(az)``, ``z = sin(el)``.
Six-field rows are ambiguous; ``coords="auto"`` reads them as Cartesian when every
coordinate lies in [-1.5, 1.5] (a multi-ACCDOA output never leaves that range, whereas
polar degrees with a centimetre distance practically always do); pass ``coords`` to decide.

Every problem is reported with the file, the 1-based line and the field, and a reader can
collect all of them (:func:`scan_dcase_csv`) instead of stopping at the first.
Writes are atomic (:func:`asabench.simulate.io.files.atomic_write_text`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

import numpy as np

from asabench.simulate.io.files import atomic_write_text

Pathlike = Union[str, "os.PathLike[str]"]
Coords = Literal["auto", "polar", "cartesian"]

_FIELDS_POLAR = ("frame", "class", "track", "azimuth", "elevation", "distance")
_FIELDS_CART = ("frame", "class", "track", "x", "y", "z", "distance")
#: A Cartesian direction shorter than this cannot be normalised (no direction).
MIN_VECTOR_NORM: float = 1e-9
_CART_AUTO_LIMIT = 1.5


class DcaseFormatError(ValueError):
    """One or more problems in a DCASE CSV; ``problems`` lists each as ``file:line: field 'x': why``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[:20]
        more = len(self.problems) - len(shown)
        text = "\n".join(shown) + (f"\n... and {more} more problems" if more > 0 else "")
        super().__init__(text)


@dataclass(frozen=True)
class DcaseLabels:
    """Events of one scene, one row per active event per label frame.

    Attributes
    ----------
    frame : [N] int64 label-frame index (100 ms frames in DCASE), >= 0.
    cls : [N] int64 class id.
    track : [N] int64 track / source index.
    xyz : [N, 3] float64 unit direction vectors (DCASE axes).
    distance : [N] float64 source distance (file unit, centimetres in our datasets), or
        ``None`` when the file carries no distance.
    """

    frame: np.ndarray
    cls: np.ndarray
    track: np.ndarray
    xyz: np.ndarray
    distance: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.frame)
        if not (len(self.cls) == len(self.track) == n and self.xyz.shape == (n, 3)):
            raise ValueError("DcaseLabels fields must share their first dimension "
                             f"(frame {n}, class {len(self.cls)}, track {len(self.track)}, "
                             f"xyz {self.xyz.shape})")
        if self.distance is not None and len(self.distance) != n:
            raise ValueError(f"distance has {len(self.distance)} rows, expected {n}")

    @property
    def num_rows(self) -> int:
        return int(len(self.frame))

    @property
    def azimuth_deg(self) -> np.ndarray:
        """[N] azimuth in degrees, (-180, 180]."""
        return np.degrees(np.arctan2(self.xyz[:, 1], self.xyz[:, 0]))

    @property
    def elevation_deg(self) -> np.ndarray:
        """[N] elevation in degrees, [-90, 90]."""
        return np.degrees(np.arctan2(self.xyz[:, 2], np.hypot(self.xyz[:, 0], self.xyz[:, 1])))

    @classmethod
    def empty(cls, with_distance: bool = False) -> "DcaseLabels":
        """A scene without events."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                   np.zeros((0, 3)), np.zeros(0) if with_distance else None)

    @classmethod
    def from_polar(cls, frame: np.ndarray, class_id: np.ndarray, track: np.ndarray,
                   azimuth_deg: np.ndarray, elevation_deg: np.ndarray,
                   distance: np.ndarray | None = None) -> "DcaseLabels":
        """Build from polar angles in degrees (DCASE convention)."""
        return cls(np.asarray(frame, np.int64).reshape(-1), np.asarray(class_id, np.int64).reshape(-1),
                   np.asarray(track, np.int64).reshape(-1),
                   polar_to_unit(np.asarray(azimuth_deg, np.float64), np.asarray(elevation_deg, np.float64)),
                   None if distance is None else np.asarray(distance, np.float64).reshape(-1))

    @classmethod
    def from_cartesian(cls, frame: np.ndarray, class_id: np.ndarray, track: np.ndarray,
                       xyz: np.ndarray, distance: np.ndarray | None = None) -> "DcaseLabels":
        """Build from (not necessarily unit) direction vectors ``xyz: [N, 3]``; they are normalised."""
        xyz = np.asarray(xyz, np.float64).reshape(-1, 3)
        norm = np.linalg.norm(xyz, axis=1, keepdims=True)
        if np.any(norm < MIN_VECTOR_NORM):
            raise ValueError("a direction vector has (near) zero length")
        return cls(np.asarray(frame, np.int64).reshape(-1), np.asarray(class_id, np.int64).reshape(-1),
                   np.asarray(track, np.int64).reshape(-1), xyz / norm,
                   None if distance is None else np.asarray(distance, np.float64).reshape(-1))

    def select(self, mask: np.ndarray) -> "DcaseLabels":
        """Rows where the boolean ``mask: [N]`` is true."""
        return DcaseLabels(self.frame[mask], self.cls[mask], self.track[mask], self.xyz[mask],
                           None if self.distance is None else self.distance[mask])


def polar_to_unit(azimuth_deg: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
    """Unit vectors ``[..., 3]`` from azimuth/elevation in degrees (DCASE convention)."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    cos_el = np.cos(el)
    return np.stack([cos_el * np.cos(az), cos_el * np.sin(az), np.sin(el)], axis=-1)


# ----------------------------------------------------------------------------- reading


def _layout(n_fields: int, coords: Coords) -> tuple[str, bool] | None:
    """(coordinate system, has distance) of a row with ``n_fields`` fields, or None if impossible."""
    if n_fields == 5:
        return ("polar", False) if coords in ("auto", "polar") else None
    if n_fields == 7:
        return ("cartesian", True) if coords in ("auto", "cartesian") else None
    if n_fields == 6:
        if coords == "polar":
            return "polar", True
        if coords == "cartesian":
            return "cartesian", False
        return None  # decided per file by _decide_six
    return None


def scan_dcase_csv(path: Pathlike, *, num_classes: int | None = None,
                   coords: Coords = "auto", name: str | None = None
                   ) -> tuple[DcaseLabels | None, list[str]]:
    """Read a DCASE CSV, collecting every problem instead of raising.

    Parameters
    ----------
    path : the CSV file.
    num_classes : class ids must lie in ``0..num_classes-1`` (unchecked when None).
    coords : ``"auto"``, ``"polar"`` or ``"cartesian"`` (see the module docstring).
    name : how the file is named in messages (default: ``path``).

    Returns
    -------
    (labels, problems) : ``labels`` is None when any problem was found; each problem reads
    ``<name>:<line>: field '<field>': <why>``.
    """
    where = str(path) if name is None else name
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        return None, [f"{where}: cannot read: {err.strerror or err}"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, [f"{where}: not UTF-8 text ({err.reason} at byte {err.start})"]
    return parse_dcase_text(text, num_classes=num_classes, coords=coords, name=where)


def parse_dcase_text(text: str, *, num_classes: int | None = None, coords: Coords = "auto",
                     name: str = "<text>") -> tuple[DcaseLabels | None, list[str]]:
    """Parse DCASE CSV text; see :func:`scan_dcase_csv` for arguments and return value."""
    problems: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        fields = [f.strip() for f in stripped.split(",")]
        if not rows and not problems and fields[0].lower() == "frame":
            continue  # tolerate one header row
        rows.append((number, fields))

    counts = {len(f) for _, f in rows}
    six_as = "polar" if coords == "polar" else "cartesian" if coords == "cartesian" else None
    if 6 in counts and six_as is None:
        six_as = _decide_six(rows)
    layouts: set[tuple[str, bool]] = set()
    parsed: list[tuple[int, int, int, float, float, float, float, bool]] = []
    # (frame, class, track, a, b, c, distance, polar?) with c = nan for polar rows
    for number, fields in rows:
        n = len(fields)
        if n == 6:
            layout = (six_as, six_as == "polar")
        else:
            layout = _layout(n, coords)
        if layout is None:
            problems.append(f"{name}:{number}: expected 5, 6 or 7 comma-separated fields "
                            f"(frame,class,track,azimuth,elevation[,distance] or "
                            f"frame,class,track,x,y,z[,distance]), got {n}")
            continue
        system, has_dist = layout
        names = _FIELDS_POLAR if system == "polar" else _FIELDS_CART
        ok = True
        ints: list[int] = []
        for pos in range(3):
            value = _parse_int(fields[pos])
            if value is None:
                problems.append(f"{name}:{number}: field '{names[pos]}': expected an integer, "
                                f"got {fields[pos]!r}")
                ok = False
                continue
            ints.append(value)
        if ok:
            if ints[0] < 0:
                problems.append(f"{name}:{number}: field 'frame': negative frame index {ints[0]}")
                ok = False
            if ints[1] < 0 or (num_classes is not None and ints[1] >= num_classes):
                bound = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
                problems.append(f"{name}:{number}: field 'class': class id {ints[1]} out of range "
                                f"({bound})")
                ok = False
            if ints[2] < 0:
                problems.append(f"{name}:{number}: field 'track': negative track index {ints[2]}")
                ok = False
        n_coord = 2 if system == "polar" else 3
        floats: list[float] = []
        for pos in range(3, 3 + n_coord + int(has_dist)):
            fname = names[pos] if pos < 3 + n_coord else "distance"
            try:
                value = float(fields[pos])
            except ValueError:
                problems.append(f"{name}:{number}: field '{fname}': expected a number, "
                                f"got {fields[pos]!r}")
                ok = False
                continue
            if not math.isfinite(value):
                problems.append(f"{name}:{number}: field '{fname}': non-finite value {fields[pos]!r}")
                ok = False
                continue
            floats.append(value)
        if not ok:
            continue
        if system == "cartesian" and math.sqrt(sum(v * v for v in floats[:3])) < MIN_VECTOR_NORM:
            problems.append(f"{name}:{number}: field 'x,y,z': zero-length direction vector")
            continue
        if system == "polar" and abs(floats[1]) > 90.0:
            problems.append(f"{name}:{number}: field 'elevation': {floats[1]} outside [-90, 90] degrees")
            continue
        if has_dist and floats[-1] < 0:
            problems.append(f"{name}:{number}: field 'distance': negative distance {floats[-1]}")
            continue
        layouts.add((system, has_dist))
        if system == "polar":
            a, b, c = floats[0], floats[1], math.nan
        else:
            a, b, c = floats[0], floats[1], floats[2]
        parsed.append((ints[0], ints[1], ints[2], a, b, c,
                       floats[-1] if has_dist else math.nan, system == "polar"))
    if len({d for _, d in layouts}) > 1:
        problems.append(f"{name}: rows mix files with and without a distance column")
    if problems:
        return None, problems
    if not parsed:
        return DcaseLabels.empty(with_distance=False), []
    arr = np.asarray([p[:7] for p in parsed], dtype=np.float64)
    is_polar = np.asarray([p[7] for p in parsed], dtype=bool)
    xyz = np.empty((len(parsed), 3))
    xyz[is_polar] = polar_to_unit(arr[is_polar, 3], arr[is_polar, 4])
    cart = arr[~is_polar, 3:6]
    xyz[~is_polar] = cart / np.linalg.norm(cart, axis=1, keepdims=True)
    has_distance = next(iter(layouts))[1]
    return DcaseLabels(arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64),
                       arr[:, 2].astype(np.int64), xyz,
                       arr[:, 6].copy() if has_distance else None), []


def _parse_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)  # "3.0" is accepted, "3.5" is not
    except ValueError:
        return None
    return int(value) if math.isfinite(value) and value.is_integer() else None


def _decide_six(rows: list[tuple[int, list[str]]]) -> str:
    for _, fields in rows:
        if len(fields) != 6:
            continue
        try:
            values = [abs(float(v)) for v in fields[3:6]]
        except ValueError:
            continue
        if any(not math.isfinite(v) or v > _CART_AUTO_LIMIT for v in values):
            return "polar"
    return "cartesian"


def read_dcase_csv(path: Pathlike, *, num_classes: int | None = None,
                   coords: Coords = "auto") -> DcaseLabels:
    """Read a DCASE CSV; raise :class:`DcaseFormatError` listing every problem.

    See :func:`scan_dcase_csv` for the arguments.
    """
    labels, problems = scan_dcase_csv(path, num_classes=num_classes, coords=coords)
    if problems:
        raise DcaseFormatError(problems)
    assert labels is not None
    return labels


# ----------------------------------------------------------------------------- writing


def format_dcase_csv(labels: DcaseLabels, *, coords: Literal["polar", "cartesian"] = "polar",
                     distance: bool | None = None, integer_degrees: bool = False) -> str:
    """DCASE CSV text of ``labels``.

    Parameters
    ----------
    coords : ``"polar"`` writes azimuth/elevation in degrees, ``"cartesian"`` unit x, y, z.
    distance : write the distance column (default: when ``labels`` has one).
    integer_degrees : round polar angles (and distances) to integers, as DCASE labels do.
    """
    if distance is None:
        distance = labels.distance is not None
    if distance and labels.distance is None:
        raise ValueError("distance column requested but the labels carry no distance")
    cols: list[np.ndarray] = [labels.frame.astype(np.float64), labels.cls.astype(np.float64),
                              labels.track.astype(np.float64)]
    if coords == "polar":
        az, el = labels.azimuth_deg, labels.elevation_deg
        cols += [np.round(az), np.round(el)] if integer_degrees else [az, el]
    elif coords == "cartesian":
        cols += [labels.xyz[:, 0], labels.xyz[:, 1], labels.xyz[:, 2]]
    else:
        raise ValueError(f"coords must be 'polar' or 'cartesian', got {coords!r}")
    if distance:
        assert labels.distance is not None
        cols.append(np.round(labels.distance) if integer_degrees else labels.distance)
    int_cols = 3 + (2 if coords == "polar" and integer_degrees else 0)
    lines = []
    table = np.stack(cols, axis=1) if cols else np.zeros((0, 0))
    for row in table:
        parts = [str(int(v)) for v in row[:int_cols]]
        rest = row[int_cols:]
        if distance and integer_degrees:
            parts += [repr(float(v)) for v in rest[:-1]] + [str(int(rest[-1]))]
        else:
            parts += [repr(float(v)) for v in rest]
        lines.append(",".join(parts))
    return "\n".join(lines) + ("\n" if lines else "")


def write_dcase_csv(path: Pathlike, labels: DcaseLabels, *,
                    coords: Literal["polar", "cartesian"] = "polar",
                    distance: bool | None = None, integer_degrees: bool = False) -> Path:
    """Write ``labels`` as a DCASE CSV atomically; see :func:`format_dcase_csv`. Returns the path."""
    path = Path(path)
    atomic_write_text(path, format_dcase_csv(labels, coords=coords, distance=distance,
                                             integer_degrees=integer_degrees))
    return path
