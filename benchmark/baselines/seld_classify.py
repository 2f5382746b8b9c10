"""Nearest-class-centroid classifier of log-mel statistics, for the SELD signal-processing baselines.

A clip (a reference image of the train split, or at test time a beam steered to a detected
direction) is described by the statistics of its log-mel spectrogram over the frames in
which the source is active:

* ``mean_b - mean(mean)``: the per-band mean of ``log(mel power + eps)`` minus its average
  over bands and frames (so the feature does not depend on the clip's gain), and
* ``std_b``: the per-band standard deviation over the frames,

``2 * n_mels`` numbers in all. The classifier's centroid of class ``c`` is the plain mean of
the features of the class's training clips; a clip gets the class whose centroid is nearest
in Euclidean distance after dividing every dimension by ``scale`` (the standard deviation of
that dimension over all training clips, 1 where it is 0), so that bands of large log-mel
variance do not dominate. The fit is deterministic: scenes in index order, no randomness.

Spectra come from :func:`stft`: Hann window of ``n_fft = 2^round(log2(0.032 fs))`` samples
(256 at 8 kHz, 512 at 16 kHz), hop ``n_fft / 2``, ``torch.stft(center=True)``; STFT frame
``t`` (centre ``t * hop`` samples) belongs to label frame ``floor(t * hop / fs / label_hop)``.
Mel bands: HTK mel scale ``2595 log10(1 + f / 700)``, ``n_mels`` triangles of peak 1 between
0 Hz and ``fs / 2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
import torch

from asabench.simulate.classes import NUM_CLASSES
from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

__all__ = ["stft_size", "stft", "istft", "stft_label_frames", "mel_filterbank", "log_mel_statistics",
           "CentroidFit", "fit_centroids", "LOG_EPS"]

#: Floor added to the mel power before the logarithm (audio in [-1, 1]).
LOG_EPS: float = 1e-10
#: STFT window length in seconds (rounded to a power of two of samples).
WINDOW_SECONDS: float = 0.032


def stft_size(fs: int) -> tuple[int, int]:
    """``(n_fft, hop)`` of the baselines' STFT at ``fs`` Hz: ``n_fft = 2^round(log2(0.032 fs))``, hop ``n_fft/2``."""
    n_fft = int(2 ** round(math.log2(WINDOW_SECONDS * fs)))
    return n_fft, n_fft // 2


def stft(x: torch.Tensor, fs: int) -> torch.Tensor:
    """``[..., N]`` real samples -> ``[..., F, T]`` complex128 STFT (:func:`stft_size`, Hann, centred)."""
    n_fft, hop = stft_size(fs)
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1]).to(torch.float64)
    spec = torch.stft(flat, n_fft, hop, window=torch.hann_window(n_fft, dtype=torch.float64),
                      center=True, return_complex=True)
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(spec: torch.Tensor, fs: int, length: int) -> torch.Tensor:
    """Inverse of :func:`stft`: ``[..., F, T]`` -> ``[..., length]`` float64."""
    n_fft, hop = stft_size(fs)
    lead = spec.shape[:-2]
    flat = spec.reshape(-1, *spec.shape[-2:])
    out = torch.istft(flat, n_fft, hop, window=torch.hann_window(n_fft, dtype=torch.float64),
                      center=True, length=length)
    return out.reshape(*lead, length)


def stft_label_frames(n_stft: int, fs: int, label_hop_s: float) -> np.ndarray:
    """``[n_stft]`` label-frame index of each STFT frame (by its centre time)."""
    _, hop = stft_size(fs)
    return np.floor(np.arange(n_stft) * hop / fs / label_hop_s + 1e-9).astype(np.int64)


