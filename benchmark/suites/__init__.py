"""Benchmark suites as data: which dataset, which splits, which tasks, how each is scored.

A suite is one TOML file (``benchmark/suites/<name>.toml``, shipped as package data) read by
the one configuration loader (:mod:`asabench.simulate.io.config`) into a :class:`Suite`. It
names

* the dataset recipe (``manifest``, a shipped manifest name or a path relative to the
  suite file) and its ``manifest_version``;
* the ``splits`` used for training, validation and test;
* its ``tasks``: a list of scored entries, each with an ``id`` (the results file
  ``EVAL/results/<id>.json``), the scorer ``task`` (``uss``, ``tse``, ``seld``), the
  ``main_score`` (a metric name of that task's results) and whether ``higher_is_better``,
  and ``options``: keyword arguments of :func:`asabench.benchmark.scoring.score`
  (``seld_mode``, ``average``, ``target``, ``spatial``, ...). Two entries may share a task
  (the same predictions scored under two conventions, e.g. DCASE and DeepASA SELD); the
  first entry of each task is that task's headline;
* the model ``contract``: sample rate, channels, clip length, label hop and the number of
  object slots a separation/SELD model outputs;
* the ``leaderboard`` it feeds and the published ``reference`` its numbers compare with.

:func:`load_suite` reads a shipped name or a file, validates every field (errors are one
line, ``<file>: field '<name>': <what>``), and cross-checks the contract against the named
manifest (rate, duration, label hop, splits). The scorer options and main scores are checked
against what :func:`~asabench.benchmark.scoring.score` accepts by :func:`check_scorer`, which
``evaluate`` calls before any work. ``suite.sha256`` is the SHA-256 of the suite file's
bytes, recorded in every results file.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping

from asabench.simulate.io.config import ConfigBase, ConfigError, ranged, read_file, resolve_path
from asabench.simulate.io.files import Pathlike, sha256_bytes

__all__ = ["SUITE_DIR", "SuiteError", "Splits", "Contract", "TaskSpec", "Suite",
           "available_suites", "load_suite", "check_scorer", "manifest_path", "TASK_KINDS"]

#: Shipped suites: ``<SUITE_DIR>/<name>.toml``.
SUITE_DIR = Path(__file__).resolve().parent
#: Scorer tasks a suite entry may name.
TASK_KINDS: tuple[str, ...] = ("uss", "tse", "seld")
#: :func:`~asabench.benchmark.scoring.score` arguments a suite may not set (evaluate sets them).
_RESERVED_OPTIONS = frozenset({"reference", "task", "predictions", "oracle", "split", "workers"})


class SuiteError(ConfigError):
    """A suite file is invalid, or does not fit its manifest or the scorer."""


@dataclass
class Splits(ConfigBase):
    """Dataset split names used for training, validation (model selection) and test (scores)."""

    train: str = "train"
    validation: str = "validation"
    test: str = "test"

    def __post_init__(self) -> None:
        for name in ("train", "validation", "test"):
            if not getattr(self, name):
                raise ConfigError("must be a non-empty split name", field=name)


@dataclass
class Contract(ConfigBase):
    """What a model must accept and return for this suite.

    ``sample_rate`` (Hz), ``num_channels`` (microphones), ``clip_seconds`` (mixture length),
    ``label_hop_s`` (SELD frame hop), ``max_objects``: the number of object slots a USS/SELD
    model outputs (estimates per scene, at least the scene's source count; the scorer keeps
    the best-matching ones). TSE models return one extraction per clue.
    """

    sample_rate: int = ranged(16000, lo=1000, hi=384000)
    num_channels: int = ranged(4, lo=1, hi=64)
    clip_seconds: float = ranged(4.0, lo=0.0, lo_open=True, hi=3600.0)
    label_hop_s: float = ranged(0.1, lo=0.0, lo_open=True, hi=10.0)
    max_objects: int = ranged(5, lo=1, hi=64)

    @property
    def num_samples(self) -> int:
        """Clip length in samples."""
        return int(round(self.clip_seconds * self.sample_rate))


@dataclass
class TaskSpec(ConfigBase):
    """One scored entry of a suite: a scorer task with its options and main score."""

    id: str
    task: Literal["uss", "tse", "seld"]
    main_score: str
    higher_is_better: bool
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if not self.id or not all(c.isalnum() or c in "-_." for c in self.id) or self.id.startswith("."):
            raise ConfigError(f"{self.id!r}: use letters, digits, '-', '_' or '.' (it names a file)",
                              field="id")
        for key, value in self.options.items():
            if key in _RESERVED_OPTIONS:
                raise ConfigError(f"{key!r} is set by evaluate, not by a suite", field=f"options.{key}")
            if not isinstance(value, (str, bool, int, float)):
                raise ConfigError(f"expected a string, number or true/false, got {value!r}",
                                  field=f"options.{key}")


@dataclass
class Suite(ConfigBase):
    """A benchmark suite (see the module docstring); load with :func:`load_suite`."""

    config_dir: ClassVar[Path] = SUITE_DIR
    config_what: ClassVar[str] = "suite"

    name: str
    manifest: str
    manifest_version: str
    tasks: tuple[TaskSpec, ...]
    leaderboard: str
    description: str = ""
    reference: str = ""
    splits: Splits = field(default_factory=Splits)
    contract: Contract = field(default_factory=Contract)
    #: Where the suite was read from, and the SHA-256 of that file's bytes (set by :func:`load_suite`).
    path: str | None = field(default=None, compare=False, init=False)
    sha256: str | None = field(default=None, compare=False, init=False)

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ConfigError("a suite needs at least one task", field="tasks")
        seen: set[str] = set()
        for k, spec in enumerate(self.tasks):
            if spec.id in seen:
                raise ConfigError(f"id {spec.id!r} is used twice", field=f"tasks[{k}].id")
            seen.add(spec.id)

    # ---------------------------------------------------------------- views

    @property
    def task_kinds(self) -> tuple[str, ...]:
        """The scorer tasks of the suite, in first-appearance order (``("uss", "seld")``)."""
        return tuple(dict.fromkeys(s.task for s in self.tasks))

    def headline(self, task: str) -> TaskSpec:
        """The first entry of ``task`` (its headline main score)."""
        for spec in self.tasks:
            if spec.task == task:
                return spec
        raise KeyError(f"suite {self.name!r} has no {task} task (tasks: {', '.join(self.task_kinds)})")

    @property
    def main(self) -> TaskSpec:
        """The suite's main entry (the first one): its ``main_score`` selects checkpoints."""
        return self.tasks[0]

    def to_record(self) -> dict[str, Any]:
        """What a results file or a run folder records about the suite: name, file, hash."""
        return {"name": self.name, "path": self.path, "sha256": self.sha256}

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.pop("path", None)
        data.pop("sha256", None)
        return data


