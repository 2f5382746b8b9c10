"""Model speed: forward and forward+backward time, real-time factors, SSD scan vs recurrence.

Run: ``python -m asabench.benchmark.perf.models [--configs tiny paper] [--models deepasa]
[--seconds 4] [--repeats 2] [--device cpu]``.

For each model and configuration one ``seconds``-long 4-channel clip (batch 1) is timed
(median of ``repeats`` after one warm-up); the real-time factor is time / audio duration. A
chain-of-inference model is timed on the clip length its ``coi.frames`` label frames make
(4 s for ``paper``, 0.5 s for ``tiny``: one TCM window, as released; printed per row).
``--train-step`` times training steps (forward, backward, clipping, Adam) of ``--batch``
clips of ``--seconds``, each variant (``--variants``: the code as is against switched-back
parts, see ``VARIANTS``) in its own spawned process so that its peak RSS is its own,
interleaved over ``--rounds``.
The pure-PyTorch chunked SSD scan is timed against the step-by-step recurrence on the
DeepASA T-path shape (B*F sequences of T frames, 16 heads of 16 channels, state 16) and the
ratio printed; with CUDA and mamba-ssm importable the fused kernel is timed as well.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from typing import Callable

import torch

from asabench import models
from asabench.models.blocks import mamba2
from asabench.models.registry import resolve_config


def _peak_rss_gb() -> float:
    """Peak resident memory of this process so far (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn: Callable[[], object], repeats: int, device: torch.device, warmup: int = 1) -> float:
    for _ in range(warmup):  # allocator, kernels
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def clip_samples(cfg: object, seconds: float) -> int:
    """Samples of the timed clip: ``seconds`` long, or the one length a CoI model accepts."""
    coi = getattr(cfg, "coi", None)  # DeFT-Mamba has no chain of inference
    if coi is not None and coi.enabled:
        return cfg.coi.frames * cfg.label_hop_frames * cfg.stft.hop
    return int(seconds * cfg.sample_rate)


def bench_model(name: str, config: str, seconds: float, repeats: int, device: torch.device,
                warmup: int = 1, checkpoint: bool = False) -> dict[str, float]:
    """Forward (no grad) and forward+backward times of one clip (``seconds``: its length)."""
    cfg = resolve_config(name, config)
    cfg.backbone.checkpoint = checkpoint
    model = models.create(name, cfg).to(device)
    n = clip_samples(model.config, seconds)
    g = torch.Generator().manual_seed(0)
    x = (0.1 * torch.randn(1, model.config.n_mics, n, generator=g)).to(device)

    def fwd() -> None:
        model.eval()
        with torch.no_grad():
            model(x)

    def fwd_bwd() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        out = model(x)
        loss = sum(v.float().pow(2).mean() for v in out.values())
        loss.backward()

    return {"forward_s": _time(fwd, repeats, device, warmup),
            "forward_backward_s": _time(fwd_bwd, repeats, device, warmup),
            "seconds": n / model.config.sample_rate}


def bench_scan(n_seq: int, length: int, repeats: int, device: torch.device, chunk: int = 32,
               heads: int = 16, headdim: int = 16, state: int = 16, groups: int = 1) -> dict[str, float]:
    """Chunked SSD scan vs the naive recurrence and the earlier segsum form, timed interleaved.

    ``groups`` B/C groups (1: shared by all heads, mamba-ssm's ``ngroups = 1`` as DeepASA and
    SoundCompass build it; ``heads``: one per head). Each repeat runs every scan once in turn,
    so load on a shared machine hits all of them alike; medians are reported. ``segsum`` is
    the chunked algorithm before the factorised form (per-head ``[q, q]`` decay matrices).
    """
    h, p, nst = heads, headdim, state
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_seq, length, h, p, generator=g).to(device)
    dt = torch.nn.functional.softplus(torch.randn(n_seq, length, h, generator=g) - 2).to(device)
    A = (-torch.rand(h, generator=g) * 8 - 1).to(device)
    B = torch.randn(n_seq, length, groups, nst, generator=g).to(device)
    C = torch.randn(n_seq, length, groups, nst, generator=g).to(device)
    Bh, Ch = mamba2._expand_groups(B, h), mamba2._expand_groups(C, h)
    xg = x.clone().requires_grad_(True)
    scans = {
        "chunked": lambda u: mamba2.ssd_scan_chunked(u, dt, A, B, C, chunk),
        "naive": lambda u: mamba2.ssd_scan_naive(u, dt, A, B, C),
        "segsum": lambda u: mamba2._ssd_scan_segsum(u, dt, A, Bh, Ch, chunk),
    }

    def timed(fn: Callable[[], object]) -> float:
        t0 = time.perf_counter()
        fn()
        _sync(device)
        return time.perf_counter() - t0

    def fb(scan: Callable[[torch.Tensor], torch.Tensor]) -> None:
        xg.grad = None
        scan(xg).pow(2).mean().backward()

    times: dict[str, list[float]] = {}
    for rep in range(repeats + 1):  # the first round warms up
        for name, scan in scans.items():
            with torch.no_grad():
                t = timed(lambda: scan(x))
            tb = timed(lambda: fb(scan))
            if rep:
                times.setdefault(f"{name}_s", []).append(t)
                times.setdefault(f"{name}_fb_s", []).append(tb)
    res = {k: statistics.median(v) for k, v in times.items()}
    with torch.no_grad():
        ref = mamba2.ssd_scan_naive(x, dt, A, B, C)
        res["max_abs_diff"] = float((scans["chunked"](x) - ref).abs().max())
        res["max_abs_ref"] = float(ref.abs().max())
        if device.type == "cuda" and mamba2.fused_available():
            raw = torch.log(torch.expm1(dt))  # the kernel applies softplus itself
            res["mamba_ssm_s"] = _time(lambda: mamba2._fused_scan(
                x, raw, A, B, C, chunk_size=256, dt_softplus=True), repeats, device)
    return res


