"""Registry, configuration files and checkpoints (round trips with identical outputs), ATST loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from asabench import models
from asabench.models import checkpoint
from asabench.models.config import ConfigError, DeepASAConfig
from asabench.models.registry import resolve_config


def deepasa_tiny(coi: bool = False) -> DeepASAConfig:
    return resolve_config("deepasa-coi" if coi else "deepasa", "tiny")


pytestmark = pytest.mark.usefixtures("one_thread")


def _x() -> torch.Tensor:
    # 8000 samples: the tiny CoI preset attends over exactly 5 label frames (coi.frames)
    return 0.1 * torch.randn(1, 4, 8000, generator=torch.Generator().manual_seed(0))


def test_available_and_unknown_names() -> None:
    names = models.available()
    assert {"deepasa", "deepasa-coi"} <= set(names)
    assert names == sorted(names)
    with pytest.raises(KeyError, match="available"):
        models.create("no-such-model")
    with pytest.raises(ConfigError, match="neither a preset"):
        models.create("deepasa", "huge")


def test_create_is_seeded_and_leaves_the_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a = models.create("deepasa", "tiny", seed=3)
    b = models.create("deepasa", "tiny", seed=3)
    c = models.create("deepasa", "tiny", seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_config_file_round_trip_and_create_from_path(tmp_path: Path, suffix: str) -> None:
    cfg = deepasa_tiny(coi=True)
    cfg.coi.fusion = "sum"
    path = cfg.save(tmp_path / f"cfg{suffix}")
    assert DeepASAConfig.load(path) == cfg
    model = models.create("deepasa-coi", path)
    assert model.config == cfg and model.tcm.fusion == "sum"
    # a partial mapping takes the defaults elsewhere
    partial = models.create("deepasa", {"n_objects": 2, "backbone": {"dim": 8, "n_blocks": 1, "head_dim": 4},
                                         "stft": {"n_fft": 128, "hop": 64},
                                         "doa": {"pools": [[5, 4], [5, 4]], "channels": 8, "hidden": 8},
                                         "sed": {"t_channels": [8], "t_pools": [[25, 8]], "hidden": 8,
                                                 "f_channels": [8], "f_pools": [[5, 4]]}})
    assert partial.config.n_objects == 2 and partial.config.n_classes == 13


def test_bad_config_names_the_file_and_field(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"backbone": {"dim": "wide"}}))
    with pytest.raises(ConfigError, match=r"bad\.json.*backbone\.dim"):
        models.create("deepasa", p)
    p.write_text(json.dumps({"doa": {"pools": [[5, 8], [2, 8]]}}))  # time x10 vs the SED decoder x5
    with pytest.raises(ConfigError, match="same total factor"):
        models.create("deepasa", p)


@pytest.mark.parametrize("name", ["deepasa", "deepasa-coi"])
def test_checkpoint_round_trip_gives_identical_outputs(tmp_path: Path, name: str) -> None:
    model = models.create(name, "tiny", seed=5).eval()
    with torch.no_grad():
        ref = model(_x())
    path = models.save(model, tmp_path / "m.pt", extra={"epoch": 3})
    back = models.load(path)
    assert back.asabench_name == name and back.config == model.config
    assert back.checkpoint_extra == {"epoch": 3}
    with torch.no_grad():
        out = back(_x())
    for k in ref:
        assert torch.equal(out[k], ref[k]), k


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        models.load(tmp_path / "missing.pt")
    torch.save({"format": "other"}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="format"):
        models.load(tmp_path / "x.pt")
    with pytest.raises(ValueError, match="asabench.models.create"):
        checkpoint.save(torch.nn.Linear(2, 2), tmp_path / "y.pt")


def _atst_config(weights: str | None) -> DeepASAConfig:
    cfg = deepasa_tiny()
    cfg.atst.enabled = True
    cfg.atst.weights = weights
    cfg.atst.dim, cfg.atst.layers, cfg.atst.heads, cfg.atst.ffn_dim = 16, 2, 2, 32
    cfg.atst.n_mels, cfg.atst.out_dim, cfg.atst.max_patches = 8, 8, 64
    return cfg


def test_atst_branch_needs_weights_loads_them_and_stays_frozen(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="atst.weights is not set"):
        models.create("deepasa", _atst_config(None))
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        models.create("deepasa", _atst_config(str(tmp_path / "nope.pt")))
    # "pretrained" weights: a random encoder of the configured shape, saved by the user
    from asabench.models.blocks.atst import ATSTFrameEncoder

    torch.manual_seed(0)
    enc = ATSTFrameEncoder(patch_dim=8 * 4, dim=16, layers=2, heads=2, ffn_dim=32, max_patches=64)
    torch.save(enc.state_dict(), tmp_path / "atst.pt")
    model = models.create("deepasa", _atst_config(str(tmp_path / "atst.pt")))
    loaded = model.sed_decoder.atst.encoder.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in enc.state_dict().items())
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    assert frozen == sum(p.numel() for p in enc.parameters())
    model.train()
    assert not model.sed_decoder.atst.encoder.training
    # a mismatched file is named in the error
    torch.save({"patch_embed.weight": torch.zeros(3, 3)}, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="wrong.pt"):
        models.create("deepasa", _atst_config(str(tmp_path / "wrong.pt")))
    # checkpoints carry the frozen weights: loading needs no external file
    model.eval()
    with torch.no_grad():
        ref = model(_x())
    models.save(model, tmp_path / "with_atst.pt")
    (tmp_path / "atst.pt").unlink()
    back = models.load(tmp_path / "with_atst.pt")
    with torch.no_grad():
        assert torch.equal(back(_x())["class_logits"], ref["class_logits"])
