"""Name -> system registry: ``create("deepasa", config="tiny")`` and ``available()``.

A system registers a builder (usually its class, called with one configuration object), the
configuration dataclass it accepts and named presets::

    @register("deepasa", config_cls=DeepASAConfig, presets={"paper": deepasa_paper, "tiny": deepasa_tiny})
    class DeepASA(nn.Module): ...

:func:`create` resolves ``config`` (a preset name, a ``.json``/``.toml`` path, a mapping or a
configuration object), builds the model with a fixed seed inside a forked RNG (so weights
are reproducible and the global RNG is untouched), and records the registry name and the
configuration on the module (``model.asabench_name``, ``model.config``) for checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Union

import torch
from torch import nn

from asabench.models.config import ConfigBase, ConfigError

__all__ = ["ModelEntry", "register", "create", "available", "get_entry", "resolve_config"]

ConfigLike = Union[str, os.PathLike, Mapping[str, Any], ConfigBase]


@dataclass(frozen=True)
class ModelEntry:
    """A registered system: builder, configuration class and named presets."""

    name: str
    build: Callable[[Any], nn.Module]
    config_cls: type
    presets: Mapping[str, Callable[[], Any]]
    description: str = ""


_REGISTRY: dict[str, ModelEntry] = {}


def register(name: str, *, config_cls: type, presets: Mapping[str, Callable[[], Any]],
             description: str = "") -> Callable[[Callable[[Any], nn.Module]], Callable[[Any], nn.Module]]:
    """Decorator registering ``build(config) -> nn.Module`` under ``name`` (returns it unchanged)."""
    def deco(build: Callable[[Any], nn.Module]) -> Callable[[Any], nn.Module]:
        if name in _REGISTRY and _REGISTRY[name].build is not build:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelEntry(name, build, config_cls, dict(presets), description)
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
    """Turn a preset name, file path, mapping or configuration object into ``name``'s config."""
    entry = get_entry(name)
    if isinstance(config, entry.config_cls):
        return config
    if isinstance(config, Mapping):
        return entry.config_cls.from_dict(config, source=f"config of {name}")
    if isinstance(config, (str, os.PathLike)):
        if isinstance(config, str) and config in entry.presets:
            return entry.presets[config]()
        path = Path(config)
        if path.suffix in (".json", ".toml"):
            return entry.config_cls.load(path)
        raise ConfigError(f"{name}: config {str(config)!r} is neither a preset "
                          f"({', '.join(sorted(entry.presets))}) nor a .json/.toml file")
    raise ConfigError(f"{name}: unsupported config type {type(config).__name__}")


def create(name: str, config: ConfigLike = "paper", *, seed: int = 0) -> nn.Module:
    """Build the registered system ``name``.

    Parameters
    ----------
    name : a name from :func:`available` (``deepasa``, ``deepasa-coi``, ...).
    config : preset name (``"paper"``, ``"tiny"``), path of a ``.json``/``.toml`` file,
        mapping (partial: missing fields take the defaults) or configuration object.
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
