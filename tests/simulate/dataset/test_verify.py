"""`asabench verify`: clean datasets pass; missing, altered, incomplete and stray data fail."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asabench.simulate.dataset.format import (
    DatasetFormatError,
    read_index,
    scan_index,
    sha256_file,
)
from asabench.simulate.testing.dummies import make_dummy_dataset
from asabench.simulate.dataset.verify import verify_dataset

FS = 8000
SECONDS = 0.4


@pytest.fixture()
def dataset(tmp_path: Path) -> tuple[Path, list]:
    root = tmp_path / "ds"
    records = make_dummy_dataset(root, {"train": 3, "test": 2}, [2, 3, 5], FS, SECONDS,
                                 np.random.default_rng(0))
    return root, records


def test_clean_dataset_passes(dataset):
    root, records = dataset
    report = verify_dataset(root)
    assert report.ok, report.format()
    assert report.scenes_checked == 5
    # 4 single files + direct and reverb per source: (2,3,5,2,3) sources.
    assert report.files_checked == sum(4 + 2 * j for j in (2, 3, 5, 2, 3))
    assert report.expected == {"test": range(0, 2), "train": range(0, 3)}
    assert "OK" in report.format().splitlines()[0]


def test_hashes_in_index_are_the_file_hashes(dataset):
    root, records = dataset
    import hashlib

    for rec in read_index(root):
        for _, entry in rec.files.all():
            assert entry.sha256 == hashlib.sha256((root / entry.path).read_bytes()).hexdigest()


def test_missing_file_is_reported(dataset):
    root, records = dataset
    victim = records[2].files.direct[4]  # train-000002 has 5 sources
    (root / victim.path).unlink()
    report = verify_dataset(root)
    assert not report.ok
    assert [(p.path, p.scene, p.field) for p in report.missing_files] == [
        (victim.path, "train-000002", "direct[4]")]
    assert not report.altered_files
    assert victim.path in report.format()


def test_altered_byte_is_reported(dataset):
    root, records = dataset
    victim = records[0].files.mixture
    path = root / victim.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify_dataset(root)
    assert not report.ok
    assert [(p.path, p.field) for p in report.altered_files] == [(victim.path, "mixture")]
    assert sha256_file(path) in report.altered_files[0].detail
    assert not report.missing_files


def test_incomplete_split_and_unindexed_scene(dataset):
    root, records = dataset
    # Simulate a job killed after writing test-000001's files but before indexing it.
    index = root / "index.jsonl"
    lines = index.read_text().splitlines(keepends=True)
    index.write_text("".join(l for l in lines if '"test-000001"' not in l))
    report = verify_dataset(root)
    assert not report.ok
    assert report.missing_scenes == {"test": [1], "train": []}
    unindexed = set(report.unindexed_files)
    assert {f.path for _, f in records[4].files.all()} | {"test/test-000001/complete.json"} == unindexed
    assert "test: 1" in report.format()
    # Only the range that was asked for is required.
    partial = verify_dataset(root, splits=["test"], start=0, num=1)
    assert partial.missing_scenes == {"test": []}


def test_stray_temporary_file_is_reported(dataset):
    root, records = dataset
    stray = root / "train" / "train-000001" / "direct" / ".1.wav.x7k2.tmp"
    stray.write_bytes(b"half a file")
    report = verify_dataset(root)
    assert not report.ok
    assert report.temporary_files == ["train/train-000001/direct/.1.wav.x7k2.tmp"]
    # A non-temporary file outside scene folders is only a warning.
    stray.unlink()
    (root / "README.txt").write_text("notes")
    report = verify_dataset(root)
    assert report.ok and report.other_files == ["README.txt"]


def test_completion_record_must_match_the_index(dataset):
    root, records = dataset
    done = root / "test" / "test-000000" / "complete.json"
    assert verify_dataset(root).ok
    done.write_text(done.read_text().replace('"num_sources":2', '"num_sources":2 ').replace(
        records[3].files.mixture.sha256, "0" * 64))
    report = verify_dataset(root)
    assert not report.ok
    assert [(p.path, p.field) for p in report.altered_files] == [
        ("test/test-000000/complete.json", "complete.json")]


def test_scene_beyond_split_size_is_unexpected(tmp_path):
    root = tmp_path / "ds"
    make_dummy_dataset(root, 3, 2, FS, SECONDS, np.random.default_rng(1))
    info_path = root / "dataset.json"
    info = json.loads(info_path.read_text())
    info["manifest"]["splits"]["test"] = 2
    info_path.write_text(json.dumps(info))
    report = verify_dataset(root)
    assert report.unexpected_scenes == ["test-000002"] and not report.ok


def test_malformed_and_torn_index_lines(dataset):
    root, records = dataset
    index = root / "index.jsonl"
    lines = index.read_text().splitlines(keepends=True)
    bad = json.loads(lines[1])
    del bad["files"]["labels"]
    lines[1] = json.dumps(bad) + "\n"
    index.write_text("".join(lines) + '{"id": "test-0000')
    scan = scan_index(root)
    assert [(e.line, e.field) for e in scan.errors] == [(2, "files.labels"), (len(lines) + 1, None)]
    with pytest.raises(DatasetFormatError, match=r"index\.jsonl:2: field 'files\.labels': missing"):
        read_index(root)
    report = verify_dataset(root)
    assert not report.ok and len(report.index_errors) == 2
    assert report.missing_scenes["train"] == [1]


def test_duplicate_record_is_reported(dataset):
    root, _ = dataset
    index = root / "index.jsonl"
    first = index.read_text().splitlines(keepends=True)[0]
    with open(index, "a") as fh:
        fh.write(first)
    report = verify_dataset(root)
    assert not report.ok and "listed twice" in report.index_errors[0]
    with pytest.raises(DatasetFormatError, match="listed twice"):
        read_index(root)


def test_wrong_channel_count_is_reported_even_with_matching_hash(dataset):
    root, records = dataset
    rec = records[1]
    entry = rec.files.reverb[0]
    path = root / entry.path
    audio, fs = sf.read(path, dtype="float32")
    sf.write(path, audio[:, :2], fs, subtype="FLOAT")
    for listing in (root / "index.jsonl", root / "train" / rec.id / "complete.json"):
        listing.write_text(listing.read_text().replace(entry.sha256, sha256_file(path)))
    report = verify_dataset(root)
    assert not report.altered_files
    assert [(p.path, p.field) for p in report.bad_audio] == [(entry.path, "reverb[0]")]
    assert "2 channels" in report.bad_audio[0].detail


def test_missing_dataset_json(dataset):
    root, _ = dataset
    (root / "dataset.json").unlink()
    report = verify_dataset(root)
    assert not report.ok
    assert "dataset.json" in report.dataset_errors[0]


def test_cli_exit_status_and_listing(dataset, capsys):
    from asabench.benchmark.cli import main

    root, records = dataset
    assert main(["verify", str(root)]) == 0
    assert "OK" in capsys.readouterr().out
    (root / records[3].files.labels.path).write_text("0,1,0,0,0,100\n")
    assert main(["verify", str(root)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and records[3].files.labels.path in out


def test_completeness_against_a_manifest_file(tmp_path):
    from asabench.simulate.manifest import load_manifest

    demo_path = Path(__file__).resolve().parents[3] / "manifests" / "demo.toml"
    demo = load_manifest(demo_path)
    root = tmp_path / "ds"
    make_dummy_dataset(root, {"test": 4, "validation": 1}, 2, FS, SECONDS, np.random.default_rng(2))
    report = verify_dataset(root, demo_path)
    # The dummy's dataset.json names another manifest, and demo wants more scenes.
    assert any("manifest_sha256" in e for e in report.dataset_errors)
    assert report.missing_scenes == {"train": list(range(8)), "validation": [1], "test": []}
    info_path = root / "dataset.json"
    info = json.loads(info_path.read_text())
    info["manifest_sha256"] = demo.sha256
    info_path.write_text(json.dumps(info))
    report = verify_dataset(root, demo_path, splits=["test"])
    assert report.ok, report.format()


def test_wav_of_another_length_is_reported(dataset):
    root, records = dataset
    rec = records[0]
    entry = rec.files.noise
    path = root / entry.path
    audio, fs = sf.read(path, dtype="float32")
    sf.write(path, audio[:-7], fs, subtype="FLOAT")
    for listing in (root / "index.jsonl", root / "train" / rec.id / "complete.json"):
        listing.write_text(listing.read_text().replace(entry.sha256, sha256_file(path)))
    report = verify_dataset(root)
    n = int(FS * SECONDS)
    assert [(p.scene, p.detail) for p in report.bad_audio] == [
        (rec.id, f"WAV lengths differ: {[n - 7, n]} samples")]
