"""Files: atomic writes that honour the umask, SHA-256 hashing, path confinement.

Every file asabench writes goes through :func:`atomic_write_bytes` (or one of its
wrappers): the data lands in a temporary file in the target folder, is flushed, given the
mode a plain ``open(path, "w")`` would give it (``0o666 & ~umask``: 0644 under umask 022,
so other users of a shared machine or cluster can read a dataset), and renamed over the
target. A reader sees the old file or the complete new one, never a torn write, and a
killed job leaves only a ``.<name>.<random>.tmp`` file that ``verify`` recognises.

Every path read from a file the tool did not just write (a spec's source ids, a bank
table, an index, an export map, a checkpoint) goes through :func:`confine` before it is
opened: it must be relative and stay inside its root after symlinks are resolved.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable, Iterable, Iterator, Union

Pathlike = Union[str, "os.PathLike[str]"]

_HASH_CHUNK_BYTES = 1 << 20


class PathConfinementError(ValueError):
    """A path read from a file is absolute or leaves its root.

    The message names the file the path came from and the field that held it.
    """

    def __init__(self, source: Pathlike | None, field: str | None, value: str, root: Pathlike, why: str) -> None:
        self.source = None if source is None else Path(source)
        self.field = field
        self.value = value
        self.root = Path(root)
        where = f"{self.source}: " if self.source is not None else ""
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}{what}path {value!r} {why} (root {self.root})")


class OutputOverlapsInputError(ValueError):
    """An output path is one of the tool's inputs, or lies inside an input folder."""


# ----------------------------------------------------------------------------- hashing


def sha256_file(path: Pathlike, chunk_bytes: int = _HASH_CHUNK_BYTES) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks (1 MiB by default)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- atomic writes


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ``/proc``).

    ``os.umask`` can only be read by setting it, which races with other threads creating
    files; ``/proc/self/status`` reports it directly.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def is_temporary_name(name: str) -> bool:
    """Whether a file name looks like an unfinished temporary write (``.x.tmp``, ``x.part``)."""
    return name.endswith((".tmp", ".part", ".partial")) or name.startswith(".~")


@contextlib.contextmanager
def atomic_path(path: Pathlike, *, fsync: bool = True, exclusive: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it becomes ``path`` atomically.

    For writers that want a file name (``soundfile``, ``torch.save``, ``np.savez``). The
    temporary keeps ``path``'s suffix so that format-sniffing writers pick the right format.
    ``exclusive=True`` publishes with a hard link instead of a rename and raises
    :class:`FileExistsError` if ``path`` already exists: of two jobs creating the same file
    at the same instant exactly one wins, and nothing is overwritten.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f"{path.suffix}.tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp creates 0600
        if fsync:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)
            tmp.unlink()
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: Pathlike, data: bytes, *, fsync: bool = True, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Readers see either the old file or the complete new one. The file gets the mode a
    plain ``open`` would give it under the current umask. ``fsync=False`` skips flushing
    to disk: still atomic against a killed process, not against power loss, and several
    times faster for many small files (bulk exports that can simply be rerun).
    ``exclusive=True``: see :func:`atomic_path`.
    """
    with atomic_path(path, fsync=fsync, exclusive=exclusive) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)


def atomic_write_text(path: Pathlike, text: str, *, fsync: bool = True, exclusive: bool = False) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync, exclusive=exclusive)


def atomic_write_with(path: Pathlike, write: Callable[[Path], object], *, fsync: bool = True) -> None:
    """Call ``write(tmp_path)`` and publish ``tmp_path`` as ``path`` atomically."""
    with atomic_path(path, fsync=fsync) as tmp:
        write(tmp)


# ----------------------------------------------------------------------------- confinement


def confine(root: Pathlike, value: str, *, source: Pathlike | None = None, field: str | None = None) -> Path:
    """Resolve ``value`` (a relative path read from a file) inside ``root``, or refuse it.

    Refused, before anything is opened: absolute paths (POSIX or Windows style), paths
    with a drive, empty paths, NUL bytes, and paths that leave ``root`` once ``..`` and
    symlinks are resolved. ``source`` and ``field`` name where the path was read, for the
    error message.

    Returns the resolved absolute path (which need not exist).
    """
    if not isinstance(value, str) or not value or "\x00" in value:
        raise PathConfinementError(source, field, str(value), root, "is not a usable relative path")
    if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute() or PureWindowsPath(value).drive:
        raise PathConfinementError(source, field, value, root, "is absolute; only paths relative to the root are allowed")
    base = Path(root).resolve()
    target = (base / value).resolve()
    if target != base and base not in target.parents:
        raise PathConfinementError(source, field, value, root, "leaves its root")
    return target


def _resolved(path: Pathlike) -> Path:
    return Path(path).expanduser().resolve()


def refuse_output_over_inputs(outputs: Iterable[Pathlike], inputs: Iterable[Pathlike], *, what: str = "--out") -> None:
    """Raise :class:`OutputOverlapsInputError` if an output is an input or lies inside one.

    ``inputs`` are files or folders the tool reads; an output equal to an input file, or
    anywhere under an input folder (symlinks resolved), is refused. An input inside the
    output folder is refused too when the output is a folder the tool fills.
    """
    ins = [_resolved(p) for p in inputs]
    for out in outputs:
        o = _resolved(out)
        for i in ins:
            if o == i or i in o.parents:
                raise OutputOverlapsInputError(
                    f"{what}: {out} would write over or inside the input {i}; choose a path outside the inputs")
