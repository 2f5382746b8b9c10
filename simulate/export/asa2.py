"""The published ASA2 layout: export an asabench dataset to it, and read it back.

Layout (as written by the DeepASA authors' generator, ``AudioDataset2.py``)::

    OUT/{dev|test}/mixed/<idx>.wav          4-channel mixture, 16-bit PCM
    OUT/{dev|test}/anechoic/<idx>/<i>.wav   direct-path image of source i, 16-bit PCM
    OUT/{dev|test}/reverb/<idx>/<i>.wav     reverberant part of source i, 16-bit PCM
    OUT/{dev|test}/info/<idx>.csv           labels, header ``time,src_idx,class,azimuth,elevation``

``<idx>`` is a plain integer (no zero padding), ``i`` runs 0..J-1. Label conventions of the
published files, which differ from ours:

* ``class`` is the ASA2 class id (authors' directory order, :func:`dcase_to_asa2`);
* ``elevation`` is the polar angle from +z (0 up, 180 down): ``polar = 90 - elevation``;
* ``azimuth`` is the same as DCASE (``atan2(y, x)``, degrees); angles are integers;
* rows are sorted by ``time`` then ``src_idx``; there is no distance column and no noise file.

The authors' generator writes the header with ``csv.writer`` (no spaces after the commas)
and float-formatted values (``3.0``); we write integers, which every float parser reads
alike, and the reader accepts both spellings.

Split mapping. The authors' generator writes ``dev`` (training, 50 000 scenes) and ``test``;
their DeepASA loader trains on everything in ``dev`` and validates (and tests) on ``test``.
So ``train`` goes to ``dev`` and ``test`` to ``test`` (:data:`DEFAULT_SPLIT_MAP`), each with
``idx = index``, and the ``validation`` split is not exported unless asked for
(``include_validation``), then to its own folder ``validation/`` (:data:`VALIDATION_FOLDER`),
which that loader never reads. A split map may rename folders, but never sends two splits to
one folder: the loader could not tell them apart (appending validation to ``dev`` would
train on it). ``OUT/asabench-export.json`` records where every scene went and its DCASE
classes (so that a source that is never active, which has no CSV row, keeps its class).

Audio is scaled by 32768 and rounded, the inverse of what soundfile/libsndfile apply when
reading 16-bit PCM as float, so the common output scale of the dataset is kept and read-back
differs from the float32 original by at most half a quantisation step (2^-16). A sample that
would not fit in int16 is an error (the writer leaves headroom; we never clip silently).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from asabench.simulate.classes import asa2_to_dcase, dcase_to_asa2
from asabench.simulate.dataset.format import (
    INDEX_JSONL,
    DatasetFormatError,
    FileEntry,
    Pathlike,
    SceneRecord,
    atomic_write_bytes,
    atomic_write_text,
    read_dataset_info,
    read_index,
    sha256_bytes,
)
from asabench.simulate.io.files import confine, refuse_output_over_inputs
from asabench.simulate.dataset.labels_csv import read_label_csv
from asabench.simulate.io.wav import (AUDIO_SUFFIX, WavError, check_audio_format, flac_bytes, pcm16_wav_bytes,
                                      read_wav, wav_bytes)

#: Audio file suffixes the layout's reader accepts (``.flac``: exports with ``audio_format="flac"``).
_AUDIO_GLOBS = ("*.wav", "*.flac")

#: ASA2 split folders.
ASA2_SPLITS: tuple[str, ...] = ("dev", "test")
#: Default mapping of our split names to ASA2 folders: training data in ``dev``, test in
#: ``test`` (the authors' loader validates on ``test``); validation only on request.
DEFAULT_SPLIT_MAP: dict[str, str] = {"train": "dev", "test": "test"}
#: Folder of the ``validation`` split when it is exported (``include_validation``).
VALIDATION_FOLDER: str = "validation"
#: Column names of an ASA2 info CSV.
ASA2_CSV_FIELDS: tuple[str, ...] = ("time", "src_idx", "class", "azimuth", "elevation")
#: Float-to-int16 scale (full scale of 16-bit PCM as libsndfile reads it back).
PCM16_SCALE: float = 32768.0
#: Side file recording the provenance of an export.
EXPORT_RECORD: str = "asabench-export.json"

_IDX_RE = re.compile(r"^\d+$")
_FOLDER_RE = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.-]+$")


class Asa2FormatError(DatasetFormatError):
    """A file of the ASA2 layout is missing or malformed, or audio does not fit in 16 bits."""


# ----------------------------------------------------------------------------- conversions


def to_pcm16(audio: np.ndarray, *, path: Pathlike = "<audio>") -> np.ndarray:
    """Float audio to int16 samples at the common scale, refusing to clip.

    Parameters
    ----------
    audio : float array, any shape, full scale 1.0.
    path : named in the error.

    Returns
    -------
    np.ndarray
        int16 array ``round(audio * 32768)``, same shape.
    """
    x = np.asarray(audio)
    # Scaling by a power of two is exact in float32, so float32 input needs no upcast.
    x = x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)
    scaled = np.rint(x * x.dtype.type(PCM16_SCALE))
    if scaled.size:
        lo, hi = scaled.min(), scaled.max()
        if lo < -32768 or hi > 32767 or not np.isfinite(scaled).all():
            peak = float(np.abs(x).max())
            raise Asa2FormatError(path, f"peak {peak:.6f} does not fit in 16-bit PCM without "
                                  "clipping (max 32767/32768); the dataset lacks headroom")
    return scaled.astype(np.int16)


def dcase_labels_to_asa2_rows(labels: np.ndarray) -> np.ndarray:
    """Our label rows to ASA2 info rows.

    Parameters
    ----------
    labels : ``[n, 6]`` int rows ``frame, class (DCASE), track, azimuth, elevation, distance``.

    Returns
    -------
    np.ndarray
        ``[n, 5]`` int64 rows ``time, src_idx, class (ASA2), azimuth, polar elevation``,
        sorted by time then source.
    """
    lab = np.asarray(labels, dtype=np.int64).reshape(-1, 6)
    rows = np.stack([lab[:, 0], lab[:, 2], np.asarray(dcase_to_asa2(lab[:, 1]), dtype=np.int64),
                     lab[:, 3], 90 - lab[:, 4]], axis=1)
    order = np.lexsort((rows[:, 1], rows[:, 0]))
    return rows[order]


def asa2_rows_to_dcase(rows: np.ndarray) -> np.ndarray:
    """ASA2 info rows to ``[n, 5]`` rows ``frame, class (DCASE), track, azimuth, elevation``.

    Inverse of :func:`dcase_labels_to_asa2_rows` up to the dropped distance and row order.
    """
    r = np.asarray(rows, dtype=np.int64).reshape(-1, 5)
    return np.stack([r[:, 0], np.asarray(asa2_to_dcase(r[:, 2]), dtype=np.int64), r[:, 1],
                     r[:, 3], 90 - r[:, 4]], axis=1)


def format_asa2_info(rows: np.ndarray) -> str:
    """CSV text of ASA2 info rows ``[n, 5]`` (header + one integer row per line)."""
    lines = [",".join(ASA2_CSV_FIELDS)]
    lines += [",".join(str(int(v)) for v in row) for row in np.asarray(rows).reshape(-1, 5)]
    return "\r\n".join(lines) + "\r\n"  # csv.writer's line terminator, as in the published files


def read_asa2_info(path: Pathlike) -> np.ndarray:
    """Read and validate an ASA2 info CSV.

    Returns
    -------
    np.ndarray
        ``[n, 5]`` int64 rows ``time, src_idx, class (ASA2), azimuth, polar elevation``.

    Raises
    ------
    Asa2FormatError
        Naming the file, line and field of the first problem.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise Asa2FormatError(path, "missing") from None
    if not lines or tuple(c.strip() for c in lines[0].split(",")) != ASA2_CSV_FIELDS:
        raise Asa2FormatError(path, f"expected the header {','.join(ASA2_CSV_FIELDS)}, got "
                              f"{lines[0] if lines else '<empty file>'!r}", line=1)
    ranges = {"time": (0, None), "src_idx": (0, None), "class": (0, 12),
              "azimuth": (-180, 180), "elevation": (0, 180)}
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 5:
            raise Asa2FormatError(path, f"expected 5 fields, got {len(cells)}", line=number)
        row = []
        for name, cell in zip(ASA2_CSV_FIELDS, cells):
            try:
                value = float(cell)
            except ValueError:
                raise Asa2FormatError(path, f"expected a number, got {cell!r}", line=number,
                                      field=name) from None
            if value != round(value):
                raise Asa2FormatError(path, f"expected an integer value, got {cell!r}",
                                      line=number, field=name)
            lo, hi = ranges[name]
            if value < lo or (hi is not None and value > hi):
                raise Asa2FormatError(path, f"{cell} outside [{lo}, {hi if hi is not None else 'inf'}]",
                                      line=number, field=name)
            row.append(int(round(value)))
        rows.append(row)
    return np.asarray(rows, dtype=np.int64).reshape(-1, 5)


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Asa2Scene:
    """Paths of one scene of the ASA2 layout; ``anechoic[i]``/``reverb[i]`` belong to source i."""

    split: str
    idx: int
    mixture: Path
    anechoic: tuple[Path, ...]
    reverb: tuple[Path, ...]
    info: Path

    @property
    def num_sources(self) -> int:
        return len(self.anechoic)


