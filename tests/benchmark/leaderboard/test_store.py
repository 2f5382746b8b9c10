"""The results store: entries from evaluate folders, field-named validation errors, duplicates."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from asabench.benchmark.leaderboard.store import (DuplicateEntryError, StoreError, add_entry,
                                                  entry_from_evaluation, load_store, predictions_sha256,
                                                  slugify, validate_entry)


@pytest.fixture(scope="module")
def entry(demo_eval):
    return entry_from_evaluation(demo_eval, "reproduced", "reference", added="2026-12-01")


def test_entry_copies_the_results_files_and_hashes_their_bytes(entry, demo_eval):
    assert set(entry["entries"]) == {"seld", "uss", "seld-dcase", "uss-pooled"}
    for eid, item in entry["entries"].items():
        raw = (demo_eval / "results" / f"{eid}.json").read_bytes()
        results = json.loads(raw)
        assert item["results_sha256"] == hashlib.sha256(raw).hexdigest()
        csv_bytes = (demo_eval / "results" / f"{eid}.csv").read_bytes()
        assert item["per_scene_sha256"] == hashlib.sha256(csv_bytes).hexdigest()
        assert item["aggregate"] == results["aggregate"]
        assert item["main_score"] == results["main_score"]
        assert item["definition"]["options"] == results["suite"]["options"]
    assert entry["manifest"]["sha256"] == results["dataset"]["manifest_sha256"]
    assert entry["suite"]["sha256"] == results["suite"]["sha256"]
    assert entry["split"] == {"name": "test", "num_scenes": 2, "hidden": False}
    # the mixture as every estimate improves nothing: 0 dB in closed form
    assert abs(entry["entries"]["uss"]["main_score"]["value"]) < 1e-9
    assert entry["predictions_sha256"] == predictions_sha256(demo_eval / "predictions")


def test_per_source_count_recombines_to_the_aggregate(entry, demo_eval):
    """Separation: the group means weighted by their (scene, source) counts give the aggregate mean."""
    results = json.loads((demo_eval / "results" / "uss-pooled.json").read_text())
    bd = entry["entries"]["uss-pooled"]["breakdown"]["per_source_count"]
    for metric in ("si_sdr_i", "si_sdr"):
        total = n_all = 0.0
        for count, mean in bd["values"][metric].items():
            vals = [v for r in results["per_scene"] if r["num_sources"] == int(count) for v in r[metric]
                    if v is not None]
            total += mean * len(vals)
            n_all += len(vals)
        assert total / n_all == pytest.approx(results["aggregate"][metric]["value"], abs=1e-9)
    pc = entry["entries"]["seld-dcase"]["breakdown"]["per_class"]["values"]
    raw = json.loads((demo_eval / "results" / "seld-dcase.json").read_text())["per_class"]
    assert list(pc["le_class"].values()) == raw["le_class"]
    assert "female speech" in pc["f_class"]


@pytest.mark.parametrize("edit, field", [
    (lambda e: e.pop("manifest"), "manifest"),
    (lambda e: e["system"].update(origin="measured"), "system.origin"),
    (lambda e: e["suite"].update(sha256="abc"), "suite.sha256"),
    (lambda e: e["entries"]["uss"]["aggregate"]["si_snr_i_ref0"].update(ci_low="low"),
     "entries.uss.aggregate.si_snr_i_ref0.ci_low"),
    (lambda e: e["entries"]["seld"]["main_score"].update(value=0.5), "entries.seld.main_score.value"),
    (lambda e: e["split"].update(hidden={"fingerprint": "md5:00"}), "split.hidden.fingerprint"),
    (lambda e: e["system"].update(parameters=1.5), "system.parameters"),
    (lambda e: e.update(schema_version=2), "schema_version"),
])
def test_a_malformed_entry_names_the_file_and_field(entry, tmp_path, edit, field):
    bad = copy.deepcopy(entry)
    edit(bad)
    path = tmp_path / "demo-multitask" / "x.json"
    with pytest.raises(StoreError) as info:
        validate_entry(bad, path)
    assert info.value.field == field
    assert str(info.value).startswith(f"{path}: field '{field}': ")


def test_add_refuses_duplicates_and_replaces_on_request(entry, tmp_path):
    root = tmp_path / "results"
    path = add_entry(root, entry)
    assert path == root / "demo-multitask" / "mixture-x1.json"
    assert load_store(root, "demo-multitask") == {"mixture-x1": entry}
    with pytest.raises(DuplicateEntryError, match="already in the store") as info:
        add_entry(root, entry)
    assert info.value.field == "system.slug"
    renamed = copy.deepcopy(entry)
    renamed["system"].update(name="Other", slug=slugify("Other"))
    with pytest.raises(DuplicateEntryError, match="same predictions") as info:
        add_entry(root, renamed)
    assert info.value.field == "predictions_sha256"
    assert sorted(p.name for p in (root / "demo-multitask").iterdir()) == ["mixture-x1.json"]
    changed = copy.deepcopy(entry)
    changed["added"] = "2026-12-02"
    add_entry(root, changed, replace=True)
    assert load_store(root, "demo-multitask")["mixture-x1"]["added"] == "2026-12-02"


def test_a_store_file_out_of_place_is_refused(entry, tmp_path):
    folder = tmp_path / "demo-multitask"
    folder.mkdir()
    (folder / "renamed.json").write_text(json.dumps(entry))
    with pytest.raises(StoreError, match="does not match the file name") as info:
        load_store(tmp_path, "demo-multitask")
    assert info.value.field == "system.slug"
    (folder / "renamed.json").write_text("{")
    with pytest.raises(StoreError, match="not valid JSON"):
        load_store(tmp_path, "demo-multitask")


def test_slugs():
    assert slugify("DeepASA + chain-of-inference") == "deepasa-chain-of-inference"
    assert slugify("EINV-2 with data augmentation chain (DCASE 2nd)") == "einv-2-with-data-augmentation-chain-dcase-2nd"
    with pytest.raises(StoreError):
        slugify("+++")


def test_an_evaluation_without_its_predictions_keeps_their_recorded_hash(entry, demo_eval, tmp_path):
    import shutil

    copy_dir = tmp_path / "eval"
    shutil.copytree(demo_eval, copy_dir, ignore=shutil.ignore_patterns("predictions"))
    assert entry_from_evaluation(copy_dir, "reproduced", "reference", added="2026-12-01")["predictions_sha256"] is None
    (copy_dir / "predictions.sha256").write_text(predictions_sha256(demo_eval / "predictions") + "\n")
    kept = entry_from_evaluation(copy_dir, "reproduced", "reference", added="2026-12-01")
    assert kept == entry
    (copy_dir / "predictions.sha256").write_text("not a hash\n")
    with pytest.raises(StoreError, match="predictions.sha256"):
        entry_from_evaluation(copy_dir, "reproduced", "reference", added="2026-12-01")
