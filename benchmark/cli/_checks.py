"""Checks of command-line values shared by every command, run before any work starts.

Each check raises :class:`UsageError` (a ``ValueError``: exit status 2) with a message
that names the option and the offending value, and writes nothing. The central handler in
:mod:`asabench.benchmark.cli` prints it as one line, ``asabench <command>: <message>``.

Defaults come from the library function that does the job (:func:`library_default`), so
that ``asabench score`` and :func:`asabench.benchmark.scoring.score` cannot drift apart.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any, Callable, Iterable

from asabench.simulate.io.files import Pathlike, refuse_output_over_inputs

#: More worker processes than this is taken for a typo (each one is a Python process).
MAX_WORKERS = 4096

_DEVICE = re.compile(r"^(cpu|cuda|mps)(?::(\d+))?$")


class UsageError(ValueError):
    """A command-line option has an unusable value; the message names the option."""


def library_default(func: Callable[..., Any], name: str) -> Any:
    """The default of parameter ``name`` of ``func``: the single source of a CLI default."""
    param = inspect.signature(func).parameters[name]
    if param.default is inspect.Parameter.empty:
        raise TypeError(f"{func.__qualname__}() has no default for {name!r}")
    return param.default


def workers(value: int | None, option: str = "--workers", *, allow_auto: bool = False) -> int | None:
    """A worker count from 1 to :data:`MAX_WORKERS` (``None`` = automatic, where allowed)."""
    if value is None and allow_auto:
        return None
    if value is None or isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise UsageError(f"{option} {value}: expected a whole number from 1 to {MAX_WORKERS}")
    return value


def workers_arg(text: str) -> int | None:
    """argparse type of ``--workers`` that also takes ``auto`` (one per usable core)."""
    if text.strip().lower() == "auto":
        return None
    return int(text)


def device(value: str, option: str = "--device") -> str:
    """A torch device string this machine can run: ``cpu``, ``cuda``, ``cuda:N``, ``mps``."""
    match = _DEVICE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise UsageError(f"{option} {value!r}: expected cpu, cuda, cuda:N or mps")
    kind, index = match.group(1), match.group(2)
    if kind == "cpu":
        if index not in (None, "0"):
            raise UsageError(f"{option} {value!r}: the CPU device has no index other than 0")
        return value.strip()
    import torch

    if kind == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"{option} {value}: CUDA is not available on this machine "
                             f"(torch {torch.__version__}, no usable GPU); use --device cpu")
        count = torch.cuda.device_count()
        if index is not None and int(index) >= count:
            raise UsageError(f"{option} {value}: this machine has {count} CUDA device(s) (0..{count - 1})")
    elif not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError(f"{option} {value}: the MPS device is not available on this machine; use --device cpu")
    return value.strip()


def positive(value: float | None, option: str, *, allow_none: bool = False) -> float | None:
    """A finite number > 0."""
    if value is None and allow_none:
        return None
    if value is None or not (value > 0) or value == float("inf"):
        raise UsageError(f"{option} {value}: expected a finite number > 0")
    return value


def non_negative(value: int | float | None, option: str, *, allow_none: bool = False) -> Any:
    """A finite number >= 0."""
    if value is None and allow_none:
        return None
    if value is None or not (value >= 0) or value == float("inf"):
        raise UsageError(f"{option} {value}: expected a finite number >= 0")
    return value


def in_range(value: float, option: str, low: float, high: float) -> float:
    """A number with ``low < value < high`` (open interval)."""
    if not (low < value < high):
        raise UsageError(f"{option} {value}: expected a number between {low:g} and {high:g} (exclusive)")
    return value


def shard(text: str, option: str = "--shard") -> tuple[int, int]:
    """``I/N`` with ``0 <= I < N``: this job makes the scenes whose index is ``I`` modulo ``N``."""
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected I/N, e.g. 0/4") from None
    if not 0 <= i < n:
        raise UsageError(f"{option} {text}: expected 0 <= I < N")
    return i, n


def _blocking_ancestor(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that is not a folder (no file can go below it)."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def out_folder(value: Pathlike, option: str = "--out") -> Path:
    """A folder to write into: absent (it will be made) or an existing folder, never a file."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: is an existing file; expected a folder")
    blocker = _blocking_ancestor(path)
    if blocker is not None:
        raise UsageError(f"{option} {path}: {blocker} is a file, so no folder can be made below it")
    return path


def out_file(value: Pathlike, option: str = "--out", *, suffixes: Iterable[str] | None = None) -> Path:
    """A file to write: absent or an existing regular file, never a folder."""
    path = Path(value)
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; expected a file path")
    if suffixes is not None:
        allowed = tuple(suffixes)
        if path.suffix.lower() not in allowed:
            raise UsageError(f"{option} {path}: expected a {' or '.join(allowed)} path")
    blocker = _blocking_ancestor(path)
    if blocker is not None:
        raise UsageError(f"{option} {path}: {blocker} is a file, so {path.name} cannot be made below it")
    return path


def input_path(value: Pathlike, option: str, *, folder: bool | None = None) -> Path:
    """An input that must exist (a folder when ``folder``, a file when ``folder is False``)."""
    path = Path(value)
    if not path.exists():
        raise UsageError(f"{option} {path}: no such file or folder")
    if folder is True and not path.is_dir():
        raise UsageError(f"{option} {path}: is a file; expected a folder")
    if folder is False and path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; expected a file")
    return path


def outputs_not_over_inputs(outputs: Iterable[Pathlike], inputs: Iterable[Pathlike | None],
                            option: str = "--out") -> None:
    """Refuse (exit 2) an output that is one of the inputs or lies inside an input folder."""
    refuse_output_over_inputs(list(outputs), [p for p in inputs if p is not None], what=option)


def inputs_not_inside_outputs(output_folders: Iterable[Pathlike], inputs: Iterable[Pathlike | None],
                              option: str = "--out") -> None:
    """Refuse an input that lies inside a folder the tool fills (it could be written over)."""
    for folder in output_folders:
        f = Path(folder).expanduser().resolve()
        for value in inputs:
            if value is None:
                continue
            i = Path(value).expanduser().resolve()
            if i == f or f in i.parents:
                raise UsageError(f"{option}: {folder} would be filled, but the input {i} lies inside it; "
                                 "choose a path outside the inputs")
