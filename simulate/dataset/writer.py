"""Write rendered scenes into an asabench dataset folder, resumably and atomically.

Layout and records follow ``docs/dataset-format.md``. Every file goes through a temporary
file in the same folder and :func:`os.replace`. A scene is complete only when its completion
record ``<split>/<scene_id>/complete.json`` (written last, holding the scene's index record
with the SHA-256 of every file) exists and every listed file has that hash; a resumed job
skips complete scenes and rewrites the others. ``index.jsonl`` is rebuilt from the
completion records, sorted by split and index, so an interrupted-then-resumed run yields
byte-identical files to an uninterrupted one.

Audio files are encoded by :func:`asabench.simulate.io.wav.encode_audio` in the dataset's
``audio_format`` (``dataset.json``; ``docs/storage.md``): ``float32`` WAVs by
:func:`~asabench.simulate.io.wav.wav_bytes` (IEEE float, ``fmt`` + ``fact`` + ``data`` chunks)
rather than by libsndfile, whose float WAVs carry a ``PEAK`` chunk with a wall-clock timestamp
and so differ from run to run; ``pcm16`` WAVs and ``flac`` files as 16-bit samples at the
scene's common scale. Every format is byte-identical from run to run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from asabench.simulate.dataset.format import (
    DATASET_JSON,
    INDEX_JSONL,
    DatasetFormatError,
    DatasetInfo,
    FileEntry,
    Pathlike,
    SceneFiles,
    SceneRecord,
    atomic_write_bytes,
    atomic_write_text,
    is_temporary_name,
    parse_scene_id,
    read_dataset_info,
    scene_id,
    sha256_bytes,
    sha256_file,
    write_dataset_info,
)
from asabench.simulate.dataset.labels_csv import format_label_csv
from asabench.simulate.io.files import PathConfinementError, confine
from asabench.simulate.io.wav import AUDIO_SUFFIX, check_audio_format, encode_audio
from asabench.simulate.io.wav import wav_bytes  # noqa: F401  (re-exported; the WAV writer lives in io/wav.py)
from asabench.simulate.manifest import Manifest
from asabench.simulate.scene.render import RenderedScene
from asabench.simulate.secret_seed import HIDDEN_SPLITS_KEY, recorded_fingerprint

__all__ = [
    "COMPLETION_RECORD",
    "wav_bytes",
    "scene_dir",
    "write_scene_files",
    "write_scene",
    "completed_record",
    "present_indices",
    "rebuild_index",
    "init_dataset",
]

#: Name of the per-scene completion record (the scene's index record, written last).
COMPLETION_RECORD: str = "complete.json"


def scene_dir(root: Pathlike, split: str, index: int) -> Path:
    """``<root>/<split>/<scene_id>``."""
    return Path(root) / split / scene_id(split, index)


def write_scene_files(folder: Pathlike, scene: RenderedScene, rel_prefix: str = "",
                      audio_format: str = "float32") -> SceneFiles:
    """Write a scene's files into ``folder`` (atomic each); entries are ``rel_prefix/name``.

    Files: ``mixture.wav``, ``noise.wav``, ``labels.csv``, ``spec.json``, ``direct/<k>.wav``,
    ``reverb/<k>.wav`` (``docs/dataset-format.md``); ``.flac`` instead of ``.wav`` for the
    ``flac`` audio format. Every audio file is encoded before the first is written, so a
    scene that would clip in 16 bits leaves nothing behind.
    """
    folder = Path(folder)
    prefix = f"{rel_prefix}/" if rel_prefix else ""
    ext = AUDIO_SUFFIX[check_audio_format(audio_format)]

    def put(name: str, data: bytes) -> FileEntry:
        atomic_write_bytes(folder / name, data)
        return FileEntry(f"{prefix}{name}", sha256_bytes(data))

    spec = scene.spec
    fs = spec.fs
    j = spec.num_sources

    def enc(name: str, audio) -> tuple[str, bytes]:
        return name + ext, encode_audio(audio, fs, audio_format, what=f"{spec.id}: {name}{ext}")

    direct_b = [enc(f"direct/{k}", scene.direct[k]) for k in range(j)]
    reverb_b = [enc(f"reverb/{k}", scene.reverb[k]) for k in range(j)]
    mixture_b, noise_b = enc("mixture", scene.mixture), enc("noise", scene.noise)
    direct = tuple(put(*nb) for nb in direct_b)
    reverb = tuple(put(*nb) for nb in reverb_b)
    return SceneFiles(
        mixture=put(*mixture_b),
        noise=put(*noise_b),
        labels=put("labels.csv", format_label_csv(scene.labels).encode("utf-8")),
        spec=put("spec.json", spec.to_json().encode("utf-8")),
        direct=direct,
        reverb=reverb,
    )


def write_scene(root: Pathlike, scene: RenderedScene, audio_format: str = "float32") -> SceneRecord:
    """Write every file of a rendered scene into the dataset, then its completion record.

    Parameters
    ----------
    root : dataset folder.
    scene : rendered audio, labels and spec.
    audio_format : the dataset's audio format (``dataset.json``).

    Returns
    -------
    SceneRecord
        The scene's ``index.jsonl`` record (also stored as its completion record).
    """
    spec = scene.spec
    d = scene_dir(root, spec.split, spec.index)
    for folder in (d.parent, d):
        if (folder.exists() or folder.is_symlink()) and (folder.is_symlink() or not folder.is_dir()):
            raise DatasetFormatError(folder, "exists and is not a plain folder; the scene folder cannot "
                                     "be written here (nothing was changed)")
    done = d / COMPLETION_RECORD
    if done.exists():
        done.unlink()  # the scene is being rewritten: incomplete until the record is back
    if d.is_dir():
        # Leftovers of a killed writer of this scene; the scene is rewritten from scratch.
        for stray in d.rglob("*"):
            if stray.is_file() and is_temporary_name(stray.name):
                stray.unlink()
    files = write_scene_files(d, scene, f"{spec.split}/{spec.id}", audio_format)
    record = SceneRecord(id=spec.id, split=spec.split, index=spec.index, num_sources=spec.num_sources,
                         classes=tuple(s.class_idx for s in spec.sources), files=files)
    atomic_write_text(done, record.to_json_line())
    return record


def completed_record(root: Pathlike, split: str, index: int, *, check_hashes: bool = True,
                     manifest_sha256: str | None = None) -> SceneRecord | None:
    """The scene's record if it is complete (record present, every file with its hash), else None.

    Every listed path is confined to the dataset folder before it is hashed. With
    ``manifest_sha256``, a complete scene whose ``spec.json`` records another manifest raises
    :class:`DatasetFormatError` (naming the spec file): it belongs to another dataset and is
    neither skipped as done nor overwritten.
    """
    root = Path(root)
    done = scene_dir(root, split, index) / COMPLETION_RECORD
    if not done.is_file():
        return None
    try:
        record = SceneRecord.from_dict(json.loads(done.read_text(encoding="utf-8")), path=done)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, DatasetFormatError):
        return None
    if record.split != split or record.index != index:
        return None
    spec_bytes = b""
    for name, entry in record.files.all():
        try:
            path = confine(root, entry.path, source=done, field=f"files.{name}.path")
        except PathConfinementError:
            return None
        if not path.is_file():
            return None
        if name == "spec":
            spec_bytes = path.read_bytes()  # hashed and parsed from the same bytes
            if check_hashes and sha256_bytes(spec_bytes) != entry.sha256:
                return None
        elif check_hashes and sha256_file(path) != entry.sha256:
            return None
    if manifest_sha256 is not None:
        spec_path = root / record.files.spec.path
        recorded = _spec_manifest_sha256(spec_bytes)
        if recorded != manifest_sha256:
            raise DatasetFormatError(
                spec_path, f"this complete scene was made from manifest {recorded}, this job's is "
                f"{manifest_sha256}; the folder mixes datasets (move the scene away or use another --out)",
                field="manifest.sha256")
    return record


def _spec_manifest_sha256(data: bytes) -> str | None:
    """The ``manifest.sha256`` a ``spec.json`` records, or None when it records none."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return None
    manifest = obj.get("manifest") if isinstance(obj, dict) else None
    value = manifest.get("sha256") if isinstance(manifest, dict) else None
    return value if isinstance(value, str) else None


