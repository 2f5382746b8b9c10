"""A checkpoint is a file from outside: loading one runs no code, opens no stored path, names bad fields."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from asabench import models
from asabench.models import checkpoint
from asabench.models.blocks.atst import ATSTBranch, ATSTFrameEncoder
from asabench.models.registry import resolve_config
from asabench.simulate.io.config import ConfigError


class _MakesDirOnUnpickle:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _tiny_payload(**changes) -> dict:
    model = models.create("deepasa", "tiny")
    payload = {"format": checkpoint.FORMAT, "name": "deepasa", "config": model.config.to_dict(),
               "state_dict": model.state_dict(), "extra": {}}
    payload.update(changes)
    return payload


def test_a_pickle_that_calls_a_function_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save(_tiny_payload(extra={"x": _MakesDirOnUnpickle(marker)}), path)
    with pytest.raises(ConfigError, match=rf"^{path}: not a readable checkpoint: .*Weights only load failed"):
        models.load(path)
    assert not marker.exists()
    # control: the file is live; an unrestricted unpickler would have run it
    torch.load(path, weights_only=False)
    assert marker.is_dir()


def test_paths_stored_in_a_checkpoint_are_never_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = resolve_config("deepasa", "tiny")
    cfg.atst.enabled = True
    cfg.atst.dim, cfg.atst.layers, cfg.atst.heads, cfg.atst.ffn_dim = 16, 2, 2, 32
    cfg.atst.n_mels, cfg.atst.out_dim, cfg.atst.max_patches = 8, 8, 64
    enc = ATSTFrameEncoder(patch_dim=8 * 4, dim=16, layers=2, heads=2, ffn_dim=32, max_patches=64)
    torch.save(enc.state_dict(), tmp_path / "atst.pt")
    cfg.atst.weights = str(tmp_path / "atst.pt")
    model = models.create("deepasa", cfg)
    saved = models.save(model, tmp_path / "m.pt")
    # a hostile copy points the stored path out of any root
    payload = torch.load(saved, weights_only=True)
    for stored in ("../../../etc/passwd", "/etc/passwd"):
        payload["config"]["atst"]["weights"] = stored
        torch.save(payload, tmp_path / "hostile.pt")
        opened: list[str] = []
        real_load = torch.load
        monkeypatch.setattr(torch, "load", lambda f, *a, **k: opened.append(str(f)) or real_load(f, *a, **k))
        monkeypatch.setattr(ATSTBranch, "load_weights", lambda self, p: opened.append(str(p)))
        back = models.load(tmp_path / "hostile.pt")
        monkeypatch.undo()
        assert opened == [str(tmp_path / "hostile.pt")]
        assert back.config.atst.weights == stored
        enc_back = back.sed_decoder.atst.encoder.state_dict()
        assert all(torch.equal(enc_back[k], v) for k, v in enc.state_dict().items())


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"format": "other/1"}, r"field 'format': not an asabench model checkpoint"),
        ({"name": "no-such"}, r"field 'name': unknown model 'no-such'; available: deepasa"),
        ({"name": 3}, r"field 'name': expected a model name, got 3"),
        ({"config": [1]}, r"field 'config': expected a mapping, got list"),
        ({"extra": "x"}, r"field 'extra': expected a mapping, got str"),
        ({"config": {"backbone": {"dim": 10**9}}}, r"field 'config\.backbone\.dim': 1000000000 is outside \[1, 65536\]"),
        ({"config": {"backbone": {"wide": 1}}}, r"field 'config\.backbone\.wide': unknown key"),
        ({"state_dict": {"w": 3}}, r"field 'state_dict': entry 'w' is not a named tensor"),
        ({"state_dict": {"w": torch.zeros(1)}}, r"field 'state_dict': weights do not match the stored configuration"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, changes: dict, match: str) -> None:
    path = tmp_path / "c.pt"
    payload = _tiny_payload(**changes)
    torch.save(payload, path)
    with pytest.raises(ConfigError, match=rf"^{path}: {match}") as err:
        models.load(path)
    assert "\n" not in str(err.value)


def test_missing_fields_and_garbage_files(tmp_path: Path) -> None:
    payload = _tiny_payload()
    del payload["state_dict"]
    torch.save(payload, tmp_path / "a.pt")
    with pytest.raises(ConfigError, match=r"a\.pt: field 'state_dict': required field is missing"):
        models.load(tmp_path / "a.pt")
    (tmp_path / "b.pt").write_bytes(b"not a zip or pickle")
    with pytest.raises(ConfigError, match=r"b\.pt: not a readable checkpoint"):
        models.load(tmp_path / "b.pt")
