"""The simulate job: build (or complete) a dataset split from a manifest; re-render one spec.

The command line is :mod:`asabench.benchmark.cli.simulate`.

``simulate`` samples, renders and writes the scenes of one split (or a range or shard of it)
with a pool of worker processes (``spawn``); each scene draws from its own seed, so the
result does not depend on the number of workers, the shard or the order. Complete scenes
are skipped, so running the same command again after a kill completes the dataset with
byte-identical files. ``render`` re-renders one scene from its ``spec.json`` alone, also
with a relocated corpus (``--sources``/``--noise``).

Every rendering process runs torch on one thread: results are then bit-identical whatever
the worker count (multithreaded reductions may round differently), and throughput comes from
the worker processes.
"""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from asabench.simulate.dataset.format import Pathlike
from asabench.simulate.manifest import Manifest, ManifestError, load_manifest
from asabench.simulate.scene.spec import SceneSpec, SpecError, load_spec
from asabench.simulate.sources.base import SourceError
from asabench.simulate.sources.open import Banks, open_banks, open_banks_for_spec  # noqa: F401  (the one bank opener)

if TYPE_CHECKING:
    from asabench.simulate.scene.render import RenderedScene

# Rendering (torch, RIR engine), sampling and writing are imported where they run, so that
# `asabench --help` and the other commands do not pay for them.

__all__ = [
    "Banks",
    "ClipCache",
    "CachedBank",
    "open_banks",
    "open_banks_for_spec",
    "SimulationSummary",
    "simulate_dataset",
    "scene_indices",
    "render_spec_to",
]

STAGES = ("load", "rirs", "convolution", "noise", "labels", "write")


class ClipCache:
    """Least-recently-used cache of loaded clips, shared by a process's source and noise banks.

    A dataset job draws a few hundred built-in clips (or a corpus' popular files) thousands
    of times; generating or decoding and resampling each again dominated the scene time.
    Cached arrays are returned read-only, so no caller can alter what the next scene gets.

    Parameters
    ----------
    max_bytes : memory budget of the cached float32 samples.
    """

    def __init__(self, max_bytes: int = 256 * 2**20) -> None:
        from collections import OrderedDict

        self.max_bytes = max_bytes
        self.bytes = 0
        self.items: "OrderedDict[tuple, np.ndarray]" = OrderedDict()

    def load(self, bank: Any, ref: Any, fs: int) -> np.ndarray:
        """``bank.load(ref, fs)``, from the cache when the same ref was loaded before."""
        key = (id(bank), ref, int(fs))
        clip = self.items.get(key)
        if clip is not None:
            self.items.move_to_end(key)
            return clip
        clip = np.asarray(bank.load(ref, fs))
        clip.setflags(write=False)
        if clip.nbytes <= self.max_bytes:
            self.items[key] = clip
            self.bytes += clip.nbytes
            while self.bytes > self.max_bytes:
                _, old = self.items.popitem(last=False)
                self.bytes -= old.nbytes
        return clip


class CachedBank:
    """A bank whose ``load`` goes through a :class:`ClipCache` (everything else delegated)."""

    def __init__(self, bank: Any, cache: ClipCache) -> None:
        self._bank = bank
        self._cache = cache

    def load(self, ref: Any, fs: int) -> np.ndarray:
        return self._cache.load(self._bank, ref, fs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bank, name)


# ------------------------------------------------------------------------------ workers

_STATE: dict[str, Any] = {}


def init_worker(manifest: Manifest, out: str, sources: str | None, noise: str | None, device: str,
                 backend: str, crossfade: bool, audio_format: str = "float32", secret: Any = None) -> None:
    import torch

    torch.set_num_threads(1)
    banks = open_banks(manifest, sources, noise)
    cache = ClipCache()
    banks.sources = CachedBank(banks.sources, cache)  # type: ignore[assignment]
    banks.noise = CachedBank(banks.noise, cache)  # type: ignore[assignment]
    _STATE.update(manifest=manifest, out=out, banks=banks, device=device, backend=backend, crossfade=crossfade,
                  audio_format=audio_format, secret=secret)


