"""SELD scoring speed: vectorised counting vs a per-block, per-class loop of the official algorithm.

Run: ``python -m asabench.benchmark.perf.seld [--scenes 2000] [--frames 40] [--loop-scenes N]``.

Synthetic scenes (``--frames`` 100 ms frames, up to 5 sources of 13 classes, sources
switching on and off) with predictions near the references (direction noise, dropped and
shifted frames, class confusions, spurious events) are scored

* by :func:`asabench.benchmark.metrics.seld.count_seld` + jackknife summary in the
  ``default``, ``dcase2023`` and ``dcase2024`` modes (and the ``deepasa`` mode, timed
  alone), and
* by :func:`asabench.benchmark.metrics.seld.reference.count_seld_loop`, a literal loop port
  of the official DCASE evaluation algorithm (dicts of frames, one Hungarian call per frame
  and class), which is the timing the official code's structure gives.

The counts of both are compared (they must agree exactly), the times and the speed-up are
printed, and the time to read the scenes' DCASE CSVs (reference and prediction) is measured
to project the full ``asabench score --task seld`` time. The target: a 2 000-scene test
split scored for all metrics in under 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from asabench.simulate.classes import NUM_CLASSES
from asabench.benchmark.io.dcase_csv import DcaseLabels, read_dcase_csv, write_dcase_csv
from asabench.benchmark.metrics.seld import count_seld, summarize_seld
from asabench.benchmark.metrics.seld.reference import count_seld_loop



def synthetic_scene(rng: np.random.Generator, n_frames: int) -> tuple[DcaseLabels, DcaseLabels]:
    """One reference scene and a noisy prediction of it."""
    J = int(rng.integers(1, 6))
    cls = rng.integers(0, NUM_CLASSES, J)
    on = rng.random((J, n_frames)) < 0.7
    az0, el0 = rng.uniform(-180, 180, J), rng.uniform(-45, 45, J)
    drift = np.cumsum(rng.normal(0, 2, (J, n_frames)), axis=1)  # moving sources
    k, f = np.nonzero(on)
    order = np.lexsort((k, f))
    k, f = k[order], f[order]
    ref = DcaseLabels.from_polar(f, cls[k], k, az0[k] + drift[k, f], np.clip(el0[k] + drift[k, f] / 3, -89, 89),
                                 rng.uniform(50, 400, J)[k])
    keep = rng.random(len(f)) > 0.15
    noise = rng.normal(0, 0.25, (keep.sum(), 3))
    pf = np.clip(f[keep] + rng.integers(-1, 2, keep.sum()) * (rng.random(keep.sum()) < 0.2), 0, n_frames - 1)
    pc = cls[k][keep].copy()
    swap = rng.random(len(pc)) < 0.05
    pc[swap] = rng.integers(0, NUM_CLASSES, swap.sum())
    n_sp = int(rng.integers(0, 4))
    pred = DcaseLabels.from_cartesian(
        np.r_[pf, rng.integers(0, n_frames, n_sp)], np.r_[pc, rng.integers(0, NUM_CLASSES, n_sp)],
        np.r_[k[keep], np.zeros(n_sp, int)],
        np.r_[ref.xyz[keep] + noise, rng.normal(size=(n_sp, 3))],
        np.r_[ref.distance[keep] * rng.uniform(0.6, 1.6, keep.sum()), rng.uniform(50, 400, n_sp)])
    return ref, pred


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=2000)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--loop-scenes", type=int, default=None,
                    help="scenes given to the loop port (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    scenes = [synthetic_scene(rng, args.frames) for _ in range(args.scenes)]
    refs = [s[0] for s in scenes]
    preds = [s[1] for s in scenes]
    n_rows = sum(r.num_rows for r in refs) + sum(p.num_rows for p in preds)
    print(f"{args.scenes} scenes x {args.frames} frames, {NUM_CLASSES} classes, "
          f"{n_rows} label rows (reference + prediction)")

    fast: dict[str, float] = {}
    counts = {}
    for mode in ("default", "dcase2023", "dcase2024"):
        t0 = time.perf_counter()
        c = count_seld(refs, preds, num_classes=NUM_CLASSES, mode=mode, n_frames=args.frames)
        t1 = time.perf_counter()
        ev = summarize_seld(c, average="macro")
        t2 = time.perf_counter()
        fast[mode] = t2 - t0
        counts[mode] = c
        agg = ", ".join(f"{k} {v:.4f}" for k, v in ev.aggregate.items())
        print(f"vectorised {mode:9s}: count {t1 - t0:7.3f} s + summary/jackknife {t2 - t1:6.3f} s"
              f"  [{agg}]")

    # the DeepASA tables' frame-level slot-wise mode: per-scene arrays and an exhaustive
    # alignment (up to 5! permutations); no loop port to compare with
    t0 = time.perf_counter()
    c = count_seld(refs, preds, num_classes=NUM_CLASSES, mode="deepasa", n_frames=args.frames)
    t1 = time.perf_counter()
    ev = summarize_seld(c, average="macro")  # type: ignore[arg-type]
    t2 = time.perf_counter()
    agg = ", ".join(f"{k} {v:.4f}" for k, v in ev.aggregate.items())
    print(f"deepasa mode        : count {t1 - t0:7.3f} s + summary/jackknife {t2 - t1:6.3f} s  [{agg}]")

    n_loop = args.scenes if args.loop_scenes is None else min(args.loop_scenes, args.scenes)
    scale = args.scenes / n_loop
    for mode in ("dcase2023", "dcase2024"):
        t0 = time.perf_counter()
        slow = count_seld_loop(refs[:n_loop], preds[:n_loop], num_classes=NUM_CLASSES, mode=mode,
                               n_frames=[args.frames] * n_loop)
        t_loop = (time.perf_counter() - t0) * scale
        ref_c = counts[mode].select(np.arange(n_loop))
        same = all(np.allclose(ref_c.arrays()[k], slow.arrays()[k], atol=1e-9) for k in slow.arrays())
        note = "" if n_loop == args.scenes else f" (measured on {n_loop}, scaled)"
        print(f"loop port  {mode:9s}: {t_loop:7.3f} s{note}; counts identical: {same}; "
              f"vectorised is {t_loop / fast[mode]:.1f}x faster (incl. jackknife)")
        # The official jackknife re-scores the n - 1 remaining files once per left-out file.
        t_jk = t_loop * (args.scenes - 1)
        print(f"           official-style leave-one-out jackknife (n re-scorings): ~{t_jk:,.0f} s "
              f"projected, {t_jk / fast[mode]:,.0f}x the vectorised count + jackknife")

    # Reading the CSVs is part of scoring: time it on the same scenes.
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for i, (r, p) in enumerate(scenes):
            write_dcase_csv(tmp_path / f"ref-{i}.csv", r, integer_degrees=True)
            write_dcase_csv(tmp_path / f"pred-{i}.csv", p, coords="cartesian")
        t0 = time.perf_counter()
        for i in range(len(scenes)):
            read_dcase_csv(tmp_path / f"ref-{i}.csv", num_classes=NUM_CLASSES)
            read_dcase_csv(tmp_path / f"pred-{i}.csv", num_classes=NUM_CLASSES)
        t_io = time.perf_counter() - t0
    total = t_io + fast["default"]
    print(f"reading {2 * len(scenes)} DCASE CSVs: {t_io:.3f} s")
    print(f"projected SELD part of 'asabench score' for {args.scenes} scenes: {total:.2f} s "
          f"(CSV reading + default-mode metrics with jackknife); budget for all metrics: 120 s")


if __name__ == "__main__":
    main()
