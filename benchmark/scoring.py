"""Scoring of system outputs against an asabench dataset: per-scene metrics, aggregates, result file.

:func:`score` reads the reference dataset (``dataset.json``, ``index.jsonl``, audio and
labels), validates the predictions (:mod:`asabench.benchmark.submissions.layout`), computes the
task's metrics per scene, aggregates them over scenes with leave-one-scene-out jackknife
confidence intervals, and returns a JSON-ready results record; :func:`write_results` writes
it atomically together with a per-scene CSV.

Tasks
-----
``uss``
    A scene's ``J`` references are matched to ``J`` of its ``K`` estimates (``J <= K <=
    max(J, 5)``, :data:`MAX_USS_ESTIMATES`) by the injective assignment that maximises the
    convention's objective (pooled: the mean channel-pooled SI-SDR; deepasa: the SA-SDR at
    channel 0), searched exhaustively over all ``K!/(K - J)!`` assignments up to 5
    estimates (Hungarian beyond); the ``K - J`` estimates left over are not scored.
``tse``
    Estimate ``k`` is the extraction given source ``k``'s direction; it is scored against
    source ``k``.
``seld``
    DCASE CSV predictions scored with :mod:`asabench.benchmark.metrics.seld` in one of its
    modes (``default``, ``dcase2023``, ``dcase2024``, ``deepasa``; the track index is the
    object slot in ``deepasa``).

Separation conventions (``separation_convention``): ``"pooled"`` (default, the headline:
channel-pooled SI-SDR/SDR/SI-SNR and their improvements over the full mixture, plus the
channel-mean and reference-channel variants) and ``"deepasa"`` (the DeepASA authors'
evaluation: channel 0, zero-mean SI-SNR and plain SNR, improvements over channel 0 of the
mixture, permutation by SA-SDR at channel 0). Spatial cues (``spatial_definition``):
``"m2m"`` (default) or ``"exact-length"``. ``definitions.metric_conventions`` names the
convention of every reported number.

Separation references are the sources' spatial images at the array: ``target="full"``
(default) is the reverberant image ``direct + reverb``, ``target="direct"`` the direct-path
image only. Oracle rows: ``oracle="mixture"`` scores the mixture as every estimate (all
improvements exactly 0 dB), ``oracle="targets"`` scores the references themselves (the
clamp ceiling for separation, perfect SELD).

Results file (``schema_version`` 1), JSON without NaN (undefined values are ``null``):
``format`` ``"asabench-results"``, ``asabench_version``, ``task``, ``dataset`` (path as
given, name, version, ``manifest_sha256`` from ``dataset.json``, split, scene count, fs, channels,
``hidden``: ``false`` or a hidden test split's ``{"fingerprint": "sha256:..."}``),
``predictions`` (path or oracle), ``warnings``, ``metric_names``, ``definitions`` (what every
metric means and the parameters used: SELD mode, averaging and thresholds; target image,
matching and STFT/GCC-PHAT parameters; guard constants), ``aggregate`` (per metric:
``value``, jackknife ``estimate``, ``bias``, ``std_err``, ``ci_low``, ``ci_high``, ``n``,
``n_values``), ``per_scene`` (per scene: id, num_sources, per-source values or SELD
values, USS permutation), SELD ``per_class`` and pooled ``counts``, and ``guard_events``.
The per-scene CSV has one row per scene with each metric averaged over the scene's sources.
"""

from __future__ import annotations

import csv
import ctypes
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import torch

from asabench.simulate.classes import NUM_CLASSES
from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.metrics.guards import GuardReport, guard_definitions
from asabench.simulate.secret_seed import recorded_fingerprint
from asabench.benchmark.metrics.permutation import apply_permutation
from asabench.benchmark.metrics.seld import (BLOCK_FRAMES, DOA_THRESHOLD_DEG, REL_DIST_THRESHOLD, SELD_MODES,
                                             SeldAverage, SeldMode, evaluate_seld)
from asabench.benchmark.metrics.separation import SEPARATION_CONVENTIONS, separation_deepasa, separation_family
from asabench.benchmark.stats import mean_with_jackknife
from asabench.benchmark.metrics.spatial import SPATIAL_DEFINITIONS, spatial_cue_errors
from asabench.benchmark.submissions.layout import (MAX_USS_ESTIMATES, SceneExpectation, Submission, SubmissionError,
                                                   read_prediction, validate_submission)
from asabench.simulate.classes import DCASE_CLASSES
from asabench.simulate.dataset.format import DatasetInfo, Pathlike, SceneRecord
from asabench.simulate.dataset.reader import DatasetReader, SceneItem
from asabench.simulate.executors.local import LocalPool, usable_cores
from asabench.simulate.io.files import atomic_write_text, refuse_output_over_inputs

