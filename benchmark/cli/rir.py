"""``asabench rir``: render the RIRs of a room, array and sources to a file.

Writes ``.npz`` (``rirs [S, M, L]`` float32 plus the request: ``fs``, ``room_dim``,
``betas``, ``rt60``, ``sources``, ``mics``, ``seed``, ``backend``) or ``.wav`` (one
M-channel float32 file per source: ``name.wav`` for one source, ``name_src<k>.wav``
otherwise), atomically. Prints the direct-path arrival at each microphone and the RT60
measured on the result by Schroeder integration. The job is
:func:`asabench.simulate.rir.files.render_rirs_to_files`.
"""

from __future__ import annotations

import argparse

import numpy as np

from asabench.benchmark.cli import _checks
from asabench.simulate.geometry import MicArray
from asabench.simulate.rir.engine import BACKENDS
from asabench.simulate.rir.files import RIR_FILE_SUFFIXES, render_rirs_to_files, rir_file_paths, sources_from_dcase


_JOB = render_rirs_to_files  # as imported: its signature gives the defaults


def _default(name: str):
    return _checks.library_default(_JOB, name)


def _mics(args: argparse.Namespace, room_dim: np.ndarray) -> np.ndarray | None:
    if args.mics is not None:
        _checks.input_path(args.mics, "--mics", folder=False)
        try:
            pos = np.loadtxt(args.mics, dtype=np.float64, ndmin=2, delimiter=None)
        except (OSError, ValueError) as err:
            raise _checks.UsageError(f"--mics {args.mics}: expected a text file of rows 'x y z' in metres ({err})") from err
        return MicArray.from_positions(pos).positions
    if args.array_center is None:
        return None  # the library's default: the tetrahedral array at the room centre
    return MicArray.tetrahedral(np.asarray(args.array_center, dtype=np.float64)).positions


def _sources(args: argparse.Namespace, mics: np.ndarray) -> np.ndarray:
    points = [np.asarray(s, dtype=np.float64) for s in args.source or []]
    if args.source_dcase:
        points.extend(sources_from_dcase(args.source_dcase, mics))
    if not points:
        raise _checks.UsageError("sources: give at least one --source X Y Z or --source-dcase AZ EL DIST")
    return np.stack(points)


def run_rir(args: argparse.Namespace) -> int:
    """Check the options, render, print the arrivals and the measured RT60."""
    room_dim = np.asarray(args.room, dtype=np.float64)
    for value in room_dim:
        _checks.positive(float(value), "--room")
    _checks.positive(args.fs, "--fs")
    _checks.positive(args.rt60, "--rt60")
    _checks.non_negative(args.tdiff_db, "--tdiff-db")
    _checks.non_negative(args.tmax_db, "--tmax-db")
    _checks.non_negative(args.max_order, "--max-order", allow_none=True)
    _checks.device(args.device)
    out = _checks.out_file(args.out, suffixes=RIR_FILE_SUFFIXES)
    mics = _mics(args, room_dim)
    sources = _sources(args, MicArray.tetrahedral(room_dim / 2).positions if mics is None else mics)
    _checks.outputs_not_over_inputs(rir_file_paths(out, len(sources)), [args.mics])
    for path in rir_file_paths(out, len(sources))[1:]:
        _checks.out_file(path)

    result = render_rirs_to_files(
        out, sources, room_dim=room_dim, rt60=args.rt60, mics=mics, fs=args.fs, tdiff_db=args.tdiff_db,
        tmax_db=args.tmax_db, direct_only=args.direct_only, max_order=args.max_order,
        reflection_sign=args.reflection_sign, backend=args.backend, device=args.device, seed=args.seed)

    S, M, L = result.rirs.shape
    print(f"{S} source(s) x {M} mic(s) x {L} samples at {args.fs:g} Hz -> {', '.join(map(str, result.paths))}")
    for s in range(S):
        arrivals = " ".join(f"{1e3 * t / args.fs:.3f}" for t in result.expected_arrival[s])
        line = (f"source {s} {np.round(result.sources[s], 3).tolist()}: direct arrival d/c (ms) {arrivals}; "
                f"peak sample {result.direct_peak[s].tolist()}")
        if result.measured_rt60_s is not None:
            line += f"; measured RT60 {result.measured_rt60_s[s]:.3f} s (Schroeder, -15..-35 dB)"
        print(line)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``asabench rir`` to the console command."""
    p = subparsers.add_parser("rir", help="render room impulse responses to .npz or .wav", description=__doc__.split("\n\n")[0])
    p.add_argument("--room", type=float, nargs=3, default=list(_default("room_dim")), metavar=("LX", "LY", "LZ"),
                   help="room size in metres (default: %(default)s)")
    p.add_argument("--rt60", type=float, default=_default("rt60"),
                   help="reverberation time in seconds (Sabine fit, ASA2 wall weights; default %(default)s)")
    p.add_argument("--fs", type=float, default=_default("fs"), help="sample rate in Hz (default %(default)s)")
    p.add_argument("--source", type=float, nargs=3, action="append", metavar=("X", "Y", "Z"), help="source position in metres (repeatable)")
    p.add_argument("--source-dcase", type=float, nargs=3, action="append", metavar=("AZ", "EL", "DIST"),
                   help="source at DCASE azimuth/elevation (deg) and distance (m) from the array centre (repeatable)")
    p.add_argument("--array-center", type=float, nargs=3, metavar=("X", "Y", "Z"), help="centre of the tetrahedral array (default: room centre)")
    p.add_argument("--mics", help="text file of microphone positions, rows 'x y z' in metres (instead of the tetrahedral array)")
    p.add_argument("--tdiff-db", type=float, default=_default("tdiff_db"), help="image sources until this decay (dB)")
    p.add_argument("--tmax-db", type=float, default=_default("tmax_db"), help="RIR length: diffuse tail until this decay (dB)")
    p.add_argument("--direct-only", action="store_true", default=_default("direct_only"), help="only the direct path")
    p.add_argument("--max-order", type=int, default=_default("max_order"), help="limit image order (pyroomacoustics' diamond)")
    p.add_argument("--reflection-sign", choices=["negative", "positive"], default=_default("reflection_sign"))
    p.add_argument("--backend", choices=BACKENDS, default=_default("backend"))
    p.add_argument("--device", default=_default("device"), help="torch device (cpu, cuda, cuda:N; default %(default)s)")
    p.add_argument("--seed", type=int, default=_default("seed"), help="seed of the diffuse tail")
    p.add_argument("--out", required=True, help="output .npz or .wav path")
    p.set_defaults(func=run_rir)
