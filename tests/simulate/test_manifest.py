"""Manifests: the shipped recipes hold the published numbers; bad input names file and field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from asabench.simulate.manifest import ManifestError, load_manifest, parse_manifest

ROOT = Path(__file__).resolve().parents[2]


def _raw(name: str = "demo") -> dict:
    with open(ROOT / "manifests" / f"{name}.toml", "rb") as fh:
        return tomllib.load(fh)


def test_asa2_manifest_holds_the_published_recipe():
    m = load_manifest(ROOT / "manifests" / "asa2.toml")
    assert (m.fs, m.duration_s, m.label_hop_s, m.num_samples, m.num_frames) == (16000, 4.0, 0.1, 64000, 40)
    assert m.array.radius_m == 0.042 and m.array.placement == "room_centre"
    assert (m.room.width_m.low, m.room.width_m.high) == (5.0, 8.0)
    assert (m.room.length_m.low, m.room.length_m.high) == (5.0, 8.0)
    assert (m.room.height_m.low, m.room.height_m.high) == (3.0, 4.0)
    assert (m.acoustics.rt60_s.low, m.acoustics.rt60_s.high) == (0.2, 0.6)
    assert m.acoustics.abs_weights == (0.8, 0.8, 0.8, 0.8, 0.8, 0.5)
    assert (m.acoustics.tdiff_db, m.acoustics.tmax_db) == (12.0, 40.0)
    assert m.sources.num_sources == (2, 3, 4, 5)
    assert m.sources.num_sources_weights == (0.1, 0.2, 0.3, 0.4)
    assert m.sources.classes == tuple(range(13)) and m.sources.class_weights is None
    assert (m.motion.model, m.motion.static_prob, m.motion.n_points) == ("asa2_sine", 0.25, 40)
    assert (m.motion.amplitude_max_m, m.motion.max_oscillations, m.motion.wall_margin_m) == (1.0, 2.0, 0.5)
    assert (m.noise.snr_db.low, m.noise.snr_db.high) == (6.0, 30.0)
    assert (m.noise.window, m.noise.hop, m.noise.threshold) == (640, 320, 0.01)
    assert 0 < m.output.peak < 1
    assert m.splits == {"train": 50000, "validation": 2000, "test": 2000}
    # Version 2.0: plain-uniform motion draws and the published noise field; the sphere of
    # images and one RIR per static source (the published artefacts are options).
    assert m.version == "2.0"
    assert (m.motion.draw_power, m.motion.static_tails) == (1, "one")
    assert (m.noise.field, m.acoustics.image_set) == ("asa2", "sphere")


def test_static_manifest_differs_from_asa2_only_in_motion_and_name():
    moving = load_manifest("asa2").to_dict()
    static = load_manifest("asa2-static").to_dict()
    assert static["motion"]["model"] == "static" and static["name"] == "asa2-static"
    for d in (moving, static):
        d["motion"].pop("model")
        d.pop("name")
    assert moving == static


def test_demo_manifest_loads_by_name():
    m = load_manifest("demo")
    assert m.fs in (8000, 16000) and m.duration_s <= 4.0 and sum(m.splits.values()) < 50


def test_hash_is_format_independent_and_content_sensitive(tmp_path):
    raw = _raw("asa2")
    toml_m = load_manifest(ROOT / "manifests" / "asa2.toml")
    (tmp_path / "asa2.yaml").write_text(yaml.safe_dump(raw))
    yaml_m = load_manifest(tmp_path / "asa2.yaml")
    assert yaml_m == toml_m and yaml_m.sha256 == toml_m.sha256
    raw["acoustics"]["tmax_db"] = 41.0
    assert parse_manifest(raw).sha256 != toml_m.sha256


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda r: r["room"].update(widht_m=5.0), "room.widht_m"),
        (lambda r: r.update(sed=3), "sed"),
        (lambda r: r["acoustics"].update(rt60_s={"uniform": [-0.1, 0.5]}), "acoustics.rt60_s"),
        (lambda r: r["acoustics"].update(rt60_s={"uniform": [0.5, 0.2]}), "acoustics.rt60_s"),
        (lambda r: r["acoustics"].update(abs_weights=[0.8] * 5), "acoustics.abs_weights"),
        (lambda r: r["sources"].update(num_sources_weights=[1.0]), "sources.num_sources_weights"),
        (lambda r: r["sources"].update(bad_files="ignore"), "sources.bad_files"),
        (lambda r: r["sources"].update(classes=[0, 13]), "sources.classes"),
        (lambda r: r["motion"].update(static_prob=1.5), "motion.static_prob"),
        (lambda r: r["acoustics"].update(rt60_s={"uniform": [0.05, 0.3]}), "acoustics.rt60_s"),
        (lambda r: r["motion"].update(wall_margin_m=3.0), "room.width_m"),
        (lambda r: r["noise"].update(hop=1000), "noise.hop"),
        (lambda r: r["output"].update(peak=1.2), "output.peak"),
        (lambda r: r["banks"]["sources"].update(kind="folder"), "banks.sources.path"),
        (lambda r: r["splits"].update({"dev-1": 3}), "splits.dev-1"),
        (lambda r: r.pop("fs"), "fs"),
        (lambda r: r.update(fs="16k"), "fs"),
        (lambda r: r.update(label_hop_s=0.3), "label_hop_s"),
        (lambda r: r["motion"].update(draw_power=0), "motion.draw_power"),
        (lambda r: r["motion"].update(draw_power=1.5), "motion.draw_power"),
        (lambda r: r["motion"].update(static_tails="forty"), "motion.static_tails"),
        (lambda r: r["noise"].update(field="habets"), "noise.field"),
        (lambda r: r["acoustics"].update(image_set="cube"), "acoustics.image_set"),
    ],
)
def test_bad_manifest_error_names_file_and_field(tmp_path, edit, field):
    raw = _raw("demo")
    edit(raw)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert str(path) in str(err.value)
    assert f"'{field}'" in str(err.value)


def test_unparsable_and_missing_files_are_named(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("name = \n")
    with pytest.raises(ManifestError, match="broken.toml: cannot parse"):
        load_manifest(bad)
    with pytest.raises(ManifestError, match="nope.toml: manifest file not found"):
        load_manifest(tmp_path / "nope.toml")


def test_options_at_their_pre_2_0_values_leave_the_hash_alone():
    # A manifest written before the 2.0 options exist hashes as it always did (the demo's
    # hash, pinned here, is that of asabench before the options); stating the legacy value
    # explicitly changes nothing, any other value changes the hash.
    demo = load_manifest("demo")
    assert demo.sha256 == "31722f457174e04473e193a7ea05cb7d8fe4913b574b75e9ea7bcd4c62e9adf3"
    assert (demo.motion.draw_power, demo.motion.static_tails, demo.noise.field, demo.acoustics.image_set) == (
        3, "one", "frame_offsets", "sphere")
    for key in ("draw_power", "static_tails", "field", "image_set"):
        assert key not in demo.to_dict()["motion"] | demo.to_dict()["noise"] | demo.to_dict()["acoustics"]
    raw = _raw("demo")
    raw["motion"].update(draw_power=3, static_tails="one")
    raw["noise"]["field"] = "frame_offsets"
    raw["acoustics"]["image_set"] = "sphere"
    assert parse_manifest(raw).sha256 == demo.sha256
    hashes = {demo.sha256}
    for table, key, value in (("motion", "draw_power", 1), ("motion", "static_tails", "per_point"),
                              ("noise", "field", "asa2"), ("acoustics", "image_set", "box")):
        raw = _raw("demo")
        raw[table][key] = value
        m = parse_manifest(raw)
        assert m.to_dict()[table][key] == value
        hashes.add(m.sha256)
    assert len(hashes) == 5


def test_version_bump_changes_the_hash_and_a_dataset_folder_refuses_the_other_version(tmp_path):
    # asa2 2.0 against the same recipe at 1.0 (its options at their legacy values): another
    # hash, so the simulate job refuses to write 2.0 scenes into a 1.0 folder and verify
    # names the mismatch.
    from asabench.simulate.dataset.format import DatasetFormatError
    from asabench.simulate.dataset.verify import verify_dataset
    from asabench.simulate.dataset.writer import init_dataset

    new = load_manifest("asa2")
    raw = _raw("asa2")
    raw["version"] = "1.0"
    raw["motion"]["draw_power"] = 3
    raw["noise"]["field"] = "frame_offsets"
    old = parse_manifest(raw, "<asa2 1.0>")
    raw["version"] = "2.0"
    assert parse_manifest(raw).sha256 not in (old.sha256, new.sha256)  # options alone change it too
    assert old.sha256 != new.sha256
    out = tmp_path / "ds"
    init_dataset(out, old, "builtin", "builtin")
    before = (out / "dataset.json").read_bytes()
    with pytest.raises(DatasetFormatError, match="A dataset folder holds one manifest") as err:
        init_dataset(out, new, "builtin", "builtin")
    assert "'1.0'" in str(err.value) and "'2.0'" in str(err.value)
    assert (out / "dataset.json").read_bytes() == before
    report = verify_dataset(out, ROOT / "manifests" / "asa2.toml", num=0)
    assert any("field 'manifest_sha256'" in e and "another manifest" in e for e in report.dataset_errors)
