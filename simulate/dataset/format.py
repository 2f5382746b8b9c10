"""Dataset-level records of an asabench dataset: ``dataset.json``, ``index.jsonl``, hashes.

The format is the contract of ``docs/dataset-format.md`` (schema version 1). This module
reads, validates and writes those two files and nothing else; audio and labels are read by
the loader. Every error names the file, the line (for ``index.jsonl``) and the field.

Writes are atomic (:mod:`asabench.simulate.io.files`: temporary file, umask mode, rename), so a killed
job never leaves a half-written ``dataset.json``; index records are appended one complete
line at a time and a torn last line is reported, not silently used.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator, Mapping

from asabench.simulate.classes import NUM_CLASSES  # noqa: F401  (re-exported)
from asabench.simulate.io.wav import AUDIO_FORMATS
from asabench.simulate.io.files import (  # noqa: F401  (re-exported: the dataset API)
    Pathlike,
    atomic_write_bytes,
    atomic_write_text,
    is_temporary_name,
    sha256_bytes,
    sha256_file,
)


#: Version of the on-disk layout; bump when the contract changes.
SCHEMA_VERSION: int = 1
DATASET_JSON: str = "dataset.json"
INDEX_JSONL: str = "index.jsonl"

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SCENE_ID_RE = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<index>\d{6,})$")


class DatasetFormatError(ValueError):
    """A dataset file violates the format; the message names file, line and field.

    Parameters
    ----------
    path : file that is wrong.
    message : what is wrong.
    line : 1-based line number in a line-oriented file (``index.jsonl``, CSV), if any.
    field : name of the offending field (dotted for nested ones, e.g. ``files.direct[1].sha256``).
    """

    def __init__(self, path: Pathlike, message: str, *, line: int | None = None,
                 field: str | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.reason = message
        where = str(self.path) + (f":{line}" if line is not None else "")
        what = f" field '{field}':" if field is not None else ""
        super().__init__(f"{where}:{what} {message}")


# ----------------------------------------------------------------------------- scene ids


def scene_id(split: str, index: int) -> str:
    """Scene identifier ``<split>-<index:06d>``, e.g. ``scene_id("test", 12) == "test-000012"``."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", split):
        raise ValueError(f"split name {split!r} must be letters, digits or '_'")
    if index < 0:
        raise ValueError(f"scene index must be >= 0, got {index}")
    return f"{split}-{index:06d}"


def parse_scene_id(value: str) -> tuple[str, int]:
    """Inverse of :func:`scene_id`: ``"test-000012" -> ("test", 12)``."""
    match = _SCENE_ID_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a scene id of the form <split>-<index:06d>")
    return match["split"], int(match["index"])


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class FileEntry:
    """One file of a scene: its path relative to the dataset root (POSIX) and its SHA-256."""

    path: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "sha256": self.sha256}


@dataclass(frozen=True)
class SceneFiles:
    """The files of one scene; ``direct[k]`` and ``reverb[k]`` belong to source ``k``."""

    mixture: FileEntry
    noise: FileEntry
    labels: FileEntry
    spec: FileEntry
    direct: tuple[FileEntry, ...]
    reverb: tuple[FileEntry, ...]

    def all(self) -> list[tuple[str, FileEntry]]:
        """Every file with its field name (``mixture``, ``direct[0]``, ...), in a fixed order."""
        named = [("mixture", self.mixture), ("noise", self.noise), ("labels", self.labels),
                 ("spec", self.spec)]
        named += [(f"direct[{k}]", f) for k, f in enumerate(self.direct)]
        named += [(f"reverb[{k}]", f) for k, f in enumerate(self.reverb)]
        return named

    def to_dict(self) -> dict[str, Any]:
        return {
            "mixture": self.mixture.to_dict(), "noise": self.noise.to_dict(),
            "labels": self.labels.to_dict(), "spec": self.spec.to_dict(),
            "direct": [f.to_dict() for f in self.direct],
            "reverb": [f.to_dict() for f in self.reverb],
        }


