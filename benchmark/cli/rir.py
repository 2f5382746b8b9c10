"""The ``asabench rir`` command: render the RIRs of a room, array and sources to a file.

Writes ``.npz`` (``rirs [S, M, L]`` float32 plus the request: ``fs``, ``room_dim``,
``betas``, ``rt60``, ``sources``, ``mics``, ``seed``, ``backend``) or ``.wav`` (one
M-channel float32 file per source: ``name.wav`` for one source, ``name_src<k>.wav``
otherwise), atomically. Prints the direct-path arrival at each microphone and the RT60
measured on the result by Schroeder integration.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from asabench.simulate.rir.measure import measure_rt60
from asabench.simulate.geometry import SPEED_OF_SOUND, MicArray, dcase_to_cartesian
from asabench.simulate.rir.engine import BACKENDS, simulate_rirs
from asabench.simulate.rir.sabine import betas_from_rt60
from asabench.simulate.io.files import atomic_write_with


def _mics(args: argparse.Namespace, room_dim: np.ndarray) -> np.ndarray:
    if args.mics is not None:
        try:
            pos = np.loadtxt(args.mics, dtype=np.float64, ndmin=2, delimiter=None)
        except (OSError, ValueError) as err:
            raise ValueError(f"{args.mics}: mics: expected a text file of rows 'x y z' in metres ({err})") from err
        return MicArray.from_positions(pos).positions
    centre = room_dim / 2 if args.array_center is None else np.asarray(args.array_center, dtype=np.float64)
    return MicArray.tetrahedral(centre).positions


def _sources(args: argparse.Namespace, mics: np.ndarray) -> np.ndarray:
    points = [np.asarray(s, dtype=np.float64) for s in args.source or []]
    centre = mics.mean(axis=0)
    for az, el, dist in args.source_dcase or []:
        points.append(centre + dcase_to_cartesian(az, el, dist))
    if not points:
        raise ValueError("sources: give at least one --source X Y Z or --source-dcase AZ EL DIST")
    return np.stack(points)


def run_rir(args: argparse.Namespace) -> int:
    room_dim = np.asarray(args.room, dtype=np.float64)
    out = Path(args.out)
    if out.suffix not in (".npz", ".wav"):
        print(f"asabench rir: {out}: out: expected a .npz or .wav path")
        return 2
    try:
        mics = _mics(args, room_dim)
        sources = _sources(args, mics)
        rirs = simulate_rirs(
            room_dim, args.rt60, sources, mics, args.fs, tdiff_db=args.tdiff_db, tmax_db=args.tmax_db, direct_only=args.direct_only,
            backend=args.backend, device=args.device, seed=args.seed, reflection_sign=args.reflection_sign, max_order=args.max_order,
        )
    except (ValueError, RuntimeError) as err:
        print(f"asabench rir: {err}")
        return 2
    if out.suffix == ".npz":
        betas = betas_from_rt60(room_dim, args.rt60) if args.rt60 is not None else np.full(6, np.nan)

        def save(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.savez(
                    f, rirs=rirs, fs=args.fs, room_dim=room_dim, betas=betas, rt60=np.nan if args.rt60 is None else args.rt60,
                    sources=sources, mics=mics, seed=args.seed, backend=args.backend,
                )

        atomic_write_with(out, save)
        written = [out]
    else:
        import soundfile as sf

        written = [out] if len(sources) == 1 else [out.with_name(f"{out.stem}_src{k}.wav") for k in range(len(sources))]
        for k, path in enumerate(written):
            atomic_write_with(path, lambda tmp, k=k: sf.write(tmp, rirs[k].T, int(args.fs), subtype="FLOAT", format="WAV"))

    dist = np.linalg.norm(sources[:, None] - mics[None], axis=-1)
    print(f"{rirs.shape[0]} source(s) x {rirs.shape[1]} mic(s) x {rirs.shape[2]} samples at {args.fs:g} Hz -> {', '.join(map(str, written))}")
    rt60 = measure_rt60(rirs, args.fs) if not args.direct_only else None
    expected = dist / SPEED_OF_SOUND * args.fs
    for s in range(rirs.shape[0]):
        # Measured: the largest magnitude within 2 samples of the expected direct arrival.
        peaks = []
        for m, tau in enumerate(expected[s]):
            lo = max(0, int(tau) - 2)
            peaks.append(lo + int(np.argmax(np.abs(rirs[s, m, lo : int(tau) + 4]))))
        arrivals = " ".join(f"{1e3 * t / args.fs:.3f}" for t in expected[s])
        line = f"source {s} {np.round(sources[s], 3).tolist()}: direct arrival d/c (ms) {arrivals}; peak sample {peaks}"
        if rt60 is not None:
            line += f"; measured RT60 {np.nanmean(rt60[s]):.3f} s (Schroeder, -15..-35 dB)"
        print(line)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``asabench rir`` to the console command."""
    p = subparsers.add_parser("rir", help="render room impulse responses to .npz or .wav", description=__doc__.split("\n\n")[0])
    p.add_argument("--room", type=float, nargs=3, default=[6.0, 5.0, 3.0], metavar=("LX", "LY", "LZ"), help="room size in metres")
    p.add_argument("--rt60", type=float, default=0.4, help="reverberation time in seconds (Sabine fit, ASA2 wall weights)")
    p.add_argument("--fs", type=float, default=16000.0, help="sample rate in Hz")
    p.add_argument("--source", type=float, nargs=3, action="append", metavar=("X", "Y", "Z"), help="source position in metres (repeatable)")
    p.add_argument("--source-dcase", type=float, nargs=3, action="append", metavar=("AZ", "EL", "DIST"),
                   help="source at DCASE azimuth/elevation (deg) and distance (m) from the array centre (repeatable)")
    p.add_argument("--array-center", type=float, nargs=3, metavar=("X", "Y", "Z"), help="centre of the tetrahedral array (default: room centre)")
    p.add_argument("--mics", help="text file of microphone positions, rows 'x y z' in metres (instead of the tetrahedral array)")
    p.add_argument("--tdiff-db", type=float, default=12.0, help="image sources until this decay (dB)")
    p.add_argument("--tmax-db", type=float, default=40.0, help="RIR length: diffuse tail until this decay (dB)")
    p.add_argument("--direct-only", action="store_true", help="only the direct path")
    p.add_argument("--max-order", type=int, help="limit image order (pyroomacoustics' diamond)")
    p.add_argument("--reflection-sign", choices=["negative", "positive"], default="negative")
    p.add_argument("--backend", choices=BACKENDS, default="torch")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0, help="seed of the diffuse tail")
    p.add_argument("--out", required=True, help="output .npz or .wav path")
    p.set_defaults(func=run_rir)
