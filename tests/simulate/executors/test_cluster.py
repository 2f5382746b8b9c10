"""Generation on a Dask cluster and as submitit job arrays: byte-identical to a local run,
a killed worker's (or job's) scenes redone, failures named."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from asabench.simulate.dataset.build import simulate_dataset
from asabench.simulate.manifest import ManifestError

NUM = 6  # demo train scenes


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("local") / "ds"
    simulate_dataset("demo", "train", root, num=NUM, audio_format="flac")
    return root


def test_plan_ranges_cuts_the_pending_scenes_in_order():
    from asabench.simulate.executors.dask_cluster import plan_ranges

    assert plan_ranges([0, 1, 2, 5, 6, 9, 10], 3) == [[0, 1, 2], [5, 6, 9], [10]]
    assert plan_ranges([], 4) == []
    with pytest.raises(ValueError, match="scenes_per_task must be >= 1"):
        plan_ranges([1], 0)


def test_dask_request_errors_come_before_any_cluster(tmp_path):
    from asabench.simulate.executors.dask_cluster import simulate_on_dask

    with pytest.raises(ManifestError, match="no split 'dev'"):
        simulate_on_dask("demo", "dev", tmp_path / "x", client=object())
    with pytest.raises(ValueError, match="outside split 'train' of 8 scenes"):
        simulate_on_dask("demo", "train", tmp_path / "x", num=9, client=object())
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_dask_two_workers_byte_identical_and_a_killed_worker_redone(local_run, tmp_path):
    pytest.importorskip("distributed")
    from asabench.simulate.executors.dask_cluster import simulate_on_dask

    marker = tmp_path / "killed"
    summary = simulate_on_dask("demo", "train", tmp_path / "ds", num=NUM, n_workers=2, scenes_per_task=2,
                               audio_format="flac", _fault_marker=str(marker))
    assert marker.read_text().startswith("killed pid")  # one worker process did die mid-job
    assert (summary.written, summary.failed, summary.indexed) == (NUM, [], NUM)
    assert _hashes(tmp_path / "ds") == _hashes(local_run)


class _DeadJob:
    job_id = "dead"

    def result(self):
        raise RuntimeError("Job 17 (task: 0) failed during processing with trace: killed by signal 9")


class _DeadExecutor:
    def __init__(self) -> None:
        self.submitted: list[list[int]] = []

    def map_array(self, fn, shards):
        self.submitted.append(list(shards))
        return [_DeadJob() for _ in shards]


def test_slurm_resubmits_a_dead_shard_then_names_it(tmp_path):
    pytest.importorskip("submitit")
    from asabench.simulate.executors.slurm import simulate_on_slurm

    executor = _DeadExecutor()
    with pytest.raises(RuntimeError) as err:
        simulate_on_slurm("demo", "train", tmp_path / "ds", num_shards=3, executor=executor, retries=2, num=3)
    assert executor.submitted == [[0, 1, 2], [0, 1, 2], [0, 1, 2]]
    assert str(err.value).startswith("shard 0/3 of 'train' failed 3 time(s) (RuntimeError: Job 17")
    assert "run the same command again" in str(err.value)


@pytest.mark.slow
def test_submitit_local_array_byte_identical_and_a_killed_job_redone(local_run, tmp_path):
    submitit = pytest.importorskip("submitit")
    from asabench.simulate.executors.slurm import simulate_on_slurm

    executor = submitit.LocalExecutor(folder=str(tmp_path / "logs"))
    executor.update_parameters(timeout_min=5)
    marker = tmp_path / "killed"
    summary = simulate_on_slurm("demo", "train", tmp_path / "ds", num_shards=2, executor=executor, num=NUM,
                                audio_format="flac", _fault_marker=str(marker))
    assert marker.read_text().startswith("killed shard")
    assert sum(summary.resubmitted.values()) == 1 and summary.indexed == NUM and summary.failed == []
    assert _hashes(tmp_path / "ds") == _hashes(local_run)


def test_cli_slurm_needs_an_array_and_no_shard(tmp_path, capsys):
    from asabench.benchmark.cli import main

    assert main(["simulate", "demo", "--split", "test", "--out", str(tmp_path / "a"), "--executor", "slurm"]) == 2
    assert capsys.readouterr().err.strip() == "asabench simulate: --executor slurm needs --array N (N >= 1 shard jobs)"
    assert main(["simulate", "demo", "--split", "test", "--out", str(tmp_path / "a"), "--executor", "slurm",
                 "--array", "2", "--shard", "1/2"]) == 2
    assert "use --array N instead of --shard" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