#: ``eps`` of the M2M ILD in scoring: float32's machine epsilon, the dtype of the WAV data
#: and of the M2M evaluation's tensors (the references are summed in float64 here).
SPATIAL_ILD_EPS: float = float(np.finfo(np.float32).eps)
#: Version of the results-file layout; bump when it changes.
RESULTS_SCHEMA_VERSION: int = 1
Oracle = Literal["mixture", "targets"]
Target = Literal["full", "direct"]

#: Separation metrics, name -> definition (all in dB unless stated).
SEPARATION_METRICS: dict[str, str] = {
    "si_sdr": "SI-SDR, channel-pooled (one scale over all channels, no mean removal)",
    "si_sdr_i": "SI-SDR improvement over the mixture, channel-pooled (headline)",
    "sdr": "SDR = SNR = BSS-Eval-images SDR, channel-pooled energies",
    "sdr_i": "SDR (SNR) improvement over the mixture, channel-pooled (headline)",
    "si_snr": "SI-SNR (SI-SDR after removing each channel's mean), channel-pooled",
    "si_snr_i": "SI-SNR improvement, channel-pooled",
    "si_sdr_i_chmean": "SI-SDR improvement per channel, averaged over channels",
    "si_sdr_i_ref0": "SI-SDR improvement at reference channel 0",
    "sdr_i_chmean": "SDR (SNR) improvement per channel, averaged over channels",
    "sdr_i_ref0": "SDR (SNR) improvement at reference channel 0",
    "delta_ild_db": "ΔILD (dB): |ILD(est) - ILD(ref)| broadband, mean over mic pairs",
    "delta_ipd_rad": "ΔIPD (rad): mean over TF bins and mic pairs of the wrapped IPD difference",
    "delta_ipd_masked_rad": "ΔIPD (rad) over reference bins within the energy mask",
    "delta_itd_us": "ΔITD (µs): GCC-PHAT, ±1 ms integer-sample search, mean over mic pairs",
    "delta_itd_subsample_us": "ΔITD (µs): GCC-PHAT with sub-sample interpolation",
}
#: Separation metrics of the ``deepasa`` convention (all at reference channel 0).
DEEPASA_SEPARATION_METRICS: dict[str, str] = {
    "si_snr_ref0": "SI-SNR at reference channel 0 (zero-mean; permutation by SA-SDR at channel 0)",
    "si_snr_i_ref0": "SI-SNR improvement over channel 0 of the mixture (DeepASA's 'SI-SDRi')",
    "snr_ref0": "SNR at reference channel 0 (plain, no mean removal; permutation by SA-SDR at channel 0)",
    "snr_i_ref0": "SNR improvement over channel 0 of the mixture (DeepASA's 'SDRi')",
}
SeparationConvention = Literal["pooled", "deepasa"]
_BSS_METRICS = {"bss_sdr": "BSS-Eval v3 SDR (512-tap distortion filter), per channel averaged",
                "bss_sdr_i": "BSS-Eval v3 SDR improvement over the mixture"}


class ScoringError(ValueError):
    """The reference dataset or the request cannot be scored; the message says why."""



# ----------------------------------------------------------------------------- reference


@dataclass
class ReferenceSet:
    """The scenes of a dataset to score against: a view over its :class:`DatasetReader`.

    Attributes
    ----------
    reader : the dataset reader (the one :class:`~asabench.simulate.SceneDataset` uses:
    index paths confined to the folder, WAVs checked, labels validated). records : scenes
    to score. all_ids : every scene id of the dataset. num_samples : [S] samples of each
    scene's mixture. num_frames : [S] label frames (file duration / label hop).
    """

    reader: DatasetReader
    records: list[SceneRecord]
    all_ids: list[str]
    num_samples: np.ndarray
    num_frames: np.ndarray
    split: str | None

    @property
    def root(self) -> Path:
        return self.reader.root

    @property
    def info(self) -> DatasetInfo:
        assert self.reader.info is not None
        return self.reader.info

    def expectations(self) -> list[SceneExpectation]:
        return [SceneExpectation(r.id, r.num_sources, self.info.num_channels, self.info.fs,
                                 int(n), int(f))
                for r, n, f in zip(self.records, self.num_samples, self.num_frames)]

    def path(self, rel: str, field: str = "path") -> Path:
        """A file of ``index.jsonl``, confined to the dataset folder."""
        return self.reader.file(rel, field)

    def labels(self, record: SceneRecord) -> DcaseLabels:
        return reference_labels(self.reader, record)

    def audio(self, rel: str, field: str = "path", *, frames: int | None = None) -> np.ndarray:
        """``[C, T]`` audio of a dataset file (float32 unless the file holds more precision)."""
        return self.reader.read_audio(rel, field, frames=frames, dtype="native")

    def targets(self, record: SceneRecord, target: Target, frames: int | None = None) -> np.ndarray:
        """``[J, C, T]`` float64 reference images of a scene's sources (direct + reverb summed in float64)."""
        return reference_images(self.reader, record, target, frames)