#: What ``--variants`` switches: ``new`` is the code as it stands; ``sdpa-dropout`` sends
#: CPU training-mode attention dropout to ``scaled_dot_product_attention`` (all weights kept
#: for backward), ``segsum-scan`` runs Mamba2's earlier chunked scan; ``before`` is both.
VARIANTS = ("new", "sdpa-dropout", "segsum-scan", "before")


def _apply_variant(model: torch.nn.Module, variant: str) -> None:
    from asabench.models.blocks import deft

    if variant in ("sdpa-dropout", "before"):
        deft.DROPOUT_BLOCK_ELEMENTS = 0
    if variant in ("segsum-scan", "before"):
        for m in model.modules():
            if isinstance(m, mamba2.Mamba2):
                m.scan = "segsum"


def _train_step_child(name: str, config: str, seconds: float, batch: int, variant: str, threads: int | None,
                      steps: int) -> dict[str, float]:
    """In a fresh process: seconds per training step after one warm-up, and peak RSS."""
    if threads:
        torch.set_num_threads(threads)
    cfg = resolve_config(name, config)
    torch.manual_seed(0)
    model = models.create(name, cfg)
    _apply_variant(model, variant)
    model.train()
    g = torch.Generator().manual_seed(0)
    x = 0.1 * torch.randn(batch, model.config.n_mics, int(seconds * model.config.sample_rate), generator=g)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    rss0 = _peak_rss_gb()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        out = model(x)
        sum(v.float().pow(2).mean() for v in out.values()).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"step_s": statistics.median(times), "peak_rss_gb": _peak_rss_gb(), "rss_before_gb": rss0}


