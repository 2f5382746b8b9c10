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

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from asabench.simulate.dataset.format import NUM_CLASSES, DatasetFormatError, Pathlike
from asabench.simulate.dataset.reader import (  # noqa: F401  (detect_layout, Layout: re-exported)
    LABEL_HOP_S,
    DatasetReader,
    Layout,
    SceneItem,
    detect_layout,
)
from asabench.simulate.geometry import dcase_to_cartesian


class SceneDataset(Dataset):
    """Scenes of an asabench or ASA2-layout dataset as dicts of tensors (see module docstring).

    Files are read through :class:`~asabench.simulate.dataset.reader.DatasetReader` (the
    reader the scorer uses too): index paths confined to the dataset folder, every WAV
    checked for channels, rate, length and finite samples, labels validated.

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
        self.reader = DatasetReader(self.path, layout)
        self.layout = self.reader.layout
        self.max_sources = int(max_sources)
        self.return_paths = return_paths
        self.targets = targets
        self.fs: int | None = self.reader.fs
        self.num_channels: int | None = self.reader.num_channels
        wanted = None if split is None else ({split} if isinstance(split, str) else set(split))
        self._items: list[SceneItem] = self.reader.items(wanted)
        for item in self._items:
            if item.num_sources > self.max_sources:
                where = (self.reader.index_path if item.layout == "asabench" else
                         Path(item.direct[0]).parent)
                raise DatasetFormatError(where, f"scene {item.id} has {item.num_sources} sources, more "
                                         f"than max_sources={self.max_sources}", field="num_sources")
        self._default_frames = self.reader.default_frames
        self.n_frames = int(n_frames) if n_frames is not None else self._default_frames
        if wanted is not None and not self._items:
            raise DatasetFormatError(self.path, f"no scene of split(s) {sorted(wanted)}", field="split")

    def __len__(self) -> int:
        return len(self._items)

    @property
    def ids(self) -> list[str]:
        """Scene ids in dataset order."""
        return [item.id for item in self._items]

    # ------------------------------------------------------------------ loading

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self._items[i]
        reader = self.reader
        mixture, fs = reader.read(item.mixture, "files.mixture.path", scene=item.id)
        n_ch, n_samples = mixture.shape
        n_src, slots = item.num_sources, self.max_sources
        if self.targets:
            direct = np.zeros((slots, n_ch, n_samples), dtype=np.float32)
            reverb = np.zeros((slots, n_ch, n_samples), dtype=np.float32)
            for k in range(n_src):
                direct[k] = reader.read_audio(item.direct[k], f"files.direct[{k}].path",
                                              frames=n_samples, scene=item.id)
                reverb[k] = reader.read_audio(item.reverb[k], f"files.reverb[{k}].path",
                                              frames=n_samples, scene=item.id)

        n_frames = self.n_frames if self.n_frames is not None else int(round(n_samples / fs / LABEL_HOP_S))
        frame, cls, track, az, el, dist_m = reader.label_rows(item)
        labels_path = reader.file(item.labels, "files.labels.path", scene=item.id)
        if frame.size:
            bad = np.flatnonzero((frame >= n_frames) | (track >= n_src))
            if bad.size:
                r = bad[0]
                fld = "frame" if frame[r] >= n_frames else "track"
                raise DatasetFormatError(labels_path, f"{fld} {int((frame if fld == 'frame' else track)[r])} "
                                         f"out of range (frames {n_frames}, sources {n_src})",
                                         line=reader.label_line(item, r), field=fld if item.layout == "asabench"
                                         else ("time" if fld == "frame" else "src_idx"))
        classes = self._classes(item, labels_path, n_src, cls, track)

        out: dict[str, Any] = {"mixture": torch.from_numpy(np.ascontiguousarray(mixture))}
        if self.targets:
            out["direct"] = torch.from_numpy(direct)
            out["reverb"] = torch.from_numpy(reverb)
        out.update(label_tensors(classes, frame, cls, track, az, el, dist_m, slots, n_frames))
        out["id"] = item.id
        if self.return_paths:
            files = item.fields()
            path = {name: str(reader.file(p, name, scene=item.id)) for name, p in files.items()}
            out["paths"] = {"mixture": path["files.mixture.path"],
                            "direct": [path[f"files.direct[{k}].path"] for k in range(n_src)],
                            "reverb": [path[f"files.reverb[{k}].path"] for k in range(n_src)],
                            "labels": path["files.labels.path"]}
        return out

    def _classes(self, item: SceneItem, labels_path: Path, n_src: int, cls: np.ndarray,
                 track: np.ndarray) -> list[int]:
        """Class of each source; a source keeps one class, checked against every label row."""
        classes = list(item.classes) if item.classes is not None else [-1] * n_src
        for r in range(track.size):
            k, c = int(track[r]), int(cls[r])
            if classes[k] == -1:
                classes[k] = c
            elif classes[k] != c:
                raise DatasetFormatError(labels_path, f"source {k} is class {classes[k]} but this "
                                         f"row says {c}", line=self.reader.label_line(item, r),
                                         field="class")
        return classes


def label_tensors(classes: Sequence[int], frame: np.ndarray, cls: np.ndarray, track: np.ndarray,
                  az: np.ndarray, el: np.ndarray, dist_m: np.ndarray, slots: int,
                  n_frames: int) -> dict[str, torch.Tensor]:
    """``class``, ``sed``, ``doa``, ``distance``, ``num_sources`` of one scene from its label rows.

    Shared by :class:`SceneDataset` and the on-the-fly loader
    (:mod:`asabench.simulate.dataset.onthefly`), so both give the same tensors.
    """
    n_src = len(classes)
    class_t = torch.full((slots,), -1, dtype=torch.long)
    class_t[:n_src] = torch.as_tensor(list(classes), dtype=torch.long)
    sed = np.zeros((slots, n_frames, NUM_CLASSES), dtype=np.float32)
    doa = np.zeros((slots, n_frames, 3), dtype=np.float32)
    distance = np.zeros((slots, n_frames), dtype=np.float32)
    sed[track, frame, cls] = 1.0
    doa[track, frame] = dcase_to_cartesian(az, el)
    distance[track, frame] = dist_m
    return {"class": class_t, "sed": torch.from_numpy(sed), "doa": torch.from_numpy(doa),
            "distance": torch.from_numpy(distance), "num_sources": torch.tensor(n_src, dtype=torch.long)}


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
