"""Nearest-class-centroid classifier of log-mel statistics, for the SELD signal-processing baselines.

A clip (at test time the time-frequency bins a detected track owns, in the fit the bins a
labelled source owns; :func:`asabench.benchmark.baselines.localize.ownership_powers`) is
described by the statistics of its log-mel spectrogram over the frames in which the source
is active:

* ``mean_b - mean(mean)``: the per-band mean of ``log(mel power + eps)`` minus its average
  over bands and frames, and
* ``std_b``: the per-band standard deviation over the frames,

``2 * n_mels`` numbers in all. The floor ``eps`` is ``floor_rel`` times the clip's mean mel
power (the bins a clip does not own are zeros; a relative floor keeps the feature
independent of the clip's gain), or the absolute :data:`LOG_EPS` when ``floor_rel`` is None.

The classifier's centroid of class ``c`` is the plain mean of the features of the class's
training clips; a clip gets the class whose centroid is nearest under one of two metrics:

* ``metric = "scaled"``: Euclidean after dividing every dimension by ``scale`` (the standard
  deviation of that dimension over all training clips, 1 where it is 0);
* ``metric = "pooled"``: Mahalanobis under the pooled within-class covariance
  ``S = sum_i (x_i - mu_{c_i})(x_i - mu_{c_i})^T / N`` shrunk toward its mean eigenvalue,
  ``S' = (1 - shrinkage) S + shrinkage tr(S)/D I``; stored as ``whiten = S'^{-1/2}``
  (symmetric) so that the distance is Euclidean between whitened vectors. This is linear
  discriminant analysis with equal class priors.

The fit is deterministic: scenes in index order, no randomness.

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
from typing import Any, Callable, ClassVar, Literal, Sequence

import numpy as np
import torch

from asabench.simulate.classes import NUM_CLASSES
from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

__all__ = ["stft_size", "stft", "istft", "stft_label_frames", "mel_filterbank", "log_mel_statistics",
           "CentroidFit", "fit_centroids", "fit_from_dataset", "SourceFeatures", "LOG_EPS"]

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


def log_mel_statistics(power: np.ndarray, filterbank: np.ndarray, floor_rel: float | None = None) -> np.ndarray:
    """Feature of one clip: ``[F, T]`` power spectrogram over its active frames -> ``[2 n_mels]``.

    ``[mean_b - mean(mean), std_b]`` of ``log(filterbank @ power + eps)`` over the ``T >= 1``
    frames, ``eps = floor_rel * mean(filterbank @ power) + LOG_EPS`` (``LOG_EPS`` alone when
    ``floor_rel`` is None; module docstring).
    """
    power = np.asarray(power, dtype=np.float64)
    if power.ndim != 2 or power.shape[1] < 1:
        raise ValueError(f"power: expected [F, T >= 1], got {list(power.shape)}")
    mel = filterbank @ power                               # [n_mels, T]
    eps = LOG_EPS if floor_rel is None else float(floor_rel) * float(mel.mean()) + LOG_EPS
    logmel = np.log(mel + eps)
    mean = logmel.mean(axis=1)
    return np.concatenate([mean - mean.mean(), logmel.std(axis=1)])


@dataclass
class CentroidFit(ConfigBase):
    """A fitted nearest-centroid classifier (saved as the ``classifier`` table of a baseline config).

    ``classes[i]`` is the class of ``centroids[i]`` (``2 n_mels`` numbers); ``metric``
    ``"scaled"``: ``scale`` divides every dimension before the distance; ``"pooled"``: the
    features are multiplied by ``whiten`` (``[2 n_mels, 2 n_mels]``, the inverse square root
    of the shrunk pooled within-class covariance, ``shrinkage`` its weight); ``counts[i]``
    training clips made centroid ``i``; ``fs``, ``n_mels`` and ``floor_rel`` (the log floor
    of :func:`log_mel_statistics`) must match the features it is applied to; ``source`` says
    what it was fitted on.
    """

    config_what: ClassVar[str] = "SELD centroid classifier"

    fs: int = ranged(lo=1)
    n_mels: int = ranged(lo=1, hi=256)
    classes: list[int] = field(default_factory=list)
    centroids: list[list[float]] = field(default_factory=list)
    scale: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    source: str = ""
    metric: Literal["scaled", "pooled"] = "scaled"
    whiten: list[list[float]] = field(default_factory=list)
    shrinkage: float = ranged(0.0, lo=0.0, hi=1.0)
    floor_rel: float | None = None

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
        if self.metric == "pooled" and (len(self.whiten) != dim or any(len(r) != dim for r in self.whiten)):
            raise ConfigError(f"metric 'pooled' needs a {dim} x {dim} matrix (2 n_mels)", field="whiten")
        if self.floor_rel is not None and not self.floor_rel >= 0:
            raise ConfigError("must be >= 0 (or absent)", field="floor_rel")

    def _transform(self, features: np.ndarray) -> np.ndarray:
        if self.metric == "pooled":
            return features @ np.asarray(self.whiten)
        return features / np.asarray(self.scale)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``[K, 2 n_mels]`` features -> ``[K]`` class ids of the nearest centroids (``metric``)."""
        feats = self._transform(np.asarray(features, dtype=np.float64).reshape(-1, 2 * self.n_mels))
        cent = self._transform(np.asarray(self.centroids))
        d2 = ((feats[:, None, :] - cent[None]) ** 2).sum(-1)
        return np.asarray(self.classes, dtype=np.int64)[d2.argmin(axis=1)]


