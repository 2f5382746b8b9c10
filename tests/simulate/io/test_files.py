"""The one file mechanism: atomic writes with the umask's mode, hashing, path confinement."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from asabench.simulate.io.files import (
    OutputOverlapsInputError,
    PathConfinementError,
    atomic_write_bytes,
    atomic_write_text,
    atomic_write_with,
    confine,
    current_umask,
    refuse_output_over_inputs,
    sha256_file,
)


@pytest.fixture
def umask():
    """Set a umask for one test and restore the previous one."""
    old = os.umask(0o022)
    os.umask(old)

    def set_(mask: int) -> None:
        os.umask(mask)

    yield set_
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_dataset_files_were_created_0600_regression_now_honour_the_umask(tmp_path: Path, umask, mask: int, expected: int) -> None:
    # Regression: dataset_index's writer created every file with mkstemp's 0600, so other
    # users on a shared machine or cluster could not read a generated dataset.
    from asabench.simulate.dataset.build import simulate_dataset

    umask(mask)
    out = tmp_path / "ds"
    simulate_dataset("demo", "test", out, num=1, progress=False)
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) >= 5  # dataset.json, index.jsonl, spec, labels, wavs
    assert {p.name for p in written} >= {"dataset.json", "index.jsonl"}
    assert {oct(_mode(p)) for p in written} == {oct(expected)}


def test_every_writer_gets_the_umask_mode(tmp_path: Path, umask) -> None:
    umask(0o022)
    atomic_write_bytes(tmp_path / "a.bin", b"x")
    atomic_write_text(tmp_path / "b.txt", "y")
    atomic_write_with(tmp_path / "c.txt", lambda p: p.write_text("z"))
    assert [oct(_mode(tmp_path / n)) for n in ("a.bin", "b.txt", "c.txt")] == [oct(0o644)] * 3
    assert current_umask() == 0o022


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_write_text(target, "old")

    def boom(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write_with(target, boom)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_exclusive_create_lets_exactly_one_of_many_racers_win(tmp_path: Path) -> None:
    target = tmp_path / "dataset.json"
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def racer(i: int) -> None:
        barrier.wait()
        try:
            atomic_write_text(target, f"job {i}", exclusive=True)
            outcomes.append(f"won {i}")
        except FileExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1 and outcomes.count("refused") == 7
    assert target.read_text() == "job " + winners[0].split()[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset.json"]


def test_sha256_file_equals_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)  # spans several chunks
    (tmp_path / "x").write_bytes(data)
    assert sha256_file(tmp_path / "x") == hashlib.sha256(data).hexdigest()
    assert sha256_file(tmp_path / "x", chunk_bytes=1000) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("value", ["../../secret.wav", "/etc/passwd", "a/../../b", "", "C:\\x.wav", "a\x00b"])
def test_confine_refuses_paths_that_leave_the_root(tmp_path: Path, value: str) -> None:
    with pytest.raises(PathConfinementError) as err:
        confine(tmp_path / "bank", value, source=tmp_path / "spec.json", field="sources[0].file")
    msg = str(err.value)
    assert "spec.json" in msg and "field 'sources[0].file'" in msg


def test_confine_resolves_symlinks_before_deciding(tmp_path: Path) -> None:
    root = tmp_path / "bank"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    assert confine(root, "sub/../sub/a.wav") == (root / "sub" / "a.wav").resolve()
    with pytest.raises(PathConfinementError, match="leaves its root"):
        confine(root, "escape/a.wav")


def test_refuse_output_over_inputs(tmp_path: Path) -> None:
    ref = tmp_path / "ref"
    (ref / "test").mkdir(parents=True)
    (ref / "dataset.json").write_text("{}")
    with pytest.raises(OutputOverlapsInputError, match="dataset.json"):
        refuse_output_over_inputs([ref / "dataset.json"], [ref])
    with pytest.raises(OutputOverlapsInputError):
        refuse_output_over_inputs([ref / "test" / "r.json"], [ref])
    link = tmp_path / "link.json"
    link.symlink_to(ref / "dataset.json")
    with pytest.raises(OutputOverlapsInputError):
        refuse_output_over_inputs([link], [ref])
    refuse_output_over_inputs([tmp_path / "results.json"], [ref])  # beside, not inside: fine
