"""What a run reports while it trains: the metrics log, the progress bar, the environment block.

* :class:`MetricsLog`: one JSON object per line in ``RUN/metrics.jsonl`` (``event`` =
  ``step`` or ``validation``), appended and flushed line by line, so a killed run keeps
  every line written; a resumed run appends (steps re-run after the last checkpoint appear
  again; the later line of a step is the one that counts). TensorBoard scalars are written
  to ``RUN/tensorboard/`` as well when ``torch.utils.tensorboard`` can be imported.
* :class:`Progress`: the tqdm bar (steps/s, ETA, loss, learning rate), the library the
  simulate bar uses too.
* :func:`environment`: package versions, git revision, device, process count.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["MetricsLog", "Progress", "environment", "git_revision"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


class MetricsLog:
    """Append-only JSONL metrics log (and TensorBoard when installed)."""

    def __init__(self, path: Path, *, tensorboard: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.path.parent / "tensorboard"))
            except Exception:  # noqa: BLE001 - tensorboard is optional
                self._tb = None

    def write(self, record: dict[str, Any]) -> None:
        record = {"time": round(time.time(), 3), **_clean(record)}
        self._fh.write(json.dumps(record, sort_keys=False) + "\n")
        self._fh.flush()
        if self._tb is not None:
            step = int(record.get("step", 0))
            prefix = record.get("event", "step")
            for key, value in record.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and key not in ("step", "time", "epoch"):
                    self._tb.add_scalar(f"{prefix}/{key}", value, step)
            for key, value in (record.get("scores") or {}).items():
                if isinstance(value, (int, float)):
                    self._tb.add_scalar(f"{prefix}/{key}", value, step)

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics log (a torn last line from a kill is skipped)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


class Progress:
    """A tqdm bar over the run's optimiser steps (disabled: no output at all)."""

    def __init__(self, total: int, initial: int, desc: str, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True,
                            file=sys.stderr, smoothing=0.1)

    def update(self, loss: float, lr: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}", refresh=False)
            self.bar.update(1)

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def git_revision(where: Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the source tree (with ``-dirty`` when it has changes), or None."""
    root = Path(where or Path(__file__).resolve().parents[2])
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}-dirty" if dirty else rev


def environment(device: Any, world_size: int) -> dict[str, Any]:
    """The environment block of a run: versions, git revision, device, processes."""
    from importlib import metadata

    import torch

    versions = {"python": platform.python_version()}
    for pkg in ("asabench", "torch", "numpy", "scipy", "tqdm", "mamba-ssm"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    dev = {"type": str(getattr(device, "type", device)), "name": str(device)}
    if dev["type"] == "cuda" and torch.cuda.is_available():
        dev["name"] = torch.cuda.get_device_name(device)
        dev["cuda"] = torch.version.cuda
    return {"versions": versions, "git_revision": git_revision(), "device": dev,
            "world_size": int(world_size), "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(), "hostname": platform.node(),
            "launcher": "torchrun" if "TORCHELASTIC_RUN_ID" in os.environ else ("env" if world_size > 1 else "single")}
