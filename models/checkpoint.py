"""Checkpoints that carry their model: registry name + configuration + weights in one file.

``save(model, path)`` writes ``{"format", "name", "config", "state_dict", "extra"}`` with
``torch.save`` atomically; ``load(path)`` rebuilds the model from the file alone through the
registry.

A checkpoint is a file from outside, so loading one runs no code and opens no other file:

* it is unpickled with ``torch.load(..., weights_only=True)``, whose restricted unpickler
  builds only tensors and plain containers (a pickle that calls a function is refused);
* every field is checked: ``name`` must be registered, ``config`` goes through the
  configuration loader (unknown keys, types, ranges; errors read
  ``<file>: field 'config.<name>': <what>``), the weights must match the configuration
  exactly;
* paths stored in the configuration (``atst.weights``, the file the ATST branch was
  initialised from) are provenance only: the model is built under
  :func:`~asabench.models.blocks.atst.deferred_pretrained`, so they are never opened (the
  state dict already holds those weights). Anything that would open such a path must first
  confine it with :func:`asabench.simulate.io.files.confine`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Union

import torch
from torch import nn

from asabench.models.blocks.atst import deferred_pretrained
from asabench.models.registry import create, get_entry
from asabench.simulate.io.config import ConfigError
from asabench.simulate.io.files import atomic_write_with

__all__ = ["save", "load", "read", "FORMAT"]

FORMAT = "asabench.models.checkpoint/1"
Pathlike = Union[str, os.PathLike]


def save(model: nn.Module, path: Pathlike, extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``model`` (built by :func:`asabench.models.create`) with its configuration.

    ``extra``: optional plain data (epoch, metrics) stored beside the weights.
    """
    name = getattr(model, "asabench_name", None)
    config = getattr(model, "config", None)
    if name is None or config is None or not hasattr(config, "to_dict"):
        raise ValueError("checkpoint.save: the model must come from asabench.models.create "
                         "(it needs .asabench_name and a .config dataclass)")
    get_entry(name)
    payload = {"format": FORMAT, "name": name, "config": config.to_dict(),
               "state_dict": model.state_dict(), "extra": dict(extra or {})}
    p = Path(path)
    atomic_write_with(p, lambda tmp: torch.save(payload, tmp))
    return p


def read(path: Pathlike) -> dict[str, Any]:
    """The raw checkpoint dict (validated format and field types), tensors on the CPU."""
    p = Path(path)
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: checkpoint does not exist") from None
    except Exception as exc:  # noqa: BLE001 - report any unreadable or unsafe file with its name
        raise ConfigError(f"not a readable checkpoint: {' '.join(str(exc).split())[:300]}", source=p) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"not an asabench model checkpoint (expected {FORMAT!r})", source=p, field="format")
    for key in ("name", "config", "state_dict"):
        if key not in payload:
            raise ConfigError("required field is missing", source=p, field=key)
    if not isinstance(payload["name"], str):
        raise ConfigError(f"expected a model name, got {payload['name']!r}", source=p, field="name")
    for key in ("config", "state_dict", "extra"):
        if not isinstance(payload.get(key, {}), Mapping):
            raise ConfigError(f"expected a mapping, got {type(payload[key]).__name__}", source=p, field=key)
    bad = [k for k, v in payload["state_dict"].items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ConfigError(f"entry {bad[0]!r} is not a named tensor", source=p, field="state_dict")
    return payload


def load(path: Pathlike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved at ``path`` (in eval mode) from the checkpoint alone."""
    p = Path(path)
    payload = read(p)
    name = payload["name"]
    try:
        entry = get_entry(name)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0]), source=p, field="name") from None
    config = entry.config_cls.from_dict(payload["config"], source=p, prefix="config")
    with deferred_pretrained():  # stored paths (atst.weights) are not opened: the weights are here
        model = create(name, config)
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ConfigError(f"weights do not match the stored configuration: {' '.join(str(exc).split())[:300]}",
                          source=p, field="state_dict") from exc
    model.checkpoint_extra = dict(payload.get("extra", {}))
    return model.to(map_location).eval()
