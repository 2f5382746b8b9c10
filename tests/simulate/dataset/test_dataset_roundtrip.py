"""End to end: `asabench simulate` (demo manifest) -> verify -> ASA2 export -> SceneDataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asabench.benchmark.cli import main
from asabench.simulate.export.asa2 import read_asa2_info
from asabench.simulate.dataset.format import read_dataset_info, read_index
from asabench.simulate.dataset.labels_csv import read_label_csv
from asabench.simulate.dataset.loader import SceneDataset
from asabench.simulate.manifest import load_manifest
from asabench.simulate.dataset.verify import verify_dataset

DEMO = Path(__file__).resolve().parents[3] / "manifests" / "demo.toml"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "ds"
    assert main(["simulate", str(DEMO), "--split", "test", "--num", "2", "--out", str(root),
                 "--workers", "1", "--quiet"]) == 0
    return root


def test_verify_real_dataset(simulated, capsys):
    report = verify_dataset(simulated, DEMO, splits=["test"], num=2)
    assert report.ok, report.format()
    assert report.scenes_checked == 2
    full = verify_dataset(simulated)
    demo = load_manifest(DEMO)
    assert full.missing_scenes == {s: list(range(2 if s == "test" else 0, n))
                                   for s, n in demo.splits.items()}
    assert main(["verify", str(simulated)]) == 1
    assert "test: 2-3" in capsys.readouterr().out


def test_export_and_load_both_layouts(simulated, tmp_path):
    out = tmp_path / "asa2"
    assert main(["export", str(simulated), "--format", "asa2", "--out", str(out)]) == 0
    info = read_dataset_info(simulated)
    peak = load_manifest(DEMO).to_dict()["output"]["peak"]
    for rec in read_index(simulated):
        # The writer scales each mixture to the manifest's peak; the export keeps that scale.
        ints, fs = sf.read(out / "test" / "mixed" / f"{rec.index}.wav", dtype="int16")
        assert fs == info.fs and ints.shape[1] == 4
        assert np.abs(ints.astype(np.int64)).max() == round(peak * 32768)
        rows = read_asa2_info(out / "test" / "info" / f"{rec.index}.csv")
        labels = read_label_csv(simulated / rec.files.labels.path)
        assert len(rows) == len(labels)
        np.testing.assert_array_equal(np.sort(rows[:, 4]), np.sort(90 - labels[:, 4]))

    ours, theirs = SceneDataset(simulated), SceneDataset(out)
    assert ours.ids == theirs.ids == ["test-000000", "test-000001"]
    assert ours.n_frames == theirs.n_frames == int(round(info.duration_s / info.label_hop_s))
    for a, b in zip(ours, theirs):
        for key in ("class", "sed", "doa", "num_sources"):
            assert torch.equal(a[key], b[key]), key
        for key in ("mixture", "direct", "reverb"):
            assert (a[key] - b[key]).abs().max().item() <= 0.5 / 32768 + 1e-7, key
        assert a["sed"].sum() > 0
