"""Generate a dataset split as a Slurm job array through submitit (``docs/cluster.md``).

Job ``i`` of an array of ``N`` runs ``simulate`` with ``--shard i/N`` (scenes ``k`` with
``k % N == i``) into the same dataset folder on a shared file system, with its own local
worker pool. Scenes draw from their own seeds and complete scenes are skipped, so the
result is byte-identical to one local run, and a job that fails or is killed (pre-empted,
out of memory, past its time limit) is submitted again for its shard: it redoes only the
scenes that are not complete. The submitting process rebuilds ``index.jsonl`` once all
shards are done.

``executor`` is any submitit executor: ``submitit.AutoExecutor(folder)`` (Slurm when
``sbatch`` is there, else local processes: the default) or ``submitit.LocalExecutor``
(tests). Its parameters (partition, time, GPUs) are the caller's.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asabench.simulate.dataset.format import Pathlike

__all__ = ["simulate_on_slurm", "ShardJob", "SlurmSummary"]


@dataclass(frozen=True)
class ShardJob:
    """The ``simulate`` call of one array element (picklable: it is what submitit sends)."""

    manifest: str
    split: str
    out: str
    num_shards: int
    start: int = 0
    num: int | None = None
    sources: str | None = None
    noise: str | None = None
    workers: int = 1
    device: str = "cpu"
    backend: str = "torch"
    crossfade: bool = False
    audio_format: str = "float32"
    fault_marker: str | None = None  # tests: the first job to find no file here dies

    def __call__(self, shard: int) -> dict[str, Any]:
        from asabench.simulate.dataset.build import simulate_dataset

        if self.fault_marker is not None and not os.path.exists(self.fault_marker):
            Path(self.fault_marker).write_text(f"killed shard {shard} pid {os.getpid()}\n")
            os._exit(1)
        s = simulate_dataset(self.manifest, self.split, self.out, start=self.start, num=self.num,
                             shard=(shard, self.num_shards), sources=self.sources, noise=self.noise,
                             workers=self.workers, device=self.device, backend=self.backend,
                             crossfade=self.crossfade, audio_format=self.audio_format)
        return {"shard": shard, "written": s.written, "skipped": s.skipped, "failed": list(s.failed),
                "seconds": s.seconds}


@dataclass
class SlurmSummary:
    """What a job array did: per-shard results, resubmissions, the index size."""

    split: str
    shards: dict[int, dict[str, Any]] = field(default_factory=dict)
    resubmitted: dict[int, int] = field(default_factory=dict)
    job_ids: list[str] = field(default_factory=list)
    indexed: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[str]:
        return [msg for r in self.shards.values() for msg in r.get("failed", [])]

    def text(self) -> str:
        written = sum(r.get("written", 0) for r in self.shards.values())
        again = sum(self.resubmitted.values())
        lines = [f"{self.split}: {len(self.shards)} shard job(s), {written} scenes written, "
                 f"{len(self.failed)} failed, {again} job(s) resubmitted, in {self.seconds:.1f} s; "
                 f"index.jsonl lists {self.indexed} scenes"]
        lines += [f"  failed {msg}" for msg in self.failed]
        return "\n".join(lines)


def simulate_on_slurm(manifest: Pathlike, split: str, out: Pathlike, *, num_shards: int,
                      executor: Any = None, folder: Pathlike | None = None, retries: int = 2,
                      _fault_marker: str | None = None, **simulate_args: Any) -> SlurmSummary:
    """Run ``simulate`` as an array of ``num_shards`` jobs and wait for them.

    Parameters
    ----------
    manifest : manifest file or shipped name (sent to each job as is).
    num_shards : array size N; job ``i`` makes shard ``i/N``.
    executor : a submitit executor; default ``submitit.AutoExecutor(folder)`` (``folder``
        default ``<out>/../.<name>-submitit``: job logs, outside the dataset).
    retries : times a failed or killed shard job is submitted again.
    simulate_args : ``start``, ``num``, ``sources``, ``noise``, ``workers`` (per job),
        ``device``, ``backend``, ``crossfade``, ``audio_format``.

    Raises
    ------
    RuntimeError
        A shard still failed after ``retries`` resubmissions (its complete scenes are kept;
        rerunning the same call completes the dataset).
    """
    import submitit

    from asabench.simulate.dataset.writer import rebuild_index

    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    out = Path(out).resolve()
    if executor is None:
        logs = Path(folder) if folder is not None else out.parent / f".{out.name}-submitit"
        executor = submitit.AutoExecutor(folder=str(logs))
    manifest_arg = str(Path(manifest).resolve()) if Path(str(manifest)).exists() else str(manifest)
    job = ShardJob(manifest_arg, split, str(out), num_shards, fault_marker=_fault_marker, **simulate_args)
    summary = SlurmSummary(split=split)
    t0 = time.perf_counter()
    # Shard jobs starting together race to create dataset.json: one creates it (exclusive
    # create), the others compare theirs with it (init_dataset).
    pending = list(range(num_shards))
    attempt = 0
    while pending:
        jobs = executor.map_array(job, pending)
        summary.job_ids += [j.job_id for j in jobs]
        failed = []
        for shard, j in zip(pending, jobs):
            try:
                summary.shards[shard] = j.result()
            except Exception as err:  # submitit's FailedJobError / UncompletedJobError: a dead job
                failed.append((shard, err))
        if not failed:
            break
        if attempt >= retries:
            shard, err = failed[0]
            summary.indexed = len(rebuild_index(out))
            raise RuntimeError(f"shard {shard}/{num_shards} of {split!r} failed {attempt + 1} time(s) "
                               f"({type(err).__name__}: {' '.join(str(err).split())[:200]}); complete "
                               "scenes are kept: run the same command again to finish")
        attempt += 1
        pending = [shard for shard, _ in failed]
        for shard in pending:
            summary.resubmitted[shard] = summary.resubmitted.get(shard, 0) + 1
    summary.seconds = time.perf_counter() - t0
    summary.indexed = len(rebuild_index(out))
    return summary