@dataclass(frozen=True)
class SceneRecord:
    """One line of ``index.jsonl``: a completed scene and the hashes of its files.

    ``classes[k]`` is the DCASE class (0..12) of source ``k``.
    """

    id: str
    split: str
    index: int
    num_sources: int
    classes: tuple[int, ...]
    files: SceneFiles

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "split": self.split, "index": self.index,
                "num_sources": self.num_sources, "classes": list(self.classes),
                "files": self.files.to_dict()}

    def to_json_line(self) -> str:
        """The record as one compact JSON line (with its trailing newline)."""
        return json.dumps(self.to_dict(), separators=(",", ":")) + "\n"

    @classmethod
    def from_dict(cls, obj: Any, *, path: Pathlike = INDEX_JSONL,
                  line: int | None = None) -> "SceneRecord":
        """Validate a parsed JSON object; errors name ``path``, ``line`` and the field."""
        def fail(fld: str, msg: str) -> DatasetFormatError:
            return DatasetFormatError(path, msg, line=line, field=fld)

        if not isinstance(obj, dict):
            raise fail("<record>", f"expected a JSON object, got {type(obj).__name__}")
        for key in ("id", "split", "index", "num_sources", "classes", "files"):
            if key not in obj:
                raise fail(key, "missing")
        sid, split, index = obj["id"], obj["split"], obj["index"]
        if not isinstance(split, str):
            raise fail("split", f"expected a string, got {split!r}")
        if not _is_int(index) or index < 0:
            raise fail("index", f"expected an integer >= 0, got {index!r}")
        if not isinstance(sid, str):
            raise fail("id", f"expected a string, got {sid!r}")
        try:
            expected_id = scene_id(split, index)
        except ValueError as err:
            raise fail("split", str(err)) from None
        if sid != expected_id:
            raise fail("id", f"{sid!r} does not match split/index (expected {expected_id!r})")
        num = obj["num_sources"]
        if not _is_int(num) or num < 0:
            raise fail("num_sources", f"expected an integer >= 0, got {num!r}")
        classes = obj["classes"]
        if not isinstance(classes, list) or len(classes) != num:
            raise fail("classes", f"expected a list of {num} class ids, got {classes!r}")
        for k, c in enumerate(classes):
            if not _is_int(c) or not 0 <= c < NUM_CLASSES:
                raise fail(f"classes[{k}]", f"expected a DCASE class id 0..{NUM_CLASSES - 1}, got {c!r}")
        files = obj["files"]
        if not isinstance(files, dict):
            raise fail("files", "expected a JSON object")

        folder = f"{split}/{sid}/"

        def entry(value: Any, fld: str) -> FileEntry:
            if not isinstance(value, dict):
                raise fail(fld, f"expected {{'path', 'sha256'}}, got {value!r}")
            rel, digest = value.get("path"), value.get("sha256")
            if not isinstance(rel, str) or not rel:
                raise fail(f"{fld}.path", f"expected a relative path, got {rel!r}")
            pure = PurePosixPath(rel)
            if pure.is_absolute() or ".." in pure.parts or "\\" in rel or "\x00" in rel:
                raise fail(f"{fld}.path", f"{rel!r} must be a POSIX path inside the dataset")
            if not rel.startswith(folder) or rel == folder:
                raise fail(f"{fld}.path", f"{rel!r} is not a file of the scene's folder {folder}")
            if not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest):
                raise fail(f"{fld}.sha256", f"expected 64 lowercase hex digits, got {digest!r}")
            return FileEntry(rel, digest)

        singles = {}
        for key in ("mixture", "noise", "labels", "spec"):
            if key not in files:
                raise fail(f"files.{key}", "missing")
            singles[key] = entry(files[key], f"files.{key}")
        lists = {}
        for key in ("direct", "reverb"):
            value = files.get(key)
            if not isinstance(value, list) or len(value) != num:
                raise fail(f"files.{key}", f"expected a list of {num} files (one per source)")
            lists[key] = tuple(entry(v, f"files.{key}[{k}]") for k, v in enumerate(value))
        return cls(sid, split, int(index), int(num), tuple(int(c) for c in classes),
                   SceneFiles(direct=lists["direct"], reverb=lists["reverb"], **singles))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class DatasetInfo:
    """Content of ``dataset.json``: what the dataset is and how it was made.

    Keys this version does not know are kept in ``extra`` and written back unchanged.
    """

    name: str
    version: str
    manifest_sha256: str
    manifest: dict[str, Any]
    fs: int
    num_channels: int
    duration_s: float
    label_hop_s: float = 0.1
    sources: str = "builtin"
    noise: str = "builtin"
    schema_version: int = SCHEMA_VERSION
    format: str = "asabench"
    extra: dict[str, Any] = field(default_factory=dict)
    #: Storage format of every audio file (``float32``, ``pcm16``, ``flac``; ``docs/storage.md``).
    #: Written only when not ``float32``, so float32 datasets keep their ``dataset.json`` bytes.
    audio_format: str = "float32"

    _REQUIRED = ("schema_version", "format", "name", "version", "manifest_sha256", "manifest",
                 "fs", "num_channels", "duration_s", "label_hop_s", "sources", "noise")

    def to_dict(self) -> dict[str, Any]:
        out = {"schema_version": self.schema_version, "format": self.format,
               "name": self.name, "version": self.version,
               "manifest_sha256": self.manifest_sha256, "manifest": self.manifest,
               "fs": self.fs, "num_channels": self.num_channels,
               "duration_s": self.duration_s, "label_hop_s": self.label_hop_s,
               "sources": self.sources, "noise": self.noise}
        out.update(self.extra)
        if self.audio_format != "float32":
            out["audio_format"] = self.audio_format
        return out

    @classmethod
    def from_dict(cls, obj: Any, *, path: Pathlike = DATASET_JSON) -> "DatasetInfo":
        """Validate a parsed ``dataset.json``; errors name ``path`` and the field."""
        if not isinstance(obj, dict):
            raise DatasetFormatError(path, "expected a JSON object", field="<root>")
        for key in cls._REQUIRED:
            if key not in obj:
                raise DatasetFormatError(path, "missing", field=key)
        if obj["schema_version"] != SCHEMA_VERSION:
            raise DatasetFormatError(
                path, f"unsupported schema version {obj['schema_version']!r} "
                f"(this asabench reads {SCHEMA_VERSION})", field="schema_version")
        if obj["format"] != "asabench":
            raise DatasetFormatError(path, f"expected 'asabench', got {obj['format']!r}",
                                     field="format")
        checks = {"fs": lambda v: _is_int(v) and 0 < v <= 10**7,
                  "num_channels": lambda v: _is_int(v) and 0 < v <= 1024,
                  "duration_s": lambda v: _is_real(v) and v > 0,
                  "label_hop_s": lambda v: _is_real(v) and v > 0,
                  "manifest": lambda v: isinstance(v, dict),
                  "manifest_sha256": lambda v: isinstance(v, str) and bool(_SHA256_RE.fullmatch(v)),
                  "name": lambda v: isinstance(v, str), "version": lambda v: isinstance(v, (str, int)),
                  "sources": lambda v: isinstance(v, str), "noise": lambda v: isinstance(v, str)}
        for key, ok in checks.items():
            if not ok(obj[key]):
                raise DatasetFormatError(path, f"invalid value {obj[key]!r}", field=key)
        split_sizes_from_manifest(obj["manifest"], path=path)  # a bad split size is named here
        audio_format = obj.get("audio_format", "float32")
        if audio_format not in AUDIO_FORMATS:
            raise DatasetFormatError(path, f"invalid value {audio_format!r} (one of {', '.join(AUDIO_FORMATS)})",
                                     field="audio_format")
        extra = {k: v for k, v in obj.items() if k not in cls._REQUIRED and k != "audio_format"}
        return cls(name=obj["name"], version=str(obj["version"]),
                   manifest_sha256=obj["manifest_sha256"], manifest=obj["manifest"],
                   fs=obj["fs"], num_channels=obj["num_channels"],
                   duration_s=float(obj["duration_s"]), label_hop_s=float(obj["label_hop_s"]),
                   sources=obj["sources"], noise=obj["noise"], extra=extra, audio_format=audio_format)

    def split_sizes(self) -> dict[str, int]:
        """Scene count of each split as the manifest declares it (``{}`` when it does not).

        Accepts ``splits = {name = n}``, ``splits = {name = {size = n}}`` and
        ``splits = [{name, size}]`` in the stored manifest.
        """
        return split_sizes_from_manifest(self.manifest)


