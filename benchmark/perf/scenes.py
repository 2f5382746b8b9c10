"""Scene throughput of the ASA2 moving recipe, torch engine against pyroomacoustics.

The same scenes of ``manifests/asa2.toml`` (built-in banks, 16 kHz, 4 s), chosen among
those with 5 foreground sources (the most expensive case: up to 5 x 40 trajectory points,
800 full RIRs plus 800 direct-path RIRs), are rendered and written twice in this run:

* torch: the package's RIR engine (``--device``), as ``asabench simulate`` does;
* pyroomacoustics: the same specs with ``backend = "pyroomacoustics"`` (its image sources
  up to Tdiff, our seeded tail, positive reflections), everything else identical.

Per scene the time is split into sampling and clip generation (``load``), RIRs,
trajectory convolution, noise (diffuse field + SNR + output scale), labels and writing. One
scene is rendered first as a warm-up and not counted. Then ``--workers`` processes make
``--mix`` scenes of the recipe's own mix (2-5 sources) through the same code as
``asabench simulate``, which gives the throughput used for the projection of the full
54 000-scene ASA2 on this machine.

Run: ``python -m asabench.benchmark.perf.scenes [--num 3] [--workers 2] [--mix 8]``
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import sys
import tempfile
import time
from typing import Sequence

import numpy as np

from asabench.simulate.manifest import load_manifest
from asabench.simulate.scene.render import render_scene
from asabench.simulate.scene.sampling import sample_layout, sample_scene
from asabench.simulate.dataset.build import Banks, ClipCache, CachedBank, init_worker, open_banks, run_scene_job
from asabench.simulate.dataset.writer import write_scene

STAGES = ("load", "rirs", "convolution", "noise", "labels", "write")


def _time_scene(m, index: int, banks, out: str, backend: str, device: str) -> dict[str, float]:
    t0 = time.perf_counter()
    spec, clips, noise_clip = sample_scene(m, "train", index, banks.sources, banks.noise,
                                           bank_info=banks.describe())
    load = time.perf_counter() - t0
    if backend != "torch":
        spec = copy.deepcopy(spec)
        spec.render = dict(spec.render, backend=backend)
    scene = render_scene(spec, clips=clips, noise_clip=noise_clip, device=device)
    t0 = time.perf_counter()
    write_scene(out, scene)
    timings = dict(scene.timings, write=time.perf_counter() - t0)
    timings["load"] += load
    return timings


def _row(name: str, per: dict[str, float]) -> str:
    total = sum(per.values())
    parts = "  ".join(f"{k} {per[k]:6.3f}" for k in STAGES)
    return f"{name:16s} {total:7.3f} s/scene   {parts}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asabench.benchmark.perf.scenes", description=__doc__.split("\n")[0])
    parser.add_argument("--num", type=int, default=3, help="5-source scenes timed per engine")
    parser.add_argument("--workers", type=int, default=2, help="processes of the throughput run")
    parser.add_argument("--mix", type=int, default=8, help="scenes of the recipe's mix in the throughput run (0: skip)")
    parser.add_argument("--device", default="cpu", help="torch device of the RIR engine")
    parser.add_argument("--skip-pyroomacoustics", action="store_true")
    args = parser.parse_args(argv)

    m = load_manifest("asa2")
    banks = open_banks(m)
    five = [i for i in range(1000) if len(sample_layout(m, "train", i).classes) == 5][: args.num + 1]
    warm, timed = five[0], five[1:]
    print(f"ASA2 moving recipe, built-in banks, {m.fs} Hz, {m.duration_s:g} s; 5-source scenes {timed} "
          f"(warm-up {warm}); torch on {args.device}, 1 thread per process; {os.cpu_count()} CPU cores")
    for i in timed:
        lay = sample_layout(m, "train", i)
        print(f"  scene {i}: RT60 {lay.rt60_s:.2f} s, room {np.round(lay.room_dim, 2).tolist()} m, "
              f"moving sources {sum(not t.static for t in lay.trajectories)}/5")
    results: dict[str, dict[str, float]] = {}
    engines = ["torch"] + ([] if args.skip_pyroomacoustics else ["pyroomacoustics"])
    with tempfile.TemporaryDirectory() as tmp:
        for engine in engines:
            out = os.path.join(tmp, engine)
            _time_scene(m, warm, banks, out, engine, args.device)
            sums = {k: 0.0 for k in STAGES}
            for i in timed:
                t = _time_scene(m, i, banks, out, engine, args.device)
                for k in STAGES:
                    sums[k] += t[k]
            results[engine] = {k: v / len(timed) for k, v in sums.items()}
            print(_row(engine, results[engine]))
            sys.stdout.flush()
        # Steady state of a long job: each worker's clip cache holds the built-in clips
        # (416 of them), so sampling no longer generates audio. Prime, then time.
        cache = ClipCache()
        cached = Banks(CachedBank(banks.sources, cache), CachedBank(banks.noise, cache), "builtin", "builtin")
        for i in timed:
            sample_scene(m, "train", i, cached.sources, cached.noise)
        t0 = time.perf_counter()
        for i in timed:
            sample_scene(m, "train", i, cached.sources, cached.noise)
        warm_load = (time.perf_counter() - t0) / len(timed)
        steady = sum(results["torch"].values()) - results["torch"]["load"] + warm_load
        print(f"load with a warm clip cache: {warm_load:.3f} s/scene -> torch steady state {steady:.3f} s/scene")
        torch_total = sum(results["torch"].values())
        cold_total = torch_total
        if "pyroomacoustics" in results:
            pra_total = sum(results["pyroomacoustics"].values())
            print(f"ratio pyroomacoustics / torch: {pra_total / torch_total:.2f}x per scene "
                  f"(RIRs alone: {results['pyroomacoustics']['rirs'] / results['torch']['rirs']:.2f}x)")
        target = "meets" if cold_total < 2.0 else "misses"
        print(f"target < 2 s per 5-source moving scene on 2 cores: {cold_total:.2f} s on one core with cold "
              f"clips, {steady:.2f} s warm ({cold_total / 2:.2f} / {steady / 2:.2f} s per scene with 2 workers) -> {target}")

        if args.mix > 0:
            mix_out = os.path.join(tmp, "mix")
            init = (m, mix_out, None, None, args.device, "torch", False)
            jobs = [("train", i) for i in range(args.mix)]
            ctx = mp.get_context("spawn")
            with ctx.Pool(args.workers, initializer=init_worker, initargs=init) as pool:
                # Warm each worker (imports, first-call allocations) on scenes outside the run.
                pool.map(run_scene_job, [("train", 50000 - 1 - w) for w in range(args.workers)], chunksize=1)
                t0 = time.perf_counter()
                failed = [e for _, _, e in pool.imap_unordered(run_scene_job, jobs, chunksize=1) if e]
                wall = time.perf_counter() - t0
            rate = args.mix / wall
            total = sum(m.splits.values())
            print(f"throughput, recipe mix of {args.mix} scenes on {args.workers} workers: {rate:.2f} scenes/s "
                  f"({wall / args.mix:.3f} s/scene){' FAILED ' + str(failed) if failed else ''}")
            h = total / rate / 3600
            print(f"projected full ASA2 ({total} scenes) on {args.workers} workers here: {h:.1f} h")
            if "pyroomacoustics" in results:
                print(f"projected with pyroomacoustics RIRs (5-source ratio applied): {h * pra_total / torch_total:.1f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
