"""Scene specs: every numeric field is range-checked with the manifest's bounds, before use."""

from __future__ import annotations

import copy
import json
import math
import tracemalloc
from pathlib import Path

import pytest

from asabench.simulate.manifest import load_manifest
from asabench.simulate.scene import spec as spec_module
from asabench.simulate.scene.sampling import sample_scene
from asabench.simulate.scene.spec import SceneSpec, SpecError, load_spec
from asabench.simulate.sources.open import open_banks


@pytest.fixture(scope="module")
def valid() -> dict:
    m = load_manifest("demo")
    banks = open_banks(m)
    spec, _, _ = sample_scene(m, "test", 1, banks.sources, banks.noise, load_clips=False,
                              bank_info=banks.describe())
    return spec.to_dict()


def _set(obj: dict, dotted: str, value) -> None:
    keys = [int(k) if k.isdigit() else k for k in dotted.replace("[", ".").replace("]", "").split(".")]
    for k in keys[:-1]:
        obj = obj[k]
    obj[keys[-1]] = value


BAD = [
    ("tmax_db", 1e6, "tmax_db"),
    ("tdiff_db", -3.0, "tdiff_db"),
    ("num_samples", 10**12, "num_samples"),
    ("num_samples", 0, "num_samples"),
    ("fs", -8000, "fs"),
    ("fs", 8000.5, "fs"),
    ("fs", True, "fs"),
    ("rt60_s", 1e4, "rt60_s"),
    ("rt60_s", math.nan, "rt60_s"),
    ("label_hop_s", 0.0, "label_hop_s"),
    ("room_dim[1]", math.inf, "room_dim[1]"),
    ("room_dim[0]", 1e9, "room_dim[0]"),
    ("betas[5]", 1.5, "betas[5]"),
    ("abs_weights", [0.0] * 6, "abs_weights"),
    ("array.radius_m", 0.0, "array.radius_m"),
    ("array.center[2]", -1.0, "array.center[2]"),
    ("array.mics[3][0]", math.nan, "array.mics[3][0]"),
    ("array.mics[0][1]", 1e3, "array.mics[0][1]"),
    ("sources[0].trajectory[0][2]", math.nan, "sources[0].trajectory[0][2]"),
    ("sources[0].trajectory[0][0]", 99.0, "sources[0].trajectory[0][0]"),
    ("sources[0].amplitude_m[0]", 1e9, "sources[0].amplitude_m[0]"),
    ("sources[0].class_idx", 13, "sources[0].class_idx"),
    ("sources[0].onset", -1, "sources[0].onset"),
    ("sources[0].clip_start", 10**15, "sources[0].clip_start"),
    ("sources[0].file.frames", 10**15, "sources[0].file.frames"),
    ("sources[0].file.fs", 0, "sources[0].file.fs"),
    ("sources[0].file.bank", "http", "sources[0].file.bank"),
    ("sources[0].static", "yes", "sources[0].static"),
    ("noise.clip_start", 10**12, "noise.clip_start"),
    ("noise.snr_db", 1e6, "noise.snr_db"),
    ("noise.seed", -1, "noise.seed"),
    ("snr_rule.window", 10**9, "snr_rule.window"),
    ("snr_rule.hop", 0, "snr_rule.hop"),
    ("snr_rule.threshold", 2.0, "snr_rule.threshold"),
    ("output_peak", 5.0, "output_peak"),
    ("output_gain", math.inf, "output_gain"),
    ("rir_seed", -5, "rir_seed"),
    ("render.backend", "cuda-magic", "render.backend"),
    ("render.noise_field", "white", "render.noise_field"),
    ("render.image_set", 3, "render.image_set"),
    ("render.static_tails", "forty", "render.static_tails"),
    ("render.tails", "one", "render.tails"),
    ("index", -1, "index"),
    ("id", "test-000009", "id"),
    ("manifest.sha256", "abc", "manifest.sha256"),
    ("array.kind", "extra", "array.kind"),
]


@pytest.mark.parametrize("dotted, value, field", BAD, ids=[f"{b[0]}={b[1]!r}" for b in BAD])
def test_out_of_range_field_is_refused_naming_file_and_field(tmp_path: Path, valid: dict, dotted, value, field):
    obj = copy.deepcopy(valid)
    _set(obj, dotted, value)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(obj), encoding="utf-8")  # json writes NaN/Infinity literals
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value).startswith(f"{path}: field '{field}':"), str(err.value)


def test_valid_spec_passes_and_round_trips(valid: dict):
    spec = SceneSpec.from_dict(copy.deepcopy(valid), "<x>")
    assert spec.to_dict() == valid


def test_render_options_are_read_back(valid: dict):
    obj = copy.deepcopy(valid)
    obj["render"].update(noise_field="asa2", image_set="box", static_tails="per_point")
    spec = SceneSpec.from_dict(obj, "<x>")
    assert spec.render == {"backend": "torch", "crossfade": False, "noise_field": "asa2",
                           "image_set": "box", "static_tails": "per_point"}
    assert spec.to_dict() == obj


def test_specs_of_every_shipped_manifest_pass():
    # The bounds are the manifest's: whatever a valid recipe samples is a valid spec.
    for name in ("demo", "asa2", "asa2-static"):
        m = load_manifest(name)
        banks = open_banks(m)
        for split in m.splits:
            for i in range(4):
                spec, _, _ = sample_scene(m, split, i, banks.sources, banks.noise, load_clips=False,
                                          bank_info=banks.describe())
                assert SceneSpec.from_json(spec.to_json()) == spec


def test_huge_num_samples_is_refused_before_any_allocation(tmp_path: Path, valid: dict):
    obj = copy.deepcopy(valid)
    obj["num_samples"] = 10**12
    for s in obj["sources"]:
        s["length"] = 10**12 - 1
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(obj), encoding="utf-8")
    tracemalloc.start()
    with pytest.raises(SpecError, match="num_samples"):
        load_spec(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 5 * 2**20


def test_spec_bounds_are_the_manifests(tmp_path: Path):
    # A manifest at the spec's limits parses; one step beyond each is refused by both.
    import tomllib

    from asabench.simulate.manifest import ManifestError, parse_manifest
    from asabench.simulate.rir import BACKENDS

    assert spec_module.RIR_BACKENDS == BACKENDS
    raw = tomllib.loads((Path(__file__).resolve().parents[3] / "manifests" / "demo.toml").read_text())
    for section, key, value in (("acoustics", "tmax_db", spec_module.MAX_ATTENUATION_DB * 1.01),
                                (None, "fs", spec_module.FS_RANGE_HZ[1] + 1),
                                (None, "duration_s", spec_module.MAX_DURATION_S * 1.01)):
        bad = copy.deepcopy(raw)
        (bad[section] if section else bad)[key] = value
        with pytest.raises(ManifestError, match=key):
            parse_manifest(bad, "<m>")


def test_non_utf8_and_non_object_specs_are_refused(tmp_path: Path):
    path = tmp_path / "spec.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(path)
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(SpecError, match="<root>"):
        load_spec(path)
    path.write_text('{"spec_version": 1', encoding="utf-8")
    with pytest.raises(SpecError, match="not valid JSON"):
        load_spec(path)
    with pytest.raises(SpecError, match="not a file"):
        load_spec(tmp_path)