#: Most scenes of a split (the manifest's bound).
MAX_SPLIT_SIZE: int = 10**9


def split_sizes_from_manifest(manifest: Mapping[str, Any], *, path: Pathlike = DATASET_JSON) -> dict[str, int]:
    """Scene count per split from a manifest mapping (see :meth:`DatasetInfo.split_sizes`).

    A size that is an integer outside ``0 .. 10**9`` (or a boolean) raises
    :class:`DatasetFormatError` naming ``path`` and ``manifest.splits.<name>``.
    """
    splits = manifest.get("splits")
    sizes: dict[str, int] = {}

    def put(name: Any, value: Any) -> None:
        if isinstance(value, bool) or (isinstance(value, int) and not 0 <= value <= MAX_SPLIT_SIZE):
            raise DatasetFormatError(path, f"expected a scene count 0..{MAX_SPLIT_SIZE}, got {value!r}",
                                     field=f"manifest.splits.{name}")
        if _is_int(value):
            sizes[str(name)] = int(value)

    if isinstance(splits, dict):
        for name, value in splits.items():
            if isinstance(value, dict):
                value = value.get("size", value.get("num", value.get("n")))
            put(name, value)
    elif isinstance(splits, list):
        for item in splits:
            if isinstance(item, dict) and "name" in item and "size" in item:
                put(item["name"], item["size"])
    return sizes


