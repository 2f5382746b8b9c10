"""Reported tables: the single source of paper rows, checked against the paper's own arithmetic."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from asabench.benchmark import fidelity
from asabench.benchmark.leaderboard.reported import (REPORTED_DIR, ReportedError, load_tables, reported_figures,
                                                     reported_rows)


def _csv_rows():
    for path in sorted(REPORTED_DIR.glob("*.csv")):
        if path.name != "columns.csv":
            with path.open(encoding="utf-8") as handle:
                for rec in csv.DictReader(handle):
                    yield path.stem, rec


def test_fidelity_figures_equal_the_reported_csv():
    """Every paper figure of the fidelity table is the CSV's cell of the row its source names
    (figures from the released code's layer lists are not paper figures; a row without any
    figure has nothing to compare)."""
    by_source = {f"{r['paper']} {r['table']}, '{r['row']}'": r for _, r in _csv_rows()}
    checked = 0
    for row in fidelity.ROWS:
        for rep in (row.reported, *row.also):
            if rep.source.startswith("released code") or (rep.params_m is None and rep.gmacs is None):
                continue
            key = next(k for k in by_source if rep.source.startswith(k))
            rec = by_source[key]
            assert rep.params_m == (float(rec["params_m"]) if rec["params_m"] else None)
            assert rep.gmacs == (float(rec["gmacs"]) if rec["gmacs"] else None)
            assert rep.convention == rec["macs_convention"]
            checked += 1
    assert checked >= 7


def _half_ulp(text: str) -> float:
    """Half a unit of the last printed digit (the rounding error of a printed value)."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0 ** -decimals


def test_seld_scores_are_the_mean_of_their_four_terms_within_print_rounding():
    """SELD = mean(ER, 1 - F, LE / 180, 1 - LR) to within the rounding of the printed digits.

    Catches a transcription or percentage slip. One printed row is inconsistent in the paper
    itself (CST-former2 on STARSS23: its terms give 0.306, printed 0.301; noted in its CSV row).
    """
    off = []
    checked: dict[str, int] = {}
    for table, rec in _csv_rows():
        cells = [rec.get(k, "") for k in ("er_20", "f_20", "le_cd_deg", "lr_cd", "seld")]
        if not all(cells):
            continue
        checked[table] = checked.get(table, 0) + 1
        er, f, le, lr, seld = map(float, cells)
        # the slides print ER, F and LR as percentages: one more digit than our fractions
        tol = (sum(_half_ulp(c) for c in cells[:2] + cells[3:4]) + _half_ulp(cells[2]) / 180) / 4 + _half_ulp(cells[4])
        if abs(seld - (er + 1 - f + le / 180 + 1 - lr) / 4) > tol + 1e-12:
            off.append((table, rec["row"]))
    assert off == [("deepasa-starss23", "CST-former2")]
    assert checked == {"deepasa-starss23": 7, "deepasa-table1": 12, "deepasa-table2": 5, "deepasa-table9": 7}


def _row(table_id: str, row: str):
    return next(r for r in load_tables() if r.table_id == table_id and r.row == row)


def _printed(r) -> dict[str, tuple[str, float | None]]:
    return {v.column.column: (v.text, v.pm) for v in r.values}


def _size(r) -> tuple:
    f = r.figures
    return f.params_m, f.frozen_params_m, f.gmacs, f.convention


def test_table2_repeats_table1_and_table9_rows_it_shares():
    """Table 2's first row is Table 1's time-variant window row (the model without CoI), its last
    Table 9's chain-of-inference row with the same ±, cell by cell as printed."""
    first, tv = _row("deepasa-table2", "without chain-of-inference"), _row("deepasa-table1",
                                                                           "Dynamic STFT: (+) Time-variant window")
    assert _printed(first) == _printed(tv) and len(first.values) == 7
    assert (first.figures.params_m, first.figures.frozen_params_m, first.figures.gmacs) == (8.2, 96.8, 99.1)
    assert _size(first) == _size(tv) and first.system == tv.system == "DeepASA"
    last, coi = _row("deepasa-table2", "+ Chain-of-inference"), _row("deepasa-table9", "(+) Chain-of-inference")
    assert _printed(last) == _printed(coi)
    assert {c: pm for c, (_, pm) in _printed(last).items()} == {
        "si_sdri_db": 0.1, "sdri_db": 0.1, "er_20": 0.004, "f_20": 0.003, "le_cd_deg": 0.3, "lr_cd": 0.004,
        "seld": 0.001}
    assert _size(last) == _size(coi) == _size(_row("deepasa-table1", "CoI: (+) Chain-of-inference"))
    assert [r.boards for r in load_tables() if r.table_id == "deepasa-table2"] == [()] * 5  # ablations, as Table 1