def _make_scene(split: str, index: int) -> tuple[int, dict[str, float], str | None]:
    """Sample, render and write one scene in a worker; errors come back as text."""
    from asabench.simulate.scene.render import render_scene
    from asabench.simulate.scene.sampling import BadSourceError, sample_scene
    from asabench.simulate.dataset.writer import write_scene

    st = _STATE
    banks: Banks = st["banks"]
    try:
        t_sample = time.perf_counter()
        spec, clips, noise_clip = sample_scene(
            st["manifest"], split, index, banks.sources, banks.noise, load_clips=True,
            backend=st["backend"], crossfade=st["crossfade"], bank_info=banks.describe(),
            secret=st.get("secret"))
        t_sample = time.perf_counter() - t_sample
        scene = render_scene(spec, clips=clips, noise_clip=noise_clip, device=st["device"])
        t0 = time.perf_counter()
        write_scene(st["out"], scene, st["audio_format"])
        timings = dict(scene.timings, write=time.perf_counter() - t0)
        timings["load"] += t_sample  # sampling and clip loading/generation
        return index, timings, None
    except (BadSourceError, SourceError, ValueError, OSError) as exc:
        return index, {}, f"{split}-{index:06d}: {exc}"


def run_scene_job(job: tuple[str, int]) -> tuple[int, dict[str, float], str | None]:
    return _make_scene(*job)


@dataclass
class SimulationSummary:
    """What a ``simulate`` job did."""

    split: str
    requested: int
    skipped: int
    written: int
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    indexed: int = 0

    def add(self, timings: dict[str, float], error: str | None) -> None:
        """Count one scene job's outcome: its stage timings, or its error."""
        if error is not None:
            self.failed.append(error)
            return
        self.written += 1
        for k, v in timings.items():
            self.stage_seconds[k] = self.stage_seconds.get(k, 0.0) + v

    def text(self) -> str:
        rate = self.written / self.seconds if self.seconds > 0 else 0.0
        stages = ", ".join(f"{k} {v:.1f}" for k, v in self.stage_seconds.items())
        lines = [f"{self.split}: {self.written} written, {self.skipped} already complete, "
                 f"{len(self.failed)} failed of {self.requested} in {self.seconds:.1f} s "
                 f"({rate:.2f} scenes/s); worker seconds: {stages}; index.jsonl lists {self.indexed} scenes"]
        lines += [f"  failed {msg}" for msg in self.failed]
        return "\n".join(lines)


