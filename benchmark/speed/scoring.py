"""End-to-end ``asabench score`` throughput on a dummy dataset, projected to a 2 000-scene split.

Run: ``python -m asabench.benchmark.speed.scoring [--scenes 20] [--sources 5] [--seconds 4]``.

Writes a dummy dataset (:func:`asabench.simulate.dummies.make_dummy_dataset`, 4 channels,
16 kHz) in a temporary folder, then times :func:`asabench.benchmark.scoring.score` with the
``targets`` oracle for USS (separation metrics, permutation solving), TSE (plus the spatial
cues) and SELD, including reading every WAV and CSV. Per-scene times are projected to the
2 000-scene test split; the target for all metrics is under 120 s on 2 cores. The SELD
counting itself is benchmarked against the official algorithm in
``asabench.benchmark.speed.seld``; SI-SDR / BSS-Eval kernels against mir_eval and
fast_bss_eval in the separation benchmark.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from asabench.benchmark.scoring import score
from asabench.simulate.dummies import make_dummy_dataset


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=20)
    ap.add_argument("--sources", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--fs", type=int, default=16000)
    ap.add_argument("--split-size", type=int, default=2000, help="scenes to project to")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--skip-tse", action="store_true", help="skip the (slow) spatial-cue pass")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        t0 = time.perf_counter()
        make_dummy_dataset(root, args.scenes, args.sources, args.fs, args.seconds,
                           np.random.default_rng(0))
        print(f"dummy dataset: {args.scenes} scenes x {args.sources} sources x 4 ch x "
              f"{int(args.seconds * args.fs)} samples, written in {time.perf_counter() - t0:.1f} s")
        total = 0.0
        tasks = [("uss", {"spatial": False}), ("tse", {"spatial": True}), ("seld", {})]
        if args.skip_tse:
            tasks = [t for t in tasks if t[0] != "tse"]
        for task, kw in tasks:
            t0 = time.perf_counter()
            score(root, task, oracle="targets", **kw)
            dt = time.perf_counter() - t0
            proj = dt / args.scenes * args.split_size
            total += proj
            extra = " incl. spatial cues" if kw.get("spatial") else ""
            print(f"score --task {task:4s}{extra:20s}: {dt:7.2f} s, {1000 * dt / args.scenes:7.1f} ms/scene, "
                  f"projected {args.split_size} scenes: {proj:7.1f} s")
        print(f"projected total for uss + tse + seld on {args.split_size} scenes: {total:.1f} s "
              f"(target < 120 s on 2 cores)")
        print("note: the dummy scenes' channels are independent noise, so every GCC-PHAT peak is weak and "
              "the sub-sample ΔITD takes the full-upsampling path (the worst case)")
    _coherent_spatial(args.sources, int(args.seconds * args.fs), args.fs)


def _coherent_spatial(n_src: int, n_samples: int, fs: int, repeats: int = 3) -> None:
    """Spatial cues of one scene whose channels are delayed copies (+ noise): fast vs full-upsampling ΔITD."""
    from asabench.benchmark.metrics.spatial import delta_itd, spatial_cue_errors

    g = torch.Generator().manual_seed(0)
    src = torch.randn(n_src, 1, n_samples + 8, generator=g, dtype=torch.float64)
    ref = torch.cat([src[..., d:d + n_samples] for d in (0, 2, 5, 3)], 1)
    ref = ref + 0.3 * torch.randn(ref.shape, generator=g, dtype=torch.float64)
    est = ref + 0.5 * torch.randn(ref.shape, generator=g, dtype=torch.float64)

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    kw = dict(interp=16, refine="parabolic")
    t_fast = best(lambda: delta_itd(est, ref, fs, **kw))
    t_ref = best(lambda: delta_itd(est, ref, fs, method="reference", **kw))
    t_all = best(lambda: spatial_cue_errors(est, ref, fs))
    print(f"channel-coherent scene ({n_src} sources, best of {repeats}): sub-sample ΔITD fast {1000 * t_fast:.1f} ms "
          f"vs full upsampling {1000 * t_ref:.1f} ms (x{t_ref / t_fast:.1f}); all spatial cues {1000 * t_all:.1f} ms/scene")


if __name__ == "__main__":
    main()
