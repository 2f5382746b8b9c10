"""Boards: columns by definition, stale rows apart, sorting direction, tables equal to the store."""

from __future__ import annotations

import csv
import io
import re

import pytest
from leaderboard_helpers import reported_folder as _reported_folder, variant

from asabench.benchmark.leaderboard.build import build_board, build_leaderboards, definition_matches, full_options
from asabench.benchmark.leaderboard.render import format_cell, render_csv, render_markdown
from asabench.benchmark.leaderboard.store import add_entry


def test_a_value_sits_only_in_the_column_of_its_definition(tmp_path):
    folder = _reported_folder(tmp_path, [
        "P,T,dcase row,DCASE-mode system,demo-multitask,learned,0.5,0.5,20,0.5,0.3,seld_mode=dcase2023 average=macro,\n",
        "P,T,deepasa row,DeepASA-mode system,demo-multitask,learned,0.4,0.6,10,0.6,0.2,seld_mode=deepasa average=macro,\n",
        "P,T,default row,Default-mode system,demo-multitask,learned,0.3,0.7,10,0.7,0.1,seld_mode=default,\n"])
    board = build_board("demo-multitask", suite="demo-multitask", reported=folder)
    rows = {r.system: r for r in board.rows}
    # dcase2023 is neither the `seld` (deepasa) nor the `seld-dcase` (default mode) entry's definition
    assert rows["DCASE-mode system"].cells == {}
    assert [(r.system, col) for r, col, _ in board.unmatched] == [("DCASE-mode system", c) for c in
                                                                  ("er_20", "f_20", "le_cd_deg", "lr_cd", "seld")]
    assert {k[0] for k in rows["DeepASA-mode system"].cells} == {"seld"}
    assert rows["DeepASA-mode system"].cells[("seld", "seld")].value == 0.2
    assert {k[0] for k in rows["Default-mode system"].cells} == {"seld-dcase"}
    text = render_markdown(board)
    assert "## Reported values without a matching column" in text
    assert "DCASE-mode system: seld = 0.3 under seld_mode=dcase2023 average=macro" in text


def test_the_shipped_multitask_rows_fill_the_deepasa_columns_only():
    board = build_board("asa2-multitask", suite="asa2-multitask")
    used = {k[0] for r in board.rows for k in r.cells}
    assert used == {"seld", "uss"} and not board.unmatched
    deft = next(r for r in board.rows if r.system == "DeFT-Mamba")
    assert deft.cells[("uss", "si_snr_i_ref0")].value == 10.4 and deft.gmacs_per_s == 83.8
    # STARSS23: the DeepASA row (deepasa mode) has its own column group, apart from the DCASE 2023 rows
    starss = build_board("starss23-seld")
    assert [g.key for g in starss.groups] == ["seld-dcase2023-macro", "seld-deepasa-macro"]
    assert starss.rows[-1].system == "DeepASA" and set(starss.rows[-1].cells) == {
        ("seld-deepasa-macro", m) for m in ("seld", "er", "f", "le", "lr")}


def test_the_mcfuss_board_is_reported_only_in_one_unstated_group_sorted_by_total():
    from asabench.benchmark.leaderboard.build import boards_to_build

    assert ("mcfuss-uss", None) in boards_to_build()
    board = build_board("mcfuss-uss")
    assert [(g.key, g.main_metric, g.higher_is_better) for g in board.groups] == [
        ("uss-unstated", "unstated_sep_total", True)]
    assert board.groups[0].metrics == ["unstated_sep_total", "unstated_sep_j2", "unstated_sep_j3", "unstated_sep_j4"]
    totals = [r.cells[("uss-unstated", "unstated_sep_total")].value for r in board.rows]
    assert totals == sorted(totals, reverse=True) and totals[0] == 18.5 and totals[-1] == 14.0
    assert board.rows[0].system == "DeepASA" and board.rows[0].cells[("uss-unstated", "unstated_sep_j3")].value == 19.1
    assert not board.unmatched and board.suite is None
    assert "names no metric" in board.title
    bytedance = board.rows[-1]
    assert (bytedance.params_m, bytedance.frozen_params_m, bytedance.gmacs_per_s) == (28.0, 80.7, 40.1)
    assert "| 7 | ByteDance-uss | reported | learned | 14 | 14.8 | 14.4 | 12.7 | 28 (+80.7) | 40.1 |" in \
        render_markdown(board)


