"""Fidelity table: paper DeepASA sizes against the released-code counts; unexplained gaps flagged."""

from __future__ import annotations

from asabench.benchmark.fidelity import (ROWS, TORCHINFO_CLIP, FidelityRow, Reported, _module_section, build_table,
                                         measure_row, module_table, render_markdown)


def test_paper_deepasa_matches_the_released_code_counts() -> None:
    base = measure_row(FidelityRow("DeepASA", "deepasa", Reported(5.46, None, "released code")))
    coi = measure_row(FidelityRow("DeepASA + CoI", "deepasa-coi", Reported(8.86, None, "released code")))
    # the released code's printed layer lists: 5,455,704 and 8,857,318 (only our SED decoders differ)
    assert abs(base["params_m"] - 5.46) / 5.46 < 0.01
    assert abs(coi["params_m"] - 8.86) / 8.86 < 0.01
    assert base["frozen_m"] == 0
    # the seed's without-ATST cost is 91.0 G MAC/s; ours is counted, not fitted, and depends on
    # the counting convention and on how the Mamba2 scan is factored (see docs/fidelity.md):
    # 76.2 G/s measured (-16 %; 78.6 with the earlier segsum scan), within 20 %
    assert abs(base["gmacs"] - 91.0) / 91.0 < 0.20
    assert 70.0 < base["gmacs"] < 80.0
    assert coi["gmacs"] > base["gmacs"]
    # SoundCompass Table 1 quotes DeepASA at 74.85 G torchinfo Mult-Adds per 4-s clip
    assert abs(base["torchinfo_gmult_adds"] - 74.85) / 74.85 < 0.10


def test_unexplained_differences_are_flagged_and_missing_models_listed() -> None:
    rows = (FidelityRow("DeepASA vs a wrong figure", "deepasa", Reported(1.0, 1.0, "made up")),
            FidelityRow("absent", "no-such-model", Reported(1.0, 1.0, "made up")))
    text = render_markdown(build_table(rows, seconds=1.0), seconds=1.0)
    assert "UNEXPLAINED" in text
    assert "| absent | `no-such-model` | not registered |" in text


def test_soundcompass_rows_match_the_paper_in_its_torchinfo_convention() -> None:
    # SoundCompass Table 1 Mult-Adds (torchinfo, one 4-s clip): 20.49 G, + SED 23.46 G,
    # x2 increment +24.01 G; the per-second full counts are three times larger
    rows = tuple(r for r in ROWS if r.name.startswith("soundcompass") and "ablation" not in r.label)
    assert [r.reported.gmacs for r in rows] == [20.49, 23.46, 24.01]
    assert all(r.reported.convention == TORCHINFO_CLIP for r in rows)
    results = build_table(rows, seconds=4.0)
    for res in results:
        assert not res["missing"], res.get("error")
        ref = res["row"].reported.gmacs
        assert abs(res["torchinfo_gmult_adds"] - ref) / ref < 0.10
        assert res["rel_macs"] == (res["torchinfo_gmult_adds"] - ref) / ref
        assert res["gmacs"] > 2 * ref  # the full count differs: the convention matters
    text = render_markdown(results, seconds=4.0)
    assert "NOT RESOLVED" not in text and "UNEXPLAINED" not in text
    assert "torchinfo Mult-Adds per 4-s clip (G)" in text
    for row in ROWS:
        assert "NOT RESOLVED" not in row.explain_params + row.explain_macs + " ".join(row.notes)


def test_module_table_matches_the_released_layer_lists_except_the_sed_decoders() -> None:
    rows = module_table()
    assert sum(r["module"].released for r in rows) == 8_857_318  # logs/version_ASA_CoI/model.txt
    off = {r["module"].ours: r["diff"] for r in rows if r["diff"]}
    assert off == {("sed_decoder",): -29_650, ("sed_decoder2",): -29_650}
    assert all("still ours" in r["module"].status for r in rows if r["diff"])
    text = "\n".join(_module_section(rows))
    assert "| total | 8,798,018 | 8,857,318 | -59,300 | | |" in text
