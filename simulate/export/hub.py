"""A Hugging Face dataset repository of an asabench dataset: materialise, upload, read back.

:func:`materialise_hub` turns a dataset folder into a repository folder (``docs/hub.md``)::

    OUT/README.md                              dataset card: YAML header (configs, features,
                                               splits, licence), provenance, citations
    OUT/asabench-hub.json                      dataset.json, audio format, shards and hashes
    OUT/data/<split>-<k>-of-<n>.parquet        scenes, one row each, shards of bounded size

One row per scene: ``id``, ``split``, ``index``, ``num_sources``, ``classes`` (DCASE ids),
``class_names``; the audio as the bytes of the dataset's own files (``mixture`` and ``noise``,
``direct`` and ``reverb`` one per source; float32/PCM16 WAV or FLAC as the dataset was
made); the labels as columns (``label_frame``, ``label_class``, ``label_track``,
``label_azimuth``, ``label_elevation``, ``label_distance_cm``) and as the ``labels.csv`` text;
scene metadata (``room_dim_m``, ``rt60_s``, ``snr_db``, ``output_gain``,
``array_center_m``); the scene's ``spec.json`` text; and ``sha256``, the index hashes of
every file in :meth:`SceneFiles.all` order. The stored bytes *are* the dataset's files, so
each hash can be checked on the row.

Multichannel audio. The columns are typed as ``datasets.Audio(decode=False)``: the Hub and
``datasets`` see audio, but nothing down-mixes or resamples. ``datasets``' Audio decoding has
down-mixed multichannel audio to mono in some versions and needs ``torchcodec`` in current
ones; the four channels are decoded from the bytes with soundfile here
(:class:`HubTable`, :func:`load_hub`) and the card says so.

Each scene of a published folder is read by
:class:`~asabench.simulate.dataset.reader.DatasetReader` (layout ``"hub"``), so
:class:`~asabench.simulate.dataset.loader.SceneDataset` and :func:`load_hub` return the
tensors of the local dataset. :func:`upload_hub` sends the folder with
``huggingface_hub``'s resumable large-folder upload.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Protocol

import numpy as np

from asabench.simulate.classes import DCASE_CLASSES
from asabench.simulate.dataset.format import (
    DATASET_JSON,
    INDEX_JSONL,
    DatasetFormatError,
    DatasetInfo,
    Pathlike,
    SceneRecord,
    read_dataset_info,
    read_index,
)
from asabench.simulate.dataset.labels_csv import read_label_csv
from asabench.simulate.io.files import (
    atomic_write_text,
    confine,
    refuse_output_over_inputs,
    sha256_bytes,
    sha256_file,
)

__all__ = [
    "HUB_RECORD",
    "DEFAULT_MAX_SHARD_BYTES",
    "HubCell",
    "HubError",
    "HubTokenError",
    "HubTable",
    "HubSummary",
    "materialise_hub",
    "upload_hub",
    "publish_hub",
    "load_hub",
    "is_hub_folder",
]

#: Side file of a materialised folder (what :class:`DatasetReader` detects the layout by).
HUB_RECORD: str = "asabench-hub.json"
#: Largest parquet shard (bytes of the rows' content), below the Hub's recommended size.
DEFAULT_MAX_SHARD_BYTES: int = 256 * 2**20
HUB_FORMAT_VERSION: int = 1
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SHARD_RE = re.compile(r"^data/(?P<split>[A-Za-z0-9_]+)-\d{5}-of-\d{5}\.parquet$")

#: Licences of the corpora a folder bank can be prepared from (``asabench prepare --layout``).
CORPUS_LICENCES: dict[str, str] = {
    "fsd50k": "FSD50K clips: CC0, CC-BY or CC-BY-NC per clip (Fonseca et al., 2022); see each clip's licence",
    "librispeech": "LibriSpeech: CC-BY 4.0 (Panayotov et al., 2015)",
    "tau-snoise": "TAU Spatial Sound Events noise: the TAU licence (non-commercial use)",
    "classfolders": "a user corpus (class folders): its own licence",
    "index": "a user corpus (index table): its own licence",
}
CITATIONS: tuple[str, ...] = (
    "@inproceedings{lee2025deepasa,\n  title = {{DeepASA}: An Object-Oriented Multi-Purpose Network for "
    "Auditory Scene Analysis},\n  author = {Lee, Dongheon and Kwon, Younghoo and Choi, Jung-Woo},\n"
    "  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},\n  year = {2025}\n}",
    "@article{choi2025soundcompass,\n  title = {{SoundCompass}: Navigating Target Sound Extraction with "
    "Effective Directional Clue Integration in Complex Acoustic Scenes},\n  author = {Choi, Dayun and "
    "Choi, Jung-Woo},\n  year = {2025}\n}",
)


class HubError(OSError):
    """The upload failed (network, Hub refusal); the folder is intact and a rerun resumes."""


class HubTokenError(ValueError):
    """No Hugging Face token: nothing was sent."""


# ----------------------------------------------------------------------------- schema


def _features(fs: int):
    """The ``datasets.Features`` of a row (audio columns: ``Audio(decode=False)``)."""
    from datasets import Audio, Features, Value

    try:
        from datasets import List
    except ImportError:  # datasets < 4
        from datasets import Sequence as List

    audio = Audio(sampling_rate=fs, decode=False)
    ints = List(Value("int64"))
    return Features({
        "id": Value("string"), "split": Value("string"), "index": Value("int64"),
        "num_sources": Value("int32"), "classes": List(Value("int32")), "class_names": List(Value("string")),
        "mixture": audio, "noise": audio, "direct": List(audio), "reverb": List(audio),
        "label_frame": ints, "label_class": ints, "label_track": ints, "label_azimuth": ints,
        "label_elevation": ints, "label_distance_cm": ints, "labels_csv": Value("string"),
        "room_dim_m": List(Value("float64")), "rt60_s": Value("float64"), "snr_db": Value("float64"),
        "output_gain": Value("float64"), "array_center_m": List(Value("float64")),
        "spec": Value("string"), "sha256": List(Value("string")),
    })


AUDIO_COLUMNS: tuple[str, ...] = ("mixture", "noise", "direct", "reverb")


@dataclass(frozen=True)
class HubCell:
    """One audio cell of a published folder: ``column`` (``direct``/``reverb``: item ``item``)
    of row ``row`` of ``shard``; :class:`DatasetReader` reads it like a file."""

    shard: Path
    row: int
    column: str
    item: int | None = None

    def __str__(self) -> str:  # how the cell is named in messages
        where = self.column if self.item is None else f"{self.column}[{self.item}]"
        return f"{self.shard}: row {self.row}: {where}"


# ----------------------------------------------------------------------------- materialise


@dataclass
class HubSummary:
    """What :func:`materialise_hub` (and :func:`upload_hub`) did."""

    out: Path
    repo_id: str
    scenes: dict[str, int] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)
    bytes: int = 0
    reused: bool = False
    uploaded: bool = False

    def format(self) -> str:
        what = "reused (already materialised from this dataset)" if self.reused else "materialised"
        lines = [f"{self.out}: {what} for {self.repo_id}: {sum(self.scenes.values())} scenes in "
                 f"{len(self.shards)} parquet shard(s), {self.bytes / 2**20:.1f} MiB"]
        lines += [f"  {split}: {n} scenes" for split, n in self.scenes.items()]
        if self.uploaded:
            lines.append(f"  uploaded to https://huggingface.co/datasets/{self.repo_id}")
        return "\n".join(lines)


def check_repo_id(repo_id: str) -> str:
    if not isinstance(repo_id, str) or not _REPO_ID_RE.fullmatch(repo_id) or ".." in repo_id:
        raise ValueError(f"--repo-id {repo_id!r}: expected ORG/NAME (letters, digits, '-', '_', '.')")
    return repo_id


def _source_digest(src: Path) -> str:
    """SHA-256 of ``dataset.json`` and ``index.jsonl``: names the dataset's exact content."""
    return sha256_bytes((src / DATASET_JSON).read_bytes() + b"\0" + (src / INDEX_JSONL).read_bytes())


