"""Speed and size of SoundCompass against its DeepASA backbone on one 4-s clip.

For each configuration (``tiny``, ``paper``) and system (``soundcompass``,
``soundcompass-sed``, ``soundcompass-x2`` and, as the peer timed in the same run,
``deepasa``) the script reports:

* forward time (eval mode, no gradients) and forward + backward time (train mode, loss =
  mean square of every output tensor) for a batch of one 4-channel 16 kHz clip, best of
  ``--repeats`` runs after one warm-up call (none for a single CPU repeat; the machine
  may be shared), and the real-time factor
  RTF = time / clip duration;
* the SoundCompass / DeepASA time ratio (the paper claims SoundCompass is the lighter
  network: 20.49 G vs 74.85 G Mult-Adds in its Table 1);
* trainable parameters and two operation counts: MACs per second of audio from
  :func:`asabench.benchmark.metrics.complexity.complexity` (every matrix product,
  convolution, attention product and FFT), and "layer-hook Mult-Adds" per clip,
  :func:`asabench.benchmark.metrics.complexity.torchinfo_mult_adds`, the convention of torchinfo's ``total_mult_adds`` that the
  SoundCompass paper used (its footnote 4): a layer with parameters counts
  ``parameters x output positions`` for convolutions but only ``parameters x batch`` for
  every other layer, and parameter-free operations (attention products, the SSM scan) not
  at all.

Forward + backward is timed for the ``--backward-configs`` only (default ``tiny``): on a
CPU the paper configurations' training step needs more than 20 GB of memory (DeepASA's was
killed by the OOM killer at 23 GB on a 23 GB machine).

Run: ``python -m asabench.benchmark.perf.soundcompass [--configs tiny,paper] [--device cuda]``
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any, Callable, Sequence

import torch
from torch import nn

from asabench.benchmark.metrics.complexity import complexity, torchinfo_mult_adds
from asabench.models import create

FS = 16000
SYSTEMS = ("soundcompass", "soundcompass-sed", "soundcompass-x2", "deepasa")

#: Former name of :func:`asabench.benchmark.metrics.complexity.torchinfo_mult_adds`, kept for callers.
layer_hook_mult_adds = torchinfo_mult_adds


def _inputs(name: str, model: nn.Module, n: int, device: torch.device) -> tuple[tuple, dict]:
    g = torch.Generator().manual_seed(0)
    x = (0.1 * torch.randn(1, 4, n, generator=g)).to(device)
    if name.startswith("soundcompass"):
        return (x, torch.tensor([[30.0, 10.0]], device=device)), {}
    return (x,), {}


def _loss(out: Any) -> torch.Tensor:
    tensors: list[torch.Tensor] = []

    def collect(v: Any) -> None:
        if torch.is_tensor(v) and v.is_floating_point() and v.requires_grad:
            tensors.append(v.float().pow(2).mean())
        elif isinstance(v, dict):
            for w in v.values():
                collect(w)
        elif isinstance(v, (list, tuple)):
            for w in v:
                collect(w)

    collect(out)
    return torch.stack(tensors).sum()


def _best(fn: Callable[[], None], repeats: int, device: torch.device) -> float:
    best = math.inf
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def measure(name: str, config: str, seconds: float, repeats: int, device: torch.device, backward: bool) -> dict[str, Any]:
    """Times and counts of one registered system and configuration."""
    model = create(name, config).to(device)
    n = int(round(seconds * FS))
    args, kwargs = _inputs(name, model, n, device)
    row: dict[str, Any] = {"name": name, "config": config}
    row["params_m"] = sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6
    model.eval()

    def fwd() -> None:
        with torch.no_grad():
            model(*args, **kwargs)

    if repeats > 1 or device.type == "cuda":
        fwd()  # warm-up (allocations, kernel selection); skipped for a single CPU repeat
    row["forward_s"] = _best(fwd, repeats, device)
    if backward:
        model.train()

        def fwd_bwd() -> None:
            model.zero_grad(set_to_none=True)
            _loss(model(*args, **kwargs)).backward()

        row["forward_backward_s"] = _best(fwd_bwd, repeats, device)
        model.eval()
    model.cpu()
    cpu_args = tuple(a.cpu() if torch.is_tensor(a) else a for a in args)
    row["gmacs_per_s"] = complexity(model, seconds=seconds)["macs_per_second"] / 1e9
    row["hook_gmult_adds_per_clip"] = torchinfo_mult_adds(model, *cpu_args, **kwargs) / 1e9
    return row


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="tiny,paper", help="comma-separated presets (tiny, paper)")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--seconds", type=float, default=4.0, help="clip length (s)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backward-configs", default="tiny",
                    help="configs whose forward+backward is timed (paper's needs > 20 GB of RAM on a CPU)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    systems = [s for s in args.systems.split(",") if s]
    print(f"# SoundCompass speed: one {args.seconds:g} s 4-channel clip at {FS} Hz, batch 1, device {device}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, best of {args.repeats}")
    header = (f"{'system':18s} {'config':6s} {'params M':>9s} {'fwd s':>8s} {'fwd RTF':>8s} {'fwd+bwd s':>10s} "
              f"{'f+b RTF':>8s} {'fwd / DeepASA':>14s} {'GMAC/s':>8s} {'hook G/clip':>12s}")
    print(header)
    # the peer first, so that every row can print its ratio as soon as it is measured
    systems.sort(key=lambda s: s != "deepasa")
    for config in [c for c in args.configs.split(",") if c]:
        peer: dict[str, Any] | None = None
        for system in systems:
            backward = config in args.backward_configs.split(",")
            r = measure(system, config, args.seconds, args.repeats, device, backward)
            if system == "deepasa":
                peer = r
            fb = r.get("forward_backward_s", float("nan"))
            ratio = r["forward_s"] / peer["forward_s"] if peer else float("nan")
            print(f"{r['name']:18s} {config:6s} {r['params_m']:9.3f} {r['forward_s']:8.3f} "
                  f"{r['forward_s'] / args.seconds:8.3f} {fb:10.3f} {fb / args.seconds:8.3f} {ratio:14.3f} "
                  f"{r['gmacs_per_s']:8.2f} {r['hook_gmult_adds_per_clip']:12.2f}", flush=True)
    print("# paper (SoundCompass Table 1, torchinfo Mult-Adds of one 4-s clip): soundcompass 2.70 M / 20.49 G, "
          "+SED 4.09 M / 23.46 G, x2 +3.48 M / +24.01 G; DeepASA 5.46 M / 74.85 G")
    return 0


if __name__ == "__main__":
    sys.exit(main())