def reference_labels(reader: DatasetReader, record: SceneRecord) -> DcaseLabels:
    """A scene's ``labels.csv`` (read by the dataset's one label reader) as DCASE labels."""
    rows = reader.label_csv(SceneItem.from_record(record))
    if not rows.shape[0]:
        return DcaseLabels.empty(with_distance=False)
    return DcaseLabels.from_polar(rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3].astype(np.float64),
                                  rows[:, 4].astype(np.float64), rows[:, 5].astype(np.float64))


def reference_images(reader: DatasetReader, record: SceneRecord, target: Target,
                     frames: int | None = None) -> np.ndarray:
    """``[J, C, T]`` float64 reference images of a scene (each file read once and checked;
    ``frames``: the length every file must have)."""
    if not record.num_sources:
        assert reader.num_channels is not None
        return np.zeros((0, reader.num_channels, 0))

    def read(kind: str, k: int, rel: str) -> np.ndarray:
        return reader.read_audio(rel, f"files.{kind}[{k}].path", frames=frames, dtype="native",
                                 scene=record.id)

    first = read("direct", 0, record.files.direct[0].path)
    out = np.empty((record.num_sources, *first.shape), np.float64)
    out[0] = first
    for k, f in enumerate(record.files.direct[1:], start=1):
        out[k] = read("direct", k, f.path)
    if target == "full":
        for k, f in enumerate(record.files.reverb):
            out[k] += read("reverb", k, f.path)
    return out


def load_reference(root: Pathlike, split: str | None = None) -> ReferenceSet:
    """Read a dataset's records to score; ``split=None`` means ``test`` if present, else all.

    Every mixture's header is read (length, channels, rate checked against ``dataset.json``).

    Raises
    ------
    ScoringError / DatasetFormatError
        The folder is not a readable asabench dataset or the split is empty.
    """
    root = Path(root)
    reader = DatasetReader(root, "asabench")
    records = reader.records()
    all_ids = [r.id for r in records]
    splits = sorted({r.split for r in records})
    if split is None and "test" in splits:
        split = "test"
    if split is not None:
        records = [r for r in records if r.split == split]
        if not records:
            raise ScoringError(f"{root}: split {split!r} has no scenes (splits: {', '.join(splits) or 'none'})")
    info = reader.info
    assert info is not None
    num_samples = np.asarray([reader.audio_info(r.files.mixture.path, "files.mixture.path", scene=r.id).frames
                              for r in records], np.int64)
    # Label frames from each scene's own duration (equal to the nominal one for fixed-length
    # datasets); ceil so a partial last frame is still evaluated.
    num_frames = np.ceil(num_samples / info.fs / info.label_hop_s - 1e-9).astype(np.int64)
    return ReferenceSet(reader, records, all_ids, num_samples, num_frames, split)


# ----------------------------------------------------------------------------- helpers


def _finite_or_none(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.ndarray):
        return [_finite_or_none(v) for v in x.tolist()]
    if isinstance(x, list):
        return [_finite_or_none(v) for v in x]
    if isinstance(x, dict):
        return {k: _finite_or_none(v) for k, v in x.items()}
    return x


# ----------------------------------------------------------------------------- separation


