"""``asabench simulate`` and ``asabench render``: parsing and printing only.

The jobs are :func:`asabench.simulate.dataset.build.simulate_dataset` and
:func:`~asabench.simulate.dataset.build.render_spec_to`; every default below is read from
their signatures.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asabench.benchmark.cli import _checks
from asabench.simulate.dataset import build
from asabench.simulate.dataset.build import render_spec_to, simulate_dataset
from asabench.simulate.io.wav import AUDIO_FORMATS
from asabench.simulate.manifest import load_manifest

_BACKENDS = ("torch", "gpurir", "pyroomacoustics")
#: The jobs as imported, whose signatures give the defaults (tests may replace the names).
_JOBS = {"simulate": simulate_dataset, "render": render_spec_to}


def _sim_default(name: str):
    return _checks.library_default(_JOBS["simulate"], name)


def _render_default(name: str):
    return _checks.library_default(_JOBS["render"], name)


def _bank_folder(choice: str | None) -> Path | None:
    """The folder a bank choice reads (a prepared index's folder), or ``None`` for the built-in bank."""
    if choice is None or choice == "builtin":
        return None
    path = Path(choice)
    return path if path.is_dir() else path.parent


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``simulate`` and ``render``."""
    shard = _sim_default("shard")
    p = subparsers.add_parser("simulate", help="make (or complete) a dataset split from a manifest",
                              description=build.__doc__.split("\n\n")[2] if build.__doc__ else None)
    p.add_argument("manifest", help="manifest file (.toml/.yaml) or a shipped name: asa2, asa2-static, demo")
    p.add_argument("--split", required=True, help="split to make (train, validation, test)")
    p.add_argument("--out", required=True, help="dataset folder")
    p.add_argument("--num", type=int, default=_sim_default("num"), help="number of scenes (default: to the end of the split)")
    p.add_argument("--start", type=int, default=_sim_default("start"), help="first scene index (default %(default)s)")
    p.add_argument("--shard", default=f"{shard[0]}/{shard[1]}", help="I/N: only scenes with index %% N == I (default %(default)s)")
    p.add_argument("--sources", default=_sim_default("sources"), help="'builtin' or a prepared source index (default: the manifest's)")
    p.add_argument("--noise", default=_sim_default("noise"), help="'builtin' or a prepared noise index (default: the manifest's)")
    p.add_argument("--workers", type=int, default=_sim_default("workers"), help="worker processes (default %(default)s)")
    p.add_argument("--device", default=_sim_default("device"), help="torch device of the RIR engine: cpu, cuda, cuda:N (default %(default)s)")
    p.add_argument("--backend", default=_sim_default("backend"), choices=_BACKENDS, help="RIR engine (default %(default)s)")
    p.add_argument("--crossfade", action="store_true", default=_sim_default("crossfade"),
                   help="crossfade trajectory segments (Hann) instead of gpuRIR's hard switch")
    p.add_argument("--audio-format", default=_sim_default("audio_format"), choices=AUDIO_FORMATS,
                   help="audio files: float32 WAV, pcm16 WAV (one common scale per scene, as the "
                        "published ASA2) or flac (the same samples, lossless) (default %(default)s)")
    p.add_argument("--executor", default="local", choices=("local", "dask", "slurm"),
                   help="where scenes render: the local pool (--workers), a Dask cluster (--scheduler; "
                        "default a LocalCluster of --workers processes) or a Slurm job array of "
                        "--array shards through submitit (docs/cluster.md) (default %(default)s)")
    p.add_argument("--scheduler", default=None, help="dask: scheduler address, e.g. tcp://host:8786")
    p.add_argument("--scenes-per-task", type=int, default=8, help="dask: scenes per task (default %(default)s)")
    p.add_argument("--array", type=int, default=None, metavar="N",
                   help="slurm: array size N; job i makes --shard i/N with --workers processes")
    p.add_argument("--slurm-folder", default=None, help="slurm: submitit's log folder (default beside --out)")
    p.add_argument("--secret-seed", default=_sim_default("secret_seed"), metavar="FILE",
                   help="a private seed file kept outside every repository: the split becomes a hidden "
                        "one whose scene seeds derive from it (HMAC-SHA256); dataset.json records only its "
                        "fingerprint (docs/submissions.md). Local executor only")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_simulate_cmd)

    r = subparsers.add_parser("render", help="re-render one scene from its spec.json")
    r.add_argument("spec", help="a scene's spec.json")
    r.add_argument("--out", required=True, help="folder for the scene's files (outside the spec's dataset)")
    r.add_argument("--sources", default=_render_default("sources"), help="relocated source corpus: 'builtin' or a prepared index")
    r.add_argument("--noise", default=_render_default("noise"), help="relocated noise corpus: 'builtin' or a prepared index")
    r.add_argument("--device", default=_render_default("device"), help="torch device: cpu, cuda, cuda:N (default %(default)s)")
    r.set_defaults(func=_render_cmd)


def _simulate_cmd(args: argparse.Namespace) -> int:
    shard = _checks.shard(args.shard)
    _checks.non_negative(args.start, "--start")
    _checks.non_negative(args.num, "--num", allow_none=True)
    _checks.workers(args.workers)
    _checks.device(args.device)
    out = _checks.out_folder(args.out)
    manifest = load_manifest(args.manifest)
    banks = [_bank_folder(args.sources), _bank_folder(args.noise)]
    for cfg, choice in ((manifest.source_bank, args.sources), (manifest.noise_bank, args.noise)):
        if choice is None and cfg.kind != "builtin" and cfg.path and Path(cfg.path).exists():
            banks.append(_bank_folder(cfg.path))
    _checks.outputs_not_over_inputs([out], banks)
    _checks.inputs_not_inside_outputs([out], banks)

    if args.secret_seed is not None:
        from asabench.simulate.secret_seed import read_secret_seed

        if args.executor != "local":
            raise _checks.UsageError("--secret-seed: hidden splits are made with --executor local only "
                                     "(the secret is not sent to cluster workers)")
        read_secret_seed(args.secret_seed, outputs=(out,))  # refused before any work
    if args.executor != "local":
        return _distributed(args, out, shard)
    summary = simulate_dataset(
        args.manifest, args.split, out, start=args.start, num=args.num, shard=shard,
        sources=args.sources, noise=args.noise, workers=args.workers, device=args.device,
        backend=args.backend, crossfade=args.crossfade, progress=not args.quiet,
        audio_format=args.audio_format, secret_seed=args.secret_seed)
    print(summary.text())
    return 1 if summary.failed else 0


def _distributed(args: argparse.Namespace, out: Path, shard: tuple[int, int]) -> int:
    common = dict(start=args.start, num=args.num, sources=args.sources, noise=args.noise, device=args.device,
                  backend=args.backend, crossfade=args.crossfade, audio_format=args.audio_format)
    if args.executor == "dask":
        from asabench.simulate.executors.dask_cluster import simulate_on_dask

        _checks.workers(args.scenes_per_task, "--scenes-per-task")
        resources = {"GPU": 1} if args.device.startswith("cuda") and args.scheduler else None
        summary = simulate_on_dask(args.manifest, args.split, out, address=args.scheduler, n_workers=args.workers,
                                   shard=shard, scenes_per_task=args.scenes_per_task, resources=resources, **common)
        print(summary.text())
        return 1 if summary.failed else 0
    from asabench.simulate.executors.slurm import simulate_on_slurm

    if args.array is None or args.array < 1:
        raise _checks.UsageError("--executor slurm needs --array N (N >= 1 shard jobs)")
    if shard != (0, 1):
        raise _checks.UsageError("--executor slurm makes the shards itself: use --array N instead of --shard")
    result = simulate_on_slurm(args.manifest, args.split, out, num_shards=args.array, folder=args.slurm_folder,
                               workers=args.workers, **common)
    print(result.text())
    return 1 if result.failed else 0


def _dataset_root(spec: Path) -> Path | None:
    """The dataset folder holding ``spec`` (the nearest ancestor with a ``dataset.json``)."""
    for parent in spec.resolve().parents:
        if (parent / "dataset.json").is_file():
            return parent
    return None


def _render_cmd(args: argparse.Namespace) -> int:
    spec = _checks.input_path(args.spec, "spec", folder=False)
    _checks.device(args.device)
    out = _checks.out_folder(args.out)
    inputs = [spec.resolve().parent, _dataset_root(spec), _bank_folder(args.sources), _bank_folder(args.noise)]
    _checks.outputs_not_over_inputs([out], inputs)

    scene = render_spec_to(spec, out, sources=args.sources, noise=args.noise, device=args.device)
    t = scene.timings
    print(f"{scene.spec.id}: {scene.spec.num_sources} sources rendered into {out} "
          f"(rirs {t['rirs']:.2f} s, convolution {t['convolution']:.2f} s, noise {t['noise']:.2f} s)")
    return 0
