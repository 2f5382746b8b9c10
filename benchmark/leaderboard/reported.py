"""Reported rows: the papers' numbers, one CSV per paper table under ``leaderboards/reported``.

These files are the single source of published figures: the leaderboards take their
reported rows from them and :mod:`asabench.benchmark.fidelity` its parameter and MAC
figures. Each table file ``<id>.csv`` has one row per printed row with

* ``paper``, ``table``, ``row`` (the label as printed), ``system`` (the name shown on a
  board), ``boards`` (space-separated leaderboards the row appears on; empty: ablations
  kept for the fidelity table and the record), ``kind``;
* metric columns, each optionally with a ``<column>_pm`` column (the ± the paper prints);
* definition columns (``uss_definition``, ``seld_definition``, ``separation_definition``,
  ``spatial_definition``): per row, the scorer options that reproduce its numbers, as
  ``key=value`` pairs (``seld_mode=deepasa average=macro``). A row's values are only ever
  placed in a board column whose suite entry has the same options;
* ``params_m``, ``frozen_params_m`` (millions), ``gmacs`` (G) with ``macs_convention``
  (``per_second``: MAC per second of audio; ``torchinfo_clip``: torchinfo Mult-Adds of one
  4-s clip, SoundCompass's convention) and ``increment_over`` (the row whose figures these
  add to, for "+3.48 M" rows), ``notes``.

``columns.csv`` says what every metric column is: the asabench metric name, unit,
direction, which definition column governs it, and a description.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from asabench.simulate.io.config import ConfigError
from asabench.simulate.io.files import Pathlike

__all__ = ["REPORTED_DIR", "ReportedError", "Column", "Value", "Figures", "ReportedRow", "load_tables",
           "reported_rows", "reported_figures", "parse_definition", "MAC_CONVENTIONS"]

#: The reported tables of this checkout.
REPORTED_DIR = Path(__file__).resolve().parents[2] / "leaderboards" / "reported"
#: What a ``gmacs`` figure counts.
MAC_CONVENTIONS: dict[str, str] = {
    "per_second": "MAC per second of audio (G)",
    "torchinfo_clip": "torchinfo Mult-Adds of one 4-s clip (G)",
}
_FIXED = ("paper", "table", "row", "system", "boards", "kind")
_COMPLEXITY = ("params_m", "frozen_params_m", "gmacs", "macs_convention", "increment_over")
_COLUMNS_FILE = "columns.csv"


class ReportedError(ConfigError):
    """A reported table is malformed (``<file>: field '<column>' (line N): <what>``)."""


@dataclass(frozen=True)
class Column:
    """What one metric column of a reported table is."""

    column: str
    metric: str
    unit: str
    higher_is_better: bool
    definition_column: str
    description: str


@dataclass(frozen=True)
class Value:
    """One reported number with its definition."""

    column: Column
    value: float
    pm: float | None
    definition: dict[str, str]
    text: str = ""  # the cell as printed (trailing zeros kept)

    @property
    def metric(self) -> str:
        return self.column.metric


@dataclass(frozen=True)
class Figures:
    """A row's published size and cost."""

    params_m: float | None
    frozen_params_m: float | None
    gmacs: float | None
    convention: str | None
    increment_over: str | None
    source: str


@dataclass(frozen=True)
class ReportedRow:
    """One printed row of a paper table."""

    table_id: str
    paper: str
    table: str
    row: str
    system: str
    boards: tuple[str, ...]
    kind: str
    values: tuple[Value, ...]
    figures: Figures
    notes: str
    where: str

    @property
    def source(self) -> str:
        """``"<paper> <table>, '<row>'"``."""
        return f"{self.paper} {self.table}, '{self.row}'"

    def values_by_group(self) -> dict[str, list[Value]]:
        """Values keyed by their definition column (one group per scored task)."""
        out: dict[str, list[Value]] = {}
        for v in self.values:
            out.setdefault(v.column.definition_column, []).append(v)
        return out


def parse_definition(text: str, *, source: str | None = None, field: str | None = None) -> dict[str, str]:
    """``"seld_mode=deepasa average=macro"`` -> ``{"seld_mode": "deepasa", "average": "macro"}``."""
    out: dict[str, str] = {}
    for part in text.split():
        key, sep, value = part.partition("=")
        if not sep or not key or not value:
            raise ReportedError(f"expected key=value pairs, got {part!r}", source=source, field=field)
        out[key] = value
    return out


def _number(text: str, where: str, field: str) -> float | None:
    if text.strip() == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise ReportedError(f"expected a number or an empty cell, got {text!r}", source=where, field=field) from None


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportedError(f"cannot read: {exc}", source=path) from None
    return list(csv.DictReader(io.StringIO(text)))


def _columns(folder: Path) -> dict[tuple[str, str], Column]:
    path = folder / _COLUMNS_FILE
    out: dict[tuple[str, str], Column] = {}
    for line, rec in enumerate(_read_csv(path), start=2):
        where = f"{path}:{line}"
        for key in ("table", "column", "metric", "unit", "higher_is_better", "definition_column", "description"):
            if not (rec.get(key) or "").strip():
                raise ReportedError("required cell is empty", source=where, field=key)
        if rec["higher_is_better"] not in ("true", "false"):
            raise ReportedError(f"expected true or false, got {rec['higher_is_better']!r}", source=where,
                                field="higher_is_better")
        col = Column(rec["column"], rec["metric"], rec["unit"], rec["higher_is_better"] == "true",
                     rec["definition_column"], rec["description"])
        for table in rec["table"].split():
            out[(table, rec["column"])] = col
    return out


