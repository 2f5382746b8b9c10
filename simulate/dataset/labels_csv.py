"""Read and write the ``labels.csv`` of an asabench scene (DCASE 2024 polar rows).

Rows have no header: ``frame,class,track,azimuth,elevation,distance`` with 100 ms frames
from 0, DCASE class order, ``track`` = source index, azimuth/elevation in integer degrees in
the DCASE convention (azimuth counter-clockwise from +x in (-180, 180], elevation up from the
horizontal plane in [-90, 90]) and distance in integer centimetres, one row per active
frame per source (``docs/dataset-format.md``).

:func:`read_label_csv` is the one parser of dataset labels: the loader
(:class:`~asabench.simulate.dataset.reader.DatasetReader`), the scorer's references and the
ASA2 export all read them through it. ``asabench.benchmark.io.dcase_csv`` reads a different
input, system *predictions* in any DCASE layout (5/6/7 fields, polar or Cartesian, float
values, a header row), and reports every problem of a submission at once; it is not used
for dataset files, which must be exactly this strict integer format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asabench.simulate.dataset.format import NUM_CLASSES, DatasetFormatError, Pathlike, atomic_write_text

#: Column names of a label row, in file order.
LABEL_FIELDS: tuple[str, ...] = ("frame", "class", "track", "azimuth", "elevation", "distance")

_RANGES = {"frame": (0, None), "class": (0, NUM_CLASSES - 1), "track": (0, None),
           "azimuth": (-180, 180), "elevation": (-90, 90), "distance": (0, None)}


def read_label_csv(path: Pathlike) -> np.ndarray:
    """Read and validate a scene's ``labels.csv``.

    Parameters
    ----------
    path : the CSV file.

    Returns
    -------
    np.ndarray
        ``[n_rows, 6]`` int64, columns :data:`LABEL_FIELDS`, in file order.

    Raises
    ------
    DatasetFormatError
        Naming the file, the 1-based line and the field of the first bad value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetFormatError(path, "missing") from None
    rows: list[list[int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(LABEL_FIELDS):
            raise DatasetFormatError(path, f"expected {len(LABEL_FIELDS)} fields "
                                     f"({','.join(LABEL_FIELDS)}), got {len(cells)}", line=number)
        row = []
        for name, cell in zip(LABEL_FIELDS, cells):
            try:
                value = int(cell)
            except ValueError:
                raise DatasetFormatError(path, f"expected an integer, got {cell!r}", line=number,
                                         field=name) from None
            lo, hi = _RANGES[name]
            if value < lo or (hi is not None and value > hi):
                raise DatasetFormatError(path, f"{value} outside [{lo}, {hi if hi is not None else 'inf'}]",
                                         line=number, field=name)
            row.append(value)
        rows.append(row)
    return np.asarray(rows, dtype=np.int64).reshape(-1, len(LABEL_FIELDS))


def format_label_csv(rows: np.ndarray) -> str:
    """Text of a ``labels.csv`` from ``[n_rows, 6]`` integer rows (:data:`LABEL_FIELDS`)."""
    arr = np.asarray(rows)
    if arr.ndim != 2 or arr.shape[1] != len(LABEL_FIELDS):
        raise ValueError(f"rows: expected shape [n, {len(LABEL_FIELDS)}], got {list(arr.shape)}")
    return "".join(",".join(str(int(v)) for v in row) + "\n" for row in arr)


def write_label_csv(path: Pathlike, rows: np.ndarray) -> None:
    """Atomically write ``[n_rows, 6]`` integer rows as a ``labels.csv``."""
    atomic_write_text(path, format_label_csv(rows))