def _scene_row(src: Path, rec: SceneRecord, info: DatasetInfo) -> dict[str, Any]:
    """The row of one scene; every file is confined, read once and checked against its hash."""
    index = src / INDEX_JSONL
    blobs: dict[str, bytes] = {}
    for name, entry in rec.files.all():
        path = confine(src, entry.path, source=index, field=f"{rec.id}.files.{name}.path")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DatasetFormatError(path, f"missing (listed in {index} for scene {rec.id})") from None
        if sha256_bytes(data) != entry.sha256:
            raise DatasetFormatError(path, f"sha256 differs from the index's {entry.sha256}: the file "
                                     "changed since it was written (run `asabench verify`)", field="sha256")
        blobs[name] = data

    labels_path = src / rec.files.labels.path
    rows = read_label_csv(labels_path)
    spec_text = blobs["spec"].decode("utf-8")
    spec = json.loads(spec_text)
    prefix = f"{rec.split}/{rec.id}/"
    return {
        "id": rec.id, "split": rec.split, "index": rec.index, "num_sources": rec.num_sources,
        "classes": list(rec.classes), "class_names": [DCASE_CLASSES[c] for c in rec.classes],
        "mixture": {"bytes": blobs["mixture"], "path": rec.files.mixture.path[len(prefix):]},
        "noise": {"bytes": blobs["noise"], "path": rec.files.noise.path[len(prefix):]},
        "direct": [{"bytes": blobs[f"direct[{k}]"], "path": e.path[len(prefix):]}
                   for k, e in enumerate(rec.files.direct)],
        "reverb": [{"bytes": blobs[f"reverb[{k}]"], "path": e.path[len(prefix):]}
                   for k, e in enumerate(rec.files.reverb)],
        "label_frame": rows[:, 0].tolist(), "label_class": rows[:, 1].tolist(),
        "label_track": rows[:, 2].tolist(), "label_azimuth": rows[:, 3].tolist(),
        "label_elevation": rows[:, 4].tolist(), "label_distance_cm": rows[:, 5].tolist(),
        "labels_csv": blobs["labels"].decode("utf-8"),
        "room_dim_m": [float(v) for v in spec.get("room_dim", [])],
        "rt60_s": float(spec["rt60_s"]) if "rt60_s" in spec else None,
        "snr_db": float(spec["noise"]["snr_db"]) if isinstance(spec.get("noise"), dict) and "snr_db" in spec["noise"] else None,
        "output_gain": float(spec["output_gain"]) if spec.get("output_gain") is not None else None,
        "array_center_m": [float(v) for v in spec.get("array", {}).get("center", [])],
        "spec": spec_text,
        "sha256": [e.sha256 for _, e in rec.files.all()],
    }


