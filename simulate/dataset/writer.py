"""Write rendered scenes into an asabench dataset folder, resumably and atomically.

Layout and records follow ``docs/dataset-format.md``. Every file goes through a temporary
file in the same folder and :func:`os.replace`. A scene is complete only when its completion
record ``<split>/<scene_id>/complete.json`` (written last, holding the scene's index record
with the SHA-256 of every file) exists and every listed file has that hash; a resumed job
skips complete scenes and rewrites the others. ``index.jsonl`` is rebuilt from the
completion records, sorted by split and index, so an interrupted-then-resumed run yields
byte-identical files to an uninterrupted one.

WAV files are encoded by :func:`asabench.simulate.io.wav.wav_bytes` (IEEE float, ``fmt`` +
``fact`` + ``data`` chunks) rather than by libsndfile, whose float WAVs carry a ``PEAK`` chunk with a wall-clock timestamp and so differ
from run to run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from asabench.simulate.dataset.format import (
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
    read_dataset_info,
    scene_id,
    sha256_bytes,
    sha256_file,
    write_dataset_info,
)
from asabench.simulate.dataset.labels_csv import format_label_csv
from asabench.simulate.io.wav import wav_bytes  # noqa: F401  (re-exported; the WAV writer lives in io/wav.py)
from asabench.simulate.manifest import Manifest
from asabench.simulate.scene.render import RenderedScene

__all__ = [
    "COMPLETION_RECORD",
    "wav_bytes",
    "scene_dir",
    "write_scene_files",
    "write_scene",
    "completed_record",
    "rebuild_index",
    "init_dataset",
]

#: Name of the per-scene completion record (the scene's index record, written last).
COMPLETION_RECORD: str = "complete.json"


def scene_dir(root: Pathlike, split: str, index: int) -> Path:
    """``<root>/<split>/<scene_id>``."""
    return Path(root) / split / scene_id(split, index)


def write_scene_files(folder: Pathlike, scene: RenderedScene, rel_prefix: str = "") -> SceneFiles:
    """Write a scene's files into ``folder`` (atomic each); entries are ``rel_prefix/name``.

    Files: ``mixture.wav``, ``noise.wav``, ``labels.csv``, ``spec.json``, ``direct/<k>.wav``,
    ``reverb/<k>.wav`` (``docs/dataset-format.md``).
    """
    folder = Path(folder)
    prefix = f"{rel_prefix}/" if rel_prefix else ""

    def put(name: str, data: bytes) -> FileEntry:
        atomic_write_bytes(folder / name, data)
        return FileEntry(f"{prefix}{name}", sha256_bytes(data))

    spec = scene.spec
    fs = spec.fs
    j = spec.num_sources
    direct = tuple(put(f"direct/{k}.wav", wav_bytes(scene.direct[k], fs)) for k in range(j))
    reverb = tuple(put(f"reverb/{k}.wav", wav_bytes(scene.reverb[k], fs)) for k in range(j))
    return SceneFiles(
        mixture=put("mixture.wav", wav_bytes(scene.mixture, fs)),
        noise=put("noise.wav", wav_bytes(scene.noise, fs)),
        labels=put("labels.csv", format_label_csv(scene.labels).encode("utf-8")),
        spec=put("spec.json", spec.to_json().encode("utf-8")),
        direct=direct,
        reverb=reverb,
    )


def write_scene(root: Pathlike, scene: RenderedScene) -> SceneRecord:
    """Write every file of a rendered scene into the dataset, then its completion record.

    Parameters
    ----------
    root : dataset folder.
    scene : rendered audio, labels and spec.

    Returns
    -------
    SceneRecord
        The scene's ``index.jsonl`` record (also stored as its completion record).
    """
    spec = scene.spec
    d = scene_dir(root, spec.split, spec.index)
    done = d / COMPLETION_RECORD
    if done.exists():
        done.unlink()  # the scene is being rewritten: incomplete until the record is back
    if d.is_dir():
        # Leftovers of a killed writer of this scene; the scene is rewritten from scratch.
        for stray in d.rglob("*"):
            if stray.is_file() and is_temporary_name(stray.name):
                stray.unlink()
    files = write_scene_files(d, scene, f"{spec.split}/{spec.id}")
    record = SceneRecord(id=spec.id, split=spec.split, index=spec.index, num_sources=spec.num_sources,
                         classes=tuple(s.class_idx for s in spec.sources), files=files)
    atomic_write_text(done, record.to_json_line())
    return record


def completed_record(root: Pathlike, split: str, index: int, *, check_hashes: bool = True) -> SceneRecord | None:
    """The scene's record if it is complete (record present, every file with its hash), else None."""
    root = Path(root)
    done = scene_dir(root, split, index) / COMPLETION_RECORD
    if not done.is_file():
        return None
    try:
        record = SceneRecord.from_dict(json.loads(done.read_text(encoding="utf-8")), path=done)
    except (json.JSONDecodeError, UnicodeDecodeError, DatasetFormatError):
        return None
    if record.split != split or record.index != index:
        return None
    for _, entry in record.files.all():
        path = root / entry.path
        if not path.is_file():
            return None
        if check_hashes and sha256_file(path) != entry.sha256:
            return None
    return record


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
        if all((root / e.path).is_file() for _, e in record.files.all()):
            records.append(record)
    records.sort(key=lambda r: (r.split, r.index))
    atomic_write_text(root / INDEX_JSONL, "".join(r.to_json_line() for r in records))
    return records


def init_dataset(root: Pathlike, manifest: Manifest, sources: str, noise: str,
                 banks: dict[str, Any] | None = None) -> DatasetInfo:
    """Create ``dataset.json``, or check that an existing one was made the same way.

    Parameters
    ----------
    root : dataset folder (created if needed).
    manifest : the recipe; its hash and canonical content are recorded.
    sources, noise : ``"builtin"`` or the prepared index path of each bank.
    banks : full bank descriptions, stored under the extra key ``banks``.

    Raises
    ------
    DatasetFormatError
        When ``dataset.json`` exists with another manifest hash or other banks (a dataset
        never mixes recipes).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    info = DatasetInfo(
        name=manifest.name, version=manifest.version, manifest_sha256=manifest.sha256,
        manifest=manifest.to_dict(), fs=manifest.fs, num_channels=4,
        duration_s=manifest.duration_s, label_hop_s=manifest.label_hop_s,
        sources=sources, noise=noise, extra={"banks": banks} if banks is not None else {},
    )
    path = root / "dataset.json"
    if path.exists():
        old = read_dataset_info(root)
        for key in ("manifest_sha256", "sources", "noise"):
            if getattr(old, key) != getattr(info, key):
                raise DatasetFormatError(
                    path, f"this folder holds a dataset with {key} = {getattr(old, key)!r}; "
                    f"the job asks for {getattr(info, key)!r}. Use another --out folder.", field=key)
        return old
    write_dataset_info(root, info)
    return info