def _numbered_wavs(folder: Path) -> tuple[Path, ...]:
    if not folder.is_dir():
        raise Asa2FormatError(folder, "missing folder")
    found = {}
    for p in (q for g in _AUDIO_GLOBS for q in folder.glob(g)):
        if _IDX_RE.fullmatch(p.stem):
            found[int(p.stem)] = p
    if sorted(found) != list(range(len(found))):
        raise Asa2FormatError(folder, f"source files must be 0.wav..{len(found) - 1}.wav, "
                              f"found {sorted(found)}")
    return tuple(found[i] for i in range(len(found)))


def list_asa2_scenes(root: Pathlike, split: str) -> list[Asa2Scene]:
    """Scenes of one ASA2 split folder, sorted by index.

    Parameters
    ----------
    root : folder holding ``dev/`` and/or ``test/``.
    split : ``"dev"`` or ``"test"`` (any folder name of that layout works).

    Raises
    ------
    Asa2FormatError
        If ``<root>/<split>/mixed`` is missing or a scene lacks its sources or CSV.
    """
    base = Path(root) / split
    mixed = base / "mixed"
    if not mixed.is_dir():
        raise Asa2FormatError(mixed, "missing folder: not an ASA2 split")
    mixtures = {int(p.stem): p for g in _AUDIO_GLOBS for p in mixed.glob(g) if _IDX_RE.fullmatch(p.stem)}
    indices = sorted(mixtures)
    scenes = []
    for idx in indices:
        anechoic = _numbered_wavs(base / "anechoic" / str(idx))
        reverb = _numbered_wavs(base / "reverb" / str(idx))
        if len(anechoic) != len(reverb):
            raise Asa2FormatError(base / "reverb" / str(idx),
                                  f"{len(reverb)} reverb files but {len(anechoic)} anechoic files")
        info = base / "info" / f"{idx}.csv"
        if not info.is_file():
            raise Asa2FormatError(info, "missing")
        scenes.append(Asa2Scene(split, idx, mixtures[idx], anechoic, reverb, info))
    return scenes