def _row_bytes(row: dict[str, Any]) -> int:
    n = len(row["mixture"]["bytes"]) + len(row["noise"]["bytes"]) + len(row["spec"]) + len(row["labels_csv"])
    return n + sum(len(c["bytes"]) for c in row["direct"] + row["reverb"])


def _write_shard(path: Path, rows: list[dict[str, Any]], schema) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=schema)
    tmp = path.with_name(path.name + ".part")
    # One row group per scene: a reader fetches one scene's column without the shard's others.
    pq.write_table(table, tmp, row_group_size=1, compression="zstd", write_statistics=False)
    os.replace(tmp, path)


def materialise_hub(src: Pathlike, out: Pathlike, *, repo_id: str,
                    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES, licence: str | None = None) -> HubSummary:
    """Write the Hub repository folder of dataset ``src`` into ``out`` (see the module docstring).

    Parameters
    ----------
    src : asabench dataset folder.
    out : the repository folder: created; or a folder this function already made from the
        same dataset content (then reused as it is, so an interrupted upload resumes on it).
    repo_id : ``ORG/NAME``, named in the card.
    max_shard_bytes : bound of each parquet shard's audio and text (a scene is never split;
        a shard holds at least one scene).
    licence : SPDX-style licence of the card's YAML header (default: ``other`` when a corpus
        bank was used, else the asabench licence, MIT, for the built-in procedural banks).

    Raises
    ------
    DatasetFormatError
        A bad source dataset (named file and field), a file changed since it was indexed.
    FileExistsError
        ``out`` exists and is not a materialisation of this dataset.
    """
    src, out = Path(src), Path(out)
    check_repo_id(repo_id)
    if max_shard_bytes <= 0:
        raise ValueError(f"max_shard_bytes must be > 0, got {max_shard_bytes}")
    refuse_output_over_inputs([out], [src], what="--out")
    info = read_dataset_info(src)
    records = read_index(src)
    from asabench.simulate.secret_seed import refuse_hidden_export

    refuse_hidden_export(info.extra, {r.split for r in records}, src, "publishing")
    digest = _source_digest(src)
    if out.exists():
        previous = _read_record(out) if (out / HUB_RECORD).is_file() else None
        if previous is not None and previous.get("source_sha256") == digest and previous.get("repo_id") == repo_id:
            return _summary_from_record(out, previous, reused=True)
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        else:
            raise FileExistsError(f"{out}: exists and is not this dataset's materialised folder "
                                  "(choose an empty or new --out)")

    schema = _features(info.fs).arrow_schema
    tmp = out.with_name(f".{out.name}.materialising")
    if tmp.exists():
        shutil.rmtree(tmp)  # leftovers of a killed run: never reused
    (tmp / "data").mkdir(parents=True)
    order = list(info.split_sizes()) or []
    splits = sorted({r.split for r in records}, key=lambda s: (order.index(s) if s in order else len(order), s))
    shards: dict[str, list[dict[str, Any]]] = {}
    summary = HubSummary(out=out, repo_id=repo_id)
    try:
        for split in splits:
            parts: list[tuple[Path, int]] = []
            rows: list[dict[str, Any]] = []
            size = 0
            for rec in (r for r in records if r.split == split):
                row = _scene_row(src, rec, info)
                n = _row_bytes(row)
                if rows and size + n > max_shard_bytes:
                    parts.append((tmp / "data" / f"{split}-{len(parts):05d}.parquet", len(rows)))
                    _write_shard(parts[-1][0], rows, schema)
                    rows, size = [], 0
                rows.append(row)
                size += n
            if rows:
                parts.append((tmp / "data" / f"{split}-{len(parts):05d}.parquet", len(rows)))
                _write_shard(parts[-1][0], rows, schema)
            shards[split] = []
            for k, (path, count) in enumerate(parts):
                final = path.with_name(f"{split}-{k:05d}-of-{len(parts):05d}.parquet")
                os.replace(path, final)
                shards[split].append({"path": f"data/{final.name}", "rows": count,
                                      "bytes": final.stat().st_size, "sha256": sha256_file(final)})
            summary.scenes[split] = sum(c for _, c in parts)
        record = {
            "format": "asabench-hub", "format_version": HUB_FORMAT_VERSION, "repo_id": repo_id,
            "asabench_version": _asabench_version(), "audio_format": info.audio_format,
            "source_sha256": digest, "dataset": info.to_dict(), "shards": shards,
        }
        atomic_write_text(tmp / HUB_RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")
        atomic_write_text(tmp / "README.md", dataset_card(record, licence=licence))
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return _summary_from_record(out, record, reused=False)


def _summary_from_record(out: Path, record: dict[str, Any], *, reused: bool) -> HubSummary:
    summary = HubSummary(out=out, repo_id=record["repo_id"], reused=reused)
    for split, items in record["shards"].items():
        summary.scenes[split] = sum(s["rows"] for s in items)
        summary.shards += [s["path"] for s in items]
        summary.bytes += sum(s["bytes"] for s in items)
    return summary


def _asabench_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("asabench")
    except PackageNotFoundError:
        return "unknown"


# ----------------------------------------------------------------------------- card


def _licences(dataset: dict[str, Any]) -> list[str]:
    banks = dataset.get("banks", {})
    out = []
    for role in ("sources", "noise"):
        bank = banks.get(role, {}) if isinstance(banks, dict) else {}
        if bank.get("kind") == "procedural" or dataset.get(role) == "builtin":
            out.append(f"{role}: asabench's built-in procedural bank (generated from seed "
                       f"{bank.get('seed', '?')}; MIT, no third-party audio)")
        else:
            layout = bank.get("layout", "?")
            out.append(f"{role}: {CORPUS_LICENCES.get(layout, f'corpus layout {layout!r}: its own licence')}")
    return out


def dataset_card(record: dict[str, Any], *, licence: str | None = None) -> str:
    """The ``README.md`` of a materialised folder: YAML header, then provenance and usage."""
    import yaml

    ds = record["dataset"]
    licences = _licences(ds)
    if licence is None:
        licence = "mit" if all("built-in" in text for text in licences) else "other"
    features = _features(int(ds["fs"]))
    header = {
        "license": licence,
        "pretty_name": f"{ds['name']} {ds['version']} (asabench)",
        "task_categories": ["audio-classification", "audio-to-audio"],
        "tags": ["spatial-audio", "sound-event-localization-and-detection", "source-separation",
                 "asabench", "multichannel"],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": split, "path": f"data/{split}-*.parquet"}
                                    for split in record["shards"]]}],
        "dataset_info": {
            "features": features._to_yaml_list(),
            "splits": [{"name": split, "num_examples": sum(s["rows"] for s in items),
                        "num_bytes": sum(s["bytes"] for s in items)}
                       for split, items in record["shards"].items()],
        },
    }
    manifest = ds.get("manifest", {})
    shards = "\n".join(f"| `{s['path']}` | {s['rows']} | {s['bytes']} | `{s['sha256']}` |"
                       for items in record["shards"].values() for s in items)
    body = f"""# {ds['name']} {ds['version']}

Simulated spatial auditory scenes (4-channel tetrahedral array, {ds['fs']} Hz, {ds['duration_s']} s
per scene) made by [asabench](https://pypi.org/project/asabench/) from the manifest below.
Each row is one scene: the mixture, the direct-path and reverberant image of every source and
the diffuse noise as audio, the DCASE labels (100 ms frames, azimuth/elevation in degrees,
distance in cm) and scene metadata as columns, and the scene's full `spec.json`.

## Audio columns: decode the bytes yourself

`mixture`, `noise`, `direct` and `reverb` hold the bytes of the dataset's files
({record['audio_format']}: {_FORMAT_TEXT[record['audio_format']]}). They are typed
`Audio(decode=False)`: `datasets`' Audio decoding has down-mixed multichannel audio to mono in
some versions and needs `torchcodec` in current ones, so the four channels are decoded with
soundfile:

```python
import io, soundfile as sf
from datasets import load_dataset

ds = load_dataset("{record['repo_id']}", split="{next(iter(record['shards']), 'test')}")
audio, fs = sf.read(io.BytesIO(ds[0]["mixture"]["bytes"]), dtype="float32", always_2d=True)
print(audio.T.shape)  # (4, samples)
```

or, with the tensors of a local asabench dataset (`SceneDataset`):

```python
from asabench.simulate import load_hub
scenes = load_hub("{record['repo_id']}")
```

## Provenance

* asabench version: {record['asabench_version']}
* manifest: `{ds['name']}` version `{ds['version']}`, SHA-256 `{ds['manifest_sha256']}`
* seed: {manifest.get('seed', '?')}
* source content (dataset.json + index.jsonl) SHA-256: `{record['source_sha256']}`
* audio format: {record['audio_format']}
* every row's `sha256` column lists the SHA-256 of each of its files (mixture, noise, labels,
  spec, direct..., reverb...), equal to the source dataset's `index.jsonl`
* `asabench-hub.json` holds the full `dataset.json` (manifest included)

| shard | scenes | bytes | SHA-256 |
| --- | --- | --- | --- |
{shards}

## Licences

The scenes are released under `{licence}`; the audio they are made of:

{chr(10).join(f'* {text}' for text in licences)}

## Citation

```bibtex
{chr(10).join(CITATIONS)}
```
"""
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n" + body


