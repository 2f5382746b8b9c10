"""SELD DSP baselines' speed: the MUSIC maps before and after the per-cell rewrite, and whole scenes.

Run: ``python -m asabench.benchmark.perf.dsp_seld [--data DIR --split test] [--scenes 5] [--threads 1]``.

On each scene (a dataset's mixtures, or seeded synthetic 4-s 16-kHz scenes of three white
plane waves in noise when no ``--data`` is given) the band STFT and the time-frequency
selection are computed once, then, interleaved in the same run:

* ``old``: :func:`music_maps_reference`, the MUSIC maps as they were before (kept here only,
  for this comparison and the equivalence test): the covariance and ``eigh`` of every
  (label frame, bin) cell, one ``[F, l, 2P] x [F, 2P, D]`` batched matmul per chunk of
  label frames, every cell normalised and weighted by its 0/1 vote;
* ``new``: :func:`asabench.benchmark.baselines.localize.music_maps` with ``bin_group = 1``
  (the same maps): only the cells with a selected snapshot, one ``[n_f, 2P] x [2P, D]``
  matmul per bin, normalised in place and scattered into their label frames;
* ``new, bin_group = g`` (``--groups``): frequency smoothing, not the same maps (timed only).

It prints each time, the ratio old / new and the largest difference of the maps, then the
full per-scene time (``SeldBaseline.scene``: STFT, activity, maps, peaks, tracks, classes)
of ``srp-phat`` and ``music`` with a classifier fitted on random features (its time does not
depend on the centroids). Times are medians over the scenes (``time.perf_counter``);
``--threads`` sets ``torch.set_num_threads`` (on a loaded 2-core machine, 1 thread avoids
the thread contention that makes every small op slow).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from asabench.benchmark.baselines.beamform import array_geometry
from asabench.benchmark.baselines.localize import (SeldBaseline, SeldBaselineConfig, _label_sum, _pairs,
                                                   music_maps, tf_selection)
from asabench.benchmark.baselines.seld_classify import fit_centroids, stft, stft_label_frames
from asabench.simulate.geometry import SPEED_OF_SOUND, dcase_to_cartesian, tetra_array

FS = 16000
MICS = tetra_array((0.0, 0.0, 0.0), 0.042)


def music_maps_reference(spec: torch.Tensor, label_of: np.ndarray, n_label: int, pair_steer: torch.Tensor,
                         signal_dim: int = 1, weight: torch.Tensor | None = None,
                         chunk_elements: int = 2 ** 24) -> torch.Tensor:
    """The MUSIC maps before the rewrite (``pair_steer``: ``[F, 2P, D]``); same definition as ``music_maps``."""
    m = spec.shape[0]
    k = min(int(signal_dim), m - 1)
    if weight is None:
        weight = torch.ones(spec.shape[1:], dtype=torch.float64)
    outer = spec[:, None] * spec[None].conj() * weight.to(spec.dtype)          # [M, M, F, T]
    cov = _label_sum(outer, label_of, n_label).permute(0, 3, 1, 2)              # [L, F, M, M]
    present = (_label_sum(weight.to(torch.float64), label_of, n_label) > 0).to(torch.float32)  # [L, F]
    _, vecs = torch.linalg.eigh(cov)
    signal = vecs[..., m - k:]                                                 # [L, F, M, k]
    proj = signal @ signal.conj().transpose(-1, -2)                            # [L, F, M, M]
    i, j = _pairs(m)
    ps = proj[..., i, j]                                                       # [L, F, P]
    coef = torch.cat([ps.real, -ps.imag], dim=-1).permute(1, 0, 2).to(pair_steer.dtype)  # [F, L, 2P]
    f, d = pair_steer.shape[0], pair_steer.shape[2]
    step = max(1, chunk_elements // max(1, f * d))
    out = torch.empty((n_label, d), dtype=torch.float32)
    for start in range(0, n_label, step):
        den = torch.bmm(coef[:, start:start + step].contiguous(), pair_steer)    # [F, l, D]
        den.mul_(-2.0).add_(m - k).clamp_min_(1e-6 * m)
        lowest = den.amin(dim=-1, keepdim=True)
        votes = present[start:start + step].T[..., None]                      # [F, l, 1]
        summed = den.reciprocal_().mul_(lowest).mul_(votes).sum(dim=0)
        out[start:start + step] = summed / votes.sum(dim=0).clamp_min(1.0)
    return out


def synthetic_scene(rng: np.random.Generator, seconds: float = 4.0) -> torch.Tensor:
    """``[4, N]``: three white plane waves (random directions, on for random spans) in white noise."""
    n = int(seconds * FS)
    f = np.fft.rfftfreq(n, 1 / FS)
    x = 0.05 * rng.standard_normal((4, n))
    for _ in range(3):
        lead = MICS @ dcase_to_cartesian(rng.uniform(-180, 180), rng.uniform(-60, 60)) / SPEED_OF_SOUND
        s = np.fft.irfft(np.fft.rfft(rng.standard_normal(n))[None] * np.exp(2j * np.pi * f * lead[:, None]), n)
        a, b = sorted(rng.integers(0, n, 2))
        x[:, a:b] += s[:, a:b]
    return torch.from_numpy(x).float()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="dataset folder (default: synthetic scenes)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--scenes", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--groups", type=int, nargs="*", default=[2, 4])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.data:
        from asabench.simulate.dataset.loader import SceneDataset

        ds = SceneDataset(args.data, args.split, max_sources=5, targets=False)
        mixtures = [ds[i]["mixture"] for i in range(min(args.scenes, len(ds)))]
        fs, mics = ds.fs, array_geometry(args.data, mixtures[0].shape[0] if mixtures else None)
    else:
        rng = np.random.default_rng(args.seed)
        mixtures = [synthetic_scene(rng) for _ in range(args.scenes)]
        fs, mics = FS, MICS
    print(f"{len(mixtures)} scenes ({args.data or 'synthetic'}), torch threads {torch.get_num_threads()}")

    cfg = SeldBaselineConfig()
    p = SeldBaseline("music", cfg, fs=fs, label_hop_s=0.1, max_objects=5, mics=mics)
    grouped = {g: SeldBaseline("music", SeldBaselineConfig(music_bin_group=g), fs=fs, label_hop_s=0.1,
                               max_objects=5, mics=mics) for g in args.groups}
    times: dict[str, list[float]] = {"old": [], "new": [], **{f"new, bin_group = {g}": [] for g in args.groups}}
    worst = 0.0
    for x in mixtures:
        spec = stft(x, fs)
        n_label = int(round(x.shape[-1] / fs / 0.1))
        label_of = np.minimum(stft_label_frames(spec.shape[-1], fs, 0.1), n_label - 1)
        band = spec[:, torch.from_numpy(p.band)]
        weight = tf_selection(band, cfg.noise_percentile, cfg.bin_threshold_db)
        t0 = time.perf_counter()
        old = music_maps_reference(band, label_of, n_label, p._pair_steer, 1, weight)
        t1 = time.perf_counter()
        new = music_maps(band, label_of, n_label, p._pair_steer, 1, weight)
        t2 = time.perf_counter()
        times["old"].append(t1 - t0)
        times["new"].append(t2 - t1)
        worst = max(worst, float((old - new).abs().max()))
        for g, q in grouped.items():
            t0 = time.perf_counter()
            music_maps(band, label_of, n_label, q._pair_steer, 1, weight, bin_group=g)
            times[f"new, bin_group = {g}"].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    for k, v in med.items():
        print(f"MUSIC maps {k:18s}: {v:.3f} s per scene (median)   old / this = {med['old'] / v:.1f}x")
    print(f"largest |old - new| of the maps (values in [0, 1]): {worst:.2e}")

    rng = np.random.default_rng(args.seed)
    fit = fit_centroids(rng.standard_normal((26, 2 * cfg.n_mels)), list(range(13)) * 2, fs=fs, n_mels=cfg.n_mels,
                        shrinkage=cfg.class_shrinkage, floor_rel=cfg.class_floor_rel)
    for method in ("srp-phat", "music"):
        q = SeldBaseline(method, cfg, fs=fs, label_hop_s=0.1, max_objects=5, mics=mics, classifier=fit)
        spent = []
        for x in mixtures:
            t0 = time.perf_counter()
            q.scene(x)
            spent.append(time.perf_counter() - t0)
        print(f"whole scene {method:8s}: {np.median(spent):.3f} s per scene (median)")


if __name__ == "__main__":
    main()
