"""Name -> system registry: ``create("deepasa", config="tiny")`` and ``available()``.

A system registers a builder (usually its class, called with one configuration object) and
the configuration dataclass it accepts::

    register("deepasa", config_cls=DeepASAConfig)(DeepASA)

Its named presets are data files, ``models/presets/<name>/<preset>.toml`` (shipped as package
data), read and checked by the one configuration loader
(:mod:`asabench.simulate.io.config`); ``presets=`` adds or replaces presets for systems
registered from outside the package (a mapping of names to files or configuration objects).

:func:`create` resolves ``config`` (a preset name, a ``.toml``/``.json``/``.yaml`` path, a
mapping or a configuration object), builds the model with a fixed seed inside a forked RNG (so
weights are reproducible and the global RNG is untouched), and records the registry name and
the configuration on the module (``model.asabench_name``, ``model.config``) for checkpoints.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Union

import torch
from torch import nn

from asabench.simulate.io.config import SUFFIXES, ConfigBase, ConfigError

__all__ = ["PRESET_DIR", "ModelEntry", "register", "create", "available", "get_entry", "resolve_config"]

#: Shipped presets: ``<PRESET_DIR>/<system name>/<preset name>.toml``.
PRESET_DIR = Path(__file__).resolve().parent / "presets"

ConfigLike = Union[str, os.PathLike, Mapping[str, Any], ConfigBase]
PresetLike = Union[str, os.PathLike, ConfigBase]


@dataclass(frozen=True)
class ModelEntry:
    """A registered system: builder, configuration class and named presets (files or objects)."""

    name: str
    build: Callable[[Any], nn.Module]
    config_cls: type
    presets: Mapping[str, PresetLike]
    description: str = ""


_REGISTRY: dict[str, ModelEntry] = {}


def shipped_presets(name: str) -> dict[str, Path]:
    """The preset files shipped for system ``name`` (``{"paper": .../paper.toml, ...}``)."""
    folder = PRESET_DIR / name
    return {p.stem: p for p in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}


def register(name: str, *, config_cls: type, presets: Mapping[str, PresetLike] | None = None,
             description: str = "") -> Callable[[Callable[[Any], nn.Module]], Callable[[Any], nn.Module]]:
    """Decorator registering ``build(config) -> nn.Module`` under ``name`` (returns it unchanged).

    The presets are the shipped files of ``name`` plus ``presets`` (which win on a clash).
    """
    def deco(build: Callable[[Any], nn.Module]) -> Callable[[Any], nn.Module]:
        if name in _REGISTRY and _REGISTRY[name].build is not build:
            raise ValueError(f"model name {name!r} is already registered")
        table: dict[str, PresetLike] = {**shipped_presets(name), **dict(presets or {})}
        _REGISTRY[name] = ModelEntry(name, build, config_cls, table, description)
        return build
    return deco


def available() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def get_entry(name: str) -> ModelEntry:
    """The registry entry of ``name`` (``KeyError`` listing the known names otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(available())}") from None


def resolve_config(name: str, config: ConfigLike = "paper") -> Any:
    """Turn a preset name, file path, mapping or configuration object into ``name``'s config.

    A preset or file is read afresh on every call, so editing the returned object never
    changes the next ``create``. A configuration object is checked against the same field
    rules as a file (types and ranges) and returned as is.
    """
    entry = get_entry(name)
    if isinstance(config, entry.config_cls):
        return config.validate(f"config of {name}") if isinstance(config, ConfigBase) else config
    if isinstance(config, Mapping):
        return entry.config_cls.from_dict(config, source=f"config of {name}")
    if isinstance(config, (str, os.PathLike)):
        if isinstance(config, str) and config in entry.presets:
            preset = entry.presets[config]
            if isinstance(preset, entry.config_cls):
                return copy.deepcopy(preset)
            return entry.config_cls.load(preset)
        path = Path(config)
        if path.suffix in SUFFIXES:
            return entry.config_cls.load(path)
        raise ConfigError(f"{name}: config {str(config)!r} is neither a preset "
                          f"({', '.join(sorted(entry.presets))}) nor a .toml/.json/.yaml file")
    raise ConfigError(f"{name}: unsupported config type {type(config).__name__}")


def create(name: str, config: ConfigLike = "paper", *, seed: int = 0) -> nn.Module:
    """Build the registered system ``name``.

    Parameters
    ----------
    name : a name from :func:`available` (``deepasa``, ``deepasa-coi``, ...).
    config : preset name (``"paper"``, ``"tiny"``, see ``models/presets/<name>/``), path of a
        ``.toml``/``.json``/``.yaml`` file, mapping (partial: missing fields take the defaults)
        or configuration object.
    seed : seed of the weight initialisation (the global RNG state is restored afterwards).
    """
    entry = get_entry(name)
    cfg = resolve_config(name, config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = entry.build(cfg)
    model.asabench_name = name
    if getattr(model, "config", None) is None:
        model.config = cfg
    return model