_FORMAT_TEXT = {
    "float32": "32-bit float WAV",
    "pcm16": "16-bit PCM WAV, one common scale per scene",
    "flac": "FLAC of the 16-bit samples, one common scale per scene",
}


# ----------------------------------------------------------------------------- reading


def is_hub_folder(path: Pathlike) -> bool:
    return (Path(path) / HUB_RECORD).is_file()


def _read_record(root: Path) -> dict[str, Any]:
    path = root / HUB_RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise DatasetFormatError(path, f"not valid JSON: {err}") from None
    if not isinstance(record, dict) or record.get("format") != "asabench-hub":
        raise DatasetFormatError(path, "not an asabench hub record", field="format")
    if record.get("format_version") != HUB_FORMAT_VERSION:
        raise DatasetFormatError(path, f"unsupported version {record.get('format_version')!r}",
                                 field="format_version")
    shards = record.get("shards")
    if not isinstance(shards, dict):
        raise DatasetFormatError(path, "expected an object of split -> shards", field="shards")
    for split, items in shards.items():
        if not isinstance(items, list):
            raise DatasetFormatError(path, "expected a list", field=f"shards.{split}")
        for k, item in enumerate(items):
            rel = item.get("path") if isinstance(item, dict) else None
            if not isinstance(rel, str) or not _SHARD_RE.fullmatch(rel) or not _is_count(item.get("rows")):
                raise DatasetFormatError(path, f"expected {{path: data/<split>-k-of-n.parquet, rows}}, got {item!r}",
                                         field=f"shards.{split}[{k}]")
    return record


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


