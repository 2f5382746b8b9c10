"""Scenes rendered on the fly equal the stored scenes array for array."""

import pickle

import pytest
import torch

from asabench.simulate.dataset.build import simulate_dataset
from asabench.simulate.dataset.loader import SceneDataset
from asabench.simulate.dataset.onthefly import OnTheFlyScenes
from asabench.simulate.manifest import ManifestError


def test_scene_k_on_the_fly_equals_stored_scene_k(tmp_path):
    simulate_dataset("demo", "validation", tmp_path, start=0, num=2)
    stored = SceneDataset(tmp_path, split="validation", max_sources=3)
    fly = OnTheFlyScenes("demo", "validation", max_sources=3)
    assert len(fly) == 2 and fly.ids == stored.ids
    for k in (1, 0):  # out of order: each scene depends on its own seed only
        a, b = stored[k], fly[k]
        assert list(a) == list(b)
        for key, value in a.items():
            if isinstance(value, torch.Tensor):
                assert value.dtype == b[key].dtype and value.shape == b[key].shape, key
                assert torch.equal(value, b[key]), key
            else:
                assert value == b[key]
        assert a["mixture"].abs().max() > 0.1


def test_picklable_for_workers_and_checks_slots():
    fly = OnTheFlyScenes("demo", "test", max_sources=3, targets=False, indices=range(1, 3))
    first = fly[0]
    clone = pickle.loads(pickle.dumps(fly))  # what a DataLoader worker receives
    assert clone._banks is None and "direct" not in first
    assert torch.equal(clone[0]["mixture"], first["mixture"]) and first["id"] == "test-000001"
    with pytest.raises(ManifestError, match="max_sources=2"):
        OnTheFlyScenes("demo", "test", max_sources=2)
    with pytest.raises(ManifestError, match="no split 'dev'"):
        OnTheFlyScenes("demo", "dev")
    with pytest.raises(ValueError, match="outside split 'test'"):
        OnTheFlyScenes("demo", "test", max_sources=3, indices=range(3, 5))
