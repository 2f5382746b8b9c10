"""PyTorch access to scene datasets in the asabench layout or the published ASA2 layout.

:class:`SceneDataset` turns one scene into a dict of tensors with a fixed number of source
slots ``J = max_sources`` (zero padding, class -1 for empty slots) and converts the label
conventions of both layouts to ours, so that the same scene gives the same tensors from
either (audio up to the 16-bit quantisation of the ASA2 files):

======================  =====================  ==============================================
key                     shape / dtype          meaning
======================  =====================  ==============================================
``mixture``             [C, N] float32         microphone mixture, C = 4 for the tetrahedron
``direct``              [J, C, N] float32      direct-path image of each source (only
                                               with ``targets=True``, as ``reverb``)
``reverb``              [J, C, N] float32      reverberant part of each source
``class``               [J] int64              DCASE class of each slot, -1 when empty
``sed``                 [J, T, 13] float32     one-hot class activity per 100 ms frame
``doa``                 [J, T, 3] float32      unit vector (DCASE convention) where active, else 0
``distance``            [J, T] float32         metres where active and known; NaN where active
                                               but unknown (ASA2 files have no distance); 0
                                               where inactive
``num_sources``         [] int64               J' <= J sources present
``id``                  str                    scene id (``test-000012``, or ``dev/12``)
======================  =====================  ==============================================

With ``return_paths=True`` the dict also holds ``paths``: the files read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from asabench.simulate.export.asa2 import (
    Asa2FormatError,
    Asa2Scene,
    asa2_rows_to_dcase,
    asa2_splits,
    list_asa2_scenes,
    read_asa2_info,
    read_export_record,
)
from asabench.simulate.dataset.format import (
    DATASET_JSON,
    NUM_CLASSES,
    DatasetFormatError,
    Pathlike,
    SceneRecord,
    read_dataset_info,
    read_index,
)
from asabench.simulate.geometry import dcase_to_cartesian
from asabench.simulate.dataset.labels_csv import read_label_csv

Layout = Literal["auto", "asabench", "asa2"]
#: Label frame length of both layouts, seconds.
LABEL_HOP_S: float = 0.1


@dataclass(frozen=True)
class _Item:
    """Everything needed to load one scene, whichever the layout."""

    id: str
    mixture: Path
    direct: tuple[Path, ...]
    reverb: tuple[Path, ...]
    labels: Path
    classes: tuple[int, ...] | None  # DCASE ids per source when known without the labels
    layout: str


def detect_layout(path: Pathlike) -> str:
    """``"asabench"`` when ``path`` holds ``dataset.json``, ``"asa2"`` when it holds
    ``<split>/mixed/`` (or is such a split folder); otherwise a :class:`DatasetFormatError`."""
    path = Path(path)
    if (path / DATASET_JSON).is_file():
        return "asabench"
    if asa2_splits(path) or (path / "mixed").is_dir():
        return "asa2"
    raise DatasetFormatError(path, "neither an asabench dataset (no dataset.json) nor the ASA2 "
                             "layout (no <split>/mixed/ folder)")


class SceneDataset(Dataset):
    """Scenes of an asabench or ASA2-layout dataset as dicts of tensors (see module docstring).

    Parameters
    ----------
    path : dataset folder: an asabench dataset, an ASA2 root holding ``dev/``/``test/``, or
        one ASA2 split folder.
    split : split(s) to read; ``None`` reads all. For the ASA2 layout a folder name
        (``"dev"``, ``"test"``) or, for our exports, one of our split names (``"train"``).
    max_sources : number of source slots J; a scene with more sources is an error.
    layout : ``"auto"`` (detect), ``"asabench"`` or ``"asa2"``.
    n_frames : label frames T; default from the dataset (duration / 100 ms).
    return_paths : add the files read under ``paths``.
    targets : read the per-source ``direct`` and ``reverb`` audio; ``False`` leaves both keys
        out (SELD-only training and inference read one WAV per scene instead of 2J + 1).
    """

    def __init__(self, path: Pathlike, split: str | Sequence[str] | None = None, *,
                 max_sources: int = 5, layout: Layout = "auto", n_frames: int | None = None,
                 return_paths: bool = False, targets: bool = True) -> None:
        self.path = Path(path)
        self.layout = detect_layout(self.path) if layout == "auto" else layout
        if self.layout not in ("asabench", "asa2"):
            raise ValueError(f"layout must be 'auto', 'asabench' or 'asa2', got {layout!r}")
        self.max_sources = int(max_sources)
        self.return_paths = return_paths
        self.targets = targets
        wanted = None if split is None else ({split} if isinstance(split, str) else set(split))
        if self.layout == "asabench":
            self._init_asabench(wanted)
        else:
            self._init_asa2(wanted)
        self.n_frames = int(n_frames) if n_frames is not None else self._default_frames
        if wanted is not None and not self._items:
            raise DatasetFormatError(self.path, f"no scene of split(s) {sorted(wanted)}", field="split")

    # ------------------------------------------------------------------ indexing

    def _init_asabench(self, wanted: set[str] | None) -> None:
        info = read_dataset_info(self.path)
        self.fs: int | None = info.fs
        self.num_channels: int | None = info.num_channels
        self._default_frames: int | None = int(round(info.duration_s / info.label_hop_s))
        records: list[SceneRecord] = read_index(self.path)
        self._items = [
            _Item(r.id, self.path / r.files.mixture.path,
                  tuple(self.path / f.path for f in r.files.direct),
                  tuple(self.path / f.path for f in r.files.reverb),
                  self.path / r.files.labels.path, r.classes, "asabench")
            for r in records if wanted is None or r.split in wanted]
        for item in self._items:
            self._check_slots(item.id, len(item.direct), self.path / "index.jsonl")

    def _init_asa2(self, wanted: set[str] | None) -> None:
        root = self.path
        folders = asa2_splits(root)
        if not folders and (root / "mixed").is_dir():
            root, folders = root.parent, [root.name]
        record = read_export_record(root)
        meta = record.get("scenes", {}) if record else {}
        split_map = record.get("split_map", {}) if record else {}
        self.fs = int(record["fs"]) if record else None
        self.num_channels = None
        self._default_frames = (int(round(record["duration_s"] / record["label_hop_s"]))
                                if record and "duration_s" in record else None)
        self._items = []
        for folder in folders:
            ours = {s for s, f in split_map.items() if f == folder}
            if wanted is not None and folder not in wanted and not (ours & wanted):
                continue
            for scene in list_asa2_scenes(root, folder):
                key = f"{folder}/{scene.idx}"
                entry = meta.get(key)
                sid = entry["id"] if entry else key
                if wanted is not None and folder not in wanted:
                    # Selected through one of our split names: keep that split's scenes only.
                    if entry is None or sid.rsplit("-", 1)[0] not in wanted:
                        continue
                self._check_slots(sid, scene.num_sources, scene.anechoic[0].parent
                                  if scene.anechoic else scene.mixture)
                classes = tuple(int(c) for c in entry["classes"]) if entry else None
                if classes is not None and len(classes) != scene.num_sources:
                    raise Asa2FormatError(root / "asabench-export.json",
                                          f"{key}: {len(classes)} classes for {scene.num_sources} sources",
                                          field="classes")
                self._items.append(_Item(sid, scene.mixture, scene.anechoic, scene.reverb,
                                         scene.info, classes, "asa2"))

    def _check_slots(self, sid: str, n: int, where: Path) -> None:
        if n > self.max_sources:
            raise DatasetFormatError(where, f"scene {sid} has {n} sources, more than "
                                     f"max_sources={self.max_sources}", field="num_sources")

    def __len__(self) -> int:
        return len(self._items)

    @property
    def ids(self) -> list[str]:
        """Scene ids in dataset order."""
        return [item.id for item in self._items]

    # ------------------------------------------------------------------ loading

    def _read(self, path: Path, n_samples: int | None) -> tuple[np.ndarray, int]:
        try:
            audio, fs = sf.read(str(path), dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as err:
            raise DatasetFormatError(path, f"unreadable audio: {err}") from None
        channels = self.num_channels if self.num_channels is not None else 4
        if audio.shape[1] != channels:
            raise DatasetFormatError(path, f"{audio.shape[1]} channels, expected {channels}",
                                     field="num_channels")
        if self.fs is not None and fs != self.fs:
            raise DatasetFormatError(path, f"sample rate {fs} Hz, expected {self.fs}", field="fs")
        if n_samples is not None and audio.shape[0] != n_samples:
            raise DatasetFormatError(path, f"{audio.shape[0]} samples, the mixture has {n_samples}",
                                     field="length")
        return audio.T, fs

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self._items[i]
        mixture, fs = self._read(item.mixture, None)
        n_ch, n_samples = mixture.shape
        n_src, slots = len(item.direct), self.max_sources
        if self.targets:
            direct = np.zeros((slots, n_ch, n_samples), dtype=np.float32)
            reverb = np.zeros((slots, n_ch, n_samples), dtype=np.float32)
            for k in range(n_src):
                direct[k] = self._read(item.direct[k], n_samples)[0]
                reverb[k] = self._read(item.reverb[k], n_samples)[0]

        n_frames = self.n_frames if self.n_frames is not None else int(round(n_samples / fs / LABEL_HOP_S))
        frame, cls, track, az, el, dist_m = self._labels(item)
        if frame.size:
            bad = np.flatnonzero((frame >= n_frames) | (track >= n_src))
            if bad.size:
                r = bad[0]
                fld = "frame" if frame[r] >= n_frames else "track"
                raise DatasetFormatError(item.labels, f"{fld} {int((frame if fld == 'frame' else track)[r])} "
                                         f"out of range (frames {n_frames}, sources {n_src})",
                                         line=self._line(item, r), field=fld if item.layout == "asabench"
                                         else ("time" if fld == "frame" else "src_idx"))
        classes = self._classes(item, n_src, cls, track)

        class_t = torch.full((slots,), -1, dtype=torch.long)
        class_t[:n_src] = torch.as_tensor(classes, dtype=torch.long)
        sed = np.zeros((slots, n_frames, NUM_CLASSES), dtype=np.float32)
        doa = np.zeros((slots, n_frames, 3), dtype=np.float32)
        distance = np.zeros((slots, n_frames), dtype=np.float32)
        sed[track, frame, cls] = 1.0
        doa[track, frame] = dcase_to_cartesian(az, el)
        distance[track, frame] = dist_m
        out: dict[str, Any] = {"mixture": torch.from_numpy(np.ascontiguousarray(mixture))}
        if self.targets:
            out["direct"] = torch.from_numpy(direct)
            out["reverb"] = torch.from_numpy(reverb)
        out.update({
            "class": class_t,
            "sed": torch.from_numpy(sed),
            "doa": torch.from_numpy(doa),
            "distance": torch.from_numpy(distance),
            "num_sources": torch.tensor(n_src, dtype=torch.long),
            "id": item.id,
        })
        if self.return_paths:
            out["paths"] = {"mixture": str(item.mixture), "direct": [str(p) for p in item.direct],
                            "reverb": [str(p) for p in item.reverb], "labels": str(item.labels)}
        return out

    @staticmethod
    def _line(item: _Item, row: int) -> int:
        # labels.csv has no header and the writer emits no blank lines; ASA2 CSVs have one.
        return row + 1 if item.layout == "asabench" else row + 2

    def _labels(self, item: _Item) -> tuple[np.ndarray, ...]:
        """Label rows as (frame, DCASE class, track, azimuth, elevation, distance_m) arrays."""
        if item.layout == "asabench":
            rows = read_label_csv(item.labels)
            dist = rows[:, 5].astype(np.float32) / 100.0
        else:
            rows = asa2_rows_to_dcase(read_asa2_info(item.labels))
            dist = np.full(rows.shape[0], np.nan, dtype=np.float32)
        return rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4], dist

    def _classes(self, item: _Item, n_src: int, cls: np.ndarray, track: np.ndarray) -> list[int]:
        """Class of each source; a source keeps one class, checked against every label row."""
        classes = list(item.classes) if item.classes is not None else [-1] * n_src
        for r in range(track.size):
            k, c = int(track[r]), int(cls[r])
            if classes[k] == -1:
                classes[k] = c
            elif classes[k] != c:
                raise DatasetFormatError(item.labels, f"source {k} is class {classes[k]} but this "
                                         f"row says {c}", line=self._line(item, r),
                                         field="class")
        return classes


def collate_scenes(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch :class:`SceneDataset` items: tensors stacked on a new first axis.

    Audio of different lengths is zero-padded at the end to the longest (``num_samples``
    [B] then gives each length); ``id`` and ``paths`` become lists.
    """
    if not batch:
        raise ValueError("collate_scenes: empty batch")
    out: dict[str, Any] = {}
    lengths = torch.tensor([b["mixture"].shape[-1] for b in batch], dtype=torch.long)
    n_max = int(lengths.max())
    for key, value in batch[0].items():
        values = [b[key] for b in batch]
        if not isinstance(value, torch.Tensor):
            out[key] = values
        elif key in ("mixture", "direct", "reverb"):
            out[key] = torch.stack([torch.nn.functional.pad(v, (0, n_max - v.shape[-1])) for v in values])
        else:
            out[key] = torch.stack(values)
    out["num_samples"] = lengths
    return out
