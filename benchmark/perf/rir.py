"""Speed of the torch RIR engine against pyroomacoustics on one moving ASA2 scene.

The request: the 800 RIRs of a 5-source, 40-point moving ASA2 scene (16 kHz, tetrahedral
array at the room centre, room ~ U[5, 8] x U[5, 8] x U[3, 4] m, image sources to -12 dB
then the diffuse tail to -40 dB), for RT60 0.2, 0.4 and 0.6 s. Compared in the same run:

* torch: :func:`asabench.simulate.simulate_rirs_torch`, images culled to the Tdiff
  sphere, plus the seeded tail (all 800 RIRs in one call);
* pyroomacoustics like for like: its image-source RIRs at the smallest ``max_order``
  whose diamond contains every image of that sphere (it cannot stop at a sphere, so it
  computes ~3x more images; no tail); and, for equal work, at the smallest order whose
  diamond has at least as many images as the sphere (a truncated image set: not the same
  RIRs);
* pyroomacoustics full order: ``inverse_sabine`` absorption and ``max_order``, what a CPU
  user runs today (no tail needed).

pyroomacoustics runs with its high-pass filter, air absorption and ray tracing off, on as
many threads as torch. When a pyroomacoustics configuration would take long, a subset of
the sources is timed and the time is extrapolated linearly in the number of sources (the
output says so). Every time is the best of ``--repeats`` runs, since the machine may be
shared.

Run: ``python -m asabench.benchmark.perf.rir [--device cuda] [--threads 2]``

On a machine shared with other jobs, run with ``OMP_WAIT_POLICY=PASSIVE``: torch's OpenMP
threads otherwise spin at every parallel region and, when the cores are oversubscribed,
wait for descheduled partners (measured here at load ~7 on 2 cores: 0.43 s instead of
1.7 s for the RT60 0.6 s scene). The setting must be in the environment before Python
starts; the output says whether it was.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from asabench.simulate.geometry import tetra_array
from asabench.simulate.rir.image_source import half_window_taps
from asabench.simulate.rir.engine import render_torch
from asabench.simulate.rir.backends import covering_order
from asabench.simulate.rir.request import RirRequest, make_request
from asabench.simulate.scene.trajectory import sample_trajectory

FS = 16000
N_SOURCES = 5
N_POINTS = 40


@dataclass
class Timing:
    seconds: float  # for all 800 RIRs (extrapolated when subset < total)
    subset: int  # sources actually timed
    total: int


def asa2_scene(rt60: float, seed: int) -> RirRequest:
    """The RIR request of one moving ASA2 scene at a given RT60: ``S * 40`` points x 4 mics."""
    rng = np.random.default_rng(seed)
    room = np.array([rng.uniform(5, 8), rng.uniform(5, 8), rng.uniform(3, 4)])
    mics = tetra_array(room / 2)
    points = [
        sample_trajectory(rng, room, n_points=N_POINTS, static_prob=0.25, amplitude_max_m=1.0, max_oscillations=2.0, margin_m=0.5).points
        for _ in range(N_SOURCES)
    ]
    return make_request(room, rt60, np.concatenate(points), mics, FS, tdiff_db=12, tmax_db=40)


def best_of(fn: Callable[[], object], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def images_in_sphere(request: RirRequest) -> float:
    """Mean number of images per source-receiver pair inside the torch engine's sphere."""
    _, taps = half_window_taps(request.fs, request.window_s)
    radius = request.c * (request.n_early + taps) / request.fs
    counts = []
    for src in request.sources[:: max(1, len(request.sources) // 20)]:
        for mic in request.mics:
            axes = []
            for d in range(3):
                n = int(math.ceil(radius / request.room_dim[d])) + 1
                u = np.arange(-n, n + 1)
                pos = np.where(u % 2 == 0, 1.0, -1.0) * src[d] + (u + u % 2) * request.room_dim[d]
                axes.append((pos - mic[d]) ** 2)
            d2 = axes[0][:, None, None] + axes[1][None, :, None] + axes[2][None, None, :]
            counts.append(int((d2 < radius * radius).sum()))
    return float(np.mean(counts))


def diamond_size(order: int) -> int:
    """Images of order <= ``order`` in 3-D: ``(2N + 1)(2N^2 + 2N + 3) / 3``."""
    return (2 * order + 1) * (2 * order * order + 2 * order + 3) // 3


def pra_time(request: RirRequest, absorption: np.ndarray | float, max_order: int, repeats: int, budget_s: float) -> Timing:
    """Time pyroomacoustics on the request's sources, extrapolating from a subset if slow."""
    import pyroomacoustics as pra

    walls = ("west", "east", "south", "north", "floor", "ceiling")
    absorption = np.broadcast_to(np.asarray(absorption, dtype=np.float64), (6,))

    def run(sources: np.ndarray) -> None:
        materials = {w: pra.Material(energy_absorption=float(a)) for w, a in zip(walls, absorption)}
        room = pra.ShoeBox(request.room_dim, fs=FS, materials=materials, max_order=max_order, air_absorption=False, ray_tracing=False)
        for s in sources:
            room.add_source(s)
        room.add_microphone_array(request.mics.T)
        room.compute_rir()

    total = request.sources.shape[0]
    probe = best_of(lambda: run(request.sources[:1]), 1)
    subset = int(min(total, max(1, budget_s / max(probe, 1e-6))))
    sources = request.sources[np.linspace(0, total - 1, subset).round().astype(int)]
    seconds = best_of(lambda: run(sources), repeats if probe * subset < budget_s / 2 else 1)
    return Timing(seconds * total / subset, subset, total)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asabench.benchmark.perf.rir", description=__doc__.split("\n")[0])
    parser.add_argument("--rt60", type=float, nargs="+", default=[0.2, 0.4, 0.6])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch and pyroomacoustics threads")
    parser.add_argument("--repeats", type=int, default=5, help="pyroomacoustics like-for-like repeats (best taken)")
    parser.add_argument("--torch-repeats", type=int, default=20, help="torch repeats (best taken; cheap, and catches quiet moments on a shared machine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pra-budget", type=float, default=8.0, help="seconds per pyroomacoustics timing before extrapolating")
    parser.add_argument("--skip-full", action="store_true", help="skip pyroomacoustics at full inverse-Sabine order")
    args = parser.parse_args(argv)

    import pyroomacoustics as pra

    torch.set_num_threads(args.threads)
    pra.constants.set("num_threads", args.threads)
    pra.constants.set("rir_hpf_enable", False)
    device = torch.device(args.device)
    print(
        f"torch {torch.__version__} on {device} ({args.threads} threads), pyroomacoustics {pra.__version__}; "
        f"best of {args.torch_repeats} (torch) / {args.repeats} (pyroomacoustics like for like) / 1 (full order)"
    )
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset: OpenMP default, spinning)')}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (timings are best-of; a shared machine slows every column)")
    print("scene: 5 sources x 40 points x 4 capsules = 800 RIRs, 16 kHz, images to -12 dB, tail to -40 dB\n")
    header = (
        f"{'RT60':>5} {'room (m)':>17} {'ours img':>8} {'torch s':>8} {'RIR/s':>8} | {'order':>5} {'pra img':>7} {'pra s':>8} {'RIR/s':>7} {'ratio':>6} | "
        f"{'order':>5} {'pra img':>7} {'pra s':>8} {'ratio':>6} | {'order':>5} {'pra s':>8} {'RIR/s':>7} {'ratio':>7}"
    )
    print(" " * 42 + "like for like (pra, covering order)" + " " * 6 + "pra, same image count" + " " * 6 + "full inverse-Sabine order (pra)")
    print(header)
    for rt60 in args.rt60:
        request = asa2_scene(rt60, args.seed)
        n_rirs = request.sources.shape[0] * request.mics.shape[0]

        def ours() -> None:
            out = render_torch(request, device)
            if device.type == "cuda":
                torch.cuda.synchronize()
            del out

        ours()  # warm-up (kernel table, allocator, CUDA context)
        t_ours = best_of(ours, args.torch_repeats)
        order = covering_order(request)
        like = pra_time(request, 1.0 - request.betas**2, order, args.repeats, args.pra_budget)
        row = (
            f"{rt60:5.2f} {' x '.join(f'{d:.2f}' for d in request.room_dim):>17} {images_in_sphere(request):8.0f} {t_ours:8.3f} {n_rirs / t_ours:8.0f} | "
            f"{order:5d} {diamond_size(order):7d} {like.seconds:8.3f} {n_rirs / like.seconds:7.0f} {like.seconds / t_ours:5.1f}x"
        )
        ours_img = images_in_sphere(request)
        eq_order = next(o for o in range(order + 1) if diamond_size(o) >= ours_img)
        equal = pra_time(request, 1.0 - request.betas**2, eq_order, args.repeats, args.pra_budget)
        row += f" | {eq_order:5d} {diamond_size(eq_order):7d} {equal.seconds:8.3f} {equal.seconds / t_ours:5.1f}x"
        notes = []
        if like.subset < like.total or equal.subset < equal.total:
            notes.append(f"like-for-like timed on {like.subset}/{like.total} sources, extrapolated")
        if not args.skip_full:
            absorption, full_order = pra.inverse_sabine(rt60, request.room_dim.tolist(), c=request.c)
            full = pra_time(request, absorption, int(full_order), 1, args.pra_budget)
            row += f" | {int(full_order):5d} {full.seconds:8.2f} {n_rirs / full.seconds:7.1f} {full.seconds / t_ours:6.0f}x"
            if full.subset < full.total:
                notes.append(f"full order timed on {full.subset}/{full.total} sources, extrapolated")
        print(row + (f"   ({'; '.join(notes)})" if notes else ""), flush=True)
    print("\nratio = pyroomacoustics time / torch time for the same 800 RIRs (higher: torch faster).")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print("ours img: images per pair inside the Tdiff sphere; pra img: images of its diamond (per source).")
    print("covering order: the smallest diamond holding every image of our sphere (same RIRs, more images for pra);")
    print("same image count: the smallest diamond with at least as many images as our sphere (same work, truncated image set).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
