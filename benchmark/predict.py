"""Predictors: a model (or any object) and a dataset -> a predictions folder ``asabench score`` reads.

One protocol per task, batch-first tensors at the suite's sample rate (``[B, C, N]``
mixtures, ``C`` microphones, ``N`` samples; float32 on the CPU: an adapter moves them to
its own device):

* :class:`USSPredictor` ``separate(mixture [B, C, N]) -> objects [B, K, C, N]``: ``K``
  object images (``K`` at most the suite's ``max_objects``, at most 5, and at least the
  scene's source count), in any order: the scorer matches the ``J`` references to the best
  ``J`` of them;
* :class:`SELDPredictor` ``detect(mixture [B, C, N]) -> list of B DcaseLabels``: events per
  100-ms label frame, ``track`` = the object slot that emitted the event;
* :class:`TSEPredictor` ``extract(mixture [B, C, N], direction [B, 2]) -> [B, C, N]``: the
  image of the source arriving from ``direction`` (azimuth, elevation in degrees, DCASE
  convention).

A multitask predictor may also offer ``analyse(mixture) -> Analysis`` (objects and events
from one forward pass); :func:`write_predictions` then calls it once per batch for the USS
and SELD tasks together.

Adapters for the registry's systems: :class:`DeepASAPredictor` (USS objects from
``separated``, SELD events from :func:`asabench.models.systems.deepasa.decode_events`
through :func:`deepasa_events`) and :class:`SoundCompassPredictor` (TSE; the evaluation runs
it once per source of a scene with that source's labelled direction as the clue,
:func:`clue_direction`). :func:`predictor_for_model` picks the adapter of a registry model,
:func:`load_predictor` imports ``module:attr`` and :func:`check_predictor` checks an object
against the protocols item by item (HEAR-style) before anything is run.

Layout written (:mod:`asabench.benchmark.submissions.layout`)::

    PRED/uss/<scene_id>/<k>.wav     k = 0..K-1, 32-bit float, the dataset's rate and length
    PRED/tse/<scene_id>/<k>.wav     k = 0..J-1: the extraction given source k's direction
    PRED/seld/<scene_id>.csv        DCASE CSV frame,class,track,azimuth,elevation
"""

from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
import torch

from asabench.benchmark.io.dcase_csv import DcaseLabels, write_dcase_csv
from asabench.simulate.classes import NUM_CLASSES
from asabench.simulate.geometry import cartesian_to_dcase
from asabench.simulate.io.files import Pathlike, atomic_write_bytes
from asabench.simulate.io.wav import wav_bytes

__all__ = ["USSPredictor", "SELDPredictor", "TSEPredictor", "Analysis", "PredictorError",
           "DeepASAPredictor", "SoundCompassPredictor", "deepasa_events", "clue_direction",
           "predictor_for_model", "register_adapter", "load_predictor", "check_predictor", "fit_model_config",
           "check_model_contract", "write_predictions", "PredictionReport", "MAX_OBJECTS",
           "TASK_METHODS"]

#: The most object estimates per scene the scorer takes (USS).
MAX_OBJECTS: int = 5
#: The method a predictor needs for each task.
TASK_METHODS: dict[str, str] = {"uss": "separate", "seld": "detect", "tse": "extract"}


class PredictorError(ValueError):
    """A predictor is missing, does not implement a task, or returned something unusable."""


# ----------------------------------------------------------------------------- protocols


@runtime_checkable
class USSPredictor(Protocol):
    """Universal sound separation: every object of the scene as a multichannel image."""

    def separate(self, mixture: torch.Tensor) -> torch.Tensor:
        """``[B, C, N]`` mixtures -> ``[B, K, C, N]`` object images (any order)."""
        ...


@runtime_checkable
class SELDPredictor(Protocol):
    """Sound event localisation and detection: DCASE events per label frame."""

    def detect(self, mixture: torch.Tensor) -> Sequence[DcaseLabels]:
        """``[B, C, N]`` mixtures -> one :class:`DcaseLabels` per scene (track = object slot)."""
        ...


