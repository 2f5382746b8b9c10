"""Check an asabench dataset against its index: hashes, completeness, stray files.

:func:`verify_dataset` re-hashes every file listed in ``index.jsonl``, checks that every
scene the manifest (or a requested ``--start/--num`` range) calls for is indexed, and walks
the folder for files the index does not explain: leftovers of an interrupted job
(temporaries, scenes written but never indexed) and anything else. ``asabench verify``
prints :meth:`VerifyReport.format` and exits non-zero unless :attr:`VerifyReport.ok`.
"""

from __future__ import annotations

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
    sha256_file,
)


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
    expected : ``{split: [indices]}`` the check required (from manifest or range).
    missing_files, altered_files, bad_audio : per-file problems of indexed scenes.
    missing_scenes : ``{split: [indices]}`` required but not indexed.
    unexpected_scenes : indexed scene ids outside the required splits or range.
    index_errors : malformed ``index.jsonl`` lines and duplicate ids, as messages.
    dataset_errors : problems of ``dataset.json`` or the manifest, as messages.
    temporary_files : unfinished temporary writes (always a failure).
    unindexed_files : files of scene folders that the index does not list (a scene written
        but not committed to the index, or an extra file in a committed scene).
    other_files : files outside scene folders the format does not define (a warning only).
    """

    root: Path
    scenes_checked: int = 0
    files_checked: int = 0
    expected: dict[str, list[int]] = field(default_factory=dict)
    missing_files: list[FileProblem] = field(default_factory=list)
    altered_files: list[FileProblem] = field(default_factory=list)
    bad_audio: list[FileProblem] = field(default_factory=list)
    missing_scenes: dict[str, list[int]] = field(default_factory=dict)
    unexpected_scenes: list[str] = field(default_factory=list)
    index_errors: list[str] = field(default_factory=list)
    dataset_errors: list[str] = field(default_factory=list)
    temporary_files: list[str] = field(default_factory=list)
    unindexed_files: list[str] = field(default_factory=list)
    other_files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is missing, altered, malformed, incomplete or left over."""
        return not (self.missing_files or self.altered_files or self.bad_audio
                    or any(self.missing_scenes.values()) or self.unexpected_scenes
                    or self.index_errors or self.dataset_errors or self.temporary_files
                    or self.unindexed_files)

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
        return "\n".join(lines)


def _ranges(indices: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
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
        report.expected[split] = list(range(start, stop))
    indexed: dict[str, set[int]] = {}
    for rec in scan.records:
        indexed.setdefault(rec.split, set()).add(rec.index)
        # A scene beyond the manifest's split sizes cannot come from this manifest; scenes
        # outside a requested --start/--num range are only left out of the completeness check.
        if sizes and (rec.split not in sizes or rec.index >= sizes[rec.split]):
            report.unexpected_scenes.append(rec.id)
    for split, indices in report.expected.items():
        have = indexed.get(split, set())
        report.missing_scenes[split] = [i for i in indices if i not in have]

    _check_files(root, scan.records, info, report, check_audio, workers)
    _find_strays(root, scan.records, report)
    return report


@dataclass(frozen=True)
class _FileCheck:
    """Outcome of checking one listed file (``kind`` is ok, missing, altered or bad)."""

    kind: str
    detail: str = ""
    wav: tuple[int, int, int] | None = None  # (channels, sample rate, frames)


def _check_one(path: Path, expected_sha256: str, check_audio: bool) -> _FileCheck:
    if not path.is_file():
        return _FileCheck("missing")
    digest = sha256_file(path)
    if digest != expected_sha256:
        return _FileCheck("altered", f"sha256 {digest}, index says {expected_sha256}")
    if check_audio and path.suffix == ".wav":
        try:
            meta = wav_info(path)
        except WavError as err:
            return _FileCheck("bad", f"unreadable: {err.reason}")
        return _FileCheck("ok", wav=(meta.channels, meta.fs, meta.frames))
    return _FileCheck("ok")


def _check_files(root: Path, records: Sequence[SceneRecord], info: DatasetInfo | None,
                 report: VerifyReport, check_audio: bool, workers: int) -> None:
    jobs = [(rec, name, entry) for rec in records for name, entry in rec.files.all()]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda job: _check_one(root / job[2].path, job[2].sha256, check_audio),
                                jobs))
    report.scenes_checked = len(records)
    lengths: dict[str, set[int]] = {}
    for (rec, name, entry), result in zip(jobs, results):
        problem = FileProblem(entry.path, rec.id, name, result.detail)
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