def test_definition_matching_fills_scorer_defaults():
    opts = full_options("tse", {"target": "full", "spatial": True})
    assert opts["separation_convention"] == "pooled" and opts["spatial_definition"] == "m2m"
    assert definition_matches({"separation_convention": "pooled", "spatial_definition": "m2m"}, opts)
    assert not definition_matches({"separation_convention": "deepasa"}, opts)
    assert not definition_matches({"seld_mode": "deepasa"}, opts)  # a key the entry does not have


def test_stale_suite_or_manifest_rows_are_shown_apart(demo_entry, tmp_path):
    store = tmp_path / "results"
    add_entry(store, demo_entry)
    old_suite = variant(demo_entry, "Old suite")
    old_suite["suite"] = {**demo_entry["suite"], "sha256": "0" * 64}
    add_entry(store, old_suite)
    old_manifest = variant(demo_entry, "Old manifest")
    old_manifest["manifest"] = {**demo_entry["manifest"], "sha256": "1" * 64}
    add_entry(store, old_manifest)
    validation = variant(demo_entry, "On validation")
    validation["split"] = {**validation["split"], "name": "validation"}
    add_entry(store, validation)
    board = build_board("demo-multitask", suite="demo-multitask", store=store)
    assert [r.system for r in board.rows] == ["mixture x1"]
    assert {r.system: r.stale.split(" ")[0] for r in board.stale} == {"Old suite": "suite", "Old manifest": "manifest",
                                                                      "On validation": "split"}
    md = render_markdown(board)
    systems, stale = md.split("## Stale rows (not comparable)")
    assert "Old suite" not in systems and "Old manifest" not in systems
    assert "Old suite" in stale and "mixture x1" not in stale.split("## Plots")[0].split("|---")[1]
    assert "Old" not in render_csv(board) and "On validation" not in render_csv(board)


def _variant_store(demo_entry, tmp_path):
    store = tmp_path / "results"
    add_entry(store, variant(demo_entry, "Worse", shift=+0.05))
    add_entry(store, variant(demo_entry, "Better", shift=-0.05))
    add_entry(store, demo_entry)
    return store


def test_rows_sort_in_the_main_scores_direction(demo_entry, tmp_path):
    store = _variant_store(demo_entry, tmp_path)
    # demo-multitask's main score is SELD (lower is better): every value was moved by the same shift
    board = build_board("demo-multitask", suite="demo-multitask", store=store)
    assert [r.system for r in board.rows] == ["Better", "mixture x1", "Worse"]
    assert board.main.key == "seld" and not board.main.higher_is_better
    # a higher-is-better main score reverses the order: rank by SI-SNRi when that is the main entry
    from asabench.benchmark.leaderboard.build import sort_rows

    uss = next(g for g in board.groups if g.key == "uss")
    assert uss.higher_is_better
    assert [r.system for r in sort_rows(board.rows, [uss])] == ["Worse", "mixture x1", "Better"]


def _csv_records(text):
    return list(csv.DictReader(io.StringIO("".join(line + "\n" for line in text.splitlines()
                                                   if not line.startswith("#")))))


def test_csv_and_markdown_numbers_equal_the_store(demo_entry, tmp_path):
    store = _variant_store(demo_entry, tmp_path)
    out = tmp_path / "boards"
    build_leaderboards("demo-multitask", store=store, out=out, plots=False)
    records = {r["system"]: r for r in _csv_records((out / "demo-multitask.csv").read_text(encoding="utf-8"))}
    md = (out / "demo-multitask.md").read_text(encoding="utf-8")
    assert md.startswith("<!-- Generated by `asabench leaderboard build`")
    assert (out / "demo-multitask.csv").read_text().startswith("# Generated by")
    from asabench.benchmark.leaderboard.store import load_store

    n = 0
    for entry in load_store(store, "demo-multitask").values():
        rec = records[entry["system"]["name"]]
        md_row = next(line for line in md.splitlines() if line.startswith(f"| {rec['rank']} | {entry['system']['name']} |"))
        md_cells = [c.strip() for c in md_row.strip("|").split(" | ")]
        for eid, item in entry["entries"].items():
            for metric in ("seld", "er", "si_snr_i_ref0", "si_sdr_i"):
                stats = item["aggregate"].get(metric)
                if stats is None:
                    continue
                col = f"{eid}.{metric}"
                assert float(rec[col]) == stats["value"]
                assert float(rec[col + ".ci_low"]) == stats["ci_low"]
                assert float(rec[col + ".ci_high"]) == stats["ci_high"]
                from asabench.benchmark.leaderboard.build import Cell

                assert format_cell(metric, Cell(stats["value"], stats["ci_low"], stats["ci_high"])) in md_cells
                n += 1
    assert n == 3 * 6  # per system: seld and er of two SELD entries, one main score of two USS entries
    # the numbers in the markdown cell of SELD are rounded to 3 decimals
    assert re.search(r"\| 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] \|", md)