class _Progress:
    """The simulate bar (tqdm, as the training bar): scenes/s and ETA on stderr; closed at the last scene."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total, self.done = total, 0
        self.bar = None
        if enabled and total > 0:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, unit="scene", file=sys.stderr, dynamic_ncols=True)

    def step(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            if self.done >= self.total:
                self.bar.close()


def scene_indices(start: int, num: int, shard: tuple[int, int] = (0, 1)) -> range:
    """Indices ``k`` in ``start .. start + num - 1`` with ``k % n == i`` for ``shard = (i, n)``.

    A ``range``: constant memory and time whatever the split size (10^9 scenes included).
    """
    i, n = shard
    first = start + (i - start) % n
    return range(first, max(first, start + num), n)


def simulate_dataset(
    manifest: Manifest | Pathlike,
    split: str,
    out: Pathlike,
    *,
    start: int = 0,
    num: int | None = None,
    shard: tuple[int, int] = (0, 1),
    sources: str | None = None,
    noise: str | None = None,
    workers: int = 1,
    device: str = "cpu",
    backend: str = "torch",
    crossfade: bool = False,
    progress: bool = False,
    audio_format: str = "float32",
    secret_seed: Pathlike | None = None,
) -> SimulationSummary:
    """Make (or complete) scenes ``start .. start + num - 1`` of a split in ``out``.

    Parameters
    ----------
    manifest : the recipe or its path.
    split : a split declared by the manifest.
    out : dataset folder.
    start, num : the range of scene indices (``num`` default: to the end of the split).
    shard : ``(i, n)``: only indices ``k`` with ``k % n == i`` (jobs on several machines).
    sources, noise : ``None`` (manifest), ``"builtin"`` or a prepared index path.
    workers : processes (``spawn``); 1 renders in this process.
    device, backend, crossfade : RIR device and engine, trajectory crossfade.
    progress : draw a progress bar on stderr.
    audio_format : ``float32``, ``pcm16`` or ``flac`` (``docs/storage.md``); recorded in
        ``dataset.json``, and a folder holds one format.
    secret_seed : a private seed file (:mod:`asabench.simulate.secret_seed`): the split is
        a hidden one, its scene seeds derived from the file; ``dataset.json`` records only
        its fingerprint (``hidden_splits.<split>``). ``None``: the public seeds.

    Returns
    -------
    SimulationSummary
    """
    from asabench.simulate.dataset.writer import completed_record, init_dataset, present_indices, rebuild_index

    m = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    if split not in m.splits:
        raise ManifestError(f"{m.path}: field 'splits': no split {split!r} (has {', '.join(m.splits)})")
    size = m.splits[split]
    if num is None:
        num = size - start
    if start < 0 or num < 0 or start + num > size:
        raise ValueError(f"scenes {start}..{start + num - 1} are outside split {split!r} of {size} scenes")
    if not (0 <= shard[0] < shard[1]):
        raise ValueError(f"shard {shard[0]}/{shard[1]}: need 0 <= I < N")
    out = Path(out)
    secret = None
    if secret_seed is not None:
        from asabench.simulate.secret_seed import read_secret_seed

        secret = read_secret_seed(secret_seed, outputs=(out,))
    if backend == "gpurir":
        print("asabench: gpuRIR draws its diffuse tails from an unseeded generator; this dataset "
              "will not be byte-identical across runs (use --backend torch for that)", file=sys.stderr)
    banks = open_banks(m, sources, noise)
    init_dataset(out, m, banks.sources_label, banks.noise_label, banks.describe(), audio_format,
                 hidden=(split, secret.fingerprint if secret is not None else None))
    wanted = scene_indices(start, num, shard)
    # Only the scenes present are looked at (one folder listing), never every index of the
    # range: a split of 10^9 scenes costs what its present scenes cost. A present scene made
    # from another manifest raises (the folder mixes datasets) instead of being overwritten.
    complete = {k for k in present_indices(out, split)
                if k in wanted and completed_record(out, split, k, manifest_sha256=m.sha256) is not None}
    num_pending = len(wanted) - len(complete)
    summary = SimulationSummary(split=split, requested=len(wanted), skipped=len(complete), written=0,
                                stage_seconds={k: 0.0 for k in STAGES})
    bar = _Progress(num_pending, f"{m.name}/{split}", progress)
    t0 = time.perf_counter()
    args = (m, str(out), sources, noise, device, backend, crossfade, audio_format, secret)
    jobs = ((split, k) for k in wanted if k not in complete)
    try:
        for index, timings, error in _run(jobs, num_pending, workers, args):
            bar.step()
            summary.add(timings, error)
    finally:
        # Also after Ctrl-C or a crash: the index lists every scene completed so far.
        summary.seconds = time.perf_counter() - t0
        summary.indexed = len(rebuild_index(out))
    return summary


#: Scenes handed to the pool at a time, per worker: the job list is never materialised.
_BATCH_PER_WORKER = 32


def _run(jobs: Iterator[tuple[str, int]], num_jobs: int, workers: int,
         args: tuple) -> Iterator[tuple[int, dict[str, float], str | None]]:
    if num_jobs <= 0:
        return
    if workers <= 1:
        import torch

        threads = torch.get_num_threads()
        try:
            init_worker(*args)
            for job in jobs:
                yield run_scene_job(job)
        finally:
            torch.set_num_threads(threads)
            _STATE.clear()
        return
    from asabench.simulate.executors.local import LocalPool

    # spawn: a forked child would inherit torch's thread pool of the parent.
    with LocalPool(min(workers, num_jobs), initializer=init_worker, initargs=args,
                   start_method="spawn", what="scene rendering") as pool:
        # Jobs go to the pool in bounded batches so that memory does not grow with the
        # number of scenes.
        while True:
            batch = list(itertools.islice(jobs, _BATCH_PER_WORKER * workers))
            if not batch:
                break
            yield from pool.imap_unordered(run_scene_job, batch)


def render_spec_to(spec: SceneSpec | Pathlike, out: Pathlike, *, sources: str | None = None,
                   noise: str | None = None, device: str = "cpu") -> RenderedScene:
    """Re-render one scene from its spec into ``out`` (the scene's files directly in ``out``).

    The stored ``noise.gain`` and ``output_gain`` are recomputed; a mismatch beyond float
    rounding means the spec's sources changed, and raises.
    """
    from asabench.simulate.scene.render import render_scene
    from asabench.simulate.dataset.writer import write_scene_files

    spec_path = None if isinstance(spec, SceneSpec) else Path(spec)
    spec = spec if isinstance(spec, SceneSpec) else load_spec(spec)
    # Every file id of the spec is confined to its bank's root here, before any is opened.
    banks = open_banks_for_spec(spec, sources, noise, spec_path=spec_path)
    scene = render_scene(spec, banks.sources, banks.noise, device=device)
    for name, old, new in (("output_gain", spec.output_gain, scene.spec.output_gain),
                           ("noise.gain", spec.noise.gain, scene.spec.noise.gain)):
        if old is not None and not np.isclose(old, new, rtol=1e-5, atol=0.0):
            raise SpecError(f"{spec.id}: field '{name}': re-rendered {new!r} differs from the stored {old!r}; "
                            "the source files differ from those the scene was made with")
    write_scene_files(Path(out), scene)
    return scene