def separation_scene_metrics(est: np.ndarray, ref: np.ndarray, mix: np.ndarray, fs: int, *,
                             task: str, report: GuardReport, bss_eval: bool = False,
                             spatial: bool = True, spatial_precision: str = "float64",
                             convention: SeparationConvention = "pooled",
                             spatial_definition: str = "m2m") -> dict[str, Any]:
    """All separation metrics of one scene.

    Parameters
    ----------
    est : [K, C, T] estimates (USS: any order, ``K >= J``, the best ``J`` matched; TSE:
        estimate k for source k, ``K = J``), or [1, C, T]
        for one estimate used for every source (the mixture oracle: broadcasting keeps the
        estimate and improvement-baseline computations identical, so improvements are 0 exactly).
    ref : [J, C, T] reference images. mix : [C, T] mixture. fs : sample rate (Hz).
    task : ``"uss"`` (permutation solved by the convention's objective) or ``"tse"``.
    report : guard-event counter, updated.
    convention : ``"pooled"`` or ``"deepasa"`` (module docstring).
    spatial_definition : ``"m2m"`` or ``"exact-length"`` (spatial cues).

    Returns
    -------
    ``{metric: [J] float64 array}`` plus ``"perm"`` (estimate index per reference).
    """
    # Every energy-ratio metric, for the estimates and for the mixture baseline, and the
    # permutation, from one Gram matrix per channel (separation_family equals the per-metric
    # functions to ~1e-12 dB and gives exact zeros where an estimate is the mixture).
    e = torch.from_numpy(np.ascontiguousarray(est))[None]
    r = torch.from_numpy(np.ascontiguousarray(ref))[None]
    m = torch.from_numpy(np.ascontiguousarray(mix))[None]
    J, K = r.shape[1], e.shape[1]
    if K != 1 and (K < J or (K > J and task != "uss")):
        raise ValueError(f"{K} estimates for {J} references ({task})")
    permute = task == "uss" and K >= J and (J > 1 or K > J)
    out: dict[str, Any] = {}
    energies = None
    if convention == "deepasa":
        fam = separation_deepasa(e[0], r[0], m[0], permute=permute, report=report)
        perm = fam["perm"][None]
        for k in DEEPASA_SEPARATION_METRICS:
            out[k] = fam[k]
    else:
        fam = separation_family(e, r, m, permute=permute, report=report)
        perm = fam.get("perm", torch.arange(J)[None])
        for k in ("si_sdr", "sdr", "si_snr", "si_sdr_i", "sdr_i", "si_snr_i", "si_sdr_i_chmean", "si_sdr_i_ref0",
                  "sdr_i_chmean", "sdr_i_ref0"):
            out[k] = fam[k]
        energies = (fam["energy_est"], fam["energy_ref"])
    out["perm"] = perm[0].tolist()
    if permute and (spatial or bss_eval):
        e = apply_permutation(e, perm)  # the audio itself only matters to the later metrics
    if spatial:
        cues = spatial_cue_errors(e.expand(r.shape), r, fs, precision=getattr(torch, spatial_precision),
                                  energies=energies, definition=spatial_definition,  # type: ignore[arg-type]
                                  ild_eps=SPATIAL_ILD_EPS)
        out["_spatial_parameters"] = cues.pop("parameters")
        out.update(cues)
    if bss_eval:
        from asabench.benchmark.metrics.bss_eval import bss_eval_sdr
        e, r = e.to(torch.float64), r.to(torch.float64)
        base = m.to(torch.float64)[:, None]  # [1, 1, C, T], broadcast over sources
        same = e.shape == base.shape and torch.equal(e, base)
        # BSS-Eval v3 is single-channel: score every channel, then average over channels.
        r_c = r.transpose(1, 2)  # [1, C, J, T]
        bss = torch.nanmean(bss_eval_sdr(e.expand_as(r).transpose(1, 2), r_c, report=report)[0], dim=1)
        bss_mix = bss if same else torch.nanmean(
            bss_eval_sdr(base.expand_as(r).transpose(1, 2), r_c, report=GuardReport())[0], dim=1)
        out["bss_sdr"] = bss
        out["bss_sdr_i"] = bss - bss_mix
    for k, v in list(out.items()):
        if isinstance(v, torch.Tensor):
            out[k] = v.detach().to(torch.float64).reshape(-1).cpu().numpy()
    return out


def _estimates_from_files(paths: Sequence[Path], exp: SceneExpectation) -> tuple[np.ndarray | None, list[str]]:
    """``([J, C, T] estimates or None, problems)``: every file read once and checked (:func:`read_prediction`)."""
    arrays, problems = [], []
    for k, p in enumerate(paths):
        data, found = read_prediction(p, f"{exp.id}/{k}.wav", exp)
        arrays.append(data)
        problems += found
    if problems:
        return None, problems
    out = np.empty((len(arrays), *arrays[0].shape), np.result_type(*arrays))
    for k, a in enumerate(arrays):
        out[k] = a
    return out, []


@dataclass(frozen=True)
class _SeparationJob:
    """What a worker needs to score the scenes of one separation run (picklable).

    ``reader`` reads the dataset's audio; it holds no per-scene state (each worker is sent
    its scenes one by one).
    """

    reader: DatasetReader
    task: str
    oracle: Oracle | None
    target: Target
    bss_eval: bool
    spatial: bool
    spatial_precision: str
    convention: str = "pooled"
    spatial_definition: str = "m2m"


def _score_scene(job: _SeparationJob, record: SceneRecord, est_paths: Sequence[Path] | None,
                 exp: SceneExpectation) -> tuple[dict[str, Any], dict[str, int], Any]:
    """One scene's separation metrics: ``(per-scene entry, guard counts, spatial parameters or None)``.

    Every reference file is read once and checked (channels, rate, the mixture's length,
    finite samples); a bad one raises :class:`DatasetFormatError` naming it.
    """
    report = GuardReport()
    reader = job.reader
    if record.num_sources == 0:
        return {"id": record.id, "num_sources": 0}, report.as_dict(), None
    refs = reference_images(reader, record, job.target, exp.num_samples)
    mix = reader.read_audio(record.files.mixture.path, "files.mixture.path", frames=exp.num_samples,
                            dtype="native", scene=record.id)
    if job.oracle == "mixture":
        est = mix[None]
    elif job.oracle == "targets":
        est = refs
    else:
        assert est_paths is not None
        est, problems = _estimates_from_files(est_paths, exp)
        if est is None:
            return {"id": record.id, "problems": problems}, report.as_dict(), None
    fs = reader.fs
    assert fs is not None
    m = separation_scene_metrics(est, refs, mix, fs, task=job.task, report=report,
                                 bss_eval=job.bss_eval, spatial=job.spatial,
                                 spatial_precision=job.spatial_precision, convention=job.convention,  # type: ignore[arg-type]
                                 spatial_definition=job.spatial_definition)
    spatial_params = m.pop("_spatial_parameters", None)
    entry: dict[str, Any] = {"id": record.id, "num_sources": record.num_sources}
    if job.task == "uss":
        entry["perm"] = m["perm"]
        entry["num_estimates"] = int(est.shape[0]) if job.oracle is None else record.num_sources
    entry.update({k: v for k, v in m.items() if k != "perm"})
    return entry, report.as_dict(), spatial_params


