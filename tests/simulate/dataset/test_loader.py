"""SceneDataset: shapes, padding, label tensors, both layouts, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asabench.simulate.export.asa2 import export_asa2
from asabench.simulate.dataset.format import DatasetFormatError, read_index
from asabench.simulate.testing.dummies import make_dummy_dataset
from asabench.simulate.geometry import dcase_to_cartesian
from asabench.simulate.dataset.labels_csv import read_label_csv
from asabench.simulate.dataset.loader import SceneDataset, collate_scenes

FS = 8000
SECONDS = 0.4
N = int(FS * SECONDS)
T = 4


@pytest.fixture()
def dataset(tmp_path: Path):
    root = tmp_path / "ds"
    records = make_dummy_dataset(root, 4, [2, 3, 4, 5], FS, SECONDS, np.random.default_rng(11))
    return root, records


def test_shapes_and_padding_for_2_to_5_sources(dataset):
    root, records = dataset
    ds = SceneDataset(root)
    assert len(ds) == 4 and ds.layout == "asabench" and ds.n_frames == T
    for item, rec in zip(ds, records):
        j = rec.num_sources
        assert item["id"] == rec.id and int(item["num_sources"]) == j
        assert item["mixture"].shape == (4, N) and item["mixture"].dtype == torch.float32
        assert item["direct"].shape == item["reverb"].shape == (5, 4, N)
        assert item["class"].tolist() == list(rec.classes) + [-1] * (5 - j)
        assert item["sed"].shape == (5, T, 13) and item["doa"].shape == (5, T, 3)
        assert item["distance"].shape == (5, T)
        for key in ("direct", "reverb", "sed", "doa", "distance"):
            assert not item[key][j:].any(), key
        # Slot k holds source k's files, bit for bit.
        for k in range(j):
            ref, _ = sf.read(root / rec.files.direct[k].path, dtype="float32")
            assert torch.equal(item["direct"][k], torch.from_numpy(ref.T))
            ref, _ = sf.read(root / rec.files.reverb[k].path, dtype="float32")
            assert torch.equal(item["reverb"][k], torch.from_numpy(ref.T))
        noise, _ = sf.read(root / rec.files.noise.path, dtype="float64")
        recon = item["direct"].double().sum(0) + item["reverb"].double().sum(0) + torch.from_numpy(noise.T)
        assert torch.allclose(item["mixture"].double(), recon, atol=1e-6)


def test_label_tensors_match_the_label_rows(dataset):
    root, records = dataset
    ds = SceneDataset(root)
    for item, rec in zip(ds, records):
        rows = read_label_csv(root / rec.files.labels.path)
        expected_sed = np.zeros((5, T, 13), dtype=np.float32)
        for frame, cls, track, az, el, dist in rows:
            expected_sed[track, frame, cls] = 1
            a, e = np.deg2rad(az), np.deg2rad(el)
            closed_form = [np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)]
            np.testing.assert_allclose(item["doa"][track, frame].numpy(), closed_form, atol=1e-6)
            np.testing.assert_allclose(item["doa"][track, frame].numpy(),
                                       dcase_to_cartesian(az, el), atol=1e-6)
            assert item["distance"][track, frame].item() == pytest.approx(dist / 100.0)
            assert cls == rec.classes[track]
        np.testing.assert_array_equal(item["sed"].numpy(), expected_sed)
        active = item["sed"].sum(-1) > 0
        norms = item["doa"].norm(dim=-1)
        assert torch.allclose(norms[active], torch.ones(int(active.sum())), atol=1e-6)
        assert not norms[~active].any()


def test_same_scene_from_both_layouts(tmp_path):
    src = tmp_path / "ds"
    make_dummy_dataset(src, {"train": 2, "validation": 1, "test": 2}, [2, 5, 3, 4, 2], FS,
                       SECONDS, np.random.default_rng(12))
    out = tmp_path / "asa2"
    export_asa2(src, out, include_validation=True)
    ours = SceneDataset(src)
    theirs = SceneDataset(out)
    assert theirs.layout == "asa2" and sorted(theirs.ids) == sorted(ours.ids)
    by_id = {item["id"]: item for item in theirs}
    for a in ours:
        b = by_id[a["id"]]
        for key in ("class", "sed", "doa", "num_sources"):
            assert torch.equal(a[key], b[key]), (a["id"], key)
        for key in ("mixture", "direct", "reverb"):
            assert (a[key] - b[key]).abs().max().item() <= 0.5 / 32768 + 1e-7, (a["id"], key)
        # ASA2 files carry no distance: NaN where active, 0 elsewhere.
        active = a["sed"].sum(-1) > 0
        assert torch.isnan(b["distance"][active]).all() and not b["distance"][~active].any()
    # Our split names select the matching part of the ASA2 folders.
    assert SceneDataset(out, split="validation").ids == ["validation-000000"]
    assert SceneDataset(out, split="dev").ids == ["train-000000", "train-000001"]  # validation: its own folder
    assert SceneDataset(out, split="validation").ids == ["validation-000000"]
    assert SceneDataset(out / "test").ids == ["test-000000", "test-000001"]


def test_foreign_asa2_data_without_export_record(tmp_path):
    src = tmp_path / "ds"
    records = make_dummy_dataset(src, 1, 3, FS, SECONDS, np.random.default_rng(13))
    out = tmp_path / "asa2"
    export_asa2(src, out)
    (out / "asabench-export.json").unlink()
    info = out / "test" / "info" / "0.csv"
    lines = info.read_text().splitlines()
    # Drop every row of source 1: a source that is never active has no class in the CSV.
    info.write_text("\n".join([lines[0]] + [l for l in lines[1:] if l.split(",")[1] != "1"]) + "\n")
    item = SceneDataset(out)[0]
    assert item["id"] == "test/0"
    assert item["class"].tolist() == [records[0].classes[0], -1, records[0].classes[2], -1, -1]
    assert int(item["num_sources"]) == 3 and not item["sed"][1].any()
    assert item["direct"][1].abs().sum() > 0  # its audio is still there


def test_collate_and_dataloader(dataset):
    root, records = dataset
    loader = torch.utils.data.DataLoader(SceneDataset(root), batch_size=3, collate_fn=collate_scenes)
    batch = next(iter(loader))
    assert batch["mixture"].shape == (3, 4, N) and batch["direct"].shape == (3, 5, 4, N)
    assert batch["sed"].shape == (3, 5, T, 13) and batch["class"].shape == (3, 5)
    assert batch["id"] == [r.id for r in records[:3]]
    assert batch["num_sources"].tolist() == [2, 3, 4]
    assert batch["num_samples"].tolist() == [N, N, N]


def test_malformed_index_line_names_file_line_field(dataset):
    root, _ = dataset
    index = root / "index.jsonl"
    lines = index.read_text().splitlines(keepends=True)
    rec = json.loads(lines[2])
    rec["classes"][0] = 13
    lines[2] = json.dumps(rec) + "\n"
    index.write_text("".join(lines))
    with pytest.raises(DatasetFormatError, match=r"index\.jsonl:3: field 'classes\[0\]'") as err:
        SceneDataset(root)
    assert err.value.line == 3 and err.value.field == "classes[0]"


def test_missing_dataset_json(dataset):
    root, _ = dataset
    (root / "dataset.json").unlink()
    with pytest.raises(DatasetFormatError, match="dataset.json"):
        SceneDataset(root, layout="asabench")
    with pytest.raises(DatasetFormatError, match="no dataset.json"):
        SceneDataset(root)


def test_wrong_channel_count_names_file_and_field(dataset):
    root, records = dataset
    path = root / records[1].files.direct[2].path
    audio, _ = sf.read(path, dtype="float32")
    sf.write(path, audio[:, :3], FS, subtype="FLOAT")
    ds = SceneDataset(root)
    ds[0]  # other scenes still load
    with pytest.raises(DatasetFormatError, match=r"direct/2\.wav: field 'num_channels': 3 channels") as err:
        ds[1]
    assert err.value.path == path


def test_bad_label_rows_name_file_line_field(dataset):
    root, records = dataset
    labels = root / records[0].files.labels.path
    lines = labels.read_text().splitlines()
    cells = lines[1].split(",")
    cells[1] = str((int(cells[1]) + 1) % 13)  # a class that contradicts the index
    lines[1] = ",".join(cells)
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match=r"labels\.csv:2: field 'class'"):
        SceneDataset(root)[0]
    lines[1] = "9,0,0,10,10,100"  # frame 9 of a 4-frame scene
    labels.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match=r"labels\.csv:2: field 'frame'"):
        SceneDataset(root)[0]


def test_too_many_sources_for_the_slots(dataset):
    root, _ = dataset
    with pytest.raises(DatasetFormatError, match="5 sources, more than max_sources=4"):
        SceneDataset(root, max_sources=4)
    assert len(SceneDataset(root, max_sources=6)[0]["class"]) == 6


def test_without_targets_only_the_mixture_is_read(dataset):
    root, records = dataset
    full, light = SceneDataset(root)[3], SceneDataset(root, targets=False)[3]
    assert "direct" not in light and "reverb" not in light
    for key in ("mixture", "class", "sed", "doa", "distance", "num_sources"):
        assert torch.equal(full[key], light[key]), key
    # Target files are not even opened: removing them does not matter.
    for entry in records[3].files.direct + records[3].files.reverb:
        (root / entry.path).unlink()
    assert torch.equal(SceneDataset(root, targets=False)[3]["mixture"], full["mixture"])
    batch = collate_scenes([light, light])
    assert batch["mixture"].shape == (2, 4, N) and "direct" not in batch