def available_suites() -> list[str]:
    """Names of the shipped suites, sorted."""
    return sorted(p.stem for p in SUITE_DIR.glob("*.toml"))


def manifest_path(suite: Suite, suite_file: Pathlike | None = None) -> Path:
    """The manifest file the suite names: a path relative to the suite file, or a shipped name."""
    suite_file = Path(suite_file if suite_file is not None else (suite.path or "."))
    from asabench.simulate.manifest import resolve_manifest_path

    candidate = Path(suite.manifest)
    if not candidate.is_absolute() and (candidate.suffix or candidate.parent != Path(".")):
        candidate = suite_file.parent / candidate
    try:
        return resolve_manifest_path(candidate if candidate.is_file() else suite.manifest)
    except ConfigError as exc:
        raise SuiteError(f"{exc.what}", source=suite_file, field="manifest") from None


_manifest_path = manifest_path  # the name the training loop imported first


def _check_manifest(suite: Suite, suite_file: Path) -> None:
    """Cross-check the suite against its manifest: version, contract and split names."""
    from asabench.simulate.manifest import load_manifest

    path = manifest_path(suite, suite_file)
    try:
        manifest = load_manifest(path)
    except ConfigError as exc:
        raise SuiteError(f"manifest {path} is invalid: {exc}", source=suite_file, field="manifest") from None

    def bad(field_name: str, what: str) -> SuiteError:
        return SuiteError(what, source=suite_file, field=field_name)

    if manifest.version != suite.manifest_version:
        raise bad("manifest_version", f"{suite.manifest_version!r} but manifest {manifest.name} "
                  f"({path}) is version {manifest.version!r}")
    c = suite.contract
    if c.sample_rate != manifest.fs:
        raise bad("contract.sample_rate", f"{c.sample_rate} Hz but manifest {manifest.name} has fs {manifest.fs}")
    if abs(c.clip_seconds - manifest.duration_s) > 1e-9:
        raise bad("contract.clip_seconds", f"{c.clip_seconds} s but manifest {manifest.name} has "
                  f"duration_s {manifest.duration_s}")
    if abs(c.label_hop_s - manifest.label_hop_s) > 1e-9:
        raise bad("contract.label_hop_s", f"{c.label_hop_s} s but manifest {manifest.name} has "
                  f"label_hop_s {manifest.label_hop_s}")
    if manifest.array.type == "tetrahedral" and c.num_channels != 4:
        raise bad("contract.num_channels", f"{c.num_channels} but manifest {manifest.name} has a "
                  "4-microphone tetrahedral array")
    max_sources = max(manifest.sources.num_sources)
    if c.max_objects < max_sources:
        raise bad("contract.max_objects", f"{c.max_objects} object slots, fewer than the "
                  f"{max_sources} sources a scene of manifest {manifest.name} can hold")
    for role in ("train", "validation", "test"):
        split = getattr(suite.splits, role)
        if split not in manifest.splits:
            raise bad(f"splits.{role}", f"{split!r} is not a split of manifest {manifest.name} "
                      f"(splits: {', '.join(manifest.splits)})")