# ----------------------------------------------------------------------------- dataset.json


def read_dataset_info(root: Pathlike) -> DatasetInfo:
    """Read and validate ``<root>/dataset.json``."""
    path = Path(root) / DATASET_JSON
    if not path.is_file():
        if path.exists() or path.is_symlink():
            raise DatasetFormatError(path, "is not a regular file")
        raise DatasetFormatError(path, "missing: not an asabench dataset folder (no dataset.json)")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise DatasetFormatError(path, f"not valid JSON: {err}") from None
    return DatasetInfo.from_dict(obj, path=path)


def write_dataset_info(root: Pathlike, info: DatasetInfo, *, exclusive: bool = False) -> Path:
    """Write ``<root>/dataset.json`` atomically (sorted keys, 2-space indent); returns its path.

    ``exclusive=True`` creates it only if it does not exist (:class:`FileExistsError`
    otherwise): of jobs creating the same dataset at the same instant exactly one wins.
    """
    path = Path(root) / DATASET_JSON
    atomic_write_text(path, json.dumps(info.to_dict(), indent=2, sort_keys=True) + "\n", exclusive=exclusive)
    return path


# ----------------------------------------------------------------------------- index.jsonl


@dataclass
class IndexScan:
    """Result of a lenient index read: valid records and the errors of the other lines."""

    records: list[SceneRecord]
    errors: list[DatasetFormatError]
    duplicates: list[tuple[int, SceneRecord]]  # (line, record) whose id appeared earlier


def scan_index(path: Pathlike) -> IndexScan:
    """Read every line of an ``index.jsonl``, collecting malformed lines instead of raising.

    ``path`` is the file or the dataset folder. A record whose id repeats an earlier one is
    listed in ``duplicates`` and the first one is kept (a resumed job must never re-append).
    """
    path = Path(path)
    if path.is_dir() and path.name != INDEX_JSONL:
        path = path / INDEX_JSONL
    records: list[SceneRecord] = []
    errors: list[DatasetFormatError] = []
    duplicates: list[tuple[int, SceneRecord]] = []
    seen: set[str] = set()
    if not path.is_file():
        errors.append(DatasetFormatError(path, "is not a regular file" if path.exists() else "missing"))
        return IndexScan(records, errors, duplicates)
    with open(path, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if number == len(lines):
            errors.append(DatasetFormatError(
                path, "last line has no newline: torn write of an interrupted job", line=number))
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            errors.append(DatasetFormatError(path, f"not valid JSON: {err}", line=number))
            continue
        try:
            record = SceneRecord.from_dict(obj, path=path, line=number)
        except DatasetFormatError as err:
            errors.append(err)
            continue
        if record.id in seen:
            duplicates.append((number, record))
            continue
        seen.add(record.id)
        records.append(record)
    return IndexScan(records, errors, duplicates)


def read_index(path: Pathlike) -> list[SceneRecord]:
    """Read and validate an ``index.jsonl`` (file or dataset folder); raise on the first bad line."""
    scan = scan_index(path)
    if scan.errors:
        raise scan.errors[0]
    if scan.duplicates:
        line, record = scan.duplicates[0]
        target = Path(path) / INDEX_JSONL if Path(path).is_dir() else Path(path)
        raise DatasetFormatError(target, f"scene {record.id!r} is listed twice", line=line,
                                 field="id")
    return scan.records


def iter_index(path: Pathlike) -> Iterator[SceneRecord]:
    """Iterate the validated records of an ``index.jsonl`` (see :func:`read_index`)."""
    yield from read_index(path)


def append_index_records(root: Pathlike, records: Iterable[SceneRecord]) -> None:
    """Append records to ``<root>/index.jsonl``, one complete line each, flushed to disk.

    A single ``write`` of whole lines plus ``fsync`` keeps a crash from interleaving two
    records; a torn last line (power loss) is caught by :func:`scan_index`.
    """
    text = "".join(r.to_json_line() for r in records)
    if not text:
        return
    path = Path(root) / INDEX_JSONL
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def file_entry(root: Pathlike, path: Pathlike) -> FileEntry:
    """Index entry of an existing file: path relative to ``root`` (POSIX) and its SHA-256."""
    root, path = Path(root), Path(path)
    full = path if path.is_absolute() else root / path
    rel = full.resolve().relative_to(root.resolve()).as_posix()
    return FileEntry(rel, sha256_file(full))