def _parse_table(path: Path, columns: Mapping[tuple[str, str], Column]) -> list[ReportedRow]:
    table_id = path.stem
    records = _read_csv(path)
    header = list(records[0].keys()) if records else []
    for key in _FIXED:
        if key not in header:
            raise ReportedError("required column is missing", source=path, field=key)
    metric_cols = [h for h in header if (table_id, h) in columns]
    known = set(_FIXED) | set(_COMPLEXITY) | {"notes"} | set(metric_cols) | {f"{c}_pm" for c in metric_cols}
    known |= {columns[(table_id, c)].definition_column for c in metric_cols}
    for h in header:
        if h not in known:
            raise ReportedError(f"column is not described in {_COLUMNS_FILE} (nor a fixed column)",
                                source=path, field=h)
    rows = []
    for line, rec in enumerate(records, start=2):
        where = f"{path}:{line}"
        for key in ("paper", "table", "row", "system", "kind"):
            if not rec[key].strip():
                raise ReportedError("required cell is empty", source=where, field=key)
        values = []
        for c in metric_cols:
            v = _number(rec[c], where, c)
            pm = _number(rec.get(f"{c}_pm", "") or "", where, f"{c}_pm")
            if v is None:
                if pm is not None:
                    raise ReportedError("a ± without its value", source=where, field=f"{c}_pm")
                continue
            col = columns[(table_id, c)]
            definition_text = (rec.get(col.definition_column) or "").strip()
            if not definition_text:
                raise ReportedError(f"column {c!r} has a value but the row names no definition",
                                    source=where, field=col.definition_column)
            values.append(Value(col, v, pm, parse_definition(definition_text, source=where,
                                                             field=col.definition_column), rec[c].strip()))
        convention = (rec.get("macs_convention") or "").strip() or None
        gmacs = _number(rec.get("gmacs", "") or "", where, "gmacs")
        if gmacs is not None and convention not in MAC_CONVENTIONS:
            raise ReportedError(f"expected one of {', '.join(MAC_CONVENTIONS)} for a MAC figure, got "
                                f"{convention!r}", source=where, field="macs_convention")
        row_label = rec["row"].strip()
        figures = Figures(_number(rec.get("params_m", "") or "", where, "params_m"),
                          _number(rec.get("frozen_params_m", "") or "", where, "frozen_params_m"),
                          gmacs, convention, (rec.get("increment_over") or "").strip() or None,
                          f"{rec['paper']} {rec['table']}, '{row_label}'")
        rows.append(ReportedRow(table_id, rec["paper"].strip(), rec["table"].strip(), row_label,
                                rec["system"].strip(), tuple(rec["boards"].split()), rec["kind"].strip(),
                                tuple(values), figures, (rec.get("notes") or "").strip(), where))
    labels = [r.row for r in rows]
    for r in rows:
        if labels.count(r.row) > 1:
            raise ReportedError(f"row label {r.row!r} appears twice", source=r.where, field="row")
        if r.figures.increment_over is not None and r.figures.increment_over not in labels:
            raise ReportedError(f"no row {r.figures.increment_over!r} in this table", source=r.where,
                                field="increment_over")
    return rows


@lru_cache(maxsize=8)
def _load(folder: str) -> tuple[ReportedRow, ...]:
    root = Path(folder)
    columns = _columns(root)
    rows: list[ReportedRow] = []
    for path in sorted(root.glob("*.csv")):
        if path.name != _COLUMNS_FILE:
            rows.extend(_parse_table(path, columns))
    return tuple(rows)


def load_tables(folder: Pathlike | None = None) -> tuple[ReportedRow, ...]:
    """Every reported row of every table in ``folder`` (default :data:`REPORTED_DIR`), validated."""
    return _load(str(Path(folder if folder is not None else REPORTED_DIR).resolve()))


def reported_rows(suite_or_board: Any, folder: Pathlike | None = None) -> list[ReportedRow]:
    """The reported rows shown on a board: a board name, or a suite (its ``leaderboard``)."""
    board = getattr(suite_or_board, "leaderboard", suite_or_board)
    return [r for r in load_tables(folder) if board in r.boards]


def reported_figures(system: str, source: str, folder: Pathlike | None = None) -> Figures:
    """The published parameters/MACs of ``system`` (its ``system`` name or printed ``row``
    label) in table ``source`` (a table id such as ``"deepasa-table9"``).

    Raises
    ------
    KeyError
        No such row (naming the table and the labels it has).
    """
    rows = [r for r in load_tables(folder) if r.table_id == source]
    if not rows:
        raise KeyError(f"no reported table {source!r} in {folder or REPORTED_DIR}")
    matches = [r for r in rows if r.system == system] or [r for r in rows if r.row == system]
    if len(matches) != 1:
        raise KeyError(f"{source}: {len(matches)} rows named {system!r} (systems: "
                       f"{', '.join(r.system for r in rows)})")
    return matches[0].figures
