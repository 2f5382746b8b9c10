"""Generate a dataset split on a Dask cluster: scene ranges as tasks (``docs/cluster.md``).

The client (this process) opens the dataset folder exactly as ``simulate`` does
(``dataset.json`` created or checked, complete scenes skipped), cuts the pending scene
indices into ranges of ``scenes_per_task`` and submits one task per range. A worker
renders a range with the same code as the local pool (:mod:`asabench.simulate.dataset.build`:
``init_worker`` once per worker process and job, then ``run_scene_job`` per scene, torch
on one thread) and writes the scenes into ``out``, which must be a folder every worker sees
(a shared file system). Each scene draws from its own seed and is written atomically with
its completion record, so the result is byte-identical to a local run whatever the number
of workers, the order or the retries; ``index.jsonl`` is rebuilt once by the client at
the end.

A worker that dies (killed, out of memory) loses its running task; the scheduler runs it
again on another worker (up to Dask's ``distributed.scheduler.allowed-failures``) and the
range is rendered from scratch (a half-written scene is rewritten, complete ones are
byte-identical anyway). With ``--device cuda`` each worker's RIRs run on its GPU; pass
``resources={"GPU": 1}`` with workers started as ``dask worker ... --resources GPU=1`` so
that one task runs per GPU at a time.

Why Dask and not Ray: ``distributed`` is a pure-Python wheel over the libraries we already
have, its ``LocalCluster`` starts in seconds on a 2-core machine, and one scheduler address
is all a cluster needs (``dask scheduler`` / ``dask worker``, or dask-jobqueue on Slurm).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from asabench.simulate.dataset.format import Pathlike
from asabench.simulate.manifest import Manifest, ManifestError, load_manifest

__all__ = ["simulate_on_dask", "plan_ranges", "render_range"]

#: Scenes per task: a few seconds of work each, so that the scheduler's overhead is small
#: and a lost worker costs little.
DEFAULT_SCENES_PER_TASK: int = 8


@dataclass(frozen=True)
class JobArgs:
    """What every worker needs to render scenes of one job (sent with each task)."""

    manifest: Manifest
    out: str
    sources: str | None
    noise: str | None
    device: str
    backend: str
    crossfade: bool
    audio_format: str

    def init_args(self) -> tuple:
        return (self.manifest, self.out, self.sources, self.noise, self.device, self.backend,
                self.crossfade, self.audio_format)


_WORKER_JOB: dict[str, Any] = {}


def render_range(job: JobArgs, split: str, indices: Sequence[int],
                 _fault_marker: str | None = None) -> list[tuple[int, dict[str, float], str | None]]:
    """Render and write the scenes ``indices`` of ``split`` in this worker process.

    The worker's banks and caches are opened once per job (the first task of the job on this
    worker) and kept for its next tasks. ``_fault_marker`` (tests only): the first task that
    finds no file there creates it and kills its worker process, as a crash would.
    """
    from asabench.simulate.dataset import build

    if _fault_marker is not None and not os.path.exists(_fault_marker):
        Path(_fault_marker).write_text(f"killed pid {os.getpid()}\n")
        os._exit(1)
    key = repr((job.manifest.sha256,) + job.init_args()[1:])
    if _WORKER_JOB.get("key") != key:
        build.init_worker(*job.init_args())
        _WORKER_JOB["key"] = key
    return [build.run_scene_job((split, int(k))) for k in indices]


def plan_ranges(indices: Sequence[int], scenes_per_task: int) -> list[list[int]]:
    """Consecutive runs of ``scenes_per_task`` pending indices (the last one shorter)."""
    if scenes_per_task < 1:
        raise ValueError(f"scenes_per_task must be >= 1, got {scenes_per_task}")
    items = list(indices)
    return [items[i:i + scenes_per_task] for i in range(0, len(items), scenes_per_task)]


def _pending(m: Manifest, split: str, out: Path, start: int, num: int | None, shard: tuple[int, int],
             sources: str | None, noise: str | None, audio_format: str) -> tuple[range, list[int]]:
    """Check the request as ``simulate`` does, create/check ``dataset.json``: (wanted, pending)."""
    from asabench.simulate.dataset.build import open_banks, scene_indices
    from asabench.simulate.dataset.writer import completed_record, init_dataset, present_indices

    if split not in m.splits:
        raise ManifestError(f"{m.path}: field 'splits': no split {split!r} (has {', '.join(m.splits)})")
    size = m.splits[split]
    num = size - start if num is None else num
    if start < 0 or num < 0 or start + num > size:
        raise ValueError(f"scenes {start}..{start + num - 1} are outside split {split!r} of {size} scenes")
    if not (0 <= shard[0] < shard[1]):
        raise ValueError(f"shard {shard[0]}/{shard[1]}: need 0 <= I < N")
    banks = open_banks(m, sources, noise)
    init_dataset(out, m, banks.sources_label, banks.noise_label, banks.describe(), audio_format)
    wanted = scene_indices(start, num, shard)
    complete = {k for k in present_indices(out, split)
                if k in wanted and completed_record(out, split, k, manifest_sha256=m.sha256) is not None}
    return wanted, [k for k in wanted if k not in complete]


def simulate_on_dask(
    manifest: Manifest | Pathlike,
    split: str,
    out: Pathlike,
    *,
    client: Any = None,
    address: str | None = None,
    n_workers: int = 2,
    start: int = 0,
    num: int | None = None,
    shard: tuple[int, int] = (0, 1),
    scenes_per_task: int = DEFAULT_SCENES_PER_TASK,
    sources: str | None = None,
    noise: str | None = None,
    device: str = "cpu",
    backend: str = "torch",
    crossfade: bool = False,
    audio_format: str = "float32",
    resources: dict[str, float] | None = None,
    _fault_marker: str | None = None,
):
    """Make (or complete) scenes of a split on a Dask cluster; the arguments of ``simulate``.

    Parameters
    ----------
    client : a ``distributed.Client``; else one is made for ``address`` (a scheduler,
        ``tcp://host:8786``), else for a ``LocalCluster`` of ``n_workers`` processes with
        one thread each (closed at the end).
    scenes_per_task : scenes rendered by one task.
    resources : Dask resources each task needs (``{"GPU": 1}`` on GPU workers).
    Other parameters : as :func:`asabench.simulate.dataset.build.simulate_dataset`;
        ``out`` must be visible to every worker at the same path.

    Returns
    -------
    SimulationSummary
    """
    from asabench.simulate.dataset.build import STAGES, SimulationSummary
    from asabench.simulate.dataset.writer import rebuild_index

    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    out = Path(out).resolve()
    wanted, pending = _pending(m, split, out, start, num, shard, sources, noise, audio_format)
    summary = SimulationSummary(split=split, requested=len(wanted), skipped=len(wanted) - len(pending),
                                written=0, stage_seconds={k: 0.0 for k in STAGES})
    job = JobArgs(m, str(out), sources, noise, device, backend, crossfade, audio_format)
    t0 = time.perf_counter()
    try:
        if pending:
            with _client(client, address, n_workers) as dask_client:
                for index, timings, error in _run(dask_client, job, split, plan_ranges(pending, scenes_per_task),
                                                  resources, _fault_marker):
                    summary.add(timings, error)
    finally:
        summary.seconds = time.perf_counter() - t0
        summary.indexed = len(rebuild_index(out))
    return summary


class _client:
    """The given client (left open), or one made here (closed, with its cluster, at the end)."""

    def __init__(self, client: Any, address: str | None, n_workers: int) -> None:
        self.given, self.address, self.n_workers = client, address, n_workers
        self.made: list[Any] = []

    def __enter__(self):
        if self.given is not None:
            return self.given
        from distributed import Client, LocalCluster

        if self.address is not None:
            c = Client(self.address)
        else:
            cluster = LocalCluster(n_workers=self.n_workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            self.made.append(cluster)
            c = Client(cluster)
        self.made.insert(0, c)
        return c

    def __exit__(self, *exc: Any) -> None:
        for thing in self.made:
            thing.close()


def _run(client: Any, job: JobArgs, split: str, ranges: list[list[int]], resources: dict[str, float] | None,
         fault_marker: str | None) -> Iterator[tuple[int, dict[str, float], str | None]]:
    from distributed import as_completed

    job_future = client.scatter(job, broadcast=True)
    futures = [client.submit(render_range, job_future, split, r, fault_marker,
                             key=f"asabench-render-{split}-{r[0]}-{r[-1]}-{m_key(job)}",
                             resources=resources, pure=False)
               for r in ranges]
    try:
        for future in as_completed(futures):
            try:
                results = future.result()
            except Exception as err:
                if type(err).__name__ != "KilledWorker":
                    raise
                from asabench.simulate.executors.local import WorkerDiedError

                raise WorkerDiedError(f"scenes {future.key}: the Dask workers running them died "
                                      f"repeatedly ({err}); complete scenes are kept, rerun to finish") from None
            yield from results
    finally:
        for future in futures:
            future.cancel()


def m_key(job: JobArgs) -> str:
    """A short token of the job (manifest hash and output), so keys of two jobs never collide."""
    import hashlib

    return hashlib.sha256(repr(job.init_args()[1:] + (job.manifest.sha256,)).encode()).hexdigest()[:12]