def present_indices(root: Pathlike, split: str) -> set[int]:
    """Indices of the scenes of ``split`` that have a completion record (not yet verified).

    One listing of ``<root>/<split>``, so its cost follows the scenes present, not the size
    of the split.
    """
    folder = Path(root) / split
    found: set[int] = set()
    if not folder.is_dir():
        return found
    with os.scandir(folder) as entries:
        for item in entries:
            try:
                name_split, index = parse_scene_id(item.name)
            except ValueError:
                continue
            if name_split == split and item.is_dir() and (Path(item.path) / COMPLETION_RECORD).is_file():
                found.add(index)
    return found


def rebuild_index(root: Pathlike) -> list[SceneRecord]:
    """Rewrite ``index.jsonl`` from the completion records, sorted by (split, index).

    Only records whose files all exist are listed (hashes are checked by
    ``asabench verify``). Returns the records written.
    """
    root = Path(root)
    records = []
    for done in sorted(root.glob(f"*/*/{COMPLETION_RECORD}")):
        try:
            record = SceneRecord.from_dict(json.loads(done.read_text(encoding="utf-8")), path=done)
        except (json.JSONDecodeError, UnicodeDecodeError, DatasetFormatError):
            continue
        if done.parent != scene_dir(root, record.split, record.index):
            continue
        if all(_confined_file(root, e.path) for _, e in record.files.all()):
            records.append(record)
    records.sort(key=lambda r: (r.split, r.index))
    atomic_write_text(root / INDEX_JSONL, "".join(r.to_json_line() for r in records))
    return records


