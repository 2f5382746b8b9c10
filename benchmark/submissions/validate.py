"""Check a model entry point against a suite before anything is scored (``asabench validate-model``).

A submitted model is a Python entry point ``package.module:factory`` (a class, a factory
called without arguments, or a ready object) implementing the protocols of
:mod:`asabench.benchmark.predict` for the suite's tasks. :func:`validate_model` runs the
checks one by one, HEAR-style, and reports each as passed or failed with what it saw:

``import``        the entry imports and yields an object
``protocol``      a method for each task: ``separate`` (uss), ``detect`` (seld), ``extract`` (tse)
                  (``analyse`` covers uss and seld)
``sample_rate``   the attribute ``predictor.sample_rate`` exists and equals the suite's rate
``num_channels``  the attribute ``predictor.num_channels`` exists and equals the suite's channels
``<task> output`` on a batch of :data:`BATCH` mixtures of the suite's contract (``[B, C, N]``
                  float32; a seeded Gaussian noise batch, or the first scenes of ``--data``):
                  uss ``[B, K, C, N]`` floating point, finite, ``K`` from the most sources a
                  scene of the suite's manifest holds (the batch's scenes with ``--data``) to
                  ``max_objects``; seld a list of ``B`` DcaseLabels with classes
                  and frames in range; tse ``[B, C, N]`` floating point, finite
``<task> determinism``  a second call on the same batch returns exactly the same output
``time per clip`` seconds per mixture of the first call of every task (reported; it fails
                  when the call failed, or when ``max_seconds_per_clip`` is given and the
                  time is above it)

Later checks that need an earlier one (an output without an importable object) are shown
as skipped. With ``time_limit`` the checks run in a child process that is killed when they
overrun it (:func:`asabench.benchmark.submissions.sandbox.validate_in_subprocess`); the
report then ends with the check that was running, failed, and ``stopped`` says why. The same shape and value checks guard ``write_predictions`` when the model is
evaluated, worded the same (they are its functions).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from asabench.simulate.io.files import Pathlike

__all__ = ["Check", "ValidationReport", "validate_model", "BATCH", "DUMMY_SEED"]

#: Mixtures in the dummy batch (two, so that per-item mistakes such as a broadcast show).
BATCH: int = 2
#: Seed of the dummy batch (numbers only from this generator).
DUMMY_SEED: int = 20261201


@dataclass
class Check:
    """One line of the report: ``status`` is ``pass``, ``FAIL`` or ``skip``."""

    name: str
    status: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


@dataclass
class ValidationReport:
    """Every check of one entry point against one suite."""

    entry: str
    suite: str
    checks: list[Check] = field(default_factory=list)
    seconds_per_clip: dict[str, float] = field(default_factory=dict)
    #: Why the checks stopped before the end (a time limit hit, the child process died), else None.
    stopped: str | None = None

    @property
    def ok(self) -> bool:
        return self.stopped is None and not any(c.failed for c in self.checks)

    def add(self, name: str, ok: bool | None, detail: str = "") -> bool:
        status = "skip" if ok is None else ("pass" if ok else "FAIL")
        self.checks.append(Check(name, status, detail))
        return bool(ok)

    def table(self) -> str:
        """The report as a fixed-width table: check, result, detail."""
        width = max([len("check")] + [len(c.name) for c in self.checks])
        lines = [f"{'check':<{width}}  result  detail", f"{'-' * width}  ------  ------"]
        lines += [f"{c.name:<{width}}  {c.status:<6}  {c.detail}" for c in self.checks]
        failed = sum(c.failed for c in self.checks)
        if self.stopped is not None:
            summary = f"stopped: {self.stopped}"
        else:
            summary = "all checks passed" if not failed else f"{failed} check(s) failed"
        lines.append(f"{self.entry} on {self.suite}: {summary}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"entry": self.entry, "suite": self.suite, "ok": self.ok,
                "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in self.checks],
                "seconds_per_clip": dict(self.seconds_per_clip), "stopped": self.stopped}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ValidationReport":
        """The inverse of :meth:`to_dict` (a report written by the child process)."""
        return cls(str(d["entry"]), str(d["suite"]),
                   [Check(str(c["name"]), str(c["status"]), str(c.get("detail", ""))) for c in d["checks"]],
                   {k: float(v) for k, v in d.get("seconds_per_clip", {}).items()}, d.get("stopped"))


def _dummy_batch(contract: Any, max_sources: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """``(mixture [B, C, N], direction [B, 2], fewest objects, label frames)`` from the seeded generator.

    A USS model must return at least as many objects as the suite's scenes can hold sources
    (``max_sources``, from the suite's manifest): the scorer matches every reference.
    """
    rng = np.random.default_rng(DUMMY_SEED)
    mixture = torch.from_numpy(0.1 * rng.standard_normal((BATCH, contract.num_channels, contract.num_samples))
                               .astype(np.float32))
    direction = torch.from_numpy(np.stack([rng.uniform(-180.0, 180.0, BATCH), rng.uniform(-45.0, 45.0, BATCH)], 1)
                                 .astype(np.float32))
    n_frames = int(round(contract.clip_seconds / contract.label_hop_s))
    return mixture, direction, max_sources, n_frames


def _data_batch(data: Pathlike, split: str, contract: Any) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """The first :data:`BATCH` scenes of a dataset split (mixtures, first source's clue)."""
    from asabench.benchmark.predict import clue_direction
    from asabench.simulate.dataset.loader import SceneDataset, collate_scenes

    ds = SceneDataset(data, split, max_sources=contract.max_objects, targets=False)
    items = [ds[k] for k in range(min(BATCH, len(ds)))]
    batch = collate_scenes(items)
    direction = torch.stack([clue_direction(batch["doa"][b, 0])[0] for b in range(len(items))])
    return batch["mixture"], direction, int(max(int(v) for v in batch["num_sources"])), int(batch["sed"].shape[2])


def _same(a: Any, b: Any) -> bool:
    if torch.is_tensor(a) and torch.is_tensor(b):
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if hasattr(a, "frame") and hasattr(b, "frame"):  # DcaseLabels
        if (a.distance is None) != (b.distance is None):
            return False
        fields = ("frame", "cls", "track", "xyz") + (("distance",) if a.distance is not None else ())
        return all(np.array_equal(np.asarray(getattr(a, f)), np.asarray(getattr(b, f))) for f in fields)
    return a == b


def _call(predictor: Any, task: str, mixture: torch.Tensor, direction: torch.Tensor) -> Any:
    from asabench.benchmark.predict import TASK_METHODS

    if task == "tse":
        return predictor.extract(mixture.clone(), direction.clone())
    method = getattr(predictor, TASK_METHODS[task], None)
    if callable(method):
        return method(mixture.clone())
    found = predictor.analyse(mixture.clone())
    return getattr(found, "objects" if task == "uss" else "events", None)


def _check_output(task: str, out: Any, mixture: torch.Tensor, max_objects: int, min_objects: int,
                  n_frames: int) -> str:
    """A description of a valid output, or raises PredictorError (write_predictions' own checks)."""
    from asabench.benchmark.predict import PredictorError, _check_audio, _events

    B, C, N = mixture.shape
    if task == "uss":
        if not torch.is_tensor(out) or out.dim() != 4:
            raise PredictorError(f"separate(): expected a [B, K, C, N] tensor, got "
                                 f"{list(out.shape) if torch.is_tensor(out) else type(out).__name__}")
        K = int(out.shape[1])
        dtype = out.dtype
        _check_audio(out, (B, K, C, N), "separate()")
        if not min_objects <= K <= max_objects:
            raise PredictorError(f"separate(): {K} objects per scene; the suite needs {min_objects} to "
                                 f"{max_objects} (max_objects)")
        return f"[{B}, {K}, {C}, {N}] {str(dtype).replace('torch.', '')}"
    if task == "tse":
        dtype = out.dtype if torch.is_tensor(out) else None
        _check_audio(out, (B, C, N), "extract()")
        return f"[{B}, {C}, {N}] {str(dtype).replace('torch.', '')}"
    notes: list[str] = []
    labels = _events(out, B, [n_frames] * B, "detect()", notes, [f"item {b}" for b in range(B)])
    if notes:
        raise PredictorError("detect(): " + "; ".join(notes))
    return f"{B} DcaseLabels, {sum(lab.num_rows for lab in labels)} event row(s)"


def _finite_positive(value: float | None, name: str) -> None:
    if value is not None and (isinstance(value, bool) or not (value > 0) or value == float("inf")):
        raise ValueError(f"{name} {value!r}: expected a finite number of seconds > 0")


def validate_model(entry: str, suite: Any, *, data: Pathlike | None = None, split: str | None = None,
                   predictor: Any = None, time_limit: float | None = None,
                   max_seconds_per_clip: float | None = None,
                   progress: Callable[[ValidationReport, str], None] | None = None) -> ValidationReport:
    """Run every check of ``entry`` against ``suite`` (see the module docstring); never raises for the model's faults.

    Parameters
    ----------
    entry : ``package.module:factory``.
    suite : a suite name, file or :class:`~asabench.benchmark.suites.Suite`.
    data : optional dataset folder of the suite: its first scenes are the batch instead of noise.
    split : its split (default: the suite's test split).
    predictor : an already built object to check instead of importing ``entry`` (tests).
    time_limit : seconds; run the checks in a child process killed when they take longer
        (the clock starts when the ``import`` check begins). Not with ``predictor``.
    max_seconds_per_clip : fail a task's ``time per clip`` row when its first call took
        longer than this per mixture (default: reported, not judged).
    progress : called as each check begins with the report so far and that check's name
        (``"batch"`` while the input batch is prepared); the child process uses it.

    Raises
    ------
    ValueError
        A bad option, suite or dataset (the user's input, refused before any check).
    """
    from asabench.benchmark.evaluate import check_dataset
    from asabench.benchmark.predict import PredictorError, check_predictor, load_predictor
    from asabench.benchmark.suites import load_suite

    _finite_positive(time_limit, "time limit")
    _finite_positive(max_seconds_per_clip, "max seconds per clip")
    if time_limit is not None and predictor is not None:
        raise ValueError("a time limit runs the entry in a child process: it cannot check a given predictor object")
    suite = load_suite(suite)
    contract = suite.contract
    split = split or suite.splits.test
    tasks = suite.task_kinds
    if data is not None:
        check_dataset(suite, data, split)  # the dataset is the user's input: refused before any check
    if time_limit is not None:
        from asabench.benchmark.submissions.sandbox import validate_in_subprocess

        return validate_in_subprocess(entry, suite, data=data, split=split, time_limit=time_limit,
                                      max_seconds_per_clip=max_seconds_per_clip)
    report = ValidationReport(entry, suite.name)

    def begin(name: str) -> None:
        if progress is not None:
            progress(report, name)

    begin("import")
    if predictor is None:
        try:
            predictor = load_predictor(entry)
            ok = report.add("import", True, f"{type(predictor).__module__}.{type(predictor).__qualname__}")
        except PredictorError as exc:
            ok = report.add("import", False, str(exc))
        except Exception as exc:  # noqa: BLE001 - the model's own code failed while importing or building
            ok = report.add("import", False, f"{type(exc).__name__}: {exc}")
    else:
        ok = report.add("import", True, f"{type(predictor).__qualname__} (given)")
    if ok:
        begin("protocol")
        try:
            check_predictor(predictor, tasks)
            ok = report.add("protocol", True, ", ".join(f"{t}" for t in tasks))
        except PredictorError as exc:
            ok = report.add("protocol", False, str(exc))
    else:
        report.add("protocol", None, "needs import")
    for attr, wanted, unit in (("sample_rate", contract.sample_rate, " Hz"), ("num_channels", contract.num_channels, "")):
        if predictor is None:
            report.add(attr, None, "needs import")
            continue
        begin(attr)
        value = getattr(predictor, attr, None)
        if value is None:
            report.add(attr, False, f"not declared: set predictor.{attr} = {wanted} (the suite's {attr})")
        elif isinstance(value, bool) or value != wanted:
            report.add(attr, False, f"declares {value!r}, the suite's contract is {wanted}{unit}")
        else:
            report.add(attr, True, f"{value}{unit}")
    begin("batch")
    if data is not None:
        mixture, direction, min_objects, n_frames = _data_batch(data, split, contract)
        source = f"first {mixture.shape[0]} scenes of {Path(data).name}/{split}"
    else:
        from asabench.benchmark.suites import manifest_path
        from asabench.simulate.manifest import load_manifest

        max_sources = max(load_manifest(manifest_path(suite)).sources.num_sources)
        mixture, direction, min_objects, n_frames = _dummy_batch(contract, max_sources)
        source = f"seeded noise batch {list(mixture.shape)}"
    max_objects = min(contract.max_objects, 5)
    for task in tasks:
        if not ok:
            report.add(f"{task} output", None, "needs protocol")
            report.add(f"{task} determinism", None, "needs protocol")
            report.add(f"{task} time per clip", None, "needs protocol")
            continue
        begin(f"{task} output")
        try:
            t0 = time.perf_counter()
            first = _call(predictor, task, mixture, direction)
            seconds = time.perf_counter() - t0
            shown = _check_output(task, first, mixture, max_objects, min_objects, n_frames)
            out_ok = report.add(f"{task} output", True, f"{shown} on the {source}")
        except Exception as exc:  # noqa: BLE001 - PredictorError or the model's own failure
            report.add(f"{task} output", False, " ".join(str(exc).split()) or type(exc).__name__)
            report.add(f"{task} determinism", None, "needs a valid output")
            report.add(f"{task} time per clip", False, "the call failed")
            continue
        begin(f"{task} determinism")
        try:
            second = _call(predictor, task, mixture, direction)
            same = _same(first, second)
            report.add(f"{task} determinism", same, "two calls on the same batch are identical" if same else
                       "two calls on the same batch differ (seed the model's randomness, use eval mode)")
        except Exception as exc:  # noqa: BLE001
            report.add(f"{task} determinism", False, f"second call failed: {exc}")
        per_clip = seconds / mixture.shape[0]
        report.seconds_per_clip[task] = per_clip
        rtf = per_clip / contract.clip_seconds
        detail = (f"{per_clip:.4f} s per {contract.clip_seconds:g}-s clip (real-time factor {rtf:.3g}, first call, "
                  f"CPU threads {torch.get_num_threads()})")
        within = max_seconds_per_clip is None or per_clip <= max_seconds_per_clip
        if max_seconds_per_clip is not None:
            detail += f"; {'within' if within else 'above'} the budget of {max_seconds_per_clip:g} s per clip"
        report.add(f"{task} time per clip", out_ok and within, detail)
    return report
