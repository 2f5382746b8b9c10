"""Tiny, self-consistent asabench datasets for tests and examples (no simulation).

:func:`make_dummy_dataset` writes the documented format (``docs/dataset-format.md``)
exactly: float32 WAVs, DCASE label CSVs, spec files, ``dataset.json`` and an
``index.jsonl`` with real SHA-256 hashes. The audio is random but consistent:
``mixture = sum_k (direct_k + reverb_k) + noise`` in float32, each source is silent outside
its labelled frames, and one common scale leaves headroom below full scale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import soundfile as sf

from asabench.simulate.dataset.format import (
    NUM_CLASSES,
    DatasetInfo,
    FileEntry,
    Pathlike,
    SceneFiles,
    SceneRecord,
    append_index_records,
    read_dataset_info,
    scene_id,
    sha256_bytes,
    sha256_file,
    write_dataset_info,
)

#: Peak absolute value of every dummy mixture (common scale with headroom).
DUMMY_PEAK: float = 0.5


def make_dummy_dataset(
    root: Pathlike,
    n_scenes: int | Mapping[str, int],
    n_sources: int | Sequence[int],
    fs: int,
    seconds: float,
    rng: np.random.Generator,
    *,
    num_channels: int = 4,
    label_hop_s: float = 0.1,
    split: str = "test",
    coherent: bool = False,
) -> list[SceneRecord]:
    """Write a tiny random asabench dataset under ``root`` and return its index records.

    Parameters
    ----------
    root : dataset folder (created; an existing dummy dataset there gets the new splits added).
    n_scenes : number of scenes of ``split``, or ``{split: count}`` for several splits.
    n_sources : sources per scene, or a sequence cycled over the scenes (e.g. ``[2, 3, 4, 5]``).
    fs : sample rate, Hz.
    seconds : scene length, s; must be a whole number of ``label_hop_s`` frames.
    rng : the only source of randomness.
    num_channels : channels of every WAV (4 for the tetrahedral array).
    label_hop_s : label frame length, s.
    split : split name used when ``n_scenes`` is an integer.
    coherent : make each source's direct image one signal seen with a per-source random
        integer delay (0-3 samples) per channel, like a plane wave at the array, instead of
        independent noise per channel (the default); GCC-PHAT then has a real peak.

    Returns
    -------
    list of SceneRecord
        The records appended to ``index.jsonl``, in writing order.
    """
    root = Path(root)
    counts = dict(n_scenes) if isinstance(n_scenes, Mapping) else {split: int(n_scenes)}
    per_scene = [int(n_sources)] if isinstance(n_sources, (int, np.integer)) else [int(j) for j in n_sources]
    n_frames = int(round(seconds / label_hop_s))
    if n_frames < 1 or abs(n_frames * label_hop_s - seconds) > 1e-9:
        raise ValueError(f"seconds={seconds} is not a whole number of {label_hop_s} s frames")
    n_samples = int(round(seconds * fs))
    hop = n_samples // n_frames

    if (root / "dataset.json").is_file():
        info = read_dataset_info(root)
        splits = dict(info.manifest.get("splits", {}))
    else:
        info = None
        splits = {}
    splits.update(counts)
    manifest = {"name": "dummy", "version": "0", "seed": 0, "fs": fs, "duration_s": seconds,
                "splits": splits}
    manifest_sha = sha256_bytes(json.dumps(manifest, sort_keys=True).encode())
    info = DatasetInfo(name="dummy", version="0", manifest_sha256=manifest_sha,
                       manifest=manifest, fs=fs, num_channels=num_channels,
                       duration_s=float(seconds), label_hop_s=label_hop_s)
    write_dataset_info(root, info)

    records: list[SceneRecord] = []
    count = 0
    for split_name, n in counts.items():
        for index in range(n):
            j = per_scene[count % len(per_scene)]
            count += 1
            records.append(_write_scene(root, split_name, index, j, fs, n_samples, n_frames,
                                        hop, num_channels, rng, coherent))
    append_index_records(root, records)
    return records


def _write_scene(root: Path, split: str, index: int, n_src: int, fs: int, n_samples: int,
                 n_frames: int, hop: int, num_channels: int,
                 rng: np.random.Generator, coherent: bool = False) -> SceneRecord:
    sid = scene_id(split, index)
    scene_dir = root / split / sid
    (scene_dir / "direct").mkdir(parents=True, exist_ok=True)
    (scene_dir / "reverb").mkdir(parents=True, exist_ok=True)

    classes = rng.integers(0, NUM_CLASSES, size=n_src)
    # Each source is active on a random, non-empty set of frames and silent elsewhere, so
    # that labels and audio agree.
    active = rng.random((n_src, n_frames)) < 0.6
    active[np.arange(n_src), rng.integers(0, n_frames, size=n_src)] = True
    mask = np.zeros((n_src, n_samples))
    for t in range(n_frames):
        mask[:, t * hop:(t + 1) * hop] = active[:, t:t + 1]
    if coherent:
        delays = rng.integers(0, 4, size=(n_src, num_channels))
        signal = rng.standard_normal((n_src, n_samples + 3))
        direct = np.stack([np.stack([signal[k, 3 - d:3 - d + n_samples] for d in delays[k]])
                           for k in range(n_src)]) * mask[:, None, :]
    else:
        direct = rng.standard_normal((n_src, num_channels, n_samples)) * mask[:, None, :]
    reverb = 0.3 * rng.standard_normal((n_src, num_channels, n_samples)) * mask[:, None, :]
    noise = 0.05 * rng.standard_normal((num_channels, n_samples))
    gain = DUMMY_PEAK / np.abs((direct + reverb).sum(axis=0) + noise).max()
    direct = (direct * gain).astype(np.float32)
    reverb = (reverb * gain).astype(np.float32)
    noise = (noise * gain).astype(np.float32)
    mixture = (direct.astype(np.float64) + reverb).sum(axis=0) + noise
    mixture = mixture.astype(np.float32)

    def wav(rel: str, audio: np.ndarray) -> FileEntry:
        path = root / rel
        sf.write(path, audio.T, fs, subtype="FLOAT")
        return FileEntry(rel, sha256_file(path))

    base = f"{split}/{sid}"
    mixture_entry = wav(f"{base}/mixture.wav", mixture)
    noise_entry = wav(f"{base}/noise.wav", noise)
    direct_entries = tuple(wav(f"{base}/direct/{k}.wav", direct[k]) for k in range(n_src))
    reverb_entries = tuple(wav(f"{base}/reverb/{k}.wav", reverb[k]) for k in range(n_src))

    # Labels: one row per active frame per source, sorted by frame then track.
    rows = []
    azimuth = rng.integers(-179, 181, size=(n_src, n_frames))
    elevation = rng.integers(-90, 91, size=(n_src, n_frames))
    distance_cm = rng.integers(30, 500, size=(n_src, n_frames))
    for t in range(n_frames):
        for k in range(n_src):
            if active[k, t]:
                rows.append(f"{t},{classes[k]},{k},{azimuth[k, t]},{elevation[k, t]},{distance_cm[k, t]}\n")
    labels_path = scene_dir / "labels.csv"
    labels_path.write_text("".join(rows), encoding="utf-8")
    spec = {"id": sid, "split": split, "index": index, "dummy": True, "num_sources": n_src,
            "classes": classes.tolist(), "output_gain": float(gain)}
    spec_path = scene_dir / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    files = SceneFiles(
        mixture=mixture_entry, noise=noise_entry,
        labels=FileEntry(f"{base}/labels.csv", sha256_file(labels_path)),
        spec=FileEntry(f"{base}/spec.json", sha256_file(spec_path)),
        direct=direct_entries, reverb=reverb_entries)
    record = SceneRecord(sid, split, index, n_src, tuple(int(c) for c in classes), files)
    # The writer's per-scene completion record (the index record, written last).
    (scene_dir / "complete.json").write_text(record.to_json_line(), encoding="utf-8")
    return record
