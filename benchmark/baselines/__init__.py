"""Baselines that are not registry models: signal-processing and oracle predictors.

Each baseline registers a factory under a name that ``asabench evaluate --model NAME`` and
:func:`asabench.benchmark.evaluate.build_predictor` accept beside the model registry's names::

    @register_baseline("mvdr", tasks=("tse",), kind="dsp", description="...")
    def _mvdr(context: BaselineContext) -> MVDRPredictor: ...

A factory receives a :class:`BaselineContext` (the suite, the dataset folder, the evaluated
split, the ``--config`` value and the seed) and returns an object implementing the predictor
protocols of :mod:`asabench.benchmark.predict`. ``kind`` is ``"oracle"`` (uses the
references: an upper bound, marked so in results and leaderboards), ``"reference"`` (the
mixture line) or ``"dsp"`` (no training, or a classifier fitted on the train split).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["BaselineContext", "BaselineEntry", "register_baseline", "get_baseline", "available_baselines",
           "is_baseline", "BaselineError", "load_all"]


class BaselineError(ValueError):
    """A baseline cannot be built for this suite or dataset (named field or file)."""


@dataclass(frozen=True)
class BaselineContext:
    """What a baseline factory is given."""

    suite: Any
    data: Path | None
    split: str | None = None
    config: Any = None
    seed: int = 0


@dataclass(frozen=True)
class BaselineEntry:
    name: str
    factory: Callable[[BaselineContext], Any]
    tasks: tuple[str, ...]
    kind: str
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)


_BASELINES: dict[str, BaselineEntry] = {}
#: The modules whose import fills the registry (DSP baselines) and registers the learned
#: baselines' predictor adapters, training objectives and default recipes.
_MODULES: tuple[str, ...] = ("oracle", "beamform", "localize", "learned_seld", "learned_tse")
_loaded = False


def register_baseline(name: str, *, tasks: Sequence[str], kind: str, description: str = "") -> Callable:
    """Decorator registering ``factory(context) -> predictor`` under ``name``."""
    if kind not in ("oracle", "reference", "dsp"):
        raise ValueError(f"baseline kind must be oracle, reference or dsp, got {kind!r}")

    def deco(factory: Callable[[BaselineContext], Any]) -> Callable[[BaselineContext], Any]:
        if name in _BASELINES:
            raise ValueError(f"baseline {name!r} is already registered")
        _BASELINES[name] = BaselineEntry(name, factory, tuple(tasks), kind, description)
        return factory

    return deco


def load_all() -> None:
    """Import every baseline module once (idempotent)."""
    _load()


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _MODULES:
            importlib.import_module(f"{__name__}.{module}")


def available_baselines() -> list[str]:
    """Names of the registered baselines, sorted."""
    _load()
    return sorted(_BASELINES)


def is_baseline(name: Any) -> bool:
    _load()
    return isinstance(name, str) and name in _BASELINES


def get_baseline(name: str) -> BaselineEntry:
    _load()
    try:
        return _BASELINES[name]
    except KeyError:
        raise KeyError(f"unknown baseline {name!r} (baselines: {', '.join(sorted(_BASELINES)) or 'none'})") from None