_WORKER_JOB: _SeparationJob | None = None


def retain_freed_memory() -> bool:
    """Let glibc keep freed large blocks for reuse instead of unmapping them (returns success).

    Scoring allocates and frees tens of MB per scene; with glibc's defaults every such
    block is a fresh ``mmap`` whose pages fault in again on first touch, which cost about
    half of the chirp-z ΔITD time here. Raising the mmap and trim thresholds (256 / 512 MB)
    keeps them in the heap. Called in scoring worker processes and by ``asabench score``;
    a no-op where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(-3, 256 << 20) == 1  # M_MMAP_THRESHOLD
        return libc.mallopt(-1, 512 << 20) == 1 and ok  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        return False


def _init_worker(job: _SeparationJob, threads: int) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job
    torch.set_num_threads(threads)
    retain_freed_memory()


def _score_scene_in_worker(item: tuple[SceneRecord, Sequence[Path] | None, SceneExpectation]
                           ) -> tuple[dict[str, Any], dict[str, int], Any]:
    assert _WORKER_JOB is not None
    return _score_scene(_WORKER_JOB, *item)


#: ``workers=None``: one worker per this many scenes at most (starting one costs ~a second).
SCENES_PER_WORKER: int = 16


def resolve_workers(workers: int | None, n_scenes: int) -> int:
    """Worker processes to use: ``workers``, or with ``None`` one per CPU core when there are
    enough scenes (:data:`SCENES_PER_WORKER` per worker) to repay starting them."""
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ScoringError(f"workers must be an integer >= 1 (or None: automatic), got {workers!r}")
        return min(int(workers), max(1, n_scenes))
    return max(1, min(usable_cores(), n_scenes // SCENES_PER_WORKER))


def score_separation(ref: ReferenceSet, task: str, *, submission: Submission | None = None,
                     oracle: Oracle | None = None, target: Target = "full",
                     bss_eval: bool = False, spatial: bool = True, alpha: float = 0.05,
                     workers: int | None = None, spatial_precision: str = "float32",
                     separation_convention: SeparationConvention = "pooled",
                     spatial_definition: str = "m2m") -> dict[str, Any]:
    """Per-scene separation metrics and aggregates for ``uss`` or ``tse``.

    ``separation_convention``: ``"pooled"`` or ``"deepasa"``; ``spatial_definition``:
    ``"m2m"`` or ``"exact-length"`` (module docstring; recorded per metric in
    ``definitions.metric_conventions``).

    ``workers`` processes score scenes in parallel (``None``: :func:`resolve_workers`);
    each scene is computed independently, so the values do not depend on it beyond
    floating-point reduction order (agreement to ~1e-12 dB). ``spatial_precision`` is the
    FFT precision of the spatial cues (:func:`~asabench.benchmark.metrics.spatial.spatial_cue_errors`).
    """
    if spatial_precision not in ("float32", "float64"):
        raise ScoringError(f"unknown spatial precision {spatial_precision!r}; expected float32 or float64")
    if separation_convention not in SEPARATION_CONVENTIONS:
        raise ScoringError(f"unknown separation convention {separation_convention!r}; expected one of "
                           f"{', '.join(SEPARATION_CONVENTIONS)}")
    if spatial_definition not in SPATIAL_DEFINITIONS:
        raise ScoringError(f"unknown spatial definition {spatial_definition!r}; expected one of "
                           f"{', '.join(SPATIAL_DEFINITIONS)}")
    report = GuardReport()
    energy = (list(DEEPASA_SEPARATION_METRICS) if separation_convention == "deepasa"
              else [k for k in SEPARATION_METRICS if not k.startswith("delta_")])
    names = energy + ([k for k in SEPARATION_METRICS if k.startswith("delta_")] if spatial else [])
    if bss_eval:
        names += list(_BSS_METRICS)
    job = _SeparationJob(ref.reader, task, oracle, target, bss_eval, spatial, spatial_precision,
                         separation_convention, spatial_definition)
    items = [(r, tuple(submission.audio[r.id]) if submission is not None else None, exp)
             for r, exp in zip(ref.records, ref.expectations())]
    n_workers = resolve_workers(workers, len(items))
    if n_workers > 1:
        # A worker's DatasetFormatError (a bad reference file) comes back as itself.
        with LocalPool(n_workers, initializer=_init_worker,
                       initargs=(job, max(1, usable_cores() // n_workers)), what="scoring") as pool:
            results = pool.map(_score_scene_in_worker, items,
                               chunksize=max(1, min(8, len(items) // (4 * n_workers))))
    else:
        results = [_score_scene(job, *item) for item in items]
    per_scene: list[dict[str, Any]] = []
    values: dict[str, list[np.ndarray]] = {k: [] for k in names}
    spatial_params: Any = None
    problems = [p for entry, _, _ in results for p in entry.get("problems", ())]
    if problems:
        assert submission is not None
        raise SubmissionError(submission.pred_dir, problems)
    for entry, counts, params in results:
        report.merge(GuardReport(dict(counts)))
        spatial_params = params if params is not None else spatial_params
        if entry.get("num_sources", 0):
            for k in names:
                values[k].append(entry[k])
        per_scene.append({k: v for k, v in entry.items()
                          if k in names or k in ("id", "num_sources", "perm", "num_estimates")})
    aggregate = {k: mean_with_jackknife(values[k], alpha) for k in names}
    objective = ("the mean channel-pooled SI-SDR over the references" if separation_convention == "pooled"
                 else "the SA-SDR at reference channel 0 (minimum summed squared error at channel 0)")
    definitions: dict[str, Any] = {
        "metrics": {k: (SEPARATION_METRICS | DEEPASA_SEPARATION_METRICS | _BSS_METRICS)[k] for k in names},
        "separation_convention": separation_convention,
        "metric_conventions": {k: _metric_convention(k, separation_convention, spatial_definition) for k in names},
        "target": {"full": "reverberant image direct + reverb",
                   "direct": "direct-path image"}[target],
        "target_image": target,
        "matching": (f"the J references are assigned to J of the scene's K estimates (J <= K <= "
                     f"max(J, {MAX_USS_ESTIMATES})) by the injective assignment maximising {objective}; "
                     "exhaustive over all K!/(K-J)! assignments up to 5 estimates (first maximum in "
                     "itertools.permutations order), Hungarian beyond; the K - J estimates left over "
                     "are not scored") if task == "uss"
                    else "estimate k scored against source k (direction clue of source k)",
        "improvement_baseline": ("the full multichannel mixture as the estimate" if separation_convention == "pooled"
                                 else "channel 0 of the mixture as the estimate"),
        "docs": "docs/metric-definitions.md",
        "aggregate": "mean over all (scene, source) values, silent references excluded; "
                     f"jackknife over scenes, {100 * (1 - alpha):g}% t-interval",
        "guards": guard_definitions(),
    }
    if spatial_params is not None:
        definitions["spatial_parameters"] = spatial_params
    return {"aggregate": aggregate, "per_scene": per_scene, "definitions": definitions,
            "guard_events": report.as_dict(), "metric_names": names}


def _metric_convention(name: str, convention: str, spatial_definition: str) -> str:
    """The convention of one reported separation number (``definitions.metric_conventions``)."""
    if name.startswith("delta_"):
        return f"spatial cues '{spatial_definition}' (all mic pairs)"
    if name.startswith("bss_"):
        return "BSS-Eval v3 per channel, averaged over channels"
    if convention == "deepasa":
        return "deepasa: reference channel 0, permutation by SA-SDR at channel 0, baseline mixture channel 0"
    if name.endswith("_chmean"):
        return "per channel, averaged over channels (permutation by pooled SI-SDR)"
    if name.endswith("_ref0"):
        return "reference channel 0 (permutation by pooled SI-SDR, no mean removal for SI-SDR)"
    return "pooled: energies over all channels (headline)"


# ----------------------------------------------------------------------------- SELD


def score_seld_task(ref: ReferenceSet, *, submission: Submission | None = None,
                    oracle: Oracle | None = None, mode: SeldMode = "default",
                    average: SeldAverage = "macro", alpha: float = 0.05) -> dict[str, Any]:
    """SELD metrics of the scenes against their ``labels.csv``."""
    refs = [ref.labels(r) for r in ref.records]
    if oracle == "targets":
        preds = refs
    elif oracle is not None:
        raise ScoringError(f"--oracle {oracle} does not apply to SELD (use 'targets')")
    else:
        assert submission is not None
        preds = [submission.labels[r.id] for r in ref.records]
    ev = evaluate_seld(refs, preds, num_classes=NUM_CLASSES, mode=mode, average=average,
                       n_frames=ref.num_frames, alpha=alpha)
    names = list(ev.aggregate)
    per_scene = []
    for s, record in enumerate(ref.records):
        row = {"id": record.id, "num_sources": record.num_sources}
        row.update({k: float(ev.per_scene[k][s]) for k in names})
        if mode == "deepasa":
            row["alignment"] = [list(pair) for pair in ev.counts.alignment[s]]  # type: ignore[attr-defined]
        per_scene.append(row)
    undefined = int(np.sum(np.isnan(ev.per_scene["seld"])))
    totals = {k: v.tolist() if np.ndim(v) else float(v) for k, v in ev.counts.total().items()}
    aggregate = {k: {"n_values": len(ref.records), **ev.intervals[k].to_dict()} for k in names}
    mode_text = {
        "default": "corrected DCASE 2022/2023 metrics: evaluated length = file duration; "
                   "disjoint-frame blocks add nb_gt to FN and nb_pred to FP; macro over classes "
                   "present in reference or prediction",
        "dcase2023": "official DCASE 2022/2023 algorithm with its quirks: evaluated length = "
                     "last annotated reference frame (rounded up to blocks); disjoint-frame "
                     "blocks add nb_pred to FN and no FP; macro over all classes",
        "dcase2024": "DCASE 2024 frame-level distance-aware metrics (evaluated length = file "
                     "duration)",
        "deepasa": "the DeepASA authors' frame-level slot-wise metric: every (slot, frame, class) an "
                   "element, predicted tracks aligned to reference tracks per scene by the permutation "
                   "minimising sum max(FP20, FN) (exhaustive up to 5 slots), class confusion counts twice, "
                   "undetected reference frames at 90 deg, 1e-8 in every denominator",
    }[mode]
    definitions = {
        "seld_mode": mode, "average": average, "mode_description": mode_text,
        "doa_threshold_deg": DOA_THRESHOLD_DEG,
        "rel_dist_threshold": REL_DIST_THRESHOLD if mode == "dcase2024" else None,
        "block_frames": BLOCK_FRAMES if mode not in ("dcase2024", "deepasa") else None,
        "track": "object slot (aligned per scene)" if mode == "deepasa" else "not used by the metric",
        "label_hop_s": ref.info.label_hop_s, "num_classes": NUM_CLASSES,
        "classes": list(DCASE_CLASSES),
        "seld_score": ("nanmean(1 - F, DOAE / 180, RDE)" if mode == "dcase2024"
                       else "mean(ER, 1 - F, LE / 180, 1 - LR)"),
        "aggregate": f"pooled counts over scenes; jackknife over scenes (leave one scene out), "
                     f"{100 * (1 - alpha):g}% t-interval",
        "per_scene": "metrics of each scene's own counts (null when the scene has no events "
                     "in reference and prediction)",
        "docs": "docs/seld-modes.md",
    }
    return {"aggregate": aggregate, "per_scene": per_scene,
            "per_class": {k: np.asarray(v).tolist() for k, v in ev.per_class.items()},
            "counts": totals, "definitions": definitions, "metric_names": names,
            "guard_events": {"pred_rows_beyond_evaluated_length": int(ev.counts.dropped_pred_rows.sum()),
                             "scenes_without_events": undefined}}


# ----------------------------------------------------------------------------- entry point


def score(reference: Pathlike, task: str, *, predictions: Pathlike | None = None,
          oracle: Oracle | None = None, seld_mode: SeldMode = "default",
          average: SeldAverage = "macro", split: str | None = None, target: Target = "full",
          bss_eval: bool = False, spatial: bool | None = None,
          alpha: float = 0.05, workers: int | None = None,
          spatial_precision: str = "float32",
          separation_convention: SeparationConvention = "pooled",
          spatial_definition: str = "m2m") -> dict[str, Any]:
    """Score predictions (or an oracle) of ``task`` against a dataset; returns the results record.

    ``spatial`` (ΔILD/ΔIPD/ΔITD) defaults to on for ``tse`` (SoundCompass Table 1) and off
    for ``uss``; ``bss_eval`` (512-tap BSS-Eval v3 SDR) is opt-in, being the slowest metric.
    ``workers`` (uss/tse): processes; ``None`` (the default, also ``asabench score``'s) is
    one per CPU core when there are at least :data:`SCENES_PER_WORKER` scenes per worker,
    else 1 (:func:`resolve_workers`). ``spatial_precision``: FFT precision of the spatial
    cues, ``"float32"`` (default, ~2x faster, ΔITD near-ties recomputed in float64;
    ``docs/metrics-speed.md``) or ``"float64"``. ``seld_mode``: ``default``, ``dcase2023``,
    ``dcase2024`` or ``deepasa``; ``separation_convention``: ``pooled`` (headline) or
    ``deepasa``; ``spatial_definition``: ``m2m`` or ``exact-length``
    (``docs/metric-definitions.md``). These defaults are the CLI's: it reads them from this
    signature.

    Raises
    ------
    SubmissionError
        The predictions have problems (all listed).
    ScoringError, DatasetFormatError
        The request or the dataset is invalid (a reference file unreadable, of the wrong
        shape or with a NaN/inf sample: named, with one worker or many).
    WorkerDiedError
        A worker process died (a ``BrokenProcessPool``).
    """
    if task not in ("uss", "tse", "seld"):
        raise ScoringError(f"unknown task {task!r}; expected uss, tse or seld")
    if (predictions is None) == (oracle is None):
        raise ScoringError("give exactly one of predictions (PRED_DIR) or oracle")
    if oracle is not None and oracle not in ("mixture", "targets"):
        raise ScoringError(f"unknown oracle {oracle!r}; expected 'mixture' or 'targets'")
    if target not in ("full", "direct"):
        raise ScoringError(f"unknown target image {target!r}; expected 'full' or 'direct'")
    if seld_mode not in SELD_MODES:
        raise ScoringError(f"unknown SELD mode {seld_mode!r}; expected one of {', '.join(SELD_MODES)}")
    if spatial is None:
        spatial = task == "tse"
    ref = load_reference(reference, split)
    submission = None
    warnings: list[str] = []
    if predictions is not None:
        submission = validate_submission(predictions, task, ref.expectations(),  # type: ignore[arg-type]
                                         num_classes=NUM_CLASSES, known_ids=ref.all_ids,
                                         require_distance=(task == "seld" and seld_mode == "dcase2024"),
                                         check_audio=(task == "seld"))  # WAVs: checked where scoring reads them
        warnings = submission.warnings
    if task == "seld":
        body = score_seld_task(ref, submission=submission, oracle=oracle, mode=seld_mode,
                               average=average, alpha=alpha)
    else:
        body = score_separation(ref, task, submission=submission, oracle=oracle, target=target,
                                bss_eval=bss_eval, spatial=spatial, alpha=alpha, workers=workers,
                                spatial_precision=spatial_precision,
                                separation_convention=separation_convention,
                                spatial_definition=spatial_definition)
    try:
        from importlib.metadata import version
        asabench_version = version("asabench")
    except Exception:  # pragma: no cover - not installed
        asabench_version = "unknown"
    # a hidden test split is named by its fingerprint, never its secret
    fingerprint = recorded_fingerprint(ref.info.extra, ref.split)
    hidden = {"fingerprint": fingerprint} if fingerprint is not None else False
    results = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "format": "asabench-results",
        "asabench_version": asabench_version,
        "task": task,
        "dataset": {"path": str(reference), "name": ref.info.name, "version": ref.info.version,
                    "manifest_sha256": ref.info.manifest_sha256, "split": ref.split,
                    "num_scenes": len(ref.records), "fs": ref.info.fs,
                    "num_channels": ref.info.num_channels, "hidden": hidden},
        "predictions": {"path": str(predictions) if predictions is not None else None,
                        "oracle": oracle},
        "warnings": warnings,
        **body,
    }
    return _finite_or_none(results)


def per_scene_csv(results: dict[str, Any]) -> str:
    """CSV text with one row per scene: id, num_sources and each metric (mean over sources)."""
    names = results["metric_names"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "num_sources", *names])
    for row in results["per_scene"]:
        cells = [row["id"], row.get("num_sources", "")]
        for k in names:
            v = row.get(k)
            if isinstance(v, list):
                finite = [x for x in v if x is not None]
                v = sum(finite) / len(finite) if finite else None
            cells.append("" if v is None else repr(float(v)))
        writer.writerow(cells)
    return buf.getvalue()


def results_paths(out: Pathlike) -> tuple[Path, Path]:
    """``(json path, csv path)`` :func:`write_results` writes for ``out``: the CSV is ``out``
    with its suffix replaced by ``.csv`` (``out.csv`` when ``out`` does not end in ``.json``)."""
    out = Path(out)
    csv_path = out.with_suffix(".csv") if out.suffix.lower() == ".json" else Path(str(out) + ".csv")
    return out, csv_path


def check_results_out(out: Pathlike, inputs: Iterable[Pathlike]) -> tuple[Path, Path]:
    """Refuse a results path whose JSON or CSV would be one of ``inputs`` or inside one.

    ``inputs``: the reference dataset folder and the predictions folder (files or
    folders; symbolic links resolved). Returns :func:`results_paths`.

    Raises
    ------
    OutputOverlapsInputError
        Naming the output and the input it would write over or into.
    """
    paths = results_paths(out)
    refuse_output_over_inputs(paths, [p for p in inputs if p is not None], what="--out")
    return paths


def results_inputs(results: dict[str, Any]) -> list[str]:
    """The inputs recorded in a results record: the reference folder and the predictions."""
    found = [results.get("dataset", {}).get("path"), (results.get("predictions") or {}).get("path")]
    return [p for p in found if p]


def write_results(results: dict[str, Any], out: Pathlike, *,
                  inputs: Iterable[Pathlike] | None = None) -> tuple[Path, Path]:
    """Write ``results`` as JSON to ``out`` and the per-scene CSV beside it, both atomically.

    Nothing is written when either file would land over or inside an input: ``inputs``,
    by default the reference folder and the predictions recorded in ``results``
    (:func:`check_results_out`).

    Returns
    -------
    (json path, csv path); the CSV is ``out`` with its suffix replaced by ``.csv``.

    Raises
    ------
    OutputOverlapsInputError
        ``out`` or its CSV is the reference ``dataset.json``, a file or folder inside the
        reference dataset or the predictions folder.
    """
    out, csv_path = check_results_out(out, results_inputs(results) if inputs is None else inputs)
    text = json.dumps(results, indent=1, allow_nan=False) + "\n"
    atomic_write_text(csv_path, per_scene_csv(results))
    atomic_write_text(out, text)
    return out, csv_path
