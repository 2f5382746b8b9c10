"""Folder banks: users' corpora read through a prepared index (see :mod:`.prepare`).

Clips are loaded with soundfile (any format it reads), reduced to mono (down-mix, or the
channel the layout chose), resampled by the exact rational ratio with a polyphase filter and
returned as float32. A clip's bytes are hashed before use and compared with the index, so a
corpus that changed since it was prepared (or since a scene spec was written) is refused
with the file named rather than silently producing a different dataset.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from asabench.simulate.classes import NUM_CLASSES

from asabench.simulate.io.files import confine, sha256_bytes
from asabench.simulate.io.wav import WavError, read_wav
from asabench.simulate.sources.base import NoiseBank, Pathlike, SourceBank, SourceError, SourceRef, resample, to_mono
from asabench.simulate.sources.prepare import _OBJECT_REPR, DEFAULT_INDEX_NAME, INDEX_FORMAT, INDEX_VERSION


_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _relative_inside(rel: Any) -> bool:
    """Whether ``rel`` is a non-empty relative path without ``..`` (a lexical check only)."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        return False
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute() or PureWindowsPath(rel).drive:
        return False
    return ".." not in PurePosixPath(rel).parts


def _check_entry(index_path: Path, i: int, entry: Any, role: str) -> None:
    """Validate one index entry; the error names the index file and ``entries[i].<field>``.

    The path is checked lexically here (relative, no ``..``); :meth:`_IndexedFolder.path_of`
    confines it again with symlinks resolved before the file is opened.
    """
    def fail(fld: str, msg: str) -> SourceError:
        return SourceError(index_path, f"field 'entries[{i}]{'.' + fld if fld else ''}': {msg}")

    if not isinstance(entry, dict):
        raise fail("", f"expected an object, got {type(entry).__name__}")
    rel = entry.get("path")
    if not _relative_inside(rel):
        raise fail("path", f"expected a path relative to the corpus root, without '..', got {rel!r}")
    for key, lo in (("frames", 1), ("fs", 1)):
        v = entry.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise fail(key, f"expected an integer >= {lo}, got {v!r}")
    if entry["fs"] > 10**7:
        raise fail("fs", f"{entry['fs']} Hz is not a sample rate")
    channel = entry.get("channel")
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, int) or channel < 0):
        raise fail("channel", f"expected null or an integer >= 0, got {channel!r}")
    digest = entry.get("sha256")
    if digest is not None and (not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest)):
        raise fail("sha256", f"expected 64 lowercase hex digits, got {digest!r}")
    if role == "noise" and entry.get("class_idx") is not None:
        raise fail("class_idx", f"a noise entry has no class, got {entry.get('class_idx')!r}")
    for key in ("duration_s",):
        v = entry.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise fail(key, f"expected a finite number, got {v!r}")


