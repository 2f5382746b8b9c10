"""Training speed: clips/s of a training step, the Mamba2 scan, and whether on-the-fly data keeps up.

Run: ``python -m asabench.benchmark.perf.train`` (``make bench-train``); options below.

1. *Training step*: for DeepASA on ``asa2-multitask`` and SoundCompass on
   ``asa2-static-tse`` (tiny and paper configurations fitted to the suite's contract), one
   real step of the training job: the objective's loss on a batch of on-the-fly scenes
   (:mod:`asabench.benchmark.training.objectives`), backward, gradient clipping and the
   optimiser step. Printed as seconds per step and clips per second. The paper
   configurations recompute each DeFT-Mamba block in backward (``backbone.checkpoint``)
   because their forward + backward does not fit in 23 GB otherwise; ``--paper-seconds``
   shortens their clip (the suite's 4 s by default).
2. *Mamba2 scan*: the pure-PyTorch chunked SSD scan against the step-by-step recurrence,
   and the earlier segsum form, forward and forward + backward, timed interleaved, on the
   DeepASA T-path shape with B/C shared by the heads (the models' ``ngroups = 1``) and per head
   (:func:`asabench.benchmark.perf.models.bench_scan`, the same measurement as
   ``make bench-models``); the ratio is naive / chunked (> 1: the scan is faster).
3. *On-the-fly data*: scenes per second that one DataLoader worker renders
   (:class:`~asabench.simulate.dataset.onthefly.OnTheFlyScenes`, one torch thread, the
   built-in banks unless the corpora are prepared), against the clips per second the step
   consumes: the workers needed to keep the step fed.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import torch

__all__ = ["bench_step", "bench_render", "main"]

SUITES = {"deepasa": "asa2-multitask", "soundcompass": "asa2-static-tse"}


def bench_render(suite_name: str, scenes: int, seed_index: int = 0) -> tuple[float, list[dict]]:
    """Seconds per scene rendered by one worker (one thread), and the items rendered."""
    from asabench.benchmark.suites import _manifest_path, load_suite
    from asabench.simulate.dataset.onthefly import OnTheFlyScenes

    suite = load_suite(suite_name)
    ds = OnTheFlyScenes(_manifest_path(suite, suite.path), suite.splits.train, max_sources=suite.contract.max_objects,
                        indices=range(seed_index, seed_index + scenes + 1))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        items = [ds[0]]  # opens the banks, fills the clip cache of the first scene
        times = []
        for i in range(1, scenes + 1):
            t0 = time.perf_counter()
            items.append(ds[i])
            times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return statistics.median(times), items


def bench_step(system: str, config: str, items: list[dict], batch: int, repeats: int, seconds: float | None,
               checkpoint: bool) -> float:
    """Median seconds of one training step (loss, backward, clip, optimiser step) on ``batch`` scenes."""
    from asabench import models
    from asabench.benchmark.predict import fit_model_config
    from asabench.benchmark.suites import load_suite
    from asabench.benchmark.training.objectives import objective_for
    from asabench.simulate.dataset.loader import collate_scenes

    suite = load_suite(SUITES[system])
    cfg = fit_model_config(system, config, suite.contract)
    cfg.backbone.checkpoint = checkpoint
    net = models.create(system, cfg)
    net.train()
    objective = objective_for(system, cfg, suite)
    chosen = [dict(items[k % len(items)], index=torch.tensor(k)) for k in range(batch)]
    data = collate_scenes(chosen)
    if seconds is not None:  # shorter clips: keep whole label frames
        n = int(round(seconds * suite.contract.sample_rate))
        frames = int(round(seconds / suite.contract.label_hop_s))
        for key in ("mixture", "direct", "reverb"):
            data[key] = data[key][..., :n].contiguous()
        for key in ("sed", "doa", "distance"):
            data[key] = data[key][:, :, :frames].contiguous()
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    import contextlib

    def step() -> None:
        terms = objective.loss(net, data, torch.device("cpu"), epoch=0, seed=0, autocast=contextlib.nullcontext)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--systems", nargs="+", default=["deepasa", "soundcompass"], choices=sorted(SUITES))
    ap.add_argument("--configs", nargs="+", default=["tiny", "paper"])
    ap.add_argument("--batch", type=int, default=2, help="scenes per step (the recipes' 2 per GPU)")
    ap.add_argument("--repeats", type=int, default=2, help="timed steps (median) after one warm-up")
    ap.add_argument("--paper-repeats", type=int, default=1)
    ap.add_argument("--paper-seconds", type=float, default=None, help="clip length of the paper steps (default: 4 s)")
    ap.add_argument("--scenes", type=int, default=3, help="scenes rendered per system (median time)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads of the step (default: torch's)")
    ap.add_argument("--scan-sequences", type=int, default=321)
    ap.add_argument("--scan-length", type=int, default=201)
    ap.add_argument("--skip-scan", action="store_true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads for the step, "
          f"{os.cpu_count()} cores, load average {load:.2f} at start")

    rows = []
    for system in args.systems:
        render_s, items = bench_render(SUITES[system], args.scenes)
        print(f"{system}: {SUITES[system]} train scenes render in {render_s:.3f} s each on one worker "
              f"({1 / render_s:.2f} scenes/s per worker)", flush=True)
        for config in args.configs:
            paper = config != "tiny"
            step_s = bench_step(system, config, items, args.batch, args.paper_repeats if paper else args.repeats,
                                args.paper_seconds if paper else None, checkpoint=paper)
            clip_s = args.paper_seconds if (paper and args.paper_seconds) else None
            clips_per_s = args.batch / step_s
            workers = clips_per_s * render_s
            rows.append((system, config, step_s, clips_per_s, render_s, workers, clip_s))
            print(f"  {config:<6} step {step_s:8.3f} s ({args.batch} clips{'' if clip_s is None else f' of {clip_s:g} s'}"
                  f"{', block checkpointing' if paper else ''}): {clips_per_s:7.3f} clips/s; on-the-fly needs "
                  f"{workers:.2f} worker(s) to keep up", flush=True)

    if not args.skip_scan:
        from asabench.benchmark.perf.models import bench_scan, print_scan

        for groups in (1, 16):  # the models' shared B/C (ngroups 1), then one per head
            s = bench_scan(args.scan_sequences, args.scan_length, args.repeats, torch.device("cpu"), groups=groups)
            print_scan(s, args.scan_sequences, args.scan_length, 16, 16, 16, groups, 32)
    end = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    print(f"load average {end:.2f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
