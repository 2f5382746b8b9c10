"""Model speed: forward and forward+backward time, real-time factors, SSD scan vs recurrence.

Run: ``python -m asabench.benchmark.perf.models [--configs tiny paper] [--models deepasa]
[--seconds 4] [--repeats 2] [--device cpu]``.

For each model and configuration one ``seconds``-long 4-channel clip (batch 1) is timed
(median of ``repeats`` after one warm-up); the real-time factor is time / audio duration. A
chain-of-inference model takes only clips of its ``coi.frames`` label frames (4 s for
``paper``, 0.5 s for ``tiny``), so it is timed on that length instead (printed per row).
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
    if cfg.coi.enabled:
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


def bench_scan(n_seq: int, length: int, repeats: int, device: torch.device, chunk: int = 32) -> dict[str, float]:
    """Chunked SSD scan vs the naive recurrence (and mamba-ssm when available) on one shape."""
    h, p, nst = 16, 16, 16
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_seq, length, h, p, generator=g).to(device)
    dt = torch.nn.functional.softplus(torch.randn(n_seq, length, h, generator=g) - 2).to(device)
    A = (-torch.rand(h, generator=g) * 8 - 1).to(device)
    B = torch.randn(n_seq, length, h, nst, generator=g).to(device)
    C = torch.randn(n_seq, length, h, nst, generator=g).to(device)
    xg = x.clone().requires_grad_(True)

    def fb(scan: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            xg.grad = None
            scan().pow(2).mean().backward()
        return run

    chunked_g = fb(lambda: mamba2.ssd_scan_chunked(xg, dt, A, B, C, chunk))
    naive_g = fb(lambda: mamba2.ssd_scan_naive(xg, dt, A, B, C))
    res = {"chunked_fb_s": _time(chunked_g, repeats, device), "naive_fb_s": _time(naive_g, repeats, device)}
    with torch.no_grad():
        err = (mamba2.ssd_scan_chunked(x, dt, A, B, C, chunk) - mamba2.ssd_scan_naive(x, dt, A, B, C)).abs().max()
        res.update(
            chunked_s=_time(lambda: mamba2.ssd_scan_chunked(x, dt, A, B, C, chunk), repeats, device),
            naive_s=_time(lambda: mamba2.ssd_scan_naive(x, dt, A, B, C), repeats, device),
            max_abs_diff=float(err),
        )
        if device.type == "cuda" and mamba2.fused_available():
            raw = torch.log(torch.expm1(dt))  # the kernel applies softplus itself
            res["mamba_ssm_s"] = _time(lambda: mamba2._fused_scan(
                x, raw, A, B[:, :, :1], C[:, :, :1], chunk_size=256, dt_softplus=True), repeats, device)
    return res


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
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"mamba-ssm fused scan importable: {mamba2.fused_available()}")
    print(f"clip: {args.seconds:g} s (CoI models: their fixed length), 4 channels, batch 1; "
          f"RTF = time / clip length")
    print(f"{'model':<14}{'config':<8}{'clip s':>7}{'forward s':>11}{'RTF':>8}{'fwd+bwd s':>12}{'RTF':>8}"
          f"   block checkpointing: {args.checkpoint}")
    for name in args.models:
        for cfg in args.configs:
            r = bench_model(name, cfg, args.seconds, args.repeats, device, args.warmup, args.checkpoint)
            sec = r["seconds"]
            print(f"{name:<14}{cfg:<8}{sec:>7.2f}{r['forward_s']:>11.3f}{r['forward_s'] / sec:>8.3f}"
                  f"{r['forward_backward_s']:>12.3f}{r['forward_backward_s'] / sec:>8.3f}"
                  f"   (peak RSS so far {_peak_rss_gb():.1f} GB)", flush=True)
    s = bench_scan(args.scan_sequences, args.scan_length, args.repeats, device, args.scan_chunk)
    print(f"SSD scan [{args.scan_sequences} seq x {args.scan_length} steps, 16 heads x 16 ch, state 16, "
          f"chunk {args.scan_chunk}]: max |chunked - naive| {s['max_abs_diff']:.2e}")
    print(f"  forward:          chunked {s['chunked_s'] * 1e3:8.1f} ms, naive recurrence {s['naive_s'] * 1e3:8.1f} ms, "
          f"naive/chunked = {s['naive_s'] / s['chunked_s']:.2f}x")
    print(f"  forward+backward: chunked {s['chunked_fb_s'] * 1e3:8.1f} ms, naive recurrence {s['naive_fb_s'] * 1e3:8.1f} ms, "
          f"naive/chunked = {s['naive_fb_s'] / s['chunked_fb_s']:.2f}x")
    if "mamba_ssm_s" in s:
        print(f"mamba-ssm fused scan {s['mamba_ssm_s'] * 1e3:.1f} ms, "
              f"chunked/fused = {s['chunked_s'] / s['mamba_ssm_s']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