def test_the_page_has_no_external_reference(demo_entry, tmp_path):
    store = _variant_store(demo_entry, tmp_path)
    out = tmp_path / "boards"
    build_leaderboards("demo-multitask", store=store, out=out)
    page = (out / "demo-multitask.html").read_text(encoding="utf-8")
    assert "<svg" in page and "<!DOCTYPE svg" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?[a-z]+://""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?[a-z]+://", page, re.I)
    assert "<link" not in page and "@import" not in page
    assert (out / "demo-multitask.per-source-count.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pareto_front_by_hand():
    from asabench.benchmark.plots.leaderboard import pareto_front

    pts = [(1.0, 0.40), (2.0, 0.45), (3.0, 0.30), (3.0, 0.35), (10.0, 0.31), (20.0, 0.20)]
    assert pareto_front(pts, higher_is_better=False) == [0, 2, 5]
    assert pareto_front([(1.0, 5.0), (2.0, 4.0), (4.0, 9.0)], higher_is_better=True) == [0, 2]


def test_cli_add_and_build(demo_eval, tmp_path, capsys):
    from asabench.benchmark.cli import main

    store = tmp_path / "results"
    assert main(["leaderboard", "add", str(demo_eval), "--kind", "reference", "--store", str(store)]) == 0
    assert main(["leaderboard", "add", str(demo_eval), "--kind", "reference", "--store", str(store),
                 "--name", "Again"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "field 'predictions_sha256'" in err[0]
    assert main(["leaderboard", "add", str(demo_eval), "--store", str(store)]) == 2
    assert "--kind" in capsys.readouterr().err
    out = tmp_path / "boards"
    assert main(["leaderboard", "build", "--suite", "demo-multitask", "--store", str(store), "--out", str(out),
                 "--no-plots"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["demo-multitask.csv", "demo-multitask.html", "demo-multitask.md"]
    assert main(["leaderboard", "build", "--board", "nowhere", "--out", str(out)]) == 2


def test_oracle_and_hidden_test_rows_are_marked(demo_entry, tmp_path):
    store = tmp_path / "results"
    add_entry(store, variant(demo_entry, "Oracle", kind="oracle", shift=-0.5))
    hidden = variant(demo_entry, "On the hidden split")
    fingerprint = "sha256:" + "ab" * 32
    hidden["split"] = {**hidden["split"], "hidden": {"fingerprint": fingerprint}}
    add_entry(store, hidden)
    board = build_board("demo-multitask", suite="demo-multitask", store=store)
    assert {r.system: r.marks for r in board.rows} == {"Oracle": ["oracle"], "On the hidden split": ["hidden test"]}
    records = {r["system"]: r for r in _csv_records(render_csv(board))}
    assert records["On the hidden split"]["hidden_fingerprint"] == fingerprint
    assert records["Oracle"]["marks"] == "oracle"
    assert "| 1 | Oracle *(oracle)* |" in render_markdown(board)


def test_the_checked_in_boards_are_generated_from_the_checked_in_inputs(repo_root, tmp_path):
    """leaderboards/<board>.csv and .md are what `asabench leaderboard build` makes of today's
    reported tables, store and suites (rebuild after changing any of them)."""
    out = tmp_path / "boards"
    written = build_leaderboards(store=repo_root / "leaderboards" / "results", out=out, plots=False)
    assert {"asa2-multitask", "asa2-static-tse", "starss23-seld"} <= set(written)
    for board in written:
        for ext in ("csv", "md"):
            fresh = (out / f"{board}.{ext}").read_text(encoding="utf-8")
            shipped = (repo_root / "leaderboards" / f"{board}.{ext}").read_text(encoding="utf-8")
            if ext == "md":  # plots are left out here
                shipped = shipped.split("\n## Plots\n")[0].rstrip("\n") + "\n"
                fresh = fresh.rstrip("\n") + "\n"
            assert fresh == shipped, f"leaderboards/{board}.{ext} is out of date: run asabench leaderboard build"
