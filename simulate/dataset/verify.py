"""Check an asabench dataset against its index: hashes, completeness, stray files.

:func:`verify_dataset` re-hashes every file listed in ``index.jsonl``, checks that every
scene the manifest (or a requested ``--start/--num`` range) calls for is indexed, and walks
the folder for files the index does not explain: leftovers of an interrupted job
(temporaries, scenes written but never indexed) and anything else. ``asabench verify``
prints :meth:`VerifyReport.format` and exits non-zero unless :attr:`VerifyReport.ok`.
"""

from __future__ import annotations

import bisect
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from asabench.simulate.io.wav import WavError, wav_info

from asabench.simulate.dataset.format import (
    DATASET_JSON,
    INDEX_JSONL,
    DatasetFormatError,
    DatasetInfo,
    Pathlike,
    SceneRecord,
    is_temporary_name,
    read_dataset_info,
    scan_index,
    sha256_bytes,
    sha256_file,
)
from asabench.simulate.io.files import PathConfinementError, confine


@dataclass(frozen=True)
class FileProblem:
    """A listed file that is missing, altered or malformed.

    ``field`` is the record field (``mixture``, ``direct[1]``, ...); ``detail`` says what.
    """

    path: str
    scene: str
    field: str
    detail: str = ""


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_dataset`; :attr:`ok` is the verdict.

    Attributes
    ----------
    root : dataset folder.
    scenes_checked : indexed scenes whose files were checked.
    files_checked : files re-hashed.
    expected : ``{split: range}`` of the indices the check required (from manifest or range).
    missing_files, altered_files, bad_audio : per-file problems of indexed scenes.
    missing_scenes : ``{split: IndexRanges}`` required but not indexed (ranges, so a split of
        10^9 scenes with two present costs two entries, not a list of every index).
    unexpected_scenes : indexed scene ids outside the required splits or range.
    index_errors : malformed ``index.jsonl`` lines and duplicate ids, as messages.
    dataset_errors : problems of ``dataset.json`` or the manifest, as messages.
    temporary_files : unfinished temporary writes (always a failure).
    unindexed_files : files of scene folders that the index does not list (a scene written
        but not committed to the index, or an extra file in a committed scene).
    other_files : files outside scene folders the format does not define (a warning only).
    manifest_mismatches : scenes whose ``spec.json`` records another manifest hash than
        ``dataset.json`` (a folder mixing datasets).
    unchecked_manifests : scenes whose ``spec.json`` is not a scene spec recording a manifest
        (synthetic datasets); a warning only.
    """

    root: Path
    scenes_checked: int = 0
    files_checked: int = 0
    expected: dict[str, range] = field(default_factory=dict)
    missing_files: list[FileProblem] = field(default_factory=list)
    altered_files: list[FileProblem] = field(default_factory=list)
    bad_audio: list[FileProblem] = field(default_factory=list)
    missing_scenes: dict[str, "IndexRanges"] = field(default_factory=dict)
    unexpected_scenes: list[str] = field(default_factory=list)
    index_errors: list[str] = field(default_factory=list)
    dataset_errors: list[str] = field(default_factory=list)
    temporary_files: list[str] = field(default_factory=list)
    unindexed_files: list[str] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)
    manifest_mismatches: list[str] = field(default_factory=list)
    unchecked_manifests: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is missing, altered, malformed, incomplete or left over."""
        return not (self.missing_files or self.altered_files or self.bad_audio
                    or any(self.missing_scenes.values()) or self.unexpected_scenes
                    or self.index_errors or self.dataset_errors or self.temporary_files
                    or self.unindexed_files or self.manifest_mismatches)

    def format(self, limit: int = 50) -> str:
        """Human-readable listing, at most ``limit`` lines per category."""
        lines = [f"asabench verify {self.root}: {'OK' if self.ok else 'FAILED'}",
                 f"  scenes checked: {self.scenes_checked}, files re-hashed: {self.files_checked}"]
        for split, indices in sorted(self.expected.items()):
            found = len(indices) - len(self.missing_scenes.get(split, []))
            lines.append(f"  split {split}: {found} of {len(indices)} scenes indexed")

        def section(title: str, items: Sequence[str]) -> None:
            if not items:
                return
            lines.append(f"  {title} ({len(items)}):")
            lines.extend(f"    {item}" for item in items[:limit])
            if len(items) > limit:
                lines.append(f"    ... and {len(items) - limit} more")

        section("dataset errors", self.dataset_errors)
        section("index errors", self.index_errors)
        section("missing files", [f"{p.path}  (scene {p.scene}, {p.field})" for p in self.missing_files])
        section("altered files (hash mismatch)",
                [f"{p.path}  (scene {p.scene}, {p.field}): {p.detail}" for p in self.altered_files])
        section("bad audio files", [f"{p.path}  (scene {p.scene}, {p.field}): {p.detail}" for p in self.bad_audio])
        section("missing scenes", [f"{split}: {_ranges(idx)}" for split, idx in sorted(self.missing_scenes.items()) if idx])
        section("unexpected scenes (outside the manifest's splits or the range)", self.unexpected_scenes)
        section("temporary files left by an interrupted job", self.temporary_files)
        section("files not listed in the index", self.unindexed_files)
        section("other files (warning)", self.other_files)
        section("scenes of another manifest (spec.json manifest.sha256 differs from dataset.json)",
                self.manifest_mismatches)
        section("scenes whose spec records no manifest (warning: not cross-checked)", self.unchecked_manifests)
        return "\n".join(lines)


class IndexRanges(Sequence[int]):
    """Sorted, disjoint ranges of scene indices, used as a sequence of ints without a list.

    ``len``, membership and indexing cost O(number of ranges); comparing with a list or
    iterating costs what the indices cost (tests and small datasets only).
    """

    def __init__(self, ranges: Iterable[range] = ()) -> None:
        self.ranges: tuple[range, ...] = tuple(r for r in ranges if len(r))
        self._starts = [r.start for r in self.ranges]
        self._offsets = []
        total = 0
        for r in self.ranges:
            self._offsets.append(total)
            total += len(r)
        self._len = total

    @classmethod
    def gaps(cls, wanted: range, present: Iterable[int]) -> "IndexRanges":
        """The indices of ``wanted`` (step 1) that are not in ``present``."""
        out, at = [], wanted.start
        for k in sorted(k for k in set(present) if k in wanted):
            if k > at:
                out.append(range(at, k))
            at = k + 1
        out.append(range(at, wanted.stop))
        return cls(out)

    def __len__(self) -> int:
        return self._len

    def __iter__(self):
        for r in self.ranges:
            yield from r

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect.bisect_right(self._starts, value) - 1
        return i >= 0 and value in self.ranges[i]

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        j = bisect.bisect_right(self._offsets, i) - 1
        return self.ranges[j][i - self._offsets[j]]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IndexRanges):
            return self.ranges == other.ranges
        if isinstance(other, (list, tuple, range)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        return f"IndexRanges({_ranges(self) or 'empty'})"

    def text(self) -> str:
        """``"0-2, 5"``."""
        return ", ".join(str(r.start) if len(r) == 1 else f"{r.start}-{r.stop - 1}" for r in self.ranges)


def _ranges(indices: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    if isinstance(indices, IndexRanges):
        return indices.text()
    parts: list[str] = []
    values = sorted(indices)
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        parts.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ", ".join(parts)


def verify_dataset(
    root: Pathlike,
    manifest: Pathlike | None = None,
    *,
    splits: Iterable[str] | None = None,
    start: int = 0,
    num: int | None = None,
    check_audio: bool = True,
    workers: int = 2,
) -> VerifyReport:
    """Re-hash and check an asabench dataset folder.

    Parameters
    ----------
    root : dataset folder (holds ``dataset.json`` and ``index.jsonl``).
    manifest : manifest file or shipped name; its split sizes are required and its hash must
        equal ``dataset.json``'s ``manifest_sha256``. By default the manifest stored in
        ``dataset.json`` gives the split sizes.
    splits : only these splits are required (default: every split of the manifest).
    start, num : require scene indices ``start .. start+num-1`` of each required split
        (what ``asabench simulate --start/--num`` produced) instead of the full split sizes.
    check_audio : also read each WAV header: channel count and sample rate must match
        ``dataset.json`` and all files of a scene must have the same length.
    workers : threads hashing in parallel (hashlib releases the GIL on large buffers).

    Returns
    -------
    VerifyReport
    """
    root = Path(root)
    report = VerifyReport(root=root)
    info: DatasetInfo | None = None
    try:
        info = read_dataset_info(root)
    except DatasetFormatError as err:
        report.dataset_errors.append(str(err))

    sizes: dict[str, int] = info.split_sizes() if info is not None else {}
    if manifest is not None:
        from asabench.simulate.manifest import ManifestError, load_manifest

        try:
            m = load_manifest(manifest)
        except (ManifestError, OSError) as err:
            report.dataset_errors.append(f"manifest: {err}")
        else:
            sizes = dict(m.splits)
            if info is not None and m.sha256 != info.manifest_sha256:
                report.dataset_errors.append(
                    f"{root / DATASET_JSON}: field 'manifest_sha256': {info.manifest_sha256} "
                    f"differs from {manifest} ({m.sha256}): the dataset was made from another manifest")

    scan = scan_index(root / INDEX_JSONL)
    report.index_errors.extend(str(e) for e in scan.errors)
    report.index_errors.extend(
        f"{root / INDEX_JSONL}:{line}: field 'id': scene {rec.id!r} is listed twice"
        for line, rec in scan.duplicates)

    wanted = set(splits) if splits is not None else set(sizes)
    for split in sorted(wanted):
        if split not in sizes and num is None:
            report.dataset_errors.append(f"split {split!r} is not in the manifest (splits: {sorted(sizes)})")
            continue
        stop = start + num if num is not None else sizes[split]
        report.expected[split] = range(start, max(start, stop))
    indexed: dict[str, set[int]] = {}
    for rec in scan.records:
        indexed.setdefault(rec.split, set()).add(rec.index)
        # A scene beyond the manifest's split sizes cannot come from this manifest; scenes
        # outside a requested --start/--num range are only left out of the completeness check.
        if sizes and (rec.split not in sizes or rec.index >= sizes[rec.split]):
            report.unexpected_scenes.append(rec.id)
    for split, indices in report.expected.items():
        report.missing_scenes[split] = IndexRanges.gaps(indices, indexed.get(split, set()))

    _check_files(root, scan.records, info, report, check_audio, workers)
    _find_strays(root, scan.records, report)
    return report


@dataclass(frozen=True)
class _FileCheck:
    """Outcome of checking one listed file (``kind``: ok, missing, altered, bad or outside)."""

    kind: str
    detail: str = ""
    wav: tuple[int, int, int] | None = None  # (channels, sample rate, frames)
    manifest_sha256: str | None = None  # what a spec.json records
    is_spec: bool = False  # spec.json parsed as a scene spec (has spec_version)


def _check_one(root: Path, index: Path, name: str, rel: str, expected_sha256: str,
               check_audio: bool) -> _FileCheck:
    # The listed path is confined to the dataset folder (symlinks resolved) before anything
    # is opened; what is hashed is what is parsed or whose header is read (one read).
    try:
        path = confine(root, rel, source=index, field=f"files.{name}.path")
    except PathConfinementError as err:
        return _FileCheck("outside", str(err))
    if not path.is_file():
        return _FileCheck("missing")
    wav = check_audio and path.suffix in (".wav", ".flac")  # any audio format of docs/storage.md
    if name == "spec" or wav:
        try:
            data = path.read_bytes()
        except OSError as err:
            return _FileCheck("bad", f"unreadable: {err.strerror or err}")
        digest = sha256_bytes(data)
    else:
        data, digest = b"", sha256_file(path)
    if digest != expected_sha256:
        return _FileCheck("altered", f"sha256 {digest}, index says {expected_sha256}")
    if name == "spec":
        recorded, is_spec = _spec_manifest(data)
        return _FileCheck("ok", manifest_sha256=recorded, is_spec=is_spec)
    if wav:
        try:
            meta = wav_info(path, data=data)
        except WavError as err:
            return _FileCheck("bad", f"unreadable: {err.reason}")
        return _FileCheck("ok", wav=(meta.channels, meta.fs, meta.frames))
    return _FileCheck("ok")


def _spec_manifest(data: bytes) -> tuple[str | None, bool]:
    """``(manifest.sha256 or None, whether the file is a scene spec)`` of a spec.json's bytes."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None, True  # a spec.json that is not JSON cannot be another dataset's: flag it
    if not isinstance(obj, dict):
        return None, True
    manifest = obj.get("manifest")
    value = manifest.get("sha256") if isinstance(manifest, dict) else None
    return (value if isinstance(value, str) else None), "spec_version" in obj


def _check_files(root: Path, records: Sequence[SceneRecord], info: DatasetInfo | None,
                 report: VerifyReport, check_audio: bool, workers: int) -> None:
    jobs = [(rec, name, entry) for rec in records for name, entry in rec.files.all()]
    index = root / INDEX_JSONL
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(
            lambda job: _check_one(root, index, job[1], job[2].path, job[2].sha256, check_audio), jobs))
    report.scenes_checked = len(records)
    lengths: dict[str, set[int]] = {}
    for (rec, name, entry), result in zip(jobs, results):
        problem = FileProblem(entry.path, rec.id, name, result.detail)
        if result.kind == "outside":
            report.index_errors.append(f"scene {rec.id}: {result.detail}")
            continue
        if name == "spec" and result.kind == "ok" and info is not None:
            if result.manifest_sha256 is None and not result.is_spec:
                report.unchecked_manifests.append(f"{rec.id} ({entry.path})")
            elif result.manifest_sha256 != info.manifest_sha256:
                report.manifest_mismatches.append(
                    f"{rec.id}: {root / entry.path}: field 'manifest.sha256': "
                    f"{result.manifest_sha256 or 'missing'}, dataset.json says {info.manifest_sha256}")
        if result.kind == "missing":
            report.missing_files.append(problem)
            continue
        report.files_checked += 1
        if result.kind == "altered":
            report.altered_files.append(problem)
        elif result.kind == "bad":
            report.bad_audio.append(problem)
        elif result.wav is not None and info is not None:
            channels, rate, frames = result.wav
            if channels != info.num_channels:
                report.bad_audio.append(FileProblem(
                    entry.path, rec.id, name,
                    f"{channels} channels, dataset.json says num_channels={info.num_channels}"))
            if rate != info.fs:
                report.bad_audio.append(FileProblem(entry.path, rec.id, name,
                                                    f"{rate} Hz, dataset.json says fs={info.fs}"))
            lengths.setdefault(rec.id, set()).add(frames)
    for sid, frames in lengths.items():
        if len(frames) > 1:
            report.bad_audio.append(FileProblem(sid, sid, "files",
                                                f"WAV lengths differ: {sorted(frames)} samples"))


#: Per-scene completion record of the writer (``simulate.writer.COMPLETION_RECORD``): the
#: scene's index record, written last; expected in every indexed scene folder.
COMPLETION_RECORD: str = "complete.json"


def _find_strays(root: Path, records: Sequence[SceneRecord], report: VerifyReport) -> None:
    listed = {entry.path for rec in records for _, entry in rec.files.all()}
    by_dir = {f"{rec.split}/{rec.id}": rec for rec in records}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(root)
        for name in sorted(filenames):
            rel = (rel_dir / name).as_posix()
            if rel in listed or rel in (DATASET_JSON, INDEX_JSONL):
                continue
            if name == COMPLETION_RECORD and rel_dir.as_posix() in by_dir:
                _check_completion_record(root / rel, rel, by_dir[rel_dir.as_posix()], report)
                continue
            if is_temporary_name(name):
                report.temporary_files.append(rel)
            elif len(rel_dir.parts) >= 2:
                # Inside <split>/<scene_id>/: either a scene written but never indexed (job
                # killed between the last rename and the index append) or an extra file.
                report.unindexed_files.append(rel)
            else:
                report.other_files.append(rel)


def _check_completion_record(path: Path, rel: str, record: SceneRecord, report: VerifyReport) -> None:
    # The writer's completion record is the scene's index record; a disagreement means one
    # of the two was edited or comes from another run.
    try:
        stored = SceneRecord.from_dict(json.loads(path.read_text(encoding="utf-8")), path=path)
    except (json.JSONDecodeError, UnicodeDecodeError, DatasetFormatError) as err:
        report.altered_files.append(FileProblem(rel, record.id, COMPLETION_RECORD, f"unreadable: {err}"))
        return
    if stored != record:
        report.altered_files.append(FileProblem(rel, record.id, COMPLETION_RECORD,
                                                "differs from the scene's index.jsonl record"))