def _require_fields(cls: type, raw: Any, prefix: str, path: Path) -> None:
    """Name a missing required field (the dataclass itself would only say "missing argument")."""
    if not isinstance(raw, Mapping):
        return
    for f in dataclasses.fields(cls):
        if (f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                and f.name not in raw):
            raise SuiteError("required field is missing", source=path,
                             field=f"{prefix}.{f.name}" if prefix else f.name)


def load_suite(name_or_path: Pathlike | Suite, *, check_manifest: bool = True) -> Suite:
    """Read and validate a suite: a shipped name (``"demo-multitask"``) or a file path.

    ``check_manifest`` also loads the manifest the suite names and checks the contract and
    split names against it. A :class:`Suite` passed in is returned as is.

    Raises
    ------
    SuiteError
        ``<file>: field '<name>': <what>`` for the first problem found.
    """
    if isinstance(name_or_path, Suite):
        return name_or_path
    path = resolve_path(name_or_path, SUITE_DIR, what="suite", error=SuiteError)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read: {exc}") from exc
    raw = read_file(path, what="suite", error=SuiteError)
    _require_fields(Suite, raw, "", path)
    tasks = raw.get("tasks")
    if isinstance(tasks, list):
        for k, entry in enumerate(tasks):
            _require_fields(TaskSpec, entry, f"tasks[{k}]", path)
    try:
        suite = Suite.from_dict(raw, source=str(path))
    except SuiteError:
        raise
    except ConfigError as exc:
        raise SuiteError(exc.what, source=exc.source or path, field=exc.field) from None
    suite.path = str(path)
    suite.sha256 = sha256_bytes(data)
    if check_manifest:
        _check_manifest(suite, path)
    return suite


# ----------------------------------------------------------------------------- the scorer's view


def _literal_choices(hint: Any) -> tuple[Any, ...] | None:
    """The allowed values of a ``Literal`` (or ``Literal | None``) annotation, else None."""
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if len(args) == 1 and typing.get_origin(args[0]) is Literal:
        return typing.get_args(args[0])
    return None


def _parameter_hints(func: Any, signature: Any) -> dict[str, Any]:
    """Each parameter's annotation evaluated on its own (one that cannot be evaluated is skipped)."""
    out: dict[str, Any] = {}
    namespace = dict(getattr(func, "__globals__", {}))
    for name, param in signature.parameters.items():
        hint = param.annotation
        if isinstance(hint, str):
            try:
                hint = eval(hint, namespace)  # noqa: S307 - the scorer's own annotations
            except Exception:  # noqa: BLE001
                continue
        out[name] = hint
    return out


def known_metric_names(task: str, options: Mapping[str, Any]) -> set[str] | None:
    """Metric names the scorer reports for ``task`` under ``options``, or None if unknown here."""
    from asabench.benchmark import scoring

    if task in ("uss", "tse"):
        # every separation metric the scorer defines; the convention's own subset is
        # checked against the results after scoring
        return (set(scoring.SEPARATION_METRICS) | set(getattr(scoring, "DEEPASA_SEPARATION_METRICS", {}))
                | set(getattr(scoring, "_BSS_METRICS", {})))
    try:
        from asabench.benchmark.metrics.seld import metric_names

        return set(metric_names(options.get("seld_mode", "default")))
    except Exception:  # noqa: BLE001 - a mode the helper does not know: checked after scoring
        return None


def check_scorer(suite: Suite) -> None:
    """Check every entry's options and main score against :func:`scoring.score`'s signature.

    Raises
    ------
    SuiteError
        Naming the suite file and ``tasks[k].options.<name>`` or ``tasks[k].main_score``.
    """
    import inspect

    from asabench.benchmark import scoring

    signature = inspect.signature(scoring.score)
    hints = _parameter_hints(scoring.score, signature)
    for k, spec in enumerate(suite.tasks):
        where = f"tasks[{k}]"
        for key, value in spec.options.items():
            if key not in signature.parameters or key in _RESERVED_OPTIONS:
                allowed = sorted(p for p in signature.parameters if p not in _RESERVED_OPTIONS)
                raise SuiteError(f"{key!r} is not an option of the scorer (options: {', '.join(allowed)})",
                                 source=suite.path, field=f"{where}.options.{key}")
            hint = hints.get(key)
            choices = _literal_choices(hint)
            if choices is not None and value not in choices:
                raise SuiteError(f"{value!r} is not one of {', '.join(repr(c) for c in choices)}",
                                 source=suite.path, field=f"{where}.options.{key}")
            kinds = {a for a in (typing.get_args(hint) or (hint,)) if a is not type(None)}
            if kinds == {bool} and not isinstance(value, bool):
                raise SuiteError(f"expected true or false, got {value!r}", source=suite.path,
                                 field=f"{where}.options.{key}")
        names = known_metric_names(spec.task, spec.options)
        if names is not None and spec.main_score not in names:
            raise SuiteError(f"{spec.main_score!r} is not a {spec.task} metric (metrics: "
                             f"{', '.join(sorted(names))})", source=suite.path, field=f"{where}.main_score")
