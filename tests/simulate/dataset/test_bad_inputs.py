"""A sweep of bad dataset inputs: each is refused naming file and field, nothing is lost.

Paths read from ``index.jsonl`` are confined to the dataset before they are hashed or
converted; ``dataset.json`` fields of the wrong type are named; a scene folder that is a
file, or a listed file that changed since it was indexed, fails that scene only.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest

import asabench.simulate.dataset.verify as verify_module
from asabench.simulate.dataset.build import simulate_dataset
from asabench.simulate.dataset.format import (
    DatasetFormatError,
    read_dataset_info,
    read_index,
    scan_index,
    sha256_file,
)
from asabench.simulate.dataset.verify import verify_dataset
from asabench.simulate.export.asa2 import export_asa2
from asabench.simulate.io.files import OutputOverlapsInputError, PathConfinementError
from asabench.simulate.manifest import parse_manifest
from asabench.simulate.testing.dummies import make_dummy_dataset

ROOT = Path(__file__).resolve().parents[3]
FS, SECONDS = 8000, 0.4


@pytest.fixture()
def dataset(tmp_path: Path):
    root = tmp_path / "ds"
    records = make_dummy_dataset(root, 2, 2, FS, SECONDS, np.random.default_rng(1))
    outside = tmp_path / "outside.wav"
    outside.write_bytes((root / records[0].files.mixture.path).read_bytes())
    return root, records, outside


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _record_opens(monkeypatch, target: Path) -> list[str]:
    seen: list[str] = []
    real_target = target.resolve()
    real_read_bytes, real_open = Path.read_bytes, Path.open

    def read_bytes(self):
        if self.resolve() == real_target:
            seen.append(str(self))
        return real_read_bytes(self)

    def path_open(self, *a, **k):
        if self.resolve() == real_target:
            seen.append(str(self))
        return real_open(self, *a, **k)

    def sha(path, *a, **k):
        if Path(path).resolve() == real_target:
            seen.append(str(path))
        return sha256_file(path, *a, **k)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(Path, "open", path_open)
    monkeypatch.setattr(verify_module, "sha256_file", sha)
    return seen


def test_listed_file_that_is_a_symlink_out_of_the_dataset_is_never_opened(dataset, monkeypatch):
    root, records, outside = dataset
    victim = root / records[1].files.direct[0].path
    victim.unlink()
    os.symlink(outside, victim)
    seen = _record_opens(monkeypatch, outside)
    report = verify_dataset(root)
    assert seen == []
    assert not report.ok
    assert report.index_errors == [
        f"scene test-000001: {root / 'index.jsonl'}: field 'files.direct[0].path': path "
        f"{records[1].files.direct[0].path!r} leaves its root (root {root})"]
    # The export refuses it before converting anything of that scene.
    out = root.parent / "asa2"
    with pytest.raises(PathConfinementError, match=r"field 'test-000001\.files\.direct\[0\]\.path'"):
        export_asa2(root, out)
    assert seen == []
    assert not (out / "test" / "mixed" / "1.wav").exists()


@pytest.mark.parametrize("path, why", [
    ("dataset.json", "is not a file of the scene's folder"),
    ("test/test-000000/mixture.wav", "is not a file of the scene's folder"),
    ("test/test-000001/../../dataset.json", "must be a POSIX path inside the dataset"),
    ("/etc/passwd", "must be a POSIX path inside the dataset"),
])
def test_index_record_pointing_outside_its_scene_folder(dataset, path, why):
    root, records, outside = dataset
    index = root / "index.jsonl"
    lines = index.read_text().splitlines(keepends=True)
    obj = json.loads(lines[1])
    obj["files"]["mixture"]["path"] = path
    lines[1] = json.dumps(obj) + "\n"
    index.write_text("".join(lines))
    with pytest.raises(DatasetFormatError) as err:
        read_index(root)
    assert str(err.value).startswith(f"{index}:2: field 'files.mixture.path':") and why in str(err.value)
    report = verify_dataset(root)
    assert any(e.startswith(f"{index}:2: field 'files.mixture.path':") for e in report.index_errors)


def test_truncated_and_garbled_index_lines_name_their_line(dataset):
    root, records, outside = dataset
    index = root / "index.jsonl"
    good = index.read_text().splitlines(keepends=True)
    index.write_text(good[0] + '{"id": "test-000001", "split": \n' + "\x00\xff garbage\n" + good[1][:40])
    scan = scan_index(root)
    assert [(e.line, e.field) for e in scan.errors] == [(2, None), (3, None), (4, None)]
    assert "torn write" in str(scan.errors[2]) and [r.id for r in scan.records] == ["test-000000"]


@pytest.mark.parametrize("key, value", [
    ("duration_s", "0.4"), ("duration_s", True), ("duration_s", math.inf), ("label_hop_s", math.nan),
    ("fs", 8000.0), ("fs", 10**12), ("num_channels", -4), ("manifest", []), ("manifest_sha256", 5),
    ("sources", None), ("name", ["x"]),
])
def test_dataset_json_field_of_the_wrong_type_is_named(dataset, key, value):
    root, records, outside = dataset
    path = root / "dataset.json"
    obj = json.loads(path.read_text())
    obj[key] = value
    path.write_text(json.dumps(obj))  # json writes NaN/Infinity literals, as a hand edit may
    with pytest.raises(DatasetFormatError) as err:
        read_dataset_info(root)
    assert str(err.value).startswith(f"{path}: field '{key}':")
    report = verify_dataset(root)
    assert not report.ok and report.dataset_errors[0].startswith(f"{path}: field '{key}':")


def test_dataset_json_or_index_that_is_a_folder(dataset):
    root, records, outside = dataset
    (root / "index.jsonl").unlink()
    (root / "index.jsonl").mkdir()
    assert verify_dataset(root).index_errors == [f"{root / 'index.jsonl'}: is not a regular file"]
    (root / "dataset.json").unlink()
    (root / "dataset.json").mkdir()
    with pytest.raises(DatasetFormatError, match="is not a regular file"):
        read_dataset_info(root)


def test_altered_file_is_not_exported(dataset):
    root, records, outside = dataset
    victim = root / records[1].files.reverb[0].path
    data = bytearray(victim.read_bytes())
    data[-3] ^= 0x40
    victim.write_bytes(bytes(data))
    out = root.parent / "asa2"
    with pytest.raises(DatasetFormatError, match=r"reverb/0\.wav: field 'sha256':.*changed since it was written"):
        export_asa2(root, out)
    assert (out / "test" / "mixed" / "0.wav").is_file()  # the scene before it is complete
    assert not (out / "test" / "mixed" / "1.wav").exists() and not (out / "test" / "info" / "1.csv").exists()


@pytest.mark.parametrize("folder", ["../escape", "/tmp/x", "a/b", ".."])
def test_export_split_map_folder_must_be_a_plain_name(dataset, folder):
    root, records, outside = dataset
    out = root.parent / "asa2"
    with pytest.raises(ValueError, match="one plain name"):
        export_asa2(root, out, split_map={"test": folder})
    assert not out.exists() and not (root.parent / "escape").exists()


def test_export_inside_its_source_is_refused(dataset):
    root, records, outside = dataset
    before = _tree(root)
    with pytest.raises(OutputOverlapsInputError):
        export_asa2(root, root / "asa2")
    assert _tree(root) == before


def test_scene_folder_that_is_a_file_fails_that_scene_only(tmp_path):
    raw = tomllib.loads((ROOT / "manifests" / "demo.toml").read_text())
    raw.update(duration_s=0.5)
    raw["motion"].update(n_points=5)
    m = parse_manifest(raw, "<demo, 0.5 s>")
    out = tmp_path / "ds"
    (out / "test").mkdir(parents=True)
    blocker = out / "test" / "test-000001"
    blocker.write_bytes(b"not a folder")
    summary = simulate_dataset(m, "test", out, num=2)
    assert summary.written == 1 and len(summary.failed) == 1
    assert summary.failed[0].startswith(f"test-000001: {blocker}: exists and is not a plain folder")
    assert blocker.read_bytes() == b"not a folder"
    assert [r.id for r in read_index(out)] == ["test-000000"]


@pytest.mark.parametrize("edit, field", [
    (lambda r: r.update(scenes={"test/0": {"id": 5, "classes": [1]}}), "scenes.test/0"),
    (lambda r: r.update(scenes={"test/0": {"id": "test-000000", "classes": [99]}}), "scenes.test/0"),
    (lambda r: r.update(scenes=[1]), "scenes"),
    (lambda r: r.update(fs="8000"), "fs"),
    (lambda r: r.update(duration_s=math.nan), "duration_s"),
    (lambda r: r.update(split_map={"test": 3}), "split_map"),
])
def test_export_record_of_the_wrong_shape_is_named(dataset, edit, field):
    from asabench.simulate.export.asa2 import EXPORT_RECORD, Asa2FormatError, read_export_record

    root, records, outside = dataset
    out = root.parent / "asa2"
    export_asa2(root, out)
    path = out / EXPORT_RECORD
    record = json.loads(path.read_text())
    assert read_export_record(out) == record
    edit(record)
    path.write_text(json.dumps(record))
    with pytest.raises(Asa2FormatError) as err:
        read_export_record(out)
    assert str(err.value).startswith(f"{path}: field '{field}':")
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(Asa2FormatError, match="not valid JSON"):
        read_export_record(out)