def bench_train_steps(name: str, config: str, seconds: float, batch: int, variants: list[str], rounds: int,
                      threads: int | None, steps: int = 1) -> dict[str, list[dict[str, float]]]:
    """Training steps of each variant, each in its own spawned process (so peak RSS is its own),
    interleaved round by round: ``{variant: [result per round]}``."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    with ctx.Pool(1, maxtasksperchild=1) as pool:
        for _ in range(rounds):
            for v in variants:
                out[v].append(pool.apply(_train_step_child, (name, config, seconds, batch, v, threads, steps)))
    return out


def print_scan(s: dict[str, float], n_seq: int, length: int, heads: int, headdim: int, state: int, groups: int,
               chunk: int) -> None:
    """Print one :func:`bench_scan` result (ratios > 1: the chunked scan is faster)."""
    print(f"SSD scan [{n_seq} seq x {length} steps, {heads} heads x {headdim} ch, state {state}, "
          f"{groups} B/C group(s), chunk {chunk}]: max |chunked - naive| {s['max_abs_diff']:.2e} "
          f"(max |y| {s['max_abs_ref']:.1f}); medians of interleaved runs")
    for key, label in (("", "forward:         "), ("_fb", "forward+backward:")):
        c, n, g = s[f"chunked{key}_s"], s[f"naive{key}_s"], s[f"segsum{key}_s"]
        print(f"  {label} chunked {c * 1e3:8.1f} ms, naive recurrence {n * 1e3:8.1f} ms, earlier segsum "
              f"{g * 1e3:8.1f} ms; naive/chunked = {n / c:.2f}x, naive/segsum = {n / g:.2f}x, "
              f"segsum/chunked = {g / c:.2f}x")
    if "mamba_ssm_s" in s:
        print(f"  mamba-ssm fused scan {s['mamba_ssm_s'] * 1e3:.1f} ms, chunked/fused = "
              f"{s['chunked_s'] / s['mamba_ssm_s']:.2f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["deepasa", "deepasa-coi"])
    ap.add_argument("--configs", nargs="+", default=["tiny", "paper"])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs before timing (0 for slow configs)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--scan-chunk", type=int, default=32)
    ap.add_argument("--checkpoint", action="store_true",
                    help="recompute DeFT-Mamba blocks in backward (needed for paper fwd+bwd in < 20 GB)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--scan-sequences", type=int, default=321, help="B*F sequences (321 bins)")
    ap.add_argument("--scan-length", type=int, default=201, help="frames (201 for 4 s)")
    ap.add_argument("--scan-heads", type=int, default=16)
    ap.add_argument("--scan-headdim", type=int, default=16)
    ap.add_argument("--scan-state", type=int, default=16)
    ap.add_argument("--scan-groups", type=int, nargs="+", default=[1, 16],
                    help="B/C groups of the scan timing (1: the models' ngroups; 16: one per head)")
    ap.add_argument("--skip-scan", action="store_true")
    ap.add_argument("--skip-inference", action="store_true", help="no forward / fwd+bwd rows")
    ap.add_argument("--train-step", action="store_true",
                    help="time training steps (forward, backward, clip, Adam) and peak RSS per variant, "
                         "each in its own process, interleaved")
    ap.add_argument("--variants", nargs="+", default=["new", "before"], choices=VARIANTS)
    ap.add_argument("--batch", type=int, default=2, help="clips per training step")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the training-step variants")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"mamba-ssm fused scan importable: {mamba2.fused_available()}")
    print(f"clip: {args.seconds:g} s (CoI models: their fixed length), 4 channels, batch 1; "
          f"RTF = time / clip length")
    if args.train_step:
        import os

        print(f"training steps: {args.batch} clips of {args.seconds:g} s, forward + backward + clip 5 + Adam, "
              f"one warm-up then 1 timed step per process; variants interleaved over {args.rounds} rounds; "
              f"load average {os.getloadavg()[0]:.2f} at start")
        for name in args.models:
            for cfg in args.configs:
                res = bench_train_steps(name, cfg, args.seconds, args.batch, args.variants, args.rounds, args.threads)
                base = statistics.median(r["step_s"] for r in res[args.variants[0]])
                for v, rs in res.items():
                    step = statistics.median(r["step_s"] for r in rs)
                    peak = max(r["peak_rss_gb"] for r in rs)
                    rounds = ", ".join(f"{r['step_s']:.2f}" for r in rs)
                    print(f"  {name:<12}{cfg:<7}{v:<14} step {step:8.2f} s (rounds: {rounds}), peak RSS {peak * 1024:7.0f} MB, "
                          f"step / {args.variants[0]} = {step / base:.2f}x", flush=True)
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if not args.skip_inference:
        print(f"{'model':<14}{'config':<8}{'clip s':>7}{'forward s':>11}{'RTF':>8}{'fwd+bwd s':>12}{'RTF':>8}"
              f"   block checkpointing: {args.checkpoint}")
        for name in args.models:
            for cfg in args.configs:
                r = bench_model(name, cfg, args.seconds, args.repeats, device, args.warmup, args.checkpoint)
                sec = r["seconds"]
                print(f"{name:<14}{cfg:<8}{sec:>7.2f}{r['forward_s']:>11.3f}{r['forward_s'] / sec:>8.3f}"
                      f"{r['forward_backward_s']:>12.3f}{r['forward_backward_s'] / sec:>8.3f}"
                      f"   (peak RSS so far {_peak_rss_gb():.1f} GB)", flush=True)
    if not args.skip_scan:
        for groups in args.scan_groups:
            print_scan(bench_scan(args.scan_sequences, args.scan_length, args.repeats, device, args.scan_chunk,
                                  args.scan_heads, args.scan_headdim, args.scan_state, groups),
                       args.scan_sequences, args.scan_length, args.scan_heads, args.scan_headdim, args.scan_state,
                       groups, args.scan_chunk)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
