"""A dataset folder belongs to one manifest: concurrent jobs, resumed jobs, mixed folders."""

from __future__ import annotations

import json
import shutil
import threading
import tomllib
from pathlib import Path

import numpy as np
import pytest

import asabench.simulate.io.files as files
from asabench.simulate.dataset.build import simulate_dataset
from asabench.simulate.dataset.format import DatasetFormatError, read_dataset_info, sha256_file
from asabench.simulate.dataset.verify import verify_dataset
from asabench.simulate.dataset.writer import COMPLETION_RECORD, init_dataset, rebuild_index
from asabench.simulate.manifest import Manifest, parse_manifest
from asabench.simulate.testing.dummies import make_dummy_dataset

ROOT = Path(__file__).resolve().parents[3]


def _manifest(seed: int = 7, name: str = "demo") -> Manifest:
    raw = tomllib.loads((ROOT / "manifests" / "demo.toml").read_text())
    raw.update(seed=seed, name=name)
    return parse_manifest(raw, f"<{name} seed {seed}>")


def _race(monkeypatch, out: Path, manifests: list[Manifest]) -> list[BaseException | None]:
    """Start ``init_dataset`` for each manifest in its own thread, all at the same instant.

    A barrier inside the atomic writer (after each job wrote its temporary dataset.json,
    before any publishes it) holds every job until all of them have checked the folder
    and are about to publish: the worst interleaving, every time.
    """
    barrier = threading.Barrier(len(manifests))
    real_umask = files.current_umask

    def held_umask() -> int:
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        return real_umask()

    monkeypatch.setattr(files, "current_umask", held_umask)
    outcome: list[BaseException | None] = [None] * len(manifests)

    def job(k: int) -> None:
        try:
            init_dataset(out, manifests[k], "builtin", "builtin")
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertions
            outcome[k] = exc

    threads = [threading.Thread(target=job, args=(k,)) for k in range(len(manifests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcome


def test_two_jobs_with_different_manifests_starting_together_one_is_refused(tmp_path, monkeypatch):
    a, b = _manifest(7, "demo"), _manifest(8, "other")
    out = tmp_path / "ds"
    outcome = _race(monkeypatch, out, [a, b])
    refused = [exc for exc in outcome if exc is not None]
    assert len(refused) == 1 and isinstance(refused[0], DatasetFormatError), outcome
    winner, loser = (a, b) if outcome[1] is not None else (b, a)
    assert read_dataset_info(out).manifest_sha256 == winner.sha256
    msg = str(refused[0])
    assert msg.startswith(f"{out / 'dataset.json'}: field 'manifest_sha256':")
    for m in (winner, loser):
        assert m.sha256 in msg and repr(m.name) in msg
    # No temporary file is left behind by the loser.
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json"]


def test_same_manifest_twice_at_once_both_proceed(tmp_path, monkeypatch):
    m = _manifest()
    out = tmp_path / "ds"
    assert _race(monkeypatch, out, [m, m]) == [None, None]
    assert read_dataset_info(out).manifest_sha256 == m.sha256


def test_a_later_job_with_another_manifest_is_refused_before_writing(tmp_path):
    out = tmp_path / "ds"
    init_dataset(out, _manifest(7), "builtin", "builtin")
    before = (out / "dataset.json").read_bytes()
    with pytest.raises(DatasetFormatError, match="A dataset folder holds one manifest"):
        simulate_dataset(_manifest(9, "nine"), "test", out, num=1)
    assert (out / "dataset.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json"]


@pytest.fixture(scope="module")
def two_datasets(tmp_path_factory):
    """Scene test-000000 of manifest A and scene test-000001 of manifest B, each simulated."""
    base = tmp_path_factory.mktemp("own")
    a, b = _manifest(7), _manifest(11, "eleven")
    simulate_dataset(a, "test", base / "a", num=1)
    simulate_dataset(b, "test", base / "b", start=1, num=1)
    return base, a, b


def test_verify_names_each_scene_of_another_manifest(two_datasets, tmp_path):
    base, a, b = two_datasets
    mixed = tmp_path / "mixed"
    shutil.copytree(base / "a", mixed)
    shutil.copytree(base / "b" / "test" / "test-000001", mixed / "test" / "test-000001")
    rebuild_index(mixed)  # a consistent index: every hash matches, only the manifest differs
    report = verify_dataset(mixed, splits=["test"], start=0, num=2)
    assert not report.missing_files and not report.altered_files and not any(report.missing_scenes.values())
    assert not report.ok
    spec = mixed / "test" / "test-000001" / "spec.json"
    assert report.manifest_mismatches == [
        f"test-000001: {spec}: field 'manifest.sha256': {b.sha256}, dataset.json says {a.sha256}"]
    assert "scenes of another manifest" in report.format()
    # The clean dataset passes the same check.
    assert verify_dataset(base / "a", splits=["test"], start=0, num=1).ok


def test_simulate_refuses_to_reuse_a_complete_scene_of_another_manifest(two_datasets, tmp_path):
    # dataset.json was removed and the folder reused with another manifest: its complete
    # scene is neither skipped as done nor overwritten.
    base, a, b = two_datasets
    out = tmp_path / "reused"
    shutil.copytree(base / "b", out)
    (out / "dataset.json").unlink()
    scene = out / "test" / "test-000001"
    hashes = {p: sha256_file(p) for p in scene.rglob("*") if p.is_file()}
    with pytest.raises(DatasetFormatError) as err:
        simulate_dataset(a, "test", out, start=1, num=1)
    assert str(err.value).startswith(f"{scene / 'spec.json'}: field 'manifest.sha256':")
    assert b.sha256 in str(err.value) and a.sha256 in str(err.value)
    assert {p: sha256_file(p) for p in scene.rglob("*") if p.is_file()} == hashes


def test_resume_with_the_same_manifest_skips_complete_scenes(two_datasets, tmp_path):
    base, a, b = two_datasets
    out = tmp_path / "resume"
    shutil.copytree(base / "a", out)
    before = (out / "test" / "test-000000" / COMPLETION_RECORD).read_bytes()
    summary = simulate_dataset(a, "test", out, start=0, num=1)
    assert (summary.requested, summary.skipped, summary.written) == (1, 1, 0)
    assert (out / "test" / "test-000000" / COMPLETION_RECORD).read_bytes() == before


def test_dummy_specs_without_a_manifest_are_a_warning_not_a_mismatch(tmp_path):
    root = tmp_path / "ds"
    make_dummy_dataset(root, 2, 2, 8000, 0.4, np.random.default_rng(0))
    report = verify_dataset(root)
    assert report.ok and not report.manifest_mismatches
    assert [u.split()[0] for u in report.unchecked_manifests] == ["test-000000", "test-000001"]
    # A real spec (spec_version) without a manifest record is a mismatch, not a warning.
    from asabench.simulate.dataset.format import read_index

    rec = read_index(root)[0]
    spec = root / rec.files.spec.path
    obj = json.loads(spec.read_text())
    obj["spec_version"] = 1
    old = sha256_file(spec)
    spec.write_text(json.dumps(obj))
    for path in (root / "index.jsonl", spec.parent / COMPLETION_RECORD):
        path.write_text(path.read_text().replace(old, sha256_file(spec)))
    report = verify_dataset(root)
    assert [m.split(":")[0] for m in report.manifest_mismatches] == ["test-000000"]
    assert "missing, dataset.json says" in report.manifest_mismatches[0]