def asa2_splits(root: Pathlike) -> list[str]:
    """ASA2 split folders present under ``root`` (those with a ``mixed/`` folder)."""
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if (p / "mixed").is_dir()) if root.is_dir() else []


def read_export_record(root: Pathlike) -> dict | None:
    """Content of ``asabench-export.json`` under an ASA2 root, or None for foreign data."""
    path = Path(root) / EXPORT_RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise Asa2FormatError(path, f"not valid JSON: {err}") from None
    _check_export_record(path, record)
    return record


def _check_export_record(path: Path, record: object) -> None:
    """Types and ranges of the fields readers use; the error names the file and field."""
    def fail(fld: str, msg: str) -> Asa2FormatError:
        return Asa2FormatError(path, msg, field=fld)

    def real(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0

    if not isinstance(record, dict):
        raise fail("<root>", f"expected a JSON object, got {type(record).__name__}")
    if "fs" in record and (isinstance(record["fs"], bool) or not isinstance(record["fs"], int)
                           or not 0 < record["fs"] <= 10**7):
        raise fail("fs", f"expected a sample rate in Hz, got {record['fs']!r}")
    for key in ("duration_s", "label_hop_s"):
        if key in record and not real(record[key]):
            raise fail(key, f"expected a finite number > 0, got {record[key]!r}")
    if "duration_s" in record and "label_hop_s" not in record:
        raise fail("label_hop_s", "missing (duration_s is given)")
    split_map = record.get("split_map", {})
    if not isinstance(split_map, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in split_map.items()):
        raise fail("split_map", "expected an object of split name -> ASA2 folder name")
    scenes = record.get("scenes", {})
    if not isinstance(scenes, dict):
        raise fail("scenes", f"expected an object, got {type(scenes).__name__}")
    for key, meta in scenes.items():
        if (not isinstance(meta, dict) or not isinstance(meta.get("id"), str)
                or not isinstance(meta.get("classes"), list)
                or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c < 13 for c in meta["classes"])):
            raise fail(f"scenes.{key}", f"expected {{'id': <scene id>, 'classes': [DCASE class ids]}}, got {meta!r}")