def _confined_file(root: Path, rel: str) -> bool:
    try:
        return confine(root, rel).is_file()
    except PathConfinementError:
        return False


def init_dataset(root: Pathlike, manifest: Manifest, sources: str, noise: str,
                 banks: dict[str, Any] | None = None, audio_format: str = "float32",
                 hidden: tuple[str, str | None] | None = None) -> DatasetInfo:
    """Create ``dataset.json``, or check that an existing one was made the same way.

    Parameters
    ----------
    root : dataset folder (created if needed).
    manifest : the recipe; its hash and canonical content are recorded.
    sources, noise : ``"builtin"`` or the prepared index path of each bank.
    banks : full bank descriptions, stored under the extra key ``banks``.
    audio_format : storage format of the audio files (``float32``, ``pcm16``, ``flac``).
    hidden : ``(split, fingerprint)`` of the job's split: a fingerprint (a hidden split,
        :mod:`asabench.simulate.secret_seed`) is recorded under ``hidden_splits`` of a new
        ``dataset.json``; ``None`` means a public split. An existing ``dataset.json`` must
        record the same for that split (a hidden split is made in a new folder).

    Raises
    ------
    DatasetFormatError
        When ``dataset.json`` exists with another manifest hash, other banks or another
        audio format (a dataset never mixes recipes or formats).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    info = DatasetInfo(
        name=manifest.name, version=manifest.version, manifest_sha256=manifest.sha256,
        manifest=manifest.to_dict(), fs=manifest.fs, num_channels=4,
        duration_s=manifest.duration_s, label_hop_s=manifest.label_hop_s,
        sources=sources, noise=noise, extra={"banks": banks} if banks is not None else {},
        audio_format=check_audio_format(audio_format),
    )
    split, fingerprint = hidden if hidden is not None else (None, None)
    if fingerprint is not None:
        info.extra[HIDDEN_SPLITS_KEY] = {split: fingerprint}
    path = root / DATASET_JSON
    if not path.exists():
        try:
            # Exclusive create (hard-link publish): of two jobs starting on this new folder
            # at the same instant exactly one creates dataset.json; the other compares below.
            write_dataset_info(root, info, exclusive=True)
            return info
        except FileExistsError:
            pass
    old = read_dataset_info(root)
    if old.manifest_sha256 != info.manifest_sha256:
        raise DatasetFormatError(
            path, f"this folder belongs to dataset {old.name!r} version {old.version!r} (manifest "
            f"{old.manifest_sha256}); this job's manifest {info.name!r} version {info.version!r} is "
            f"{info.manifest_sha256}. A dataset folder holds one manifest: use another --out folder",
            field="manifest_sha256")
    for key in ("sources", "noise", "audio_format"):
        if getattr(old, key) != getattr(info, key):
            raise DatasetFormatError(
                path, f"this folder holds a dataset with {key} = {getattr(old, key)!r}; "
                f"the job asks for {getattr(info, key)!r}. Use another --out folder.", field=key)
    if split is not None:
        recorded = recorded_fingerprint(old.extra, split)
        if recorded != fingerprint:
            what = (f"split {split!r} is hidden (secret seed {recorded})" if recorded else
                    f"split {split!r} of this folder uses the public seeds")
            asked = (f"this job's secret seed is {fingerprint}" if fingerprint else
                     "this job uses the public seeds (no --secret-seed)")
            raise DatasetFormatError(path, f"{what}; {asked}. A hidden split is made in a new --out "
                                     "folder with its own secret seed file", field=f"hidden_splits.{split}")
    return old