def test_mcfuss_total_is_the_mean_of_the_source_counts_within_print_rounding():
    """Every printed Total equals mean(J=2, J=3, J=4) to within the rounding of the printed digits
    (so either the test set has as many mixtures of each count or the Total is that mean)."""
    rows = [r for r in load_tables() if r.table_id == "deepasa-mcfuss"]
    assert [r.system for r in rows] == ["ByteDance-uss", "MC-BSRNN", "TF-GridNet", "DeFTAN-II", "SpatialNet",
                                        "DeFT-Mamba", "DeepASA"]
    for r in rows:
        cells = _printed(r)
        j = [float(cells[c][0]) for c in ("j2_db", "j3_db", "j4_db")]
        total = cells["total_db"][0]
        tol = sum(_half_ulp(cells[c][0]) for c in ("j2_db", "j3_db", "j4_db")) / 3 + _half_ulp(total)
        assert abs(float(total) - sum(j) / 3) <= tol + 1e-12, r.row
        assert {v.definition["metric"] for v in r.values} == {"unstated"} and r.boards == ("mcfuss-uss",)
    deepasa = reported_figures("DeepASA", "deepasa-mcfuss")
    assert (deepasa.params_m, deepasa.gmacs, deepasa.convention) == (3.8, 84.0, "per_second")


def test_boards_and_figures():
    assert [r.system for r in reported_rows("starss23-seld")][-1] == "DeepASA"
    assert len(reported_rows("asa2-multitask")) == 11
    assert {r.system for r in reported_rows("asa2-uss")} >= {"TF-GridNet", "DeepASA"}
    assert "EINV2" not in {r.system for r in reported_rows("asa2-uss")}
    fig = reported_figures("DeepASA", "deepasa-table9")
    assert (fig.params_m, fig.frozen_params_m, fig.gmacs, fig.convention) == (8.2, 96.8, 99.1, "per_second")
    x2 = reported_figures("refine iteratively (×2)", "soundcompass-table1")
    assert x2.increment_over == "add an SED decoder"
    with pytest.raises(KeyError, match="soundcompass-table1"):
        reported_figures("nobody", "soundcompass-table1")
    coi = next(r for r in reported_rows("asa2-multitask") if r.system == "DeepASA + chain-of-inference")
    assert {x.metric: x.pm for x in coi.values}["er"] == 0.004


def _copy_tables(tmp_path: Path) -> Path:
    folder = tmp_path / "reported"
    folder.mkdir()
    for name in ("columns.csv", "deepasa-starss23.csv"):
        (folder / name).write_text((REPORTED_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    return folder


@pytest.mark.parametrize("edit, field, line", [
    (lambda t: t.replace("0.59,0.426", "0.59,high"), "f_20", 2),
    (lambda t: t.replace(",0.337,0.631,9.8,0.746,0.253,seld_mode=deepasa average=macro",
                         ",0.337,0.631,9.8,0.746,0.253,"), "seld_definition", 8),
    (lambda t: t.replace("seld_definition,notes", "seld_definition,extra").replace("rank) +ensemble", "x"),
     "extra", None),
    (lambda t: t.replace("0.26,seld_mode=dcase2023 average=macro", "0.26,seld_mode=dcase2023 macro"),
     "seld_definition", 7),
])
def test_a_malformed_table_names_file_line_and_column(tmp_path, edit, field, line):
    folder = _copy_tables(tmp_path)
    path = folder / "deepasa-starss23.csv"
    path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ReportedError) as info:
        load_tables(folder)
    assert info.value.field == field
    assert info.value.source == (f"{path}:{line}" if line else str(path))