# ----------------------------------------------------------------------------- export


@dataclass
class Asa2ExportSummary:
    """What :func:`export_asa2` wrote: scene counts per ASA2 folder and skipped splits."""

    out: Path
    scenes: dict[str, int] = field(default_factory=dict)
    skipped_splits: dict[str, int] = field(default_factory=dict)
    placement: dict[str, str] = field(default_factory=dict)  # scene id -> "dev/123"

    def format(self) -> str:
        lines = [f"exported to {self.out} (ASA2 layout)"]
        lines += [f"  {split}: {n} scenes" for split, n in sorted(self.scenes.items())]
        lines += [f"  skipped split {s!r} ({n} scenes): not in the split map"
                  for s, n in sorted(self.skipped_splits.items())]
        return "\n".join(lines)


_wav_bytes = pcm16_wav_bytes  # asabench.simulate.io.wav: the WAV writers live there


def _indexed_file(src: Path, rec: SceneRecord, name: str, entry: FileEntry) -> tuple[Path, bytes]:
    """A listed file of a scene: its path confined to the dataset, its bytes checked against
    the index hash (read once: what is checked is what is exported)."""
    index = src / INDEX_JSONL
    path = confine(src, entry.path, source=index, field=f"{rec.id}.files.{name}.path")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetFormatError(path, f"missing (listed in {index} for scene {rec.id})") from None
    except OSError as err:
        raise DatasetFormatError(path, f"unreadable: {err.strerror or err}") from None
    digest = sha256_bytes(data)
    if digest != entry.sha256:
        raise DatasetFormatError(path, f"sha256 {digest} differs from the index's {entry.sha256}: the file "
                                 "changed since it was written (run `asabench verify`)", field="sha256")
    return path, data


def _read_float(path: Path, channels: int, data: bytes | None = None) -> tuple[np.ndarray, int]:
    try:
        return read_wav(path, channels=channels, finite=False, data=data)  # NaN: to_pcm16 names the file
    except WavError as err:
        raise DatasetFormatError(path, err.reason, field="num_channels" if err.field == "channels" else None) from None