def mel_filterbank(fs: int, n_fft: int, n_mels: int) -> np.ndarray:
    """``[n_mels, n_fft // 2 + 1]`` HTK-mel triangles (peak 1) from 0 Hz to ``fs / 2``."""
    def mel(f: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    edges_mel = np.linspace(0.0, float(mel(fs / 2)), n_mels + 2)
    edges = 700.0 * (10.0 ** (edges_mel / 2595.0) - 1.0)
    freqs = np.arange(n_fft // 2 + 1) * fs / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (freqs[None] - lo) / (mid - lo)
    fall = (hi - freqs[None]) / (hi - mid)
    return np.clip(np.minimum(rise, fall), 0.0, None)


def log_mel_statistics(power: np.ndarray, filterbank: np.ndarray) -> np.ndarray:
    """Feature of one clip: ``[F, T]`` power spectrogram over its active frames -> ``[2 n_mels]``.

    ``[mean_b - mean(mean), std_b]`` of ``log(filterbank @ power + LOG_EPS)`` over the
    ``T >= 1`` frames (module docstring).
    """
    power = np.asarray(power, dtype=np.float64)
    if power.ndim != 2 or power.shape[1] < 1:
        raise ValueError(f"power: expected [F, T >= 1], got {list(power.shape)}")
    logmel = np.log(filterbank @ power + LOG_EPS)         # [n_mels, T]
    mean = logmel.mean(axis=1)
    return np.concatenate([mean - mean.mean(), logmel.std(axis=1)])


@dataclass
class CentroidFit(ConfigBase):
    """A fitted nearest-centroid classifier (saved as the ``classifier`` table of a baseline config).

    ``classes[i]`` is the class of ``centroids[i]`` (``2 n_mels`` numbers); ``scale`` divides
    every dimension before the distance; ``counts[i]`` training clips made centroid ``i``;
    ``fs`` and ``n_mels`` must match the data it is applied to; ``source`` says what it was
    fitted on.
    """

    config_what: ClassVar[str] = "SELD centroid classifier"

    fs: int = ranged(lo=1)
    n_mels: int = ranged(lo=1, hi=256)
    classes: list[int] = field(default_factory=list)
    centroids: list[list[float]] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        dim = 2 * self.n_mels
        if not self.classes:
            raise ConfigError("no class (fitted on no clip)", field="classes")
        if len(set(self.classes)) != len(self.classes) or min(self.classes) < 0 or max(self.classes) >= NUM_CLASSES:
            raise ConfigError(f"expected distinct class ids in 0..{NUM_CLASSES - 1}", field="classes")
        if len(self.centroids) != len(self.classes) or any(len(c) != dim for c in self.centroids):
            raise ConfigError(f"expected {len(self.classes)} centroids of {dim} numbers (2 n_mels)", field="centroids")
        if len(self.scale) != dim or any(not s > 0 for s in self.scale):
            raise ConfigError(f"expected {dim} positive numbers", field="scale")
        if len(self.counts) != len(self.classes):
            raise ConfigError(f"expected {len(self.classes)} counts", field="counts")

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``[K, 2 n_mels]`` features -> ``[K]`` class ids of the nearest centroids (scaled Euclidean)."""
        feats = np.asarray(features, dtype=np.float64).reshape(-1, 2 * self.n_mels)
        scale = np.asarray(self.scale)
        cent = np.asarray(self.centroids) / scale
        d2 = ((feats / scale)[:, None, :] - cent[None]) ** 2
        return np.asarray(self.classes, dtype=np.int64)[d2.sum(-1).argmin(axis=1)]


def fit_centroids(features: np.ndarray, labels: Sequence[int], *, fs: int, n_mels: int,
                  source: str = "") -> CentroidFit:
    """Class means of ``[S, 2 n_mels]`` features with ``[S]`` class labels (:class:`CentroidFit`)."""
    feats = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if feats.ndim != 2 or feats.shape[0] != labels.shape[0] or feats.shape[0] == 0:
        raise ValueError(f"features [S, D] and labels [S] with S >= 1 expected, got "
                         f"{list(feats.shape)} and {list(labels.shape)}")
    classes = np.unique(labels)
    centroids = [feats[labels == c].mean(axis=0).tolist() for c in classes]
    std = feats.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    return CentroidFit(fs=int(fs), n_mels=int(n_mels), classes=[int(c) for c in classes], centroids=centroids,
                       scale=scale.tolist(), counts=[int((labels == c).sum()) for c in classes], source=source)


def fit_from_dataset(data: Path, split: str, *, fs: int, label_hop_s: float, n_mels: int,
                     max_sources: int, max_scenes: int) -> CentroidFit:
    """Fit on the reference images (direct + reverb) of the first ``max_scenes`` scenes of ``split``.

    Each source's power spectrogram is the mean over microphones of ``|STFT|^2`` of its full
    image; its feature (:func:`log_mel_statistics`) uses the STFT frames whose label frame
    has the source active. Sources with no active frame are skipped.

    Raises
    ------
    BaselineError
        naming ``data`` when the split has no scene or the rate differs from ``fs``.
    """
    from asabench.simulate.dataset.loader import SceneDataset

    from asabench.benchmark.baselines import BaselineError
    from asabench.simulate.dataset.format import DatasetFormatError

    why = (f"{data}: field 'split': no scene in a '{split}' split; the SELD baselines fit their classifier "
           "on the train split of the --data folder (or pass --config FILE with a saved classifier)")
    try:
        dataset = SceneDataset(data, split, max_sources=max_sources, targets=True)
    except DatasetFormatError as exc:
        if getattr(exc, "field", None) == "split":
            raise BaselineError(why) from None
        raise
    if len(dataset) == 0:
        raise BaselineError(why)
    if dataset.fs != fs:
        raise BaselineError(f"{data}: '{split}' split is at {dataset.fs} Hz, the suite at {fs} Hz")
    n_fft, _ = stft_size(fs)
    fb = mel_filterbank(fs, n_fft, n_mels)
    feats, labels = [], []
    for i in range(min(len(dataset), max_scenes)):
        item = dataset[i]
        n_src = int(item["num_sources"])
        if n_src == 0:
            continue
        image = item["direct"][:n_src] + item["reverb"][:n_src]          # [J, C, N]
        power = stft(image, fs).abs().square().mean(dim=1).numpy()        # [J, F, T]
        label_of = stft_label_frames(power.shape[-1], fs, label_hop_s)
        active = item["sed"][:n_src].sum(-1).numpy() > 0                  # [J, T_label]
        label_of = np.minimum(label_of, active.shape[1] - 1)
        for j in range(n_src):
            frames = active[j][label_of]
            if frames.any():
                feats.append(log_mel_statistics(power[j][:, frames], fb))
                labels.append(int(item["class"][j]))
    if not feats:
        raise BaselineError(f"{data}: '{split}' split has no active source to fit the classifier on")
    return fit_centroids(np.stack(feats), labels, fs=fs, n_mels=n_mels,
                         source=f"{data} split {split}, first {min(len(dataset), max_scenes)} scenes")


def classifier_record(fit: CentroidFit) -> dict[str, Any]:
    """Short description for results files."""
    return {"kind": "nearest class centroid of log-mel statistics", "n_mels": fit.n_mels,
            "classes": list(fit.classes), "clips": int(sum(fit.counts)), "source": fit.source}
