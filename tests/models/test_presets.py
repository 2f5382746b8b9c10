"""Model presets are data files (models/presets/<system>/<name>.toml) read by the one loader."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from asabench import models
from asabench.models.config import ConfigError, DeepASAConfig
from asabench.models.registry import PRESET_DIR, _REGISTRY, get_entry, register, resolve_config
from asabench.models.systems.soundcompass import SoundCompassConfig
from asabench.simulate.io.config import ConfigBase, to_data


def _trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _strip_none(d: dict) -> dict:
    return {k: _strip_none(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}


def test_every_system_ships_paper_and_tiny_files_holding_every_field() -> None:
    folders = sorted(p.name for p in PRESET_DIR.iterdir() if p.is_dir())
    assert folders == models.available()
    assert {"deepasa", "deepasa-coi", "soundcompass", "soundcompass-sed", "soundcompass-x2"} <= set(folders)
    for name in folders:
        presets = get_entry(name).presets
        assert {"paper", "tiny"} <= set(presets), name
        for preset, path in presets.items():
            assert Path(path).parent == PRESET_DIR / name
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
            # the file spells out every number (nothing hidden in dataclass defaults)
            assert raw == _strip_none(resolve_config(name, preset).to_dict()), (name, preset)


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in a:
        if isinstance(a[k], dict):
            out += _differences(a[k], b[k], f"{prefix}{k}.")
        elif a[k] != b[k]:
            out.append(f"{prefix}{k}")
    return out


def test_paper_presets_are_the_dataclass_defaults_and_variants_differ_as_named() -> None:
    assert resolve_config("deepasa", "paper") == DeepASAConfig()
    assert resolve_config("soundcompass", "paper") == SoundCompassConfig()
    variants = {"deepasa-coi": ("deepasa", ["coi.enabled"]),
                "soundcompass-sed": ("soundcompass", ["sed.enabled"]),
                "soundcompass-x2": ("soundcompass", ["num_stages", "sed.enabled"])}
    for name, (base, fields) in variants.items():
        for preset in ("paper", "tiny"):
            got = _differences(resolve_config(name, preset).to_dict(), resolve_config(base, preset).to_dict())
            assert got == fields, (name, preset)
    tiny = resolve_config("deepasa", "tiny")
    assert (tiny.n_objects, tiny.stft.n_fft, tiny.backbone.dim, tiny.backbone.n_blocks) == (3, 128, 16, 1)


@pytest.mark.parametrize(
    "preset, field, trainable",
    [
        # SoundCompass Table 1 ablations (docs/soundcompass.md): 2.16 M, 2.59 M, cyc-pos 2.718 M;
        # each includes the 6 x 2 x 64 = 768 RMSNorm weights of the released BiMamba directions
        ("no-band-split", "fusion.band_split", 2_156_628),
        ("no-spin-pairs", "fusion.pairwise", 2_575_504),
        ("cycpos-clue", "clue.kind", 2_718_352),
        ("fusion-after", "fusion.position", 2_686_608),
        ("paper", None, 2_686_608),
    ],
)
def test_soundcompass_ablation_presets(preset: str, field: str | None, trainable: int) -> None:
    paper = resolve_config("soundcompass", "paper").to_dict()
    cfg = resolve_config("soundcompass", preset)
    assert _differences(cfg.to_dict(), paper) == ([field] if field else [])
    assert _trainable(models.create("soundcompass", preset)) == trainable


def test_a_preset_is_read_afresh_each_time() -> None:
    cfg = resolve_config("deepasa", "tiny")
    cfg.backbone.dim = 99
    assert resolve_config("deepasa", "tiny").backbone.dim == 16


def test_out_of_range_values_are_refused_before_building(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config of deepasa: field 'backbone\.dim': 1000000000 is outside \[1, 65536\]$"):
        models.create("deepasa", {"backbone": {"dim": 10**9}})
    p = tmp_path / "big.toml"
    p.write_text("[backbone.mamba]\nd_state = 0\n")
    with pytest.raises(ConfigError, match=rf"^{p}: field 'backbone\.mamba\.d_state': 0 is outside \[1, 4096\]$"):
        models.create("soundcompass", p)
    obj = resolve_config("deepasa", "tiny")
    obj.sed.t_pools = ((5, 4), (5, 0), (1, 2))
    with pytest.raises(ConfigError, match=r"field 'sed\.t_pools\[1\]\[1\]': 0 is outside \[1, 1024\]"):
        models.create("deepasa", obj)
    with pytest.raises(ConfigError, match=r"field 'ref_channel': 4 is outside \[0, n_mics = 4\)"):
        models.create("soundcompass", {"ref_channel": 4})


def test_yaml_and_json_configs_load_too(tmp_path: Path) -> None:
    cfg = resolve_config("deepasa", "tiny")
    for suffix in (".yaml", ".json"):
        assert models.create("deepasa", cfg.save(tmp_path / f"c{suffix}")).config == cfg


@dataclass
class _ToyConfig(ConfigBase):
    width: int = 3


def test_external_systems_register_presets_as_files_or_objects(tmp_path: Path) -> None:
    (tmp_path / "wide.toml").write_text("width = 7\n")
    try:
        register("toy-test", config_cls=_ToyConfig,
                 presets={"paper": _ToyConfig(5), "wide": tmp_path / "wide.toml"})(lambda c: torch.nn.Linear(c.width, 1))
        assert models.create("toy-test", "paper").in_features == 5
        assert models.create("toy-test", "wide").in_features == 7
        first = resolve_config("toy-test", "paper")
        first.width = 1
        assert resolve_config("toy-test", "paper").width == 5  # the registered object is not shared
        with pytest.raises(ConfigError, match=r"neither a preset \(paper, wide\)"):
            models.create("toy-test", "tiny")
    finally:
        _REGISTRY.pop("toy-test", None)
    assert "toy-test" not in models.available()
    assert to_data(_ToyConfig()) == {"width": 3}