def export_plan(split_map: Mapping[str, str] | None = None, *, include_validation: bool = False) -> dict[str, str]:
    """The checked split -> folder map of an export (what :func:`export_asa2` uses).

    ``split_map`` (default :data:`DEFAULT_SPLIT_MAP`), plus ``validation ->``
    :data:`VALIDATION_FOLDER` with ``include_validation`` (unless the map already places it).

    Raises
    ------
    ValueError
        A folder that is not one plain name, or two splits sent to one folder (the authors'
        loader trains on all of ``dev`` and tests on all of ``test``; merged splits would
        leak one into the other).
    """
    mapping = dict(DEFAULT_SPLIT_MAP if split_map is None else split_map)
    if include_validation:
        mapping.setdefault("validation", VALIDATION_FOLDER)
    for split, folder in mapping.items():
        if not isinstance(folder, str) or not _FOLDER_RE.fullmatch(folder):
            raise ValueError(f"split map: {split!r} -> {folder!r}: an ASA2 folder is one plain name "
                             "(letters, digits, '_', '-', '.'), inside the output folder")
    seen: dict[str, str] = {}
    for split, folder in mapping.items():
        if folder in seen:
            raise ValueError(f"split map: {seen[folder]!r} and {split!r} both go to {folder!r}: one split per "
                             "ASA2 folder (the authors' loader trains on everything in dev and tests on "
                             "everything in test, so merged splits leak into each other)")
        seen[folder] = split
    return mapping


def export_asa2(
    src: Pathlike,
    out: Pathlike,
    *,
    split_map: Mapping[str, str] | None = None,
    include_validation: bool = False,
    overwrite: bool = False,
    fsync: bool = False,
    audio_format: str = "pcm16",
) -> Asa2ExportSummary:
    """Write an asabench dataset in the published ASA2 layout.

    Parameters
    ----------
    src : asabench dataset folder (``dataset.json`` + ``index.jsonl``).
    out : output root; ``dev/`` and ``test/`` (or the mapped folders) are created in it.
    split_map : our split -> ASA2 folder, one split per folder (default
        :data:`DEFAULT_SPLIT_MAP`); a scene keeps its index as ``idx``. Splits not in the map
        are skipped and reported.
    include_validation : also export the ``validation`` split, to ``OUT/validation/``
        (:func:`export_plan` adds it to the map).
    overwrite : replace existing files; otherwise an existing target file is an error.
    fsync : flush every file to disk before its rename (off by default: each file is still
        replaced atomically, and an export interrupted by a power loss can be rerun with
        ``overwrite``).
    audio_format : ``pcm16`` (the published files), ``flac`` (the same samples, lossless,
        ``.flac`` files) or ``float32`` (the dataset's float samples as WAV).

    Returns
    -------
    Asa2ExportSummary

    Raises
    ------
    ValueError
        A split map sending two splits to one folder, or a folder that is not a plain name.
    DatasetFormatError
        Bad source dataset (named file and field).
    Asa2FormatError
        A scene whose audio would clip in 16 bits; nothing of that scene is written.
    FileExistsError
        A target file exists and ``overwrite`` is false.
    """
    src, out = Path(src), Path(out)
    refuse_output_over_inputs([out], [src], what="out")
    check_audio_format(audio_format)
    info = read_dataset_info(src)
    records = read_index(src)
    mapping = export_plan(split_map, include_validation=include_validation)
    from asabench.simulate.secret_seed import refuse_hidden_export

    refuse_hidden_export(info.extra, {r.split for r in records} & set(mapping), src, "the ASA2 export")
    for split, folder in mapping.items():  # before anything is written
        confine(out, folder, field=f"split_map[{split!r}]")

    summary = Asa2ExportSummary(out=out)
    scenes_meta: dict[str, dict] = {}
    for rec in sorted(records, key=lambda r: (list(mapping).index(r.split) if r.split in mapping
                                              else len(mapping), r.split, r.index)):
        folder = mapping.get(rec.split)
        if folder is None:
            summary.skipped_splits[rec.split] = summary.skipped_splits.get(rec.split, 0) + 1
            continue
        idx = rec.index
        _export_scene(src, out, rec, folder, idx, info.num_channels, overwrite, fsync, audio_format)
        summary.scenes[folder] = summary.scenes.get(folder, 0) + 1
        summary.placement[rec.id] = f"{folder}/{idx}"
        scenes_meta[f"{folder}/{idx}"] = {"id": rec.id, "classes": list(rec.classes)}

    record_path = out / EXPORT_RECORD
    previous = read_export_record(out) if record_path.is_file() else None
    if previous is not None and previous.get("source", {}).get("manifest_sha256") == info.manifest_sha256:
        previous_scenes = dict(previous.get("scenes", {}))
        previous_scenes.update(scenes_meta)
        scenes_meta = previous_scenes
    record = {
        "format": "asa2", "exported_by": "asabench",
        "source": {"name": info.name, "version": info.version,
                   "manifest_sha256": info.manifest_sha256, "path": str(src.resolve())},
        "fs": info.fs, "pcm16_scale": PCM16_SCALE, "split_map": mapping,
        **({} if audio_format == "pcm16" else {"audio_format": audio_format}),
        "label_hop_s": info.label_hop_s, "duration_s": info.duration_s,
        "scenes": dict(sorted(scenes_meta.items())),
    }
    atomic_write_text(record_path, json.dumps(record, indent=1) + "\n")
    return summary


