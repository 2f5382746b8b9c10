"""Splits of 10^9 scenes: verify and simulate work with ranges, never a list of every index."""

from __future__ import annotations

import json
import tomllib
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import asabench.simulate.dataset.writer as writer
from asabench.simulate.dataset.build import scene_indices, simulate_dataset
from asabench.simulate.dataset.format import DatasetFormatError, read_dataset_info, read_index
from asabench.simulate.dataset.verify import IndexRanges, verify_dataset
from asabench.simulate.manifest import parse_manifest
from asabench.simulate.testing.dummies import make_dummy_dataset

ROOT = Path(__file__).resolve().parents[3]
BILLION = 10**9


def test_scene_indices_is_a_range_equal_to_the_filter():
    for start, num, shard in [(0, 10, (0, 1)), (0, 10, (1, 3)), (5, 17, (1, 3)), (7, 0, (2, 4)),
                              (3, 2, (0, 5)), (0, 1, (4, 5)), (11, 30, (10, 11))]:
        got = scene_indices(start, num, shard)
        assert isinstance(got, range)
        assert list(got) == [k for k in range(start, start + num) if k % shard[1] == shard[0]]
    big = scene_indices(0, BILLION, (3, 5 * 10**8))
    assert list(big) == [3, 500000003] and len(scene_indices(0, BILLION)) == BILLION


def test_index_ranges_are_gaps_of_the_present_indices():
    gaps = IndexRanges.gaps(range(0, 10), {0, 3, 4, 9, 42})
    assert gaps == [1, 2, 5, 6, 7, 8] and len(gaps) == 6 and gaps.text() == "1-2, 5-8"
    assert 5 in gaps and 3 not in gaps and gaps[2] == 5 and gaps[-1] == 8
    huge = IndexRanges.gaps(range(0, BILLION), {0, 1})
    assert len(huge) == BILLION - 2 and huge.text() == f"2-{BILLION - 1}" and huge[0] == 2


def test_verify_a_split_of_a_billion_scenes_with_two_present(tmp_path: Path):
    root = tmp_path / "ds"
    make_dummy_dataset(root, 2, 2, 8000, 0.4, np.random.default_rng(0))
    info = json.loads((root / "dataset.json").read_text())
    info["manifest"]["splits"] = {"test": BILLION}
    (root / "dataset.json").write_text(json.dumps(info))
    tracemalloc.start()
    report = verify_dataset(root)
    text = report.format()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 * 2**20, peak  # a list of 10^9 ints would be 8 GB (36 GB as a set)
    assert report.expected == {"test": range(0, BILLION)}
    assert len(report.missing_scenes["test"]) == BILLION - 2
    assert f"split test: 2 of {BILLION} scenes indexed" in text
    assert f"test: 2-{BILLION - 1}" in text
    assert report.scenes_checked == 2 and not report.ok


def test_simulate_a_shard_of_a_billion_scene_split_looks_only_at_present_scenes(tmp_path, monkeypatch):
    raw = tomllib.loads((ROOT / "manifests" / "demo.toml").read_text())
    raw["splits"] = {"test": BILLION}
    raw.update(duration_s=0.5)
    raw["motion"].update(n_points=5)
    m = parse_manifest(raw, "<billion>")
    out = tmp_path / "ds"
    first = simulate_dataset(m, "test", out, start=0, num=2)
    assert (first.requested, first.written) == (2, 2)
    calls: list[int] = []
    real = writer.completed_record

    def counted(root, split, index, **kw):
        calls.append(index)
        return real(root, split, index, **kw)

    monkeypatch.setattr(writer, "completed_record", counted)
    # Shard 0 of 5*10^8 over the whole split: scenes 0 (present) and 500000000 (new).
    summary = simulate_dataset(m, "test", out, num=BILLION, shard=(0, 5 * 10**8))
    assert (summary.requested, summary.skipped, summary.written, summary.failed) == (2, 1, 1, [])
    assert calls == [0]  # present scenes only: never one call per index of the split
    assert [r.index for r in read_index(out)] == [0, 1, 500000000]
    assert read_dataset_info(out).split_sizes() == {"test": BILLION}


@pytest.mark.parametrize("size", [-1, BILLION + 1, True])
def test_a_split_size_outside_the_manifest_bound_is_a_format_error(tmp_path: Path, size):
    root = tmp_path / "ds"
    make_dummy_dataset(root, 1, 2, 8000, 0.4, np.random.default_rng(0))
    info = json.loads((root / "dataset.json").read_text())
    info["manifest"]["splits"] = {"test": size}
    (root / "dataset.json").write_text(json.dumps(info))
    with pytest.raises(DatasetFormatError, match=r"dataset\.json: field 'manifest\.splits\.test':"):
        read_dataset_info(root)
