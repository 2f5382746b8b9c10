"""Speed of SI-SDR and BSS-Eval v3 SDR against mir_eval and fast_bss_eval, on the same data.

Run: ``python -m asabench.benchmark.perf.separation`` (defaults: the issue's workload,
2 000 test scenes x 5 sources x 4 channels x 64 000 samples, ``torch.set_num_threads(2)``).

Workloads (every implementation sees identical float32 data, computed in float64):

* **SI-SDR, headline**: ours, channel-pooled (M2M convention) per source, no peer.
* **SI-SDR, per channel with permutation**: each channel of a scene is a single-channel
  problem ``[J, T]``; ours = :func:`pit` over :func:`si_sdr`, peer =
  ``fast_bss_eval.si_sdr`` (permutation on by default).
* **BSS-Eval sources** (SDR, SIR, SAR, mean-SIR permutation): each channel a
  single-channel ``bss_eval_sources`` problem, as mir_eval would be called once per
  channel; ours = :func:`bss_eval_sources_per_channel`, peers = ``mir_eval`` and
  ``fast_bss_eval.bss_eval_sources``.
* **BSS-Eval SDR only** (mean-SDR permutation): ours = :func:`bss_eval_sdr`, peer =
  ``fast_bss_eval.sdr``. mir_eval has no SDR-only function, so its time is the sources
  one.

* **Scene family (USS scoring)**: every channel-pooled, per-channel and improvement value
  ``asabench score --task uss`` needs for one scene ``[J, C, T]`` with its permutation;
  ours = :func:`separation_family` (one Gram matrix per channel), peer = the per-metric
  path :func:`separation_family_reference` (what ``asabench score`` ran before: pairwise
  SI-SDR for the permutation, then ``si_sdr``/``snr``/``si_snr`` pooled and per channel for
  the estimates and again for the mixture). Best of ``--family-repeat`` runs each;
  ``--only family`` runs this section alone.

mir_eval takes seconds per channel-problem: it is timed on ``--mir-scenes`` scenes and
extrapolated linearly to the full workload, and the output says so. Ratios come from the
same subset for all implementations, timed best-of-``--repeat`` (the machine is shared,
so the best run is the least disturbed one); mir_eval is timed once. Ours also runs a
larger stream of scenes in batches (``--large-scenes``, the full 2 000 if asked; at about
0.1-0.3 s per channel-problem for BSS-Eval SDR the full workload takes tens of minutes on
2 shared cores), timed once and extrapolated.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Callable

import numpy as np
import torch
from scipy.signal import lfilter

from asabench.benchmark.metrics.bss_eval import bss_eval_sdr, bss_eval_sources
from asabench.benchmark.metrics.guards import GuardReport
from asabench.benchmark.metrics.permutation import pit
from asabench.benchmark.metrics.separation import separation_family_reference, si_sdr
from asabench.benchmark.metrics.separation_engine import separation_family


def make_scenes(seed: int, start: int, count: int, j: int, c: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic test data ``est, ref [count, J, C, T]`` float32 for scenes ``start..``.

    References are coloured noise (one-pole low-pass, pole 0.9, as a stand-in for audio
    spectra); estimates keep 90 % of their source, leak 15 % of the others and add noise.
    """
    est = np.empty((count, j, c, t), dtype=np.float32)
    ref = np.empty((count, j, c, t), dtype=np.float32)
    for k in range(count):
        rng = np.random.default_rng([seed, start + k])
        r = lfilter([1.0], [1.0, -0.9], rng.standard_normal((j, c, t)), axis=-1)
        mix = r.sum(0, keepdims=True)
        ref[k] = r
        est[k] = 0.9 * r + 0.15 * (mix - r) + 0.3 * rng.standard_normal((j, c, t))
    return est, ref


def channel_problems(x: np.ndarray) -> np.ndarray:
    """``[S, J, C, T]`` -> ``[S * C, J, T]``: one single-channel problem per channel."""
    s, j, c, t = x.shape
    return np.ascontiguousarray(x.transpose(0, 2, 1, 3).reshape(s * c, j, t))


def best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _line(workload: str, impl: str, n_timed: int, seconds: float, n_total: int, note: str = "") -> float:
    full = seconds * n_total / n_timed
    print(f"  {workload:<22} {impl:<34} {n_timed:>6} scenes {seconds:9.3f} s  -> {full:10.1f} s for {n_total} {note}")
    return full