class HubTable:
    """The scenes of a materialised (or downloaded) repository folder.

    Parameters
    ----------
    root : the folder holding ``asabench-hub.json``.

    Attributes
    ----------
    info : the source ``dataset.json`` (a :class:`DatasetInfo`). record : ``asabench-hub.json``.
    """

    def __init__(self, root: Pathlike) -> None:
        self.root = Path(root)
        self.record = _read_record(self.root)
        self.info = DatasetInfo.from_dict(self.record.get("dataset"), path=self.root / HUB_RECORD)

    def shards(self, splits: Iterable[str] | None = None) -> list[tuple[str, Path]]:
        wanted = None if splits is None else set(splits)
        out = []
        for split, items in self.record["shards"].items():
            if wanted is None or split in wanted:
                out += [(split, confine(self.root, s["path"], source=self.root / HUB_RECORD,
                                        field=f"shards.{split}.path")) for s in items]
        return out

    def rows(self, splits: Iterable[str] | None = None) -> Iterable[tuple[Path, int, dict[str, Any]]]:
        """``(shard, row, {id, split, index, num_sources, classes})`` of every scene, in order."""
        import pyarrow.parquet as pq

        for _, shard in self.shards(splits):
            table = pq.read_table(shard, columns=["id", "split", "index", "num_sources", "classes"])
            for r, row in enumerate(table.to_pylist()):
                yield shard, r, row

    def labels(self, shard: Path, row: int) -> np.ndarray:
        """``[n, 6]`` int64 label rows of one scene (frame, class, track, azimuth, elevation, cm)."""
        cols = ("label_frame", "label_class", "label_track", "label_azimuth", "label_elevation",
                "label_distance_cm")
        got = _row_group(shard, row, cols)
        return np.stack([np.asarray(got[c], dtype=np.int64) for c in cols], axis=1).reshape(-1, 6)

    def cell_bytes(self, cell: HubCell) -> bytes:
        value = _row_group(cell.shard, cell.row, (cell.column,))[cell.column]
        if cell.item is not None:
            if not isinstance(value, list) or cell.item >= len(value):
                raise DatasetFormatError(cell.shard, f"row {cell.row}: no item {cell.item}", field=cell.column)
            value = value[cell.item]
        if not isinstance(value, dict) or not isinstance(value.get("bytes"), bytes):
            raise DatasetFormatError(cell.shard, f"row {cell.row}: no audio bytes", field=cell.column)
        return value["bytes"]