@runtime_checkable
class TSEPredictor(Protocol):
    """Directional target sound extraction."""

    def extract(self, mixture: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        """``[B, C, N]`` mixtures and ``[B, 2]`` (azimuth, elevation) degrees -> ``[B, C, N]``."""
        ...


@dataclass
class Analysis:
    """What a multitask predictor's ``analyse`` returns: objects ``[B, K, C, N]`` and/or events."""

    objects: torch.Tensor | None = None
    events: Sequence[DcaseLabels] | None = None


# ----------------------------------------------------------------------------- DeepASA


def deepasa_events(decoded: Mapping[str, torch.Tensor]) -> list[DcaseLabels]:
    """DCASE events of DeepASA's decoded outputs, one :class:`DcaseLabels` per batch item.

    ``decoded``: :func:`asabench.models.systems.deepasa.decode_events`'s dict (``active``
    ``[B, J, T']``, ``class_index`` ``[B, J]``, ``doa`` ``[B, J, T', 3]`` unit vectors). Every
    active (object ``j``, frame ``t``) becomes the row ``t, class_index[j], j, doa[j, t]``:
    track = object slot. Rows are ordered by frame, then slot.
    """
    active = decoded["active"].detach().cpu().numpy().astype(bool)
    cls = decoded["class_index"].detach().cpu().numpy().astype(np.int64)
    doa = decoded["doa"].detach().to(torch.float64).cpu().numpy()
    out = []
    for b in range(active.shape[0]):
        slot, frame = np.nonzero(active[b])           # [R] each, slot-major
        order = np.lexsort((slot, frame))             # by frame, then slot
        slot, frame = slot[order], frame[order]
        xyz = doa[b, slot, frame]
        out.append(DcaseLabels.from_cartesian(frame.astype(np.int64), cls[b, slot], slot.astype(np.int64), xyz))
    return out


class _ModelAdapter:
    """Shared by the adapters: the model in eval mode on a device, inputs moved there."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.name = getattr(model, "asabench_name", type(model).__name__)

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, torch.float32)

    def describe(self) -> dict[str, Any]:
        cfg = getattr(self.model, "config", None)
        return {"kind": "model", "name": self.name, "adapter": type(self).__name__,
                "parameters": int(sum(p.numel() for p in self.model.parameters())),
                "config": cfg.to_dict() if hasattr(cfg, "to_dict") else None}


class DeepASAPredictor(_ModelAdapter):
    """DeepASA as a USS + SELD predictor (one forward pass gives both).

    ``objects``: which audio output is an object's image, ``"separated"`` (direct + reverb:
    the full reverberant image, default) or ``"direct"``. ``activity_threshold`` and
    ``doa_threshold``: DeepASA's inference rule (:func:`decode_events`, both 0.5).
    """

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu", *,
                 objects: str = "separated", activity_threshold: float = 0.5,
                 doa_threshold: float = 0.5) -> None:
        super().__init__(model, device)
        if objects not in ("separated", "direct"):
            raise PredictorError(f"objects must be 'separated' or 'direct', got {objects!r}")
        self.objects = objects
        self.activity_threshold = activity_threshold
        self.doa_threshold = doa_threshold

    @torch.no_grad()
    def analyse(self, mixture: torch.Tensor) -> Analysis:
        from asabench.models.systems.deepasa import decode_events

        out = self.model(self._input(mixture))
        decoded = decode_events(out, self.activity_threshold, self.doa_threshold)
        return Analysis(objects=out[self.objects].float().cpu(), events=deepasa_events(decoded))

    def separate(self, mixture: torch.Tensor) -> torch.Tensor:
        objects = self.analyse(mixture).objects
        assert objects is not None
        return objects

    def detect(self, mixture: torch.Tensor) -> list[DcaseLabels]:
        return list(self.analyse(mixture).events or [])


class SoundCompassPredictor(_ModelAdapter):
    """SoundCompass as a TSE predictor: ``output`` (direct + reverb) given a static direction clue."""

    @torch.no_grad()
    def extract(self, mixture: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        out = self.model(self._input(mixture), direction.to(self.device, torch.float32))
        return out["output"].float().cpu()


_ADAPTERS = {"deepasa": DeepASAPredictor, "deepasa-coi": DeepASAPredictor,
             "soundcompass": SoundCompassPredictor, "soundcompass-sed": SoundCompassPredictor,
             "soundcompass-x2": SoundCompassPredictor}


def register_adapter(name: str, adapter: type) -> None:
    """Make ``adapter(model, device)`` the predictor of registry system ``name`` (learned baselines)."""
    _ADAPTERS[name] = adapter


def predictor_for_model(model: torch.nn.Module, device: str | torch.device = "cpu") -> Any:
    """The adapter of a registry model (by ``model.asabench_name``, else by its class)."""
    name = getattr(model, "asabench_name", None)
    if name not in _ADAPTERS:
        from asabench.benchmark.baselines import load_all  # learned baselines register adapters

        load_all()
    if name in _ADAPTERS:
        return _ADAPTERS[name](model, device)
    kind = type(model).__name__.lower()
    for key in ("deepasa", "soundcompass"):
        if kind.startswith(key):
            return _ADAPTERS[key](model, device)
    raise PredictorError(f"no predictor adapter for model {name or type(model).__name__!r} "
                         f"(adapters: {', '.join(sorted(_ADAPTERS))}); wrap it in an object with "
                         "separate/detect/extract and pass --predictor module:attr")


# ----------------------------------------------------------------------------- model config vs contract


def fit_model_config(name: str, config: Any, contract: Any) -> Any:
    """A registry preset adapted to a suite's contract (sample rate, microphones, objects).

    The STFT length and hop are scaled with the sample rate so that the label hop (and the
    frame grid) stays that of the preset: the ``tiny`` presets (16 kHz) become 8-kHz models
    for the demo suites. ``config``: anything :func:`asabench.models.registry.resolve_config`
    takes. Returns the configuration object.
    """
    from asabench.models.registry import resolve_config

    cfg = resolve_config(name, config)
    data = cfg.to_dict()
    rate = int(data.get("sample_rate", contract.sample_rate))
    if rate != contract.sample_rate and "stft" in data:
        ratio = contract.sample_rate / rate
        for key in ("n_fft", "hop"):
            scaled = data["stft"][key] * ratio
            if abs(scaled - round(scaled)) > 1e-9 or scaled < 2:
                raise PredictorError(f"{name}: stft.{key} {data['stft'][key]} cannot be scaled from "
                                     f"{rate} Hz to {contract.sample_rate} Hz")
            data["stft"][key] = int(round(scaled))
    data["sample_rate"] = contract.sample_rate
    if "n_mics" in data:
        data["n_mics"] = contract.num_channels
    if "n_objects" in data:
        data["n_objects"] = contract.max_objects
    return type(cfg).from_dict(data, source=f"config of {name} for the suite contract")


def check_model_contract(model: torch.nn.Module, contract: Any, tasks: Iterable[str]) -> None:
    """Refuse a model whose configuration does not fit the suite's contract (named field)."""
    cfg = getattr(model, "config", None)
    name = getattr(model, "asabench_name", type(model).__name__)
    if cfg is None:
        return
    problems = []
    if getattr(cfg, "sample_rate", contract.sample_rate) != contract.sample_rate:
        problems.append(f"sample_rate {cfg.sample_rate} Hz, the suite's data is {contract.sample_rate} Hz")
    if getattr(cfg, "n_mics", contract.num_channels) != contract.num_channels:
        problems.append(f"n_mics {cfg.n_mics}, the suite has {contract.num_channels} channels")
    tasks = set(tasks)
    hop = getattr(cfg, "label_hop_s", None)
    if "seld" in tasks and hop is not None and not math.isclose(hop, contract.label_hop_s, rel_tol=1e-9):
        problems.append(f"label hop {hop:g} s, the suite's labels are {contract.label_hop_s:g} s apart")
    n_obj = getattr(cfg, "n_objects", None)
    if n_obj is not None and tasks & {"uss", "seld"} and n_obj > MAX_OBJECTS:
        problems.append(f"n_objects {n_obj}, more than the {MAX_OBJECTS} estimates the scorer takes")
    if problems:
        raise PredictorError(f"model {name} does not fit the suite contract: " + "; ".join(problems)
                             + " (asabench.benchmark.predict.fit_model_config adapts a preset)")


