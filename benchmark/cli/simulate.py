"""``asabench simulate`` and ``asabench render``: parsing and printing only.

The jobs are :func:`asabench.simulate.dataset.build.simulate_dataset` and
:func:`~asabench.simulate.dataset.build.render_spec_to`.
"""

from __future__ import annotations

import argparse
import sys

from asabench.simulate.dataset import build
from asabench.simulate.dataset.build import render_spec_to, simulate_dataset
from asabench.simulate.dataset.format import DatasetFormatError
from asabench.simulate.manifest import ManifestError
from asabench.simulate.scene.spec import SpecError
from asabench.simulate.sources.base import SourceError


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard expects I/N (e.g. 0/4), got {text!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"--shard {text}: need 0 <= I < N")
    return i, n


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``simulate`` and ``render``."""
    p = subparsers.add_parser("simulate", help="make (or complete) a dataset split from a manifest",
                              description=build.__doc__.split("\n\n")[2] if build.__doc__ else None)
    p.add_argument("manifest", help="manifest file (.toml/.yaml) or a shipped name: asa2, asa2-static, demo")
    p.add_argument("--split", required=True, help="split to make (train, validation, test)")
    p.add_argument("--out", required=True, help="dataset folder")
    p.add_argument("--num", type=int, default=None, help="number of scenes (default: to the end of the split)")
    p.add_argument("--start", type=int, default=0, help="first scene index")
    p.add_argument("--shard", type=_shard, default=(0, 1), help="I/N: only scenes with index %% N == I")
    p.add_argument("--sources", default=None, help="'builtin' or a prepared source index (default: the manifest's)")
    p.add_argument("--noise", default=None, help="'builtin' or a prepared noise index (default: the manifest's)")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--device", default="cpu", help="torch device of the RIR engine (cpu, cuda, cuda:1)")
    p.add_argument("--backend", default="torch", choices=("torch", "gpurir", "pyroomacoustics"), help="RIR engine")
    p.add_argument("--crossfade", action="store_true", help="crossfade trajectory segments (Hann) instead of gpuRIR's hard switch")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_simulate_cmd)

    r = subparsers.add_parser("render", help="re-render one scene from its spec.json")
    r.add_argument("spec", help="a scene's spec.json")
    r.add_argument("--out", required=True, help="folder for the scene's files")
    r.add_argument("--sources", default=None, help="relocated source corpus: 'builtin' or a prepared index")
    r.add_argument("--noise", default=None, help="relocated noise corpus: 'builtin' or a prepared index")
    r.add_argument("--device", default="cpu")
    r.set_defaults(func=_render_cmd)


def _simulate_cmd(args: argparse.Namespace) -> int:
    from asabench.simulate.scene.sampling import BadSourceError

    try:
        summary = simulate_dataset(
            args.manifest, args.split, args.out, start=args.start, num=args.num, shard=args.shard,
            sources=args.sources, noise=args.noise, workers=args.workers, device=args.device,
            backend=args.backend, crossfade=args.crossfade, progress=not args.quiet)
    except (ManifestError, DatasetFormatError, SourceError, BadSourceError, ValueError, RuntimeError) as exc:
        print(f"asabench simulate: {exc}", file=sys.stderr)
        return 2
    print(summary.text())
    return 1 if summary.failed else 0


def _render_cmd(args: argparse.Namespace) -> int:
    try:
        scene = render_spec_to(args.spec, args.out, sources=args.sources, noise=args.noise, device=args.device)
    except (SpecError, SourceError, ValueError, OSError, RuntimeError) as exc:
        print(f"asabench render: {exc}", file=sys.stderr)
        return 2
    t = scene.timings
    print(f"{scene.spec.id}: {scene.spec.num_sources} sources rendered into {args.out} "
          f"(rirs {t['rirs']:.2f} s, convolution {t['convolution']:.2f} s, noise {t['noise']:.2f} s)")
    return 0