def _export_scene(src: Path, out: Path, rec: SceneRecord, folder: str, idx: int,
                  channels: int, overwrite: bool, fsync: bool, audio_format: str = "pcm16") -> None:
    base = confine(out, folder, field=f"split_map[{rec.split!r}]")
    ext = AUDIO_SUFFIX[audio_format]

    def encode(audio: np.ndarray, fs: int, path: Path) -> bytes:
        if audio_format == "float32":
            return wav_bytes(audio, fs)
        pcm = to_pcm16(audio, path=path)
        return _wav_bytes(pcm, fs) if audio_format == "pcm16" else flac_bytes(pcm, fs)

    targets: list[tuple[Path, bytes]] = []
    path, data = _indexed_file(src, rec, "mixture", rec.files.mixture)
    mixture, fs = _read_float(path, channels, data)
    targets.append((base / "mixed" / f"{idx}{ext}", encode(mixture, fs, path)))
    for kind, name, entries in (("anechoic", "direct", rec.files.direct), ("reverb", "reverb", rec.files.reverb)):
        for i, entry in enumerate(entries):
            path, data = _indexed_file(src, rec, f"{name}[{i}]", entry)
            audio, _ = _read_float(path, channels, data)
            targets.append((base / kind / str(idx) / f"{i}{ext}", encode(audio, fs, path)))
    labels_path, _ = _indexed_file(src, rec, "labels", rec.files.labels)
    labels = read_label_csv(labels_path)
    if labels.size and labels[:, 2].max() >= rec.num_sources:
        raise DatasetFormatError(labels_path,
                                 f"track {labels[:, 2].max()} but the scene has {rec.num_sources} sources",
                                 field="track")
    targets.append((base / "info" / f"{idx}.csv",
                    format_asa2_info(dcase_labels_to_asa2_rows(labels)).encode("utf-8")))
    if not overwrite:
        for path, _ in targets:
            if path.exists():
                raise FileExistsError(f"{path}: exists (pass overwrite=True / --overwrite to replace)")
    # Everything is converted (and clip-checked) before the first write, so a failing scene
    # leaves nothing behind; each file is written atomically.
    for path, data in targets:
        atomic_write_bytes(path, data, fsync=fsync)
    # A replaced scene with fewer sources must not keep the old scene's extra sources.
    for kind in ("anechoic", "reverb"):
        for stale in (q for g in _AUDIO_GLOBS for q in (base / kind / str(idx)).glob(g)):
            if _IDX_RE.fullmatch(stale.stem) and (int(stale.stem) >= rec.num_sources or stale.suffix != ext):
                stale.unlink()
    for other in {".wav", ".flac"} - {ext}:  # a scene re-exported in another format keeps one file
        if (base / "mixed" / f"{idx}{other}").is_file():
            (base / "mixed" / f"{idx}{other}").unlink()