def _row_group(shard: Path, row: int, columns: tuple[str, ...]) -> dict[str, Any]:
    """One scene's columns: the row group holding ``row`` (one scene each, as written)."""
    pf = _parquet(str(shard), shard.stat().st_mtime_ns)
    meta = pf.metadata
    start = 0
    for g in range(meta.num_row_groups):
        n = meta.row_group(g).num_rows
        if row < start + n:
            table = pf.read_row_group(g, columns=list(columns))
            return {c: table.column(c)[row - start].as_py() for c in columns}
        start += n
    raise DatasetFormatError(shard, f"has {start} rows, row {row} asked for")


@lru_cache(maxsize=8)
def _parquet(path: str, mtime_ns: int):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (OSError, ValueError) as err:
        raise DatasetFormatError(path, f"not a readable parquet file: {err}") from None


def load_hub(repo_or_folder: Pathlike, split: str | Iterable[str] | None = None, *,
             revision: str | None = None, cache_dir: Pathlike | None = None, **kwargs: Any):
    """A :class:`~asabench.simulate.dataset.loader.SceneDataset` of a published dataset.

    ``repo_or_folder`` is a materialised (or downloaded) folder, or a Hub id ``ORG/NAME``
    that is downloaded first (``huggingface_hub.snapshot_download``, ``revision``,
    ``cache_dir``). The items are the tensors of the local dataset (same audio, labels,
    ids); ``kwargs`` go to ``SceneDataset`` (``max_sources``, ``targets``, ...).
    """
    from asabench.simulate.dataset.loader import SceneDataset

    path = Path(repo_or_folder)
    if not path.exists() and _REPO_ID_RE.fullmatch(str(repo_or_folder)):
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(str(repo_or_folder), repo_type="dataset", revision=revision,
                                      cache_dir=None if cache_dir is None else str(cache_dir)))
    return SceneDataset(path, split, layout="hub", **kwargs)