def fit_centroids(features: np.ndarray, labels: Sequence[int], *, fs: int, n_mels: int, source: str = "",
                  shrinkage: float | None = None, floor_rel: float | None = None) -> CentroidFit:
    """Class means of ``[S, 2 n_mels]`` features with ``[S]`` class labels (:class:`CentroidFit`).

    ``shrinkage`` None: ``metric = "scaled"``; a number in [0, 1]: ``metric = "pooled"``
    with that shrinkage of the pooled within-class covariance (module docstring).
    ``floor_rel`` is recorded: the log floor the features were computed with.
    """
    feats = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if feats.ndim != 2 or feats.shape[0] != labels.shape[0] or feats.shape[0] == 0:
        raise ValueError(f"features [S, D] and labels [S] with S >= 1 expected, got "
                         f"{list(feats.shape)} and {list(labels.shape)}")
    classes = np.unique(labels)
    centroids = [feats[labels == c].mean(axis=0).tolist() for c in classes]
    std = feats.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    extra: dict[str, Any] = {}
    if shrinkage is not None:
        means = np.asarray(centroids)
        resid = feats - means[np.searchsorted(classes, labels)]
        cov = resid.T @ resid / len(feats)
        dim = cov.shape[0]
        cov = (1.0 - shrinkage) * cov + shrinkage * np.trace(cov) / dim * np.eye(dim)
        val, vec = np.linalg.eigh(cov)
        val = np.maximum(val, 1e-12 * max(float(val.max()), 1e-300))
        extra = {"metric": "pooled", "shrinkage": float(shrinkage),
                 "whiten": ((vec / np.sqrt(val)) @ vec.T).tolist()}
    return CentroidFit(fs=int(fs), n_mels=int(n_mels), classes=[int(c) for c in classes], centroids=centroids,
                       scale=scale.tolist(), counts=[int((labels == c).sum()) for c in classes], source=source,
                       floor_rel=floor_rel, **extra)


#: ``features(mixture [C, N], directions [J, L, 3], active [J, L] bool) -> [J, 2 n_mels]``: the
#: feature of each labelled source of a scene (NaN rows for a source with no active frame).
SourceFeatures = Callable[[torch.Tensor, np.ndarray, np.ndarray], np.ndarray]


def fit_from_dataset(data: Path, split: str, *, fs: int, n_mels: int, max_sources: int, max_scenes: int,
                     features: SourceFeatures, shrinkage: float | None = None,
                     floor_rel: float | None = None) -> CentroidFit:
    """Fit on the labelled sources of the first ``max_scenes`` scenes of ``split``.

    Each scene's mixture goes through ``features`` with the labels' directions and activity
    (the predictor's own feature path with the tracks replaced by the labelled sources), so
    the classifier is fitted on what it sees at test time: a source's share of a mixture
    of 2 to 5 sources, not its clean image. Sources with no active frame are skipped.
    ``shrinkage`` and ``floor_rel`` go to :func:`fit_centroids`.

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
        dataset = SceneDataset(data, split, max_sources=max_sources, targets=False)
    except DatasetFormatError as exc:
        if getattr(exc, "field", None) == "split":
            raise BaselineError(why) from None
        raise
    if len(dataset) == 0:
        raise BaselineError(why)
    if dataset.fs != fs:
        raise BaselineError(f"{data}: '{split}' split is at {dataset.fs} Hz, the suite at {fs} Hz")
    feats, labels = [], []
    for i in range(min(len(dataset), max_scenes)):
        item = dataset[i]
        n_src = int(item["num_sources"])
        if n_src == 0:
            continue
        active = item["sed"][:n_src].sum(-1).numpy() > 0                  # [J, L]
        found = features(item["mixture"], item["doa"][:n_src].numpy().astype(np.float64), active)
        for j in range(n_src):
            if active[j].any() and np.isfinite(found[j]).all():
                feats.append(found[j])
                labels.append(int(item["class"][j]))
    if not feats:
        raise BaselineError(f"{data}: '{split}' split has no active source to fit the classifier on")
    return fit_centroids(np.stack(feats), labels, fs=fs, n_mels=n_mels, shrinkage=shrinkage, floor_rel=floor_rel,
                         source=f"{data} split {split}, first {min(len(dataset), max_scenes)} scenes")


def classifier_record(fit: CentroidFit) -> dict[str, Any]:
    """Short description for results files."""
    return {"kind": "nearest class centroid of log-mel statistics", "metric": fit.metric,
            "shrinkage": fit.shrinkage if fit.metric == "pooled" else None, "floor_rel": fit.floor_rel,
            "n_mels": fit.n_mels, "classes": list(fit.classes), "clips": int(sum(fit.counts)), "source": fit.source}