def family_section(seed: int, j: int, c: int, t: int, n_scenes: int, repeat: int) -> float:
    """Time :func:`separation_family` against the per-metric scene path on one USS scene.

    Returns the ratio (per-metric time / ours), after printing both times per scene, their
    projection to ``n_scenes`` and the largest difference between the two paths' values.
    """
    est, ref = make_scenes(seed, 0, 1, j, c, t)
    mix = ref.sum(axis=1)  # [1, C, T] float32
    shuffle = np.roll(np.arange(j), 1)  # estimates out of order: the permutation is solved
    est = np.ascontiguousarray(est[:, shuffle])
    print(f"\nScene family (USS scoring: pooled, per-channel and improvement values + permutation), "
          f"one scene [{j} sources, {c} channels, {t} samples] float32, best of {repeat}")
    t_new, new = best_of(lambda: separation_family(est, ref, mix, permute=True, report=GuardReport()), repeat)
    t_old, old = best_of(lambda: separation_family_reference(est[0], ref[0], mix[0], permute=True,
                                                             report=GuardReport()), repeat)
    names = [k for k in old if k != "perm"]
    diff = max(float(np.nanmax(np.abs(new[k][0].numpy() - old[k].numpy()))) for k in names)
    for impl, secs in (("asabench separation_family", t_new), ("per-metric separation_family_reference", t_old)):
        print(f"  {impl:<38} {secs * 1e3:8.2f} ms/scene  -> {secs * n_scenes:8.1f} s for {n_scenes} scenes")
    ratio = t_old / t_new
    print(f"  ratio (per-metric / family): {ratio:.1f}x; agreement over {len(names)} metrics: max |diff| = "
          f"{diff:.2e} dB, same permutation: {new['perm'][0].tolist() == old['perm'].tolist()}")
    return ratio


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=2000)
    p.add_argument("--sources", type=int, default=5)
    p.add_argument("--channels", type=int, default=4)
    p.add_argument("--samples", type=int, default=64000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--subset", type=int, default=4, help="scenes timed for every implementation")
    p.add_argument("--mir-scenes", type=int, default=1, help="scenes timed for mir_eval (once)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--batch", type=int, default=8, help="scenes per batch in full-workload runs")
    p.add_argument("--large", choices=["none", "cheap", "all"], default="cheap",
                   help="also run ours on --large-scenes scenes in batches: 'cheap' = SI-SDR and SDR-only, "
                   "'all' adds BSS-Eval sources")
    p.add_argument("--large-scenes", type=int, default=100,
                   help="scenes for the large run (the full workload if >= --scenes)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--family-repeat", type=int, default=10, help="runs of the scene-family timing (best kept)")
    p.add_argument("--only", choices=["all", "family"], default="all",
                   help="'family': only the scene-family section (seconds instead of minutes)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.only == "family":
        print(f"torch threads={args.threads}, seed={args.seed}")
        family_section(args.seed, args.sources, args.channels, args.samples, args.scenes, args.family_repeat)
        return 0
    warnings.simplefilter("ignore", FutureWarning)  # mir_eval.separation is deprecated

    import fast_bss_eval
    import mir_eval

    j, c, t, n = args.sources, args.channels, args.samples, args.scenes
    sub = min(args.subset, n)
    print(f"workload: {n} scenes x {j} sources x {c} channels x {t} samples, float32 data, "
          f"float64 computation, torch threads={args.threads}, seed={args.seed}")
    print(f"ratio subset: {sub} scenes, best of {args.repeat}; mir_eval: {args.mir_scenes} scene(s), once, "
          "extrapolated linearly; times for all scenes are extrapolated from the subset unless marked 'measured'")
    est, ref = make_scenes(args.seed, 0, sub, j, c, t)
    est_c, ref_c = channel_problems(est), channel_problems(ref)
    # Peers get the same float32 arrays and their float64 cast is timed, as ours is.
    f64 = lambda x: x.astype(np.float64)  # noqa: E731
    est_t, ref_t = torch.from_numpy(est), torch.from_numpy(ref)
    results: dict[str, dict[str, float]] = {}

    print("\nSI-SDR")
    tt, _ = best_of(lambda: si_sdr(est_t, ref_t), args.repeat)
    results.setdefault("si_sdr_pooled", {})["ours"] = _line("pooled, per source", "asabench si_sdr", sub, tt, n)
    def ours_pit() -> object:
        return pit(si_sdr, torch.from_numpy(est_c)[:, :, None], torch.from_numpy(ref_c)[:, :, None])

    tt, res = best_of(ours_pit, args.repeat)
    results.setdefault("si_sdr_pit", {})["ours"] = _line("per channel + perm", "asabench pit(si_sdr)", sub, tt, n)
    tt, (fb_val, fb_perm) = best_of(lambda: fast_bss_eval.si_sdr(f64(ref_c), f64(est_c), return_perm=True), args.repeat)
    results["si_sdr_pit"]["fast_bss_eval"] = _line("per channel + perm", "fast_bss_eval.si_sdr (numpy)", sub, tt, n)
    print(f"    agreement with fast_bss_eval: max |diff| = {np.abs(res.per_source.numpy() - fb_val).max():.2e} dB, "
          f"same permutation: {bool((res.perm.numpy() == fb_perm).all())}")

    print("\nBSS-Eval v3 sources (SDR, SIR, SAR; mean-SIR permutation; 512 taps)")
    tt, ours_src = best_of(lambda: bss_eval_sources(est_c, ref_c), args.repeat)
    results.setdefault("bss_sources", {})["ours"] = _line("sources", "asabench bss_eval_sources", sub, tt, n)
    tt, fb_src = best_of(lambda: fast_bss_eval.bss_eval_sources(f64(ref_c), f64(est_c)), args.repeat)
    results["bss_sources"]["fast_bss_eval"] = _line("sources", "fast_bss_eval.bss_eval_sources (numpy)", sub, tt, n)
    m = min(args.mir_scenes, sub) * c
    t0 = time.perf_counter()
    mir = [mir_eval.separation.bss_eval_sources(f64(ref_c[i]), f64(est_c[i])) for i in range(m)]
    tt = time.perf_counter() - t0
    results["bss_sources"]["mir_eval"] = _line("sources", "mir_eval bss_eval_sources", m // c, tt, n, "(extrapolated)")
    mir_sdr = np.stack([x[0] for x in mir])
    print(f"    agreement with mir_eval ({m} channel-problems): max |dSDR| = "
          f"{np.abs(ours_src.sdr[:m].numpy() - mir_sdr).max():.2e} dB, "
          f"max |dSIR| = {np.abs(ours_src.sir[:m].numpy() - np.stack([x[1] for x in mir])).max():.2e}, "
          f"max |dSAR| = {np.abs(ours_src.sar[:m].numpy() - np.stack([x[2] for x in mir])).max():.2e}, "
          f"same permutation: {all((ours_src.perm[i].numpy() == mir[i][3]).all() for i in range(m))}")
    print(f"    agreement with fast_bss_eval: max |dSDR| = {np.abs(ours_src.sdr.numpy() - fb_src[0]).max():.2e} dB")

    print("\nBSS-Eval v3 SDR only (mean-SDR permutation; 512 taps)")
    tt, (o_sdr, o_perm) = best_of(lambda: bss_eval_sdr(est_c, ref_c, compute_permutation=True), args.repeat)
    results.setdefault("bss_sdr", {})["ours"] = _line("SDR only", "asabench bss_eval_sdr", sub, tt, n)
    tt, (f_sdr, f_perm) = best_of(lambda: fast_bss_eval.sdr(f64(ref_c), f64(est_c), return_perm=True), args.repeat)
    results["bss_sdr"]["fast_bss_eval"] = _line("SDR only", "fast_bss_eval.sdr (numpy)", sub, tt, n)
    results["bss_sdr"]["mir_eval"] = results["bss_sources"]["mir_eval"]
    print(f"    agreement with fast_bss_eval: max |diff| = {np.abs(o_sdr.numpy() - f_sdr).max():.2e} dB, "
          f"same permutation: {bool((o_perm.numpy() == f_perm).all())}")

    print("\nRatios (peer time / ours, same subset, extrapolated to the full workload)")
    for key, row in results.items():
        for peer in ("mir_eval", "fast_bss_eval"):
            if peer in row:
                print(f"  {key:<14} {peer:<14} {row[peer] / row['ours']:8.1f}x")

    if args.large != "none":
        big = min(args.large_scenes, n)
        print(f"\nLarge run, ours only, measured once on {big} scenes (batches of {args.batch} scenes, data "
              "generation excluded)" + (f", extrapolated to {n}" if big < n else ""))
        timers = {"si_sdr pooled": 0.0, "pit(si_sdr) per channel": 0.0, "bss_eval_sdr": 0.0}
        if args.large == "all":
            timers["bss_eval_sources"] = 0.0
        for start in range(0, big, args.batch):
            cnt = min(args.batch, big - start)
            e, r = make_scenes(args.seed, start, cnt, j, c, t)
            ec, rc = channel_problems(e), channel_problems(r)
            for name in timers:
                t0 = time.perf_counter()
                if name == "si_sdr pooled":
                    si_sdr(torch.from_numpy(e), torch.from_numpy(r))
                elif name.startswith("pit"):
                    pit(si_sdr, torch.from_numpy(ec)[:, :, None], torch.from_numpy(rc)[:, :, None])
                elif name == "bss_eval_sdr":
                    bss_eval_sdr(ec, rc, compute_permutation=True)
                else:
                    bss_eval_sources(ec, rc)
                timers[name] += time.perf_counter() - t0
        for name, secs in timers.items():
            print(f"  {name:<26} {secs:10.1f} s for {big} scenes (measured) -> {secs * n / big:10.1f} s for {n}")
    family_section(args.seed, j, c, t, n, args.family_repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