# ----------------------------------------------------------------------------- upload


class HubClient(Protocol):
    """What :func:`upload_hub` calls (``huggingface_hub.HfApi`` has these)."""

    def create_repo(self, repo_id: str, **kwargs: Any) -> Any: ...
    def create_branch(self, repo_id: str, **kwargs: Any) -> Any: ...
    def upload_large_folder(self, repo_id: str, folder_path: str, **kwargs: Any) -> Any: ...


def _default_client(token: str | None) -> HubClient:
    from huggingface_hub import HfApi, get_token

    token = token or get_token()
    if not token:
        raise HubTokenError("no Hugging Face token: run `hf auth login` or set HF_TOKEN "
                            "(the folder is materialised; rerun the same command to upload it)")
    return HfApi(token=token)


def upload_hub(folder: Pathlike, repo_id: str, *, revision: str | None = None, private: bool = False,
               client: HubClient | None = None, token: str | None = None) -> None:
    """Upload a materialised folder to the dataset repository ``repo_id``.

    Creates the repository (``private``) and the branch ``revision`` when missing, then sends
    the folder with ``upload_large_folder``: resumable (its progress is kept in
    ``folder/.cache/huggingface``, so a rerun after a failure sends only what is missing).
    ``client`` replaces ``huggingface_hub.HfApi`` (tests).

    Raises
    ------
    HubTokenError
        No token (and no ``client``): nothing sent.
    HubError
        The Hub or the network failed; the folder is left intact for a resumed upload.
    """
    folder = Path(folder)
    check_repo_id(repo_id)
    _read_record(folder)  # only a materialised folder is uploaded
    api = client if client is not None else _default_client(token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision is not None:
            api.create_branch(repo_id, repo_type="dataset", branch=revision, exist_ok=True)
        api.upload_large_folder(repo_id=repo_id, folder_path=str(folder), repo_type="dataset",
                                revision=revision, private=private,
                                ignore_patterns=[".cache/**", "*.part"])
    except (HubTokenError, KeyboardInterrupt):
        raise
    except Exception as err:  # network and HTTP errors of huggingface_hub / requests / httpx
        text = " ".join(str(err).split())[:300] or type(err).__name__
        raise HubError(f"upload of {folder} to {repo_id} failed ({type(err).__name__}: {text}); "
                       "the folder is intact: rerun the same command to resume") from None


def publish_hub(src: Pathlike, out: Pathlike, repo_id: str, *, revision: str | None = None,
                private: bool = False, dry_run: bool = False, max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
                licence: str | None = None, client: HubClient | None = None,
                token: str | None = None) -> HubSummary:
    """Materialise ``src`` into ``out`` and (unless ``dry_run``) upload it: ``asabench publish``."""
    summary = materialise_hub(src, out, repo_id=repo_id, max_shard_bytes=max_shard_bytes, licence=licence)
    if not dry_run:
        upload_hub(out, repo_id, revision=revision, private=private, client=client, token=token)
        summary.uploaded = True
    return summary
