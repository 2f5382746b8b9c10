"""Checkpoints that carry their model: registry name + configuration + weights in one file.

``save(model, path)`` writes ``{"format", "name", "config", "state_dict", "extra"}`` with
``torch.save`` atomically; ``load(path)`` rebuilds the model from the file alone through the
registry (no external pretrained files are read: the state dict holds them).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Union

import torch
from torch import nn

from asabench.models.blocks.atst import deferred_pretrained
from asabench.models.registry import create, get_entry
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
    """The raw checkpoint dict (validated format), tensors on the CPU."""
    p = Path(path)
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: checkpoint does not exist") from None
    except Exception as exc:  # noqa: BLE001 - report any unreadable file with its name
        raise ValueError(f"{p}: not a readable checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{p}: not an asabench model checkpoint (field 'format' != {FORMAT!r})")
    for key in ("name", "config", "state_dict"):
        if key not in payload:
            raise ValueError(f"{p}: checkpoint lacks the field {key!r}")
    return payload


def load(path: Pathlike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the model saved at ``path`` (in eval mode) from the checkpoint alone."""
    payload = read(path)
    with deferred_pretrained():
        model = create(payload["name"], payload["config"])
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not match the stored configuration: {exc}") from exc
    model.checkpoint_extra = payload.get("extra", {})
    return model.to(map_location).eval()