class _IndexedFolder:
    """Index reading, root resolution and verified loading shared by both folder banks."""

    kind = "folder"
    _role = ""

    def __init__(self, index_path: Pathlike, root: Pathlike | None = None, *, verify: bool = True) -> None:
        self.index_path = Path(index_path).resolve()
        try:
            record = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SourceError(self.index_path, "index file not found; run `asabench prepare` on the corpus") from None
        except IsADirectoryError:
            raise SourceError(self.index_path, "is a folder, not an index file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceError(self.index_path, f"not a valid JSON index: {exc}") from None
        if not isinstance(record, dict) or record.get("format") != INDEX_FORMAT:
            raise SourceError(self.index_path, f"field 'format': expected {INDEX_FORMAT!r}")
        if record.get("version") != INDEX_VERSION:
            raise SourceError(self.index_path, f"field 'version': expected {INDEX_VERSION}, got {record.get('version')!r}")
        if record.get("kind") != self._role:
            raise SourceError(self.index_path, f"field 'kind': this index holds {record.get('kind')!r}, a {self._role} bank was asked for")
        for key in ("root", "root_from_index", "layout"):
            if key in record and not isinstance(record[key], str):
                raise SourceError(self.index_path, f"field '{key}': expected a string, got {record[key]!r}")
        self.record = record
        self.layout: str = str(record.get("layout", ""))
        self.root = self._resolve_root(root)
        self.verify = verify
        entries = record.get("entries", [])
        if not isinstance(entries, list):
            raise SourceError(self.index_path, f"field 'entries': expected a list, got {type(entries).__name__}")
        for i, entry in enumerate(entries):
            _check_entry(self.index_path, i, entry, self._role)
        self.entries: list[dict[str, Any]] = sorted(entries, key=lambda e: e["path"])

    def _resolve_root(self, root: Pathlike | None) -> Path:
        if root is not None:
            return Path(root).resolve()
        # Prefer the location relative to the index (corpus and index moved together),
        # then the absolute root recorded at prepare time.
        relative = (self.index_path.parent / self.record.get("root_from_index", ".")).resolve()
        if relative.is_dir():
            return relative
        return Path(self.record.get("root", self.index_path.parent))

    @property
    def name(self) -> str:
        return str(self.root)

    def _ref(self, entry: dict[str, Any]) -> SourceRef:
        return SourceRef(
            bank=self.kind,
            id=entry["path"],
            class_idx=entry["class_idx"],
            frames=int(entry["frames"]),
            fs=int(entry["fs"]),
            sha256=entry.get("sha256"),
            channel=entry.get("channel"),
        )

    def path_of(self, ref: SourceRef, *, source: Pathlike | None = None, field: str = "id") -> Path:
        """The file of ``ref``: its id confined to the bank root (symlinks resolved), unopened."""
        return confine(self.root, ref.id, source=source if source is not None else self.index_path, field=field)

    def load(self, ref: SourceRef, fs: int) -> np.ndarray:
        """Load ``ref`` as mono float32 ``[ref.num_samples(fs)]`` at ``fs`` Hz.

        The file is read once: the hash is taken of the very bytes that are decoded, so a
        file replaced or rewritten while it is used cannot pass the check with one content
        and be decoded with another.
        """
        if ref.bank != self.kind:
            raise SourceError(ref.id, f"ref of a {ref.bank!r} bank given to a folder bank ({self.root})")
        path = self.path_of(ref)
        if not path.is_file():
            raise SourceError(path, f"missing (bank root {self.root})")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SourceError(path, f"unreadable: {exc}") from None
        if self.verify and ref.sha256:
            actual = sha256_bytes(data)
            if actual != ref.sha256:
                raise SourceError(path, f"content changed since it was indexed: sha256 {actual[:12]}... != recorded {ref.sha256[:12]}...; re-run `asabench prepare`")
        try:
            audio, native_fs = read_wav(path, data=data, finite=False)  # the one checked reader
            audio = audio.T  # [N, C] as to_mono expects (the file's own layout, no copy)
        except WavError as exc:
            raise SourceError(path, _OBJECT_REPR.sub("<file>", f"unreadable: {exc.reason}")) from None
        if native_fs != ref.fs or audio.shape[0] != ref.frames:
            raise SourceError(path, f"expected {ref.frames} frames at {ref.fs} Hz, file has {audio.shape[0]} at {native_fs} Hz")
        try:
            mono = to_mono(audio, ref.channel)
        except ValueError as exc:
            raise SourceError(path, str(exc)) from None
        out = resample(mono.astype(np.float64), native_fs, fs)
        return np.ascontiguousarray(out, dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        canonical = json.dumps(self.entries, sort_keys=True, separators=(",", ":")).encode()
        return {
            "kind": self.kind,
            "role": self._role,
            "layout": self.layout,
            "root": str(self.root),
            "index": str(self.index_path),
            "index_sha256": hashlib.sha256(canonical).hexdigest(),
            "num_files": len(self.entries),
        }


class FolderBank(_IndexedFolder, SourceBank):
    """Foreground clips of a user corpus, per DCASE class, from a prepared index.

    Parameters
    ----------
    index_path : path
        Index written by :func:`~.prepare.prepare` (kind ``"sources"``).
    root : path, optional
        Corpus root; default: found relative to the index, else the root recorded in it.
        Pass it when the corpus moved without its index.
    verify : bool
        Hash each file before its first use and refuse a changed file.
    """

    _role = "sources"

    def __init__(self, index_path: Pathlike, root: Pathlike | None = None, *, verify: bool = True) -> None:
        super().__init__(index_path, root, verify=verify)
        self._by_class: list[list[SourceRef]] = [[] for _ in range(NUM_CLASSES)]
        for entry in self.entries:
            k = entry.get("class_idx")
            if not isinstance(k, int) or not 0 <= k < NUM_CLASSES:
                raise SourceError(self.index_path, f"entry {entry.get('path')!r}: field 'class_idx' must be an integer in [0, {NUM_CLASSES}), got {k!r}")
            self._by_class[k].append(self._ref(entry))

    def files(self, class_idx: int) -> list[SourceRef]:
        if not 0 <= class_idx < NUM_CLASSES:
            raise ValueError(f"class_idx {class_idx} out of range [0, {NUM_CLASSES})")
        return list(self._by_class[class_idx])


class FolderNoiseBank(_IndexedFolder, NoiseBank):
    """Background recordings of a user corpus from a prepared index (kind ``"noise"``).

    Parameters are those of :class:`FolderBank`.
    """

    _role = "noise"

    def __init__(self, index_path: Pathlike, root: Pathlike | None = None, *, verify: bool = True) -> None:
        super().__init__(index_path, root, verify=verify)
        self._refs = [self._ref(e) for e in self.entries]

    def files(self) -> list[SourceRef]:
        return list(self._refs)


def find_index(path: Pathlike) -> Path:
    """Index file for ``path``: the file itself, or ``DEFAULT_INDEX_NAME`` inside a folder."""
    p = Path(path)
    if p.is_dir():
        candidate = p / DEFAULT_INDEX_NAME
        if not candidate.is_file():
            raise SourceError(p, f"no {DEFAULT_INDEX_NAME} in this folder; index the corpus first: `asabench prepare {p} --layout ... --out {candidate}`")
        return candidate
    if not p.exists():
        raise SourceError(p, "no such index file or corpus folder")
    return p

