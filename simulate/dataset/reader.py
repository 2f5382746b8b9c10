"""The one reader of a scene dataset on disk, shared by the loader and the scorer.

:class:`DatasetReader` knows both layouts:

* ``"asabench"``: ``dataset.json`` + ``index.jsonl`` + per-scene files
  (``docs/dataset-format.md``). Every file path listed in ``index.jsonl`` is confined to
  the dataset folder (:func:`asabench.simulate.io.files.confine`) before it is opened: an
  index naming ``../../secret.wav`` or ``/etc/passwd`` is an invalid dataset, and nothing
  outside the folder is read.
* ``"asa2"``: the published ASA2 folders (``<split>/mixed``, ``anechoic``, ``reverb``,
  ``info``), with the scene ids and classes of ``asabench-export.json`` when present.
* ``"hub"``: a Hugging Face repository folder made by :mod:`asabench.simulate.export.hub`
  (``asabench-hub.json`` + parquet shards); each audio "file" is a
  :class:`~asabench.simulate.export.hub.HubCell` whose bytes are decoded here like a file's.

Audio goes through :func:`asabench.simulate.io.wav.read_wav` (checked against the dataset's
channel count, sample rate and the scene's length, NaN/inf refused) and labels through
:func:`asabench.simulate.dataset.labels_csv.read_label_csv`; every problem is a
:class:`~asabench.simulate.dataset.format.DatasetFormatError` naming the file (and field).
:class:`~asabench.simulate.dataset.loader.SceneDataset` turns scenes into tensors and the
scorer (``asabench.benchmark.scoring``) scores against them; neither opens a dataset file
itself. A reader holds no per-scene state, so it is cheap to send to worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

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
from asabench.simulate.export.asa2 import (
    Asa2FormatError,
    asa2_rows_to_dcase,
    asa2_splits,
    list_asa2_scenes,
    read_asa2_info,
    read_export_record,
)
from asabench.simulate.export.hub import HUB_RECORD, HubCell, HubTable
from asabench.simulate.io.files import PathConfinementError, confine
from asabench.simulate.io.wav import Dtype, WavError, WavInfo, read_wav, wav_info

Layout = Literal["auto", "asabench", "asa2", "hub"]
#: Label frame length of both layouts, seconds.
LABEL_HOP_S: float = 0.1
#: Channel count assumed for ASA2 data without an export record (the tetrahedral array).
ASA2_CHANNELS: int = 4

#: DatasetFormatError field for each kind of WAV problem (:attr:`WavError.fields`).
_WAV_FIELDS = {"channels": "num_channels", "fs": "fs", "frames": "length", "samples": "samples",
               "file": None}


def detect_layout(path: Pathlike) -> str:
    """``"asabench"`` when ``path`` holds ``dataset.json``, ``"asa2"`` when it holds
    ``<split>/mixed/`` (or is such a split folder); otherwise a :class:`DatasetFormatError`."""
    path = Path(path)
    if (path / DATASET_JSON).is_file():
        return "asabench"
    if (path / HUB_RECORD).is_file():
        return "hub"
    if asa2_splits(path) or (path / "mixed").is_dir():
        return "asa2"
    raise DatasetFormatError(path, "neither an asabench dataset (no dataset.json) nor the ASA2 "
                             "layout (no <split>/mixed/ folder)")


@dataclass(frozen=True)
class SceneItem:
    """One scene, whichever the layout: where its files are and what is known without them.

    For the asabench layout the file names are the relative paths of ``index.jsonl``
    (opened only through :meth:`DatasetReader.file`, which confines them) and ``record`` is
    the index record; for ASA2 they are the paths found by listing the folders.
    """

    id: str
    split: str | None
    mixture: str | Path
    direct: tuple[str | Path, ...]
    reverb: tuple[str | Path, ...]
    labels: str | Path
    classes: tuple[int, ...] | None  # DCASE id per source when known without the labels
    layout: str
    record: SceneRecord | None = None

    @property
    def num_sources(self) -> int:
        return len(self.direct)

    @classmethod
    def from_record(cls, record: SceneRecord) -> "SceneItem":
        f = record.files
        return cls(record.id, record.split, f.mixture.path, tuple(e.path for e in f.direct),
                   tuple(e.path for e in f.reverb), f.labels.path, record.classes, "asabench", record)

    def fields(self) -> dict[str, str | Path]:
        """Every file of the scene by its ``index.jsonl`` field name (``files.direct[1].path``)."""
        out: dict[str, str | Path] = {"files.mixture.path": self.mixture, "files.labels.path": self.labels}
        out.update({f"files.direct[{k}].path": p for k, p in enumerate(self.direct)})
        out.update({f"files.reverb[{k}].path": p for k, p in enumerate(self.reverb)})
        return out


class DatasetReader:
    """Read the scenes of a dataset folder (see the module docstring).

    Parameters
    ----------
    path : an asabench dataset, an ASA2 root holding ``dev/``/``test/``, or one ASA2 split.
    layout : ``"auto"`` (detect), ``"asabench"`` or ``"asa2"``.

    Attributes
    ----------
    root : the dataset folder (for an ASA2 split folder: its parent). layout : the layout.
    info : ``dataset.json`` (asabench) or None. fs, num_channels : what every WAV must have
    (None: not known, any). default_frames : label frames of a nominal-length scene, or None.
    """

    def __init__(self, path: Pathlike, layout: Layout = "auto") -> None:
        path = Path(path)
        self.layout = detect_layout(path) if layout == "auto" else layout
        if self.layout not in ("asabench", "asa2", "hub"):
            raise ValueError(f"layout must be 'auto', 'asabench', 'asa2' or 'hub', got {layout!r}")
        self.path = path
        self.info: DatasetInfo | None = None
        self.export_record: dict | None = None
        self.hub: HubTable | None = None
        if self.layout in ("asabench", "hub"):
            self.root = path
            if self.layout == "hub":
                self.hub = HubTable(path)
                self.info = self.hub.info
            else:
                self.info = read_dataset_info(path)
            self.fs: int | None = self.info.fs
            self.num_channels: int | None = self.info.num_channels
            self.label_hop_s = self.info.label_hop_s
            self.default_frames: int | None = int(round(self.info.duration_s / self.info.label_hop_s))
            self.asa2_folders: list[str] = []
        else:
            root, folders = path, asa2_splits(path)
            if not folders and (path / "mixed").is_dir():
                root, folders = path.parent, [path.name]
            self.root = root
            self.asa2_folders = folders
            record = read_export_record(root)
            self.export_record = record
            self.fs = int(record["fs"]) if record else None
            self.num_channels = None
            self.label_hop_s = float(record.get("label_hop_s", LABEL_HOP_S)) if record else LABEL_HOP_S
            self.default_frames = (int(round(record["duration_s"] / record["label_hop_s"]))
                                   if record and "duration_s" in record else None)

    def __repr__(self) -> str:
        return f"DatasetReader({str(self.root)!r}, layout={self.layout!r})"

    # ------------------------------------------------------------------ scenes

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_JSONL

    def records(self) -> list[SceneRecord]:
        """Every record of ``index.jsonl`` (asabench layout), validated, in file order."""
        if self.layout != "asabench":
            raise DatasetFormatError(self.root, "the ASA2 layout has no index.jsonl records")
        return read_index(self.root)

    def items(self, splits: set[str] | None = None) -> list[SceneItem]:
        """The scenes of ``splits`` (None: all), in dataset order.

        For the ASA2 layout a split is a folder name (``"dev"``) or, for our exports, one of
        our split names (``"train"``), through the export record's split map.
        """
        if self.layout == "asabench":
            return [SceneItem.from_record(r) for r in self.records()
                    if splits is None or r.split in splits]
        if self.layout == "hub":
            assert self.hub is not None
            return [SceneItem(row["id"], row["split"], HubCell(shard, r, "mixture"),
                              tuple(HubCell(shard, r, "direct", k) for k in range(row["num_sources"])),
                              tuple(HubCell(shard, r, "reverb", k) for k in range(row["num_sources"])),
                              HubCell(shard, r, "labels_csv"), tuple(row["classes"]), "hub")
                    for shard, r, row in self.hub.rows(splits)]
        return self._asa2_items(splits)

    def _asa2_items(self, wanted: set[str] | None) -> list[SceneItem]:
        record = self.export_record
        meta = record.get("scenes", {}) if record else {}
        split_map = record.get("split_map", {}) if record else {}
        items = []
        for folder in self.asa2_folders:
            ours = {s for s, f in split_map.items() if f == folder}
            if wanted is not None and folder not in wanted and not (ours & wanted):
                continue
            for scene in list_asa2_scenes(self.root, folder):
                key = f"{folder}/{scene.idx}"
                entry = meta.get(key)
                sid = entry["id"] if entry else key
                if wanted is not None and folder not in wanted:
                    # Selected through one of our split names: keep that split's scenes only.
                    if entry is None or sid.rsplit("-", 1)[0] not in wanted:
                        continue
                classes = tuple(int(c) for c in entry["classes"]) if entry else None
                if classes is not None and len(classes) != scene.num_sources:
                    raise Asa2FormatError(self.root / "asabench-export.json",
                                          f"{key}: {len(classes)} classes for {scene.num_sources} sources",
                                          field="classes")
                items.append(SceneItem(sid, folder, scene.mixture, scene.anechoic, scene.reverb,
                                       scene.info, classes, "asa2"))
        return items

    # ------------------------------------------------------------------ files

    def file(self, name: str | Path, field: str = "path", *, scene: str | None = None) -> Path:
        """The file ``name`` of a scene: an ``index.jsonl`` path confined to the root (asabench),
        or the listed path itself (ASA2).

        Raises
        ------
        DatasetFormatError
            Naming ``index.jsonl``, ``field`` (and ``scene``) when the path is absolute or
            leaves the dataset folder (symbolic links resolved); nothing is opened.
        """
        if isinstance(name, Path):
            return name
        if isinstance(name, HubCell):
            return name.shard
        try:
            return confine(self.root, name, source=self.index_path, field=field)
        except PathConfinementError as err:
            text = str(err)
            reason = text[text.find(f"path {name!r}"):] if f"path {name!r}" in text else text
            where = f"scene {scene}: " if scene else ""
            raise DatasetFormatError(self.index_path, where + reason, field=field) from None

    def _wav_error(self, err: WavError) -> DatasetFormatError:
        cell = err.name[len(str(err.path)) + 2:] + ": " if err.name.startswith(f"{err.path}: ") else ""
        return DatasetFormatError(err.path, cell + err.reason, field=_WAV_FIELDS.get(err.field))

    def audio_info(self, name: str | Path, field: str = "path", *, scene: str | None = None) -> WavInfo:
        """Header of a scene's WAV, checked against the dataset's channel count and rate."""
        path = self.file(name, field, scene=scene)
        try:
            info = wav_info(path)
        except WavError as err:
            raise self._wav_error(err) from None
        channels = self.num_channels if self.num_channels is not None else (
            ASA2_CHANNELS if self.layout == "asa2" else None)
        if channels is not None and info.channels != channels:
            raise DatasetFormatError(path, f"{info.channels} channels, expected {channels}", field="num_channels")
        if self.fs is not None and info.fs != self.fs:
            raise DatasetFormatError(path, f"sample rate {info.fs} Hz, expected {self.fs} Hz", field="fs")
        return info

    def read(self, name: str | Path, field: str = "path", *, frames: int | None = None,
             dtype: Dtype = "float32", scene: str | None = None) -> tuple[np.ndarray, int]:
        """``([C, N] samples, fs)`` of a scene's WAV, read once and checked.

        Checked: the path (confined, see :meth:`file`), readable, the dataset's channel count
        (4 for ASA2 data of unknown origin) and sample rate, ``frames`` samples when given
        (the mixture's length for a source image), every sample finite. ``dtype`` as in
        :func:`~asabench.simulate.io.wav.read_wav`.
        """
        path = self.file(name, field, scene=scene)
        channels = self.num_channels if self.num_channels is not None else ASA2_CHANNELS
        try:
            if isinstance(name, HubCell):  # a published folder: the file's bytes in a parquet cell
                assert self.hub is not None
                return read_wav(path, channels=channels, fs=self.fs, frames=frames, dtype=dtype,
                                data=self.hub.cell_bytes(name), what=str(name))
            return read_wav(path, channels=channels, fs=self.fs, frames=frames, dtype=dtype)
        except WavError as err:
            raise self._wav_error(err) from None

    def read_audio(self, name: str | Path, field: str = "path", *, frames: int | None = None,
                   dtype: Dtype = "float32", scene: str | None = None) -> np.ndarray:
        """``[C, N]`` samples of a scene's WAV (:meth:`read` without the rate)."""
        return self.read(name, field, frames=frames, dtype=dtype, scene=scene)[0]

    def label_rows(self, item: SceneItem) -> tuple[np.ndarray, ...]:
        """A scene's label rows as ``(frame, class, track, azimuth, elevation, distance_m)``
        arrays (int64 but the float32 distance, which is NaN where the layout has none: ASA2)."""
        if item.layout in ("asabench", "hub"):
            rows = self.label_csv(item) if item.layout == "asabench" else self.hub.labels(item.labels.shard, item.labels.row)
            dist = rows[:, 5].astype(np.float32) / 100.0
        else:
            rows = asa2_rows_to_dcase(read_asa2_info(item.labels))
            dist = np.full(rows.shape[0], np.nan, dtype=np.float32)
        return rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4], dist

    def label_csv(self, item: SceneItem) -> np.ndarray:
        """The ``[n, 6]`` int64 rows of an asabench scene's ``labels.csv`` (distance in cm)."""
        if item.layout != "asabench":
            raise DatasetFormatError(Path(item.labels), "not an asabench labels.csv")
        return read_label_csv(self.file(item.labels, "files.labels.path", scene=item.id))

    def label_line(self, item: SceneItem, row: int) -> int:
        """1-based line of label row ``row`` (asabench CSVs have no header; ASA2 CSVs have one)."""
        return row + 1 if item.layout in ("asabench", "hub") else row + 2
