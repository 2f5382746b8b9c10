"""Dataset writing: same files for repeated, parallel, sharded and interrupted-then-resumed runs."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest
import yaml

from asabench.benchmark.cli import main as cli_main
from asabench.simulate.dataset.format import DatasetFormatError, read_dataset_info, read_index
from asabench.simulate.dataset.build import simulate_dataset
from asabench.simulate.dataset.writer import COMPLETION_RECORD

ROOT = Path(__file__).resolve().parents[3]
NUM = 4


@pytest.fixture(scope="module")
def manifest_path(tmp_path_factory) -> Path:
    with open(ROOT / "manifests" / "demo.toml", "rb") as fh:
        raw = tomllib.load(fh)
    raw.update(duration_s=1.0)
    raw["motion"].update(n_points=10)
    raw["splits"] = {"train": 6, "test": NUM}
    path = tmp_path_factory.mktemp("manifest") / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(manifest_path, tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("ref")
    summary = simulate_dataset(manifest_path, "test", out)
    assert (summary.written, summary.skipped, summary.failed, summary.indexed) == (NUM, 0, [], NUM)
    return _tree(out)


def test_layout_and_index_follow_the_format(reference, manifest_path, tmp_path):
    assert "dataset.json" in reference and "index.jsonl" in reference
    out = tmp_path / "ds"
    simulate_dataset(manifest_path, "test", out, num=2)
    info = read_dataset_info(out)
    assert info.sources == "builtin" and info.noise == "builtin" and info.num_channels == 4
    records = read_index(out)
    assert [r.id for r in records] == ["test-000000", "test-000001"]
    for r in records:
        for _, entry in r.files.all():
            assert hashlib.sha256((out / entry.path).read_bytes()).hexdigest() == entry.sha256
        spec = json.loads((out / r.files.spec.path).read_text())
        assert spec["id"] == r.id and [s["class_idx"] for s in spec["sources"]] == list(r.classes)


def test_two_runs_give_identical_files(reference, manifest_path, tmp_path):
    simulate_dataset(manifest_path, "test", tmp_path / "again")
    assert _tree(tmp_path / "again") == reference


def test_two_workers_give_identical_files(reference, manifest_path, tmp_path):
    summary = simulate_dataset(manifest_path, "test", tmp_path / "par", workers=2)
    assert summary.written == NUM
    assert _tree(tmp_path / "par") == reference


def test_shards_and_reversed_ranges_give_identical_files(reference, manifest_path, tmp_path):
    out = tmp_path / "shards"
    simulate_dataset(manifest_path, "test", out, shard=(1, 2))
    simulate_dataset(manifest_path, "test", out, shard=(0, 2))
    assert _tree(out) == reference


def test_interrupted_then_resumed_run_gives_identical_files(reference, manifest_path, tmp_path):
    out = tmp_path / "resumed"
    simulate_dataset(manifest_path, "test", out, start=1, num=2)
    # A kill mid-scene: scene 2 lost its completion record, one file is torn, a temporary is left.
    scene2 = out / "test" / "test-000002"
    (scene2 / COMPLETION_RECORD).unlink()
    (scene2 / "mixture.wav").write_bytes(b"RIFF torn")
    (scene2 / ".noise.wav.abc123.tmp").write_bytes(b"partial")
    # A scene whose file was altered after completion is not complete either.
    (out / "test" / "test-000001" / "labels.csv").write_text("0,0,0,0,0,0\n")
    summary = simulate_dataset(manifest_path, "test", out)
    assert (summary.written, summary.skipped) == (NUM, 0)
    assert _tree(out) == reference
    again = simulate_dataset(manifest_path, "test", out)
    assert (again.written, again.skipped) == (0, NUM)
    assert _tree(out) == reference


def test_cli_simulate_and_mixing_recipes_is_refused(reference, manifest_path, tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli_main(["simulate", str(manifest_path), "--split", "test", "--out", str(out), "--quiet"]) == 0
    assert _tree(out) == reference
    assert "4 written" in capsys.readouterr().out
    code = cli_main(["simulate", "demo", "--split", "test", "--out", str(out), "--num", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "dataset.json" in err and "manifest_sha256" in err
    with pytest.raises(DatasetFormatError):
        simulate_dataset(ROOT / "manifests" / "demo.toml", "test", out, num=1)
    code = cli_main(["simulate", str(manifest_path), "--split", "nope", "--out", str(out), "--quiet"])
    assert code == 2 and "'splits'" in capsys.readouterr().err
