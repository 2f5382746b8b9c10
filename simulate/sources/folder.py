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
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from asabench.simulate.classes import NUM_CLASSES

from asabench.simulate.io.files import sha256_file
from asabench.simulate.sources.base import NoiseBank, Pathlike, SourceBank, SourceError, SourceRef, resample, to_mono
from asabench.simulate.sources.prepare import DEFAULT_INDEX_NAME, INDEX_FORMAT, INDEX_VERSION


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
        except json.JSONDecodeError as exc:
            raise SourceError(self.index_path, f"not a valid JSON index: {exc}") from None
        if not isinstance(record, dict) or record.get("format") != INDEX_FORMAT:
            raise SourceError(self.index_path, f"field 'format': expected {INDEX_FORMAT!r}")
        if record.get("version") != INDEX_VERSION:
            raise SourceError(self.index_path, f"field 'version': expected {INDEX_VERSION}, got {record.get('version')!r}")
        if record.get("kind") != self._role:
            raise SourceError(self.index_path, f"field 'kind': this index holds {record.get('kind')!r}, a {self._role} bank was asked for")
        self.record = record
        self.layout: str = str(record.get("layout", ""))
        self.root = self._resolve_root(root)
        self.verify = verify
        self._verified: dict[tuple[str, int, int], str] = {}
        self.entries: list[dict[str, Any]] = sorted(record.get("entries", []), key=lambda e: e["path"])

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

    def _check_hash(self, path: Path, expected: str) -> None:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        actual = self._verified.get(key)
        if actual is None:
            actual = sha256_file(path)
            self._verified[key] = actual
        if actual != expected:
            raise SourceError(path, f"content changed since it was indexed: sha256 {actual[:12]}... != recorded {expected[:12]}...; re-run `asabench prepare`")

    def load(self, ref: SourceRef, fs: int) -> np.ndarray:
        """Load ``ref`` as mono float32 ``[ref.num_samples(fs)]`` at ``fs`` Hz."""
        if ref.bank != self.kind:
            raise SourceError(ref.id, f"ref of a {ref.bank!r} bank given to a folder bank ({self.root})")
        path = self.root / ref.id
        if not path.is_file():
            raise SourceError(path, f"missing (bank root {self.root})")
        if self.verify and ref.sha256:
            self._check_hash(path, ref.sha256)
        try:
            audio, native_fs = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:  # soundfile raises several exception types
            raise SourceError(path, f"unreadable: {exc}") from None
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