# ----------------------------------------------------------------------------- any object


def load_predictor(spec: str) -> Any:
    """Import ``module:attr`` (``attr`` may be dotted); a class or factory is called without arguments."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise PredictorError(f"--predictor {spec!r}: expected module:attr (e.g. mypkg.systems:MyPredictor)")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise PredictorError(f"--predictor {spec!r}: cannot import {module_name!r}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PredictorError(f"--predictor {spec!r}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not any(callable(getattr(obj, m, None)) for m in (*TASK_METHODS.values(), "analyse")) or isinstance(obj, type):
        if not callable(obj):
            raise PredictorError(f"--predictor {spec!r}: {attr!r} is neither a predictor nor callable")
        obj = obj()
    return obj


def check_predictor(predictor: Any, tasks: Iterable[str], what: str = "predictor") -> None:
    """Check that ``predictor`` has a method for every task (``analyse`` covers uss and seld)."""
    missing = []
    for task in tasks:
        method = TASK_METHODS[task]
        if not callable(getattr(predictor, method, None)):
            if task in ("uss", "seld") and callable(getattr(predictor, "analyse", None)):
                continue
            missing.append(f"{method}() for {task}")
    if missing:
        raise PredictorError(f"{what} {type(predictor).__name__} lacks " + ", ".join(missing)
                             + " (see asabench.benchmark.predict: USSPredictor, SELDPredictor, TSEPredictor)")


def describe_predictor(predictor: Any, spec: str | None = None) -> dict[str, Any]:
    """A JSON-ready description of the predictor for the results file."""
    if callable(getattr(predictor, "describe", None)):
        record = dict(predictor.describe())
    else:
        record = {"kind": "object", "name": getattr(predictor, "name", type(predictor).__name__),
                  "class": f"{type(predictor).__module__}.{type(predictor).__qualname__}"}
    if spec is not None:
        record["spec"] = spec
    return record


# ----------------------------------------------------------------------------- TSE clue


def clue_direction(doa: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """The clue of one source: ``([2] azimuth, elevation degrees, has_direction)``.

    ``doa``: ``[T, 3]`` the source's labelled unit vectors per label frame (zero where
    inactive, :class:`~asabench.simulate.SceneDataset`'s ``doa``). The clue is the direction
    of the source's first labelled frame: for a static scene its one direction, for a moving
    source where it starts. A source without any labelled frame gets (0, 0) and ``False``.
    """
    active = torch.nonzero(doa.norm(dim=-1) > 0.5).flatten()
    if not active.numel():
        return torch.zeros(2, dtype=torch.float32), False
    az, el, _ = cartesian_to_dcase(doa[int(active[0])].to(torch.float64).numpy())
    return torch.tensor([float(az), float(el)], dtype=torch.float32), True


# ----------------------------------------------------------------------------- writing


@dataclass
class PredictionReport:
    """What :func:`write_predictions` did: folders, counts, seconds, notes."""

    folders: dict[str, Path] = field(default_factory=dict)
    num_scenes: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    silent_clues: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"folders": {k: str(v) for k, v in self.folders.items()}, "num_scenes": self.num_scenes,
                "seconds": {k: round(v, 6) for k, v in self.seconds.items()}, "notes": list(self.notes),
                "tse_sources_without_direction": self.silent_clues}


def _check_audio(x: Any, shape: tuple[int, ...], what: str) -> torch.Tensor:
    if not torch.is_tensor(x):
        raise PredictorError(f"{what}: expected a tensor, got {type(x).__name__}")
    if tuple(x.shape) != shape:
        raise PredictorError(f"{what}: expected shape {list(shape)}, got {list(x.shape)}")
    if not torch.is_floating_point(x):
        raise PredictorError(f"{what}: expected floating-point samples, got {x.dtype}")
    x = x.detach().float().cpu()
    if not torch.isfinite(x).all():
        raise PredictorError(f"{what}: {int((~torch.isfinite(x)).sum())} NaN/inf sample(s)")
    return x


def _write_wav(path: Path, audio: torch.Tensor, fs: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, wav_bytes(audio.numpy(), fs), fsync=False)


def _events(found: Any, batch: int, n_frames: Sequence[int], what: str, notes: list[str],
            ids: Sequence[str]) -> list[DcaseLabels]:
    if isinstance(found, DcaseLabels) or not isinstance(found, (list, tuple)) or len(found) != batch:
        raise PredictorError(f"{what}: expected a list of {batch} DcaseLabels, got {type(found).__name__}"
                             + (f" of length {len(found)}" if isinstance(found, (list, tuple)) else ""))
    out = []
    for b, labels in enumerate(found):
        if not isinstance(labels, DcaseLabels):
            raise PredictorError(f"{what}[{b}]: expected DcaseLabels, got {type(labels).__name__}")
        if labels.num_rows:
            if labels.frame.min() < 0 or labels.cls.min() < 0 or labels.cls.max() >= NUM_CLASSES:
                raise PredictorError(f"{what}[{b}]: frame indices must be >= 0 and classes in 0..{NUM_CLASSES - 1}")
            late = labels.frame >= n_frames[b]
            if late.any():
                notes.append(f"{ids[b]}: {int(late.sum())} event row(s) at frames >= {n_frames[b]} "
                             "(beyond the scene) dropped")
                labels = labels.select(~late)
        out.append(labels)
    return out


def write_predictions(predictor: Any, data: Pathlike, out: Pathlike, tasks: Sequence[str], *,
                      split: str | None = "test", batch_size: int = 1, max_objects: int = MAX_OBJECTS,
                      progress: Any = None) -> PredictionReport:
    """Run ``predictor`` over a dataset split and write ``out/<task>/`` for every task.

    Parameters
    ----------
    predictor : an object with the tasks' methods (:func:`check_predictor`).
    data : an asabench dataset folder. split : its split (None: every scene).
    out : the predictions folder (``out/uss``, ``out/seld``, ``out/tse`` are written).
    tasks : any of ``"uss"``, ``"seld"``, ``"tse"``.
    batch_size : scenes per call (TSE: clues per call).
    max_objects : the most USS objects a scene's estimate may have (the suite contract, <= 5).
    progress : optional callable ``(done_scenes, total_scenes)``.

    A predictor with ``needs_references = True`` (the oracle baselines) has the dataset read
    with its references and gets ``predictor.bind_references(batch)`` before its calls on each
    batch (``batch``: the :func:`~asabench.simulate.dataset.loader.collate_scenes` dict, with
    ``direct`` and ``reverb`` ``[B, J, C, N]``), and ``predictor.bind_references(batch,
    sources=[(b, k), ...])`` before each ``extract`` call: row ``i`` of the call is the clue
    of source ``k`` of scene ``b`` of the batch.

    Raises
    ------
    PredictorError
        The predictor lacks a method or returned a wrong shape, dtype, NaN or fewer objects
        than a scene has sources (naming the scene).
    """
    from asabench.simulate.dataset.loader import SceneDataset, collate_scenes

    tasks = list(dict.fromkeys(tasks))
    for task in tasks:
        if task not in TASK_METHODS:
            raise PredictorError(f"unknown task {task!r}; expected uss, seld or tse")
    check_predictor(predictor, tasks)
    if batch_size < 1:
        raise PredictorError(f"batch_size must be >= 1, got {batch_size}")
    max_objects = min(int(max_objects), MAX_OBJECTS)
    out = Path(out)
    # Oracle baselines (``needs_references = True``) read the references through
    # ``bind_references(batch, sources=None)`` before their calls on each batch.
    needs_references = bool(getattr(predictor, "needs_references", False))
    if needs_references and not callable(getattr(predictor, "bind_references", None)):
        raise PredictorError(f"predictor {type(predictor).__name__} sets needs_references but has no "
                             "bind_references(batch, sources=None) method")
    dataset = SceneDataset(data, split, max_sources=max(max_objects, 1), targets=needs_references)
    fs = int(dataset.fs or 0)
    report = PredictionReport(num_scenes=len(dataset))
    for task in tasks:
        report.folders[task] = out / task
        report.folders[task].mkdir(parents=True, exist_ok=True)
        report.seconds[task] = 0.0
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                         collate_fn=collate_scenes, num_workers=0)
    multitask = [t for t in tasks if t in ("uss", "seld")]
    # One forward pass for both tasks when the predictor offers it (or offers nothing else).
    has_analyse = callable(getattr(predictor, "analyse", None))
    use_analyse = has_analyse and (len(multitask) == 2 or not all(
        callable(getattr(predictor, TASK_METHODS[t], None)) for t in multitask))
    done = 0
    for batch in loader:
        mixture: torch.Tensor = batch["mixture"]
        ids: list[str] = batch["id"]
        B, C, N = mixture.shape
        num_sources = [int(v) for v in batch["num_sources"]]
        n_frames = [int(batch["sed"].shape[2])] * B
        objects = events = None
        if needs_references:
            predictor.bind_references(batch)
        if multitask:
            t0 = time.perf_counter()
            if use_analyse:
                found = predictor.analyse(mixture)
                objects = getattr(found, "objects", None) if "uss" in multitask else None
                events = getattr(found, "events", None) if "seld" in multitask else None
                if "uss" in multitask and objects is None:
                    raise PredictorError("analyse(): returned no objects for the uss task")
                if "seld" in multitask and events is None:
                    raise PredictorError("analyse(): returned no events for the seld task")
            else:
                if "uss" in multitask:
                    objects = predictor.separate(mixture)
                if "seld" in multitask:
                    events = predictor.detect(mixture)
            elapsed = time.perf_counter() - t0
            for t in multitask:
                report.seconds[t] += elapsed / len(multitask)
        if objects is not None:
            if not torch.is_tensor(objects) or objects.dim() != 4:
                raise PredictorError(f"separate(): expected a [B, K, C, N] tensor, got "
                                     f"{list(objects.shape) if torch.is_tensor(objects) else type(objects).__name__}")
            K = objects.shape[1]
            objects = _check_audio(objects, (B, K, C, N), "separate()")
            if K > max_objects:
                raise PredictorError(f"separate(): {K} objects per scene, more than the suite's "
                                     f"{max_objects} (max_objects)")
            for b, sid in enumerate(ids):
                if K < num_sources[b]:
                    raise PredictorError(f"separate(): scene {sid} has {num_sources[b]} sources but "
                                         f"only {K} objects were estimated")
                for k in range(K):
                    _write_wav(out / "uss" / sid / f"{k}.wav", objects[b, k], fs)
        if events is not None:
            for sid, labels in zip(ids, _events(events, B, n_frames, "detect()", report.notes, ids)):
                write_dcase_csv(out / "seld" / f"{sid}.csv", labels)
        if "tse" in tasks:
            t0 = time.perf_counter()
            pairs = [(b, k) for b in range(B) for k in range(num_sources[b])]
            clues = []
            for b, k in pairs:
                direction, ok = clue_direction(batch["doa"][b, k])
                report.silent_clues += 0 if ok else 1
                clues.append(direction)
            for start in range(0, len(pairs), batch_size):
                chunk = pairs[start:start + batch_size]
                mix = mixture[[b for b, _ in chunk]]
                direction = torch.stack(clues[start:start + len(chunk)])
                if needs_references:  # which (scene, source) each clue belongs to
                    predictor.bind_references(batch, sources=chunk)
                extracted = _check_audio(predictor.extract(mix, direction), (len(chunk), C, N), "extract()")
                for (b, k), audio in zip(chunk, extracted):
                    _write_wav(out / "tse" / ids[b] / f"{k}.wav", audio, fs)
            report.seconds["tse"] += time.perf_counter() - t0
        done += B
        if progress is not None:
            progress(done, len(dataset))
    return report
