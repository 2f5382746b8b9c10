"""SELD signal-processing baselines: SRP-PHAT and MUSIC over the sphere, no training but a centroid classifier.

Per scene (``[C, N]`` mixture, the dataset's microphone geometry):

1. **STFT** (:func:`asabench.benchmark.baselines.seld_classify.stft`: 32-ms Hann window,
   half overlap); each STFT frame belongs to the 100-ms label frame of its centre.
2. **Direction maps** on a Fibonacci grid of the sphere (:func:`fibonacci_grid`,
   ``N = ceil(4 pi / res^2)`` points for a stated ``grid_resolution_deg`` ``res``), in the
   band ``fmin_hz``..``fmax_hz``, one map per label frame:

   * SRP-PHAT (:func:`srp_phat_maps`): the PHAT-weighted cross-spectrum of every microphone
     pair, summed over the label frame's STFT frames, correlated with every grid
     direction's pair phase: ``SRP(u) = mean over pairs, bins, frames of
     Re(X_i X_j^* / |X_i X_j^*| exp(-j w (p_i - p_j).u / c))``; 1 for a perfect plane wave.
     One real matmul ``[L, 2 P F] x [2 P F, D]`` per scene.
   * MUSIC (:func:`music_maps`): the spatial covariance of each frequency bin over the
     label frame's STFT frames, its ``music_signal_dim`` principal eigenvectors ``E_s``
     (default 1: in a time-frequency bin one source dominates), the narrowband
     pseudo-spectrum ``1 / (M - |E_s^H a(u)|^2)`` (``|a| = sqrt(M)``, i.e. ``a^H E_n E_n^H a``),
     normalised to its maximum over the grid in each bin, and the **broadband map = the mean
     of the normalised narrowband maps over the band's bins** (incoherent combination, each
     bin votes with weight 1). ``music_bin_group = g > 1`` sums the covariances of ``g``
     adjacent bins first (frequency smoothing, one map per group at its mean frequency).

3. **Activity** per label frame (``activity``): ``"bands"`` (default, :func:`band_activity`):
   per mel band, the label frame's power over the band's noise floor, the
   ``activity_percentile``-th percentile (default 10) of its STFT-frame powers over the clip;
   the level is the mean over bands of the positive dB excess. ``"broadband"``
   (:func:`frame_activity`): the microphone- and band-averaged power over the clip's
   percentile of STFT-frame powers. Either is active by :func:`double_threshold`: runs above
   ``activity_threshold_db - activity_hysteresis_db`` that reach ``activity_threshold_db``
   (default 3 dB, no hysteresis), at least ``min_event_frames`` long. The maps use only the
   time-frequency bins whose power exceeds that bin's ``noise_percentile``-th percentile
   (default 10) by ``bin_threshold_db`` (default 10 dB; :func:`tf_selection`), so that
   narrowband sources are not drowned by the noise of the other bins.
4. **Peaks and source count** (:func:`pick_peaks`): in an active frame, up to
   ``max_objects`` maxima, each the grid maximum after removing every direction within
   ``min_separation_deg`` of the earlier ones; a peak counts as a source when its height
   above the map's median is at least ``peak_ratio`` of the first peak's.
5. **Tracks** (:func:`assign_tracks`): a peak continues the slot whose last direction is
   nearest (greedy, within ``track_gate_deg``), else takes a free slot (at most
   ``max_objects`` slots); slots active in fewer than ``min_track_frames`` frames are
   dropped. The DCASE ``track`` column is the slot.
6. **Class** per slot (:meth:`SeldBaseline.features`): every time-frequency bin of a frame
   belongs to the tracked direction (active in that frame) whose delay-and-sum beam passes
   the largest share of it (:func:`ownership_powers`); the log-mel statistics of the bins a
   slot owns over its active frames (log floor ``class_floor_rel`` = 0.01 of the clip's mean
   mel power) go to the nearest centroid of :class:`~.seld_classify.CentroidFit` under the
   pooled within-class covariance shrunk by ``class_shrinkage`` = 0.1 (LDA). The fit runs
   the same feature path on the train split's mixtures with the labelled directions and
   activity instead of tracks (or is read from ``--config``).
7. **USS objects** (multitask variants): one beam per tracked slot steered to the slot's
   direction in each label frame by :func:`asabench.benchmark.baselines.beamform.steer_beams`
   (``uss_beamformer``: delay-and-sum by default, or MPDR), one beam per reference capsule
   (``Y_m = d_m y``), gated to zero in the label frames where the slot has no peak;
   ``max_objects`` objects in all, the slots without a track filled with the residual
   ``mixture - sum of the tracked objects`` (the mixture itself when nothing was detected).

No "class unknown" variant: every SELD mode of ``docs/seld-modes.md`` (``default``,
``dcase2023``, ``dcase2024``, ``deepasa``) counts a detection only under the right class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from asabench.benchmark.baselines import BaselineContext, BaselineError, register_baseline
from asabench.benchmark.baselines.beamform import array_geometry, steer_beams
from asabench.benchmark.baselines.seld_classify import (CentroidFit, classifier_record, fit_from_dataset,
                                                        log_mel_statistics, mel_filterbank, stft,
                                                        stft_label_frames, stft_size)
from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.predict import Analysis
from asabench.simulate.geometry import SPEED_OF_SOUND, cartesian_to_dcase
from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

__all__ = ["SeldBaselineConfig", "SeldBaseline", "fibonacci_grid", "grid_covering_radius_deg", "steering_vectors",
           "srp_phat_maps", "music_maps", "bin_groups", "tf_selection", "frame_activity", "band_activity",
           "double_threshold", "pick_peaks", "grid_neighbours", "assign_tracks", "steer", "ownership_powers",
           "fit_seld_config", "METHODS"]

METHODS = ("srp-phat", "music")


@dataclass
class SeldBaselineConfig(ConfigBase):
    """Settings of the SRP-PHAT / MUSIC SELD baselines (``--config FILE``; module docstring)."""

    config_what: ClassVar[str] = "SELD baseline configuration"

    grid_resolution_deg: float = ranged(3.0, lo=0.5, hi=30.0)
    fmin_hz: float = ranged(200.0, lo=0.0)
    fmax_hz: float | None = None
    min_separation_deg: float = ranged(25.0, lo=0.0, hi=180.0)
    peak_ratio: float = ranged(0.8, lo=0.0, hi=1.0)
    activity: Literal["broadband", "bands"] = "bands"
    activity_threshold_db: float = 3.0
    activity_percentile: float = ranged(10.0, lo=0.0, hi=100.0)
    activity_hysteresis_db: float = ranged(0.0, lo=0.0)
    min_event_frames: int = ranged(1, lo=1)
    noise_percentile: float = ranged(10.0, lo=0.0, hi=100.0)
    bin_threshold_db: float | None = 10.0
    track_gate_deg: float = ranged(30.0, lo=0.0, hi=180.0)
    min_track_frames: int = ranged(2, lo=1)
    music_signal_dim: int = ranged(1, lo=1)
    music_bin_group: int = ranged(1, lo=1)
    uss_beamformer: Literal["das", "mvdr"] = "das"
    uss_gate: bool = False
    n_mels: int = ranged(40, lo=1, hi=256)
    max_train_scenes: int = ranged(400, lo=1)
    class_floor_rel: float | None = ranged(0.01, lo=0.0)
    class_shrinkage: float | None = ranged(0.1, lo=0.0, hi=1.0)
    classifier: CentroidFit | None = None

    def __post_init__(self) -> None:
        if self.fmax_hz is not None and not self.fmax_hz > self.fmin_hz:
            raise ConfigError(f"must exceed fmin_hz {self.fmin_hz:g}", field="fmax_hz")
        if self.classifier is not None and self.classifier.n_mels != self.n_mels:
            raise ConfigError(f"classifier has {self.classifier.n_mels} mel bands, n_mels is {self.n_mels}",
                              field="classifier.n_mels")


# ----------------------------------------------------------------------------- geometry


def fibonacci_grid(resolution_deg: float) -> np.ndarray:
    """``[D, 3]`` unit vectors of a Fibonacci sphere with ``D = ceil(4 pi / res^2)`` points (res in radians).

    ``4 pi / D`` is the solid angle per point, so ``res`` is the side of the square cell each
    point covers; the largest angle from any direction to its nearest point is measured by
    :func:`grid_covering_radius_deg` (about 0.75 ``res`` for this construction).
    """
    res = math.radians(resolution_deg)
    n = int(math.ceil(4.0 * math.pi / res ** 2))
    i = np.arange(n, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def grid_covering_radius_deg(grid: np.ndarray, n_probe: int = 20000, seed: int = 0) -> float:
    """Largest angle from ``n_probe`` random directions (seeded) to their nearest grid point, degrees."""
    rng = np.random.default_rng(seed)
    probe = rng.standard_normal((n_probe, 3))
    probe /= np.linalg.norm(probe, axis=1, keepdims=True)
    best = np.full(n_probe, -1.0)
    for start in range(0, n_probe, 2000):
        best[start:start + 2000] = (probe[start:start + 2000] @ grid.T).max(axis=1)
    return float(np.degrees(np.arccos(np.clip(best.min(), -1.0, 1.0))))


def steering_vectors(directions: np.ndarray, mics: np.ndarray, freqs: np.ndarray) -> torch.Tensor:
    """``[..., F, M]`` complex128 plane-wave steering vectors ``exp(j 2 pi f p_m.u / c)``.

    ``directions``: ``[..., 3]`` unit vectors toward the source; ``mics``: ``[M, 3]`` offsets
    from the array centre (m); ``freqs``: ``[F]`` Hz. The capsule nearer the source hears the
    wave earlier, hence the positive phase under ``torch.stft``'s ``exp(-j w n)`` convention.
    """
    lead = (np.asarray(directions) @ np.asarray(mics).T) / SPEED_OF_SOUND      # [..., M] seconds
    phase = 2.0 * np.pi * np.asarray(freqs)[:, None] * lead[..., None, :]      # [..., F, M]
    return torch.polar(torch.ones(phase.shape, dtype=torch.float64), torch.from_numpy(phase))


def _pairs(m: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(m, k=1)
    return i, j


def _label_sum(values: torch.Tensor, label_of: np.ndarray, n_label: int) -> torch.Tensor:
    """Sum ``[..., T]`` over the STFT frames of each label frame -> ``[n_label, ...]``."""
    idx = torch.from_numpy(np.minimum(label_of, n_label - 1))
    moved = values.movedim(-1, 0)
    out = torch.zeros((n_label, *moved.shape[1:]), dtype=moved.dtype)
    return out.index_add_(0, idx, moved)


def srp_phat_maps(spec: torch.Tensor, label_of: np.ndarray, n_label: int, pair_steer: torch.Tensor,
                  weight: torch.Tensor | None = None) -> torch.Tensor:
    """SRP-PHAT map of every label frame: ``[L, D]`` (module docstring).

    ``spec``: ``[M, F, T]`` STFT restricted to the band's bins; ``pair_steer``: ``[2 P F, D]``
    from :meth:`SeldBaseline` (real and imaginary parts of ``exp(j w (p_i - p_j).u / c)``);
    ``weight``: optional ``[F, T]`` 0/1 selection of time-frequency bins (:func:`tf_selection`).
    The map is normalised by the number of pairs times the selected bins of the frame.
    """
    i, j = _pairs(spec.shape[0])
    cross = spec[i] * spec[j].conj()                                          # [P, F, T]
    cross = cross / cross.abs().clamp_min(1e-30)
    if weight is None:
        weight = torch.ones(spec.shape[1:], dtype=torch.float64)
    cross = cross * weight.to(cross.dtype)
    summed = _label_sum(cross, label_of, n_label)                             # [L, P, F]
    flat = torch.cat([summed.real.reshape(n_label, -1), summed.imag.reshape(n_label, -1)], dim=1)
    maps = flat.to(pair_steer.dtype) @ pair_steer                             # [L, D]
    norm = _label_sum(weight.to(torch.float64).sum(0), label_of, n_label) * summed.shape[1]
    return maps / norm.clamp_min(1.0).to(maps.dtype)[:, None]


def tf_selection(spec: torch.Tensor, percentile: float, threshold_db: float) -> torch.Tensor:
    """``[F, T]`` 0/1: bins whose microphone-mean power exceeds that bin's noise floor by ``threshold_db``.

    The floor of a frequency bin is the ``percentile``-th percentile of its power over the
    clip's STFT frames (narrowband sources then only vote where they are).
    """
    power = spec.abs().square().mean(dim=0)                                   # [F, T]
    floor = torch.quantile(power, percentile / 100.0, dim=1, keepdim=True).clamp_min(1e-30)
    return (power > floor * 10.0 ** (threshold_db / 10.0)).to(torch.float64)


def _label_frame_table(label_of: np.ndarray, n_label: int, n_stft: int) -> torch.Tensor:
    """``[L, S]`` STFT frames of each label frame, padded with ``n_stft`` (S: the most frames of one)."""
    idx = np.minimum(label_of, n_label - 1)
    counts = np.bincount(idx, minlength=n_label)
    table = np.full((n_label, max(1, int(counts.max()))), n_stft, dtype=np.int64)
    order = np.argsort(idx, kind="stable")
    rank = np.arange(len(idx)) - (np.cumsum(counts) - counts)[idx[order]]
    table[idx[order], rank] = order
    return torch.from_numpy(table)


def bin_groups(n_bins: int, group: int) -> np.ndarray:
    """``[F]`` group index of each of ``n_bins`` consecutive bins, ``group`` bins per group (the last may be short)."""
    return np.arange(n_bins) // max(1, int(group))


def music_maps(spec: torch.Tensor, label_of: np.ndarray, n_label: int, pair_steer: torch.Tensor,
               signal_dim: int = 1, weight: torch.Tensor | None = None, bin_group: int = 1,
               block_elements: int = 2 ** 20) -> torch.Tensor:
    """Broadband MUSIC map of every label frame: ``[L, D]`` in [0, 1] (module docstring).

    ``spec``: ``[M, F, T]`` band STFT; ``weight``: optional ``[F, T]`` 0/1 selection of
    snapshots (:func:`tf_selection`). With ``bin_group = g`` the ``F`` bins form
    ``G = ceil(F / g)`` groups of ``g`` consecutive bins (:func:`bin_groups`) whose
    covariances are summed (frequency smoothing: ``g`` times the snapshots, one narrowband
    map per group steered at the group's mean frequency); ``g = 1`` is one map per bin.
    ``pair_steer``: ``[G, 2 P, D]`` real and imaginary parts of ``a_i^* a_j`` for the pairs
    ``i < j`` at the groups' frequencies (unit-modulus steering vectors).

    With the signal projector ``Ps = E_s E_s^H``,
    ``|E_s^H a|^2 = a^H Ps a = tr Ps + 2 sum_{i<j} Re(a_i^* a_j Ps_ij)`` and ``tr Ps = k``.
    Only the (label frame, group) cells with a selected snapshot are computed (the others
    have no vote): their covariances go through one batched ``eigh``, the cells are packed
    per group, and blocks of groups of about ``block_elements`` map values (cache-sized)
    are one real batched matmul ``[g, c, 2P] x [g, 2P, D]`` each, normalised in place by the
    minimum over the grid and added to the cells' label frames. The map is the mean over
    the voting groups.
    """
    m, n_bins, _ = spec.shape
    k = min(int(signal_dim), m - 1)
    if weight is None:
        weight = torch.ones(spec.shape[1:], dtype=torch.float64)
    n_groups = int(bin_groups(n_bins, bin_group)[-1]) + 1
    if pair_steer.shape[0] != n_groups:
        raise ValueError(f"pair_steer has {pair_steer.shape[0]} frequencies, {n_groups} groups of bins expected")
    # Snapshots of each (group, label frame) cell: its selected STFT frames of its bins,
    # zero-padded to the longest label frame (a zero snapshot adds nothing to a covariance).
    frames = _label_frame_table(label_of, n_label, spec.shape[-1])            # [L, S], T = padding
    snap = torch.cat([spec * weight.to(spec.dtype), spec.new_zeros((m, n_bins, 1))], dim=-1)
    sel = torch.cat([weight.to(torch.float64), weight.new_zeros((n_bins, 1)).to(torch.float64)], dim=-1)
    pad = n_groups * bin_group - n_bins if n_groups != n_bins else 0
    if pad:
        snap = torch.cat([snap, snap.new_zeros((m, pad, snap.shape[-1]))], dim=1)
        sel = torch.cat([sel, sel.new_zeros((pad, sel.shape[-1]))], dim=0)
    g = bin_group if n_groups != n_bins else 1
    votes = sel[:, frames].reshape(n_groups, g, n_label, -1).sum(dim=(1, 3))    # [G, L]
    g_idx, l_idx = torch.nonzero(votes > 0, as_tuple=True)                    # cells, sorted by group
    ys = snap[:, :, frames].reshape(m, n_groups, g, n_label, -1)              # [M, G, g, L, S]
    ys = ys.permute(1, 3, 0, 2, 4)[g_idx, l_idx].reshape(len(g_idx), m, -1)   # [n, M, g S]
    cells = ys @ ys.conj().transpose(-1, -2)                                   # [n, M, M]
    _, vecs = torch.linalg.eigh(cells)
    signal = vecs[..., m - k:]                                                 # [n, M, k]
    proj = signal @ signal.conj().transpose(-1, -2)                            # [n, M, M]
    i, j = _pairs(m)
    ps = proj[:, i, j]                                                         # [n, P]
    # Re(c Ps) = Re c Re Ps - Im c Im Ps with c = a_i^* a_j.
    coef = torch.cat([ps.real, -ps.imag], dim=-1).to(pair_steer.dtype)        # [n, 2P]
    # Cells packed per group: [G, c_max, 2P], padding rows scattered into a spare label frame.
    counts = torch.bincount(g_idx, minlength=n_groups)
    rank = torch.arange(len(g_idx)) - (torch.cumsum(counts, 0) - counts)[g_idx]
    c_max = max(1, int(counts.max())) if len(g_idx) else 1
    packed = torch.zeros((n_groups, c_max, coef.shape[1]), dtype=coef.dtype)
    packed[g_idx, rank] = coef
    dest = torch.full((n_groups, c_max), n_label, dtype=torch.long)
    dest[g_idx, rank] = l_idx
    n_dirs = pair_steer.shape[2]
    out = torch.zeros((n_label + 1, n_dirs), dtype=torch.float32)
    step = max(1, block_elements // (c_max * n_dirs))
    base = torch.full((1, 1, 1), float(m - k), dtype=pair_steer.dtype)
    per_group = counts.tolist()
    for g0 in range(0, n_groups, step):
        c = max(per_group[g0:g0 + step])
        if c == 0:
            continue
        # den = M - |E_s^H a|^2 = (M - k) - 2 sum Re(...); spectrum / its max = min(den) / den.
        den = torch.baddbmm(base, packed[g0:g0 + step, :c], pair_steer[g0:g0 + step], alpha=-2.0)  # [g, c, D]
        den.clamp_min_(1e-6 * m)
        torch.div(den.amin(dim=-1, keepdim=True), den, out=den)
        out.index_add_(0, dest[g0:g0 + step, :c].reshape(-1), den.reshape(-1, n_dirs).to(out.dtype))
    out = out[:n_label]
    n_votes = (votes > 0).sum(dim=0).clamp_min(1).to(out.dtype)
    return out / n_votes[:, None]


def double_threshold(level: np.ndarray, on_db: float, off_db: float, min_frames: int = 1) -> np.ndarray:
    """``[L]`` bool: the runs of ``level > off_db`` that reach ``level > on_db``, at least ``min_frames`` long.

    Hysteresis in both directions (a run grows from its frames above ``on_db`` while the
    level stays above ``off_db <= on_db``), then runs shorter than ``min_frames`` are dropped.
    """
    level = np.asarray(level, dtype=np.float64)
    above = level > min(off_db, on_db)
    edges = np.diff(np.r_[0, above.astype(np.int8), 0])
    starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    out = np.zeros(len(level), dtype=bool)
    peak = np.maximum.reduceat(level, starts) if len(starts) else np.zeros(0)
    for a, b, top in zip(starts, stops, peak):
        if top > on_db and b - a >= min_frames:
            out[a:b] = True
    return out


def _label_mean(values: np.ndarray, label_of: np.ndarray, n_label: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``[..., T]`` over each label frame's STFT frames -> (``[..., L]``, ``[L]`` counts)."""
    idx = np.minimum(label_of, n_label - 1)
    counts = np.bincount(idx, minlength=n_label)
    onehot = np.zeros((len(idx), n_label))
    onehot[np.arange(len(idx)), idx] = 1.0
    return (values @ onehot) / np.maximum(counts, 1), counts


def frame_activity(spec: torch.Tensor, label_of: np.ndarray, n_label: int, *, percentile: float,
                   threshold_db: float, hysteresis_db: float = 0.0, min_frames: int = 1
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Broadband activity: ``([L] bool active, [L] dB above the noise floor)`` (module docstring).

    Level of a label frame: its mean power (``[M, F, T]`` band STFT, microphone- and
    bin-averaged ``|X|^2``) over the clip's floor, the ``percentile``-th percentile of the
    STFT frames' powers; active by :func:`double_threshold` with ``on = threshold_db``,
    ``off = threshold_db - hysteresis_db``.
    """
    power = spec.abs().square().mean(dim=(0, 1)).numpy()                      # [T]
    floor = max(float(np.percentile(power, percentile)), 1e-20)
    mean, counts = _label_mean(power, label_of, n_label)
    level = 10.0 * np.log10(np.maximum(mean, 1e-30) / floor)
    active = double_threshold(level, threshold_db, threshold_db - hysteresis_db, min_frames)
    return active & (counts > 0), level


def band_activity(band_power: np.ndarray, label_of: np.ndarray, n_label: int, *, percentile: float,
                  threshold_db: float, hysteresis_db: float = 0.0, min_frames: int = 1
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per-band noise-floor activity: ``([L] bool, [L] mean dB excess)`` of ``[B, T]`` band powers.

    Each band's floor is the ``percentile``-th percentile of its STFT-frame powers over the
    clip (a stationary noise spectrum, whatever its colour); a label frame's level is the mean
    over bands of ``max(0, 10 log10(band power / floor))`` with the band power averaged over
    the label frame's STFT frames, so a source that rises above the noise in a few bands
    (a tone, a high-pitched sound above low-frequency rumble) counts where a broadband power
    ratio would be dominated by the loudest band. Active by :func:`double_threshold`.
    """
    band_power = np.asarray(band_power, dtype=np.float64)
    floor = np.maximum(np.percentile(band_power, percentile, axis=1), 1e-30)  # [B]
    mean, counts = _label_mean(band_power, label_of, n_label)                 # [B, L]
    excess = np.maximum(10.0 * np.log10(np.maximum(mean, 1e-30) / floor[:, None]), 0.0)
    level = excess.mean(axis=0)
    active = double_threshold(level, threshold_db, threshold_db - hysteresis_db, min_frames)
    return active & (counts > 0), level


def grid_neighbours(grid: np.ndarray, k: int = 8) -> np.ndarray:
    """``[D, k]`` indices of each grid point's ``k`` nearest other points (chunked ``D x D`` dot products)."""
    out = np.empty((len(grid), k), dtype=np.int64)
    for start in range(0, len(grid), 1024):
        sim = grid[start:start + 1024] @ grid.T
        sim[np.arange(len(sim)), np.arange(start, start + len(sim))] = -np.inf
        out[start:start + 1024] = np.argpartition(-sim, k, axis=1)[:, :k]
    return out


def pick_peaks(maps: torch.Tensor, grid: np.ndarray, max_peaks: int, min_separation_deg: float,
               peak_ratio: float, neighbours: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of ``[L, D]`` maps: ``([L, K] grid indices, [L, K] bool counted as a source)``.

    Only local maxima are candidates (a point at least as high as its ``neighbours``,
    :func:`grid_neighbours`; every point when ``None``), so the shoulder of a broad lobe is
    no peak. Peak ``k`` is the highest candidate after masking the directions within
    ``min_separation_deg`` of peaks ``0..k-1``; it counts when
    ``(height - median) >= peak_ratio (first - median)`` (the first peak always counts; a
    frame with fewer candidates has ``-inf`` heights, not counted).
    """
    values = maps.to(torch.float64).clone()
    grid_t = torch.from_numpy(grid)
    median = values.median(dim=1).values
    if neighbours is not None:
        around = values[:, torch.from_numpy(neighbours)].amax(dim=-1)          # [L, D]
        values.masked_fill_(values < around, -math.inf)
    cos_sep = math.cos(math.radians(min_separation_deg))
    idx = np.zeros((values.shape[0], max_peaks), dtype=np.int64)
    height = np.zeros((values.shape[0], max_peaks))
    for k in range(max_peaks):
        best, where = values.max(dim=1)
        idx[:, k] = where.numpy()
        height[:, k] = best.numpy()
        values.masked_fill_((grid_t[where] @ grid_t.T) >= cos_sep, -math.inf)  # [L, D]
    med = median.numpy()[:, None]
    top = height[:, :1] - med
    counted = np.isfinite(height) & ((height - med) >= peak_ratio * top)
    counted[:, 0] = True
    return idx, counted


def assign_tracks(directions: list[np.ndarray], max_slots: int, gate_deg: float,
                  min_frames: int) -> np.ndarray:
    """Slot of each frame's peaks: ``directions[l]`` ``[n_l, 3]`` -> ``[L, max_slots]`` peak index or -1.

    Greedy nearest-last-direction continuation within ``gate_deg``; a peak with no slot in
    the gate takes an unused slot, else the nearest slot not taken in that frame; slots with
    fewer than ``min_frames`` frames are cleared.
    """
    n = len(directions)
    table = np.full((n, max_slots), -1, dtype=np.int64)
    last = np.zeros((max_slots, 3))
    used = np.zeros(max_slots, dtype=bool)
    cos_gate = math.cos(math.radians(gate_deg))
    for l, dirs in enumerate(directions):
        if len(dirs) == 0:
            continue
        sim = dirs @ last.T                                                    # [n_l, S]
        sim[:, ~used] = -np.inf
        free_peaks = list(range(len(dirs)))
        free_slots = set(range(max_slots))
        for flat in np.argsort(-sim, axis=None):
            p, s = divmod(int(flat), max_slots)
            if sim[p, s] < cos_gate:
                break
            if p in free_peaks and s in free_slots:
                table[l, s] = p
                free_peaks.remove(p)
                free_slots.discard(s)
        for p in free_peaks:
            unused = [s for s in range(max_slots) if not used[s] and s in free_slots]
            if unused:
                s = unused[0]
            else:
                taken = sorted(free_slots, key=lambda s: -float(dirs[p] @ last[s]))
                if not taken:
                    break
                s = taken[0]
            table[l, s] = p
            free_slots.discard(s)
            used[s] = True
        for s in range(max_slots):
            if table[l, s] >= 0:
                last[s] = dirs[table[l, s]]
                used[s] = True
    short = (table >= 0).sum(axis=0) < min_frames
    table[:, short] = -1
    return table


def steer(spec: torch.Tensor, steer_frames: torch.Tensor) -> torch.Tensor:
    """Delay-and-sum beams ``y = a^H X / M``: ``[M, F, T]`` and ``[K, T, F, M]`` steering -> ``[K, F, T]``."""
    m = spec.shape[0]
    return torch.einsum("ktfm,mft->kft", steer_frames.conj(), spec) / m


def ownership_powers(spec: torch.Tensor, steer_frames: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """``[K, F, T]`` mixture power of the time-frequency bins each of ``K`` directions owns.

    ``spec``: ``[M, F, T]``; ``steer_frames``: ``[K, T, F, M]`` steering per STFT frame;
    ``active``: ``[K, T]`` bool. A bin belongs to the active direction whose delay-and-sum
    beam passes the largest share ``|a^H X|^2 / (M |X|^2)`` of it (the narrowband steered
    response); its power is the microphone-mean ``|X|^2``. Bins of frames with no active
    direction belong to none. Every owned bin is counted once, so the owners' spectra add up
    to the mixture's in the frames where some direction is active.
    """
    k = steer_frames.shape[0]
    share = steer(spec, steer_frames).abs().square()                           # [K, F, T]
    share.masked_fill_(~active[:, None, :], -1.0)
    owner = share.argmax(dim=0)                                                # [F, T]
    mine = (owner[None] == torch.arange(k)[:, None, None]) & active[:, None, :]
    return spec.abs().square().mean(dim=0)[None] * mine


# ----------------------------------------------------------------------------- the predictor


class SeldBaseline:
    """SRP-PHAT or MUSIC SELD predictor (``detect``), with USS objects by beamforming (``analyse``).

    Parameters
    ----------
    method : ``"srp-phat"`` or ``"music"``.
    config : :class:`SeldBaselineConfig` (its ``classifier`` must be set, or pass ``classifier``).
    fs, label_hop_s, max_objects : the suite contract.
    mics : ``[M, 3]`` capsule offsets from the array centre (:func:`array_geometry`).
    classifier : the fitted :class:`~.seld_classify.CentroidFit`.
    multitask : offer ``analyse``/``separate`` (USS objects) besides ``detect``.
    """

    def __init__(self, method: str, config: SeldBaselineConfig, *, fs: int, label_hop_s: float,
                 max_objects: int, mics: np.ndarray, classifier: CentroidFit | None = None,
                 multitask: bool = False, name: str | None = None) -> None:
        if method not in METHODS:
            raise BaselineError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        self.method = method
        self.config = config
        self.fs = int(fs)
        self.label_hop_s = float(label_hop_s)
        self.max_objects = int(max_objects)
        self.mics = np.asarray(mics, dtype=np.float64)
        self.classifier = classifier if classifier is not None else config.classifier
        if self.classifier is not None and self.classifier.fs != self.fs:
            raise BaselineError(f"the classifier was fitted at {self.classifier.fs} Hz, the data is {self.fs} Hz")
        self.multitask = multitask
        self.name = name or (method + ("-uss" if multitask else ""))
        n_fft, _ = stft_size(self.fs)
        self.freqs = np.arange(n_fft // 2 + 1) * self.fs / n_fft
        fmax = self.fs / 2 if config.fmax_hz is None else min(config.fmax_hz, self.fs / 2)
        self.band = (self.freqs >= config.fmin_hz) & (self.freqs <= fmax)
        if not self.band.any():
            raise BaselineError(f"no STFT bin between fmin_hz {config.fmin_hz:g} and {fmax:g} Hz")
        self.grid = fibonacci_grid(config.grid_resolution_deg)
        self.neighbours = grid_neighbours(self.grid)
        self.filterbank = mel_filterbank(self.fs, n_fft, config.n_mels)
        band_freqs = self.freqs[self.band]
        i, j = _pairs(len(self.mics))
        if method == "srp-phat":
            grid_steer = steering_vectors(self.grid, self.mics, band_freqs)   # [D, F, M]
            pair = grid_steer[..., i] * grid_steer[..., j].conj()             # [D, F, P]
            pair = pair.permute(2, 1, 0).reshape(-1, len(self.grid))          # [P F, D]
            self._pair_steer = torch.cat([pair.real, pair.imag], dim=0).to(torch.float32)
        else:
            groups = bin_groups(len(band_freqs), config.music_bin_group)
            centres = np.bincount(groups, weights=band_freqs) / np.bincount(groups)
            grid_steer = steering_vectors(self.grid, self.mics, centres)      # [D, G, M]
            pair = grid_steer[..., i].conj() * grid_steer[..., j]             # [D, G, P]
            pair = torch.cat([pair.real, pair.imag], dim=-1).permute(1, 2, 0)  # [G, 2P, D]
            self._pair_steer = pair.contiguous().to(torch.float32)

    # -- pieces ---------------------------------------------------------------------------

    def maps(self, spec: torch.Tensor, label_of: np.ndarray, n_label: int) -> torch.Tensor:
        """``[L, D]`` direction maps of a ``[M, F, T]`` full-band STFT."""
        band = spec[:, torch.from_numpy(self.band)]
        cfg = self.config
        weight = None if cfg.bin_threshold_db is None else tf_selection(band, cfg.noise_percentile, cfg.bin_threshold_db)
        if self.method == "srp-phat":
            return srp_phat_maps(band.to(torch.complex64), label_of, n_label, self._pair_steer, weight)
        return music_maps(band, label_of, n_label, self._pair_steer, cfg.music_signal_dim, weight,
                          bin_group=cfg.music_bin_group)

    def activity(self, spec: torch.Tensor, label_of: np.ndarray, n_label: int) -> tuple[np.ndarray, np.ndarray]:
        """``([L] bool, [L] level dB)`` of a ``[M, F, T]`` full-band STFT (``config.activity``)."""
        cfg = self.config
        band = spec[:, torch.from_numpy(self.band)]
        opts = dict(percentile=cfg.activity_percentile, threshold_db=cfg.activity_threshold_db,
                    hysteresis_db=cfg.activity_hysteresis_db, min_frames=cfg.min_event_frames)
        if cfg.activity == "broadband":
            return frame_activity(band, label_of, n_label, **opts)
        power = band.abs().square().mean(dim=0).numpy()                          # [F_band, T]
        return band_activity(self.filterbank[:, self.band] @ power, label_of, n_label, **opts)

    def localize(self, mixture: torch.Tensor) -> dict[str, Any]:
        """One scene ``[C, N]`` -> ``spec``, ``label_of``, ``active`` [L], ``table`` [L, S], ``directions`` [L, S, 3]."""
        cfg = self.config
        n = mixture.shape[-1]
        n_label = max(1, int(round(n / self.fs / self.label_hop_s)))
        spec = stft(mixture, self.fs)                                          # [M, F, T]
        label_of = np.minimum(stft_label_frames(spec.shape[-1], self.fs, self.label_hop_s), n_label - 1)
        active, _ = self.activity(spec, label_of, n_label)
        maps = self.maps(spec, label_of, n_label)
        idx, counted = pick_peaks(maps, self.grid, self.max_objects, cfg.min_separation_deg, cfg.peak_ratio,
                                  self.neighbours)
        per_frame = [self.grid[idx[l][counted[l]]] if active[l] else np.zeros((0, 3)) for l in range(n_label)]
        table = assign_tracks(per_frame, self.max_objects, cfg.track_gate_deg, cfg.min_track_frames)
        directions = np.zeros((n_label, self.max_objects, 3))
        for l in range(n_label):
            for s in np.nonzero(table[l] >= 0)[0]:
                directions[l, s] = per_frame[l][table[l, s]]
        return {"spec": spec, "label_of": label_of, "active": active, "table": table,
                "directions": directions, "maps": maps}

    def features(self, spec: torch.Tensor, label_of: np.ndarray, directions: np.ndarray,
                 active: np.ndarray) -> np.ndarray:
        """``[K, 2 n_mels]`` classifier features of ``K`` tracks (NaN rows for a track never active).

        ``directions``: ``[K, L, 3]`` per label frame, ``active``: ``[K, L]`` bool. The bins each
        track owns (:func:`ownership_powers`; a silent frame keeps the track's nearest active
        direction, only the activity differs), their log-mel statistics over the track's
        active frames with the classifier's log floor (:func:`log_mel_statistics`).
        """
        n_tracks, n_label = active.shape
        dirs = np.array(directions, dtype=np.float64)
        for k in range(n_tracks):
            on = np.nonzero(active[k])[0]
            if len(on):
                dirs[k] = dirs[k, on[np.abs(np.arange(n_label)[:, None] - on[None]).argmin(axis=1)]]
        steer_label = steering_vectors(dirs, self.mics, self.freqs)           # [K, L, F, M]
        frames = torch.from_numpy(np.minimum(label_of, n_label - 1))
        on_t = torch.from_numpy(active[:, frames.numpy()])                     # [K, T]
        powers = ownership_powers(spec, steer_label[:, frames], on_t).numpy()  # [K, F, T]
        floor_rel = self.classifier.floor_rel if self.classifier is not None else self.config.class_floor_rel
        out = np.full((n_tracks, 2 * self.config.n_mels), np.nan)
        for k in range(n_tracks):
            if on_t[k].any():
                out[k] = log_mel_statistics(powers[k][:, on_t[k].numpy()], self.filterbank, floor_rel)
        return out

    def source_features(self, mixture: torch.Tensor, directions: np.ndarray, active: np.ndarray) -> np.ndarray:
        """:meth:`features` of a ``[C, N]`` mixture's labelled sources (``[J, L, 3]``, ``[J, L]``): the fit's input."""
        spec = stft(mixture, self.fs)
        label_of = stft_label_frames(spec.shape[-1], self.fs, self.label_hop_s)
        return self.features(spec, label_of, directions, np.asarray(active, dtype=bool))

    def _classes(self, found: dict[str, Any], slots: np.ndarray) -> np.ndarray:
        if self.classifier is None:
            raise BaselineError(f"{self.name}: no classifier (fit one on the train split or give --config)")
        if not len(slots):
            return np.zeros(0, dtype=np.int64)
        table = found["table"]
        feats = self.features(found["spec"], found["label_of"], found["directions"][:, slots].transpose(1, 0, 2),
                              (table[:, slots] >= 0).T)
        return self.classifier.predict(feats)

    def scene(self, mixture: torch.Tensor, objects: bool = False) -> tuple[DcaseLabels, torch.Tensor | None]:
        """One ``[C, N]`` mixture -> (events, ``[max_objects, C, N]`` objects or None)."""
        found = self.localize(mixture)
        table = found["table"]
        slots = np.nonzero((table >= 0).any(axis=0))[0]
        classes = self._classes(found, slots)
        frame, slot = np.nonzero(table[:, slots] >= 0)                        # frame-major
        labels = DcaseLabels.from_cartesian(frame, classes[slot], slots[slot],
                                            found["directions"][frame, slots[slot]])
        if not objects:
            return labels, None
        images = torch.zeros((self.max_objects, *mixture.shape), dtype=torch.float64)
        if len(slots):
            dirs = found["directions"][:, slots].transpose(1, 0, 2)              # [K, L, 3]
            silent = np.linalg.norm(dirs, axis=-1) < 0.5
            dirs[silent] = (1.0, 0.0, 0.0)                                       # masked below
            az, el, _ = cartesian_to_dcase(dirs)
            look = torch.from_numpy(np.stack([az, el], axis=-1))[None]           # [1, K, L, 2]
            gate = torch.from_numpy((table[:, slots] >= 0).T.astype(np.float64))[None]
            images[slots] = steer_beams(mixture[None], look, self.mics, self.fs,
                                        method=self.config.uss_beamformer,
                                        activity=gate if self.config.uss_gate else None)[0].to(torch.float64)
        residual = mixture.to(torch.float64) - images.sum(dim=0)
        empty = [k for k in range(self.max_objects) if k not in set(slots.tolist())]
        images[empty] = residual
        return labels, images.to(torch.float32)

    # -- protocols --------------------------------------------------------------------------

    @torch.no_grad()
    def detect(self, mixture: torch.Tensor) -> list[DcaseLabels]:
        return [self.scene(x)[0] for x in mixture]

    def describe(self) -> dict[str, Any]:
        cfg = self.config.to_dict()
        cfg.pop("classifier", None)
        return {"kind": "dsp", "name": self.name, "method": self.method, "grid_points": int(len(self.grid)),
                "config": cfg, "classifier": classifier_record(self.classifier) if self.classifier else None,
                "class_unknown": False}


class SeldUssBaseline(SeldBaseline):
    """:class:`SeldBaseline` with USS objects (``analyse`` gives both tasks from one localisation)."""

    @torch.no_grad()
    def analyse(self, mixture: torch.Tensor) -> Analysis:
        done = [self.scene(x, objects=True) for x in mixture]
        return Analysis(objects=torch.stack([o for _, o in done]), events=[e for e, _ in done])

    def separate(self, mixture: torch.Tensor) -> torch.Tensor:
        objects = self.analyse(mixture).objects
        assert objects is not None
        return objects


# ----------------------------------------------------------------------------- registration


def _load_config(value: Any) -> SeldBaselineConfig:
    if value is None:
        return SeldBaselineConfig()
    if isinstance(value, SeldBaselineConfig):
        return value
    if isinstance(value, (str, Path)):
        return SeldBaselineConfig.load(value, search=[])
    raise BaselineError(f"--config: expected a SELD baseline configuration file, got {type(value).__name__}")


def fit_seld_config(suite: Any, data: Path, out: Path, *, config: Any = None) -> SeldBaselineConfig:
    """Fit the centroid classifier on ``data``'s train split and save the whole configuration to ``out``.

    ``out`` (``.toml``, ``.json`` or ``.yaml``) is then a ``--config FILE`` for any of the four
    baselines on that suite: the fit is not repeated. ``out`` may not lie inside ``data``.
    """
    from asabench.benchmark.suites import load_suite
    from asabench.simulate.io.files import refuse_output_over_inputs

    suite = load_suite(suite) if not hasattr(suite, "contract") else suite
    refuse_output_over_inputs([Path(out)], [Path(data)], what="the fitted configuration")
    cfg = _load_config(config)
    fit = _fit_classifier(suite, Path(data), cfg, array_geometry(data, suite.contract.num_channels))
    fitted = SeldBaselineConfig.from_dict({**cfg.to_dict(), "classifier": fit.to_dict()})
    fitted.save(out)
    return fitted


def _fit_classifier(suite: Any, data: Path, config: SeldBaselineConfig, mics: np.ndarray) -> CentroidFit:
    """The classifier fitted on ``data``'s train split through the predictors' feature path.

    The features do not depend on the direction method, so one fit serves all four baselines.
    """
    contract = suite.contract
    plain = SeldBaselineConfig.from_dict({**config.to_dict(), "classifier": None})
    featurizer = SeldBaseline("srp-phat", plain, fs=contract.sample_rate, label_hop_s=contract.label_hop_s,
                              max_objects=contract.max_objects, mics=mics)
    return fit_from_dataset(data, suite.splits.train, fs=contract.sample_rate, n_mels=config.n_mels,
                            max_sources=max(contract.max_objects, 5), max_scenes=config.max_train_scenes,
                            features=featurizer.source_features, shrinkage=config.class_shrinkage,
                            floor_rel=config.class_floor_rel)


def build(method: str, context: BaselineContext, *, multitask: bool) -> SeldBaseline:
    """The predictor for a suite and dataset: geometry from the dataset, classifier fitted or loaded."""
    contract = context.suite.contract
    config = _load_config(context.config)
    mics = array_geometry(context.data, contract.num_channels)
    classifier = config.classifier
    if classifier is None:
        if context.data is None:
            raise BaselineError(f"{method}: no dataset folder to fit the classifier on (give --data or --config)")
        classifier = _fit_classifier(context.suite, Path(context.data), config, mics)
    cls = SeldUssBaseline if multitask else SeldBaseline
    return cls(method, config, fs=contract.sample_rate, label_hop_s=contract.label_hop_s,
               max_objects=contract.max_objects, mics=mics, classifier=classifier,
               multitask=multitask)


@register_baseline("srp-phat", tasks=("seld",), kind="dsp",
                   description="SRP-PHAT over a Fibonacci sphere, band-floor activity, LDA class of the owned bins")
def _srp_phat(context: BaselineContext) -> SeldBaseline:
    return build("srp-phat", context, multitask=False)


@register_baseline("music", tasks=("seld",), kind="dsp",
                   description="broadband MUSIC over a Fibonacci sphere, band-floor activity, LDA class of owned bins")
def _music(context: BaselineContext) -> SeldBaseline:
    return build("music", context, multitask=False)


@register_baseline("srp-phat-uss", tasks=("uss", "seld"), kind="dsp",
                   description="srp-phat events plus USS objects: delay-and-sum beams to the tracked directions")
def _srp_phat_uss(context: BaselineContext) -> SeldBaseline:
    return build("srp-phat", context, multitask=True)


@register_baseline("music-uss", tasks=("uss", "seld"), kind="dsp",
                   description="music events plus USS objects: delay-and-sum beams to the tracked directions")
def _music_uss(context: BaselineContext) -> SeldBaseline:
    return build("music", context, multitask=True)
