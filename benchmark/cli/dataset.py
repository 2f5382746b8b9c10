"""``asabench verify`` and ``asabench export``: commands on an existing dataset folder.

The jobs are :func:`asabench.simulate.dataset.verify.verify_dataset` and
:func:`asabench.simulate.export.asa2.export_asa2`; every default below is read from them.
"""

from __future__ import annotations

import argparse

from asabench.benchmark.cli import _checks
from asabench.simulate.dataset.verify import verify_dataset
from asabench.simulate.export.asa2 import export_asa2, export_plan
from asabench.simulate.io.wav import AUDIO_FORMATS


_VERIFY_JOB = verify_dataset  # as imported: its signature gives the defaults


def _verify_default(name: str):
    return _checks.library_default(_VERIFY_JOB, name)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the ``verify`` and ``export`` subcommands."""
    p = subparsers.add_parser(
        "verify", help="re-hash a dataset and check it is complete",
        description="Re-hash every file listed in DIR/index.jsonl, check that every scene of "
                    "the manifest's splits (or of --start/--num) is present, and list missing, "
                    "altered and stray files. Exit status 0 when the dataset is intact, 1 when "
                    "it is not, 2 when DIR is not a dataset or an option is invalid.")
    p.add_argument("dir", help="dataset folder (holds dataset.json and index.jsonl)")
    p.add_argument("--manifest", default=_verify_default("manifest"),
                   help="manifest file or shipped name; default: the one stored in dataset.json")
    p.add_argument("--split", action="append", default=_verify_default("splits"), dest="splits",
                   help="require only this split (repeatable; default: all splits)")
    p.add_argument("--start", type=int, default=_verify_default("start"), help="first scene index required")
    p.add_argument("--num", type=int, default=_verify_default("num"),
                   help="number of scenes required per split (default: the manifest's size)")
    p.add_argument("--no-audio-check", action="store_true",
                   help="skip the WAV header checks (channels, rate, lengths)")
    p.add_argument("--workers", type=int, default=_verify_default("workers"), help="hashing threads (default %(default)s)")
    p.add_argument("--limit", type=int, default=50, help="lines listed per problem category")
    p.set_defaults(func=_verify)

    e = subparsers.add_parser(
        "export", help="write a dataset in another layout (the published ASA2 one)",
        description="Write DIR in the published ASA2 layout ({dev|test}/mixed|anechoic|reverb|info, "
                    "16-bit PCM, polar elevation, ASA2 class ids) under OUT.")
    e.add_argument("dir", help="asabench dataset folder")
    e.add_argument("--format", choices=["asa2"], default="asa2", help="target layout")
    e.add_argument("--out", required=True, help="output folder (outside DIR)")
    e.add_argument("--map", action="append", default=None, metavar="SPLIT=DIR",
                   help="split to ASA2 folder, one split per folder, e.g. validation=val "
                        "(repeatable; default train=dev, test=test)")
    e.add_argument("--with-validation", action="store_true",
                   help="also export the validation split, to OUT/validation (the authors' loader "
                        "trains on dev and validates on test, so it is left out by default)")
    e.add_argument("--overwrite", action="store_true", help="replace files already in OUT")
    e.add_argument("--audio-format", default=_checks.library_default(export_asa2, "audio_format"),
                   choices=AUDIO_FORMATS, help="pcm16 (the published WAVs), flac (the same samples, "
                   "lossless, .flac files) or float32 (default %(default)s)")
    e.set_defaults(func=_export)


def _verify(args: argparse.Namespace) -> int:
    root = _checks.input_path(args.dir, "DIR", folder=True)
    _checks.non_negative(args.start, "--start")
    _checks.non_negative(args.num, "--num", allow_none=True)
    _checks.non_negative(args.limit, "--limit")
    _checks.workers(args.workers)
    report = verify_dataset(root, args.manifest, splits=args.splits, start=args.start,
                            num=args.num, check_audio=not args.no_audio_check,
                            workers=args.workers)
    print(report.format(limit=args.limit))
    return 0 if report.ok else 1


def _split_map(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    split_map = {}
    for item in items:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise _checks.UsageError(f"--map {item!r}: expected SPLIT=DIR")
        if value in (".", "..") or "/" in value or "\\" in value:
            raise _checks.UsageError(f"--map {item!r}: DIR must be one folder name inside --out (e.g. dev)")
        split_map[key] = value
    return split_map


def _export(args: argparse.Namespace) -> int:
    src = _checks.input_path(args.dir, "DIR", folder=True)
    split_map = _split_map(args.map)
    out = _checks.out_folder(args.out)
    filled = [out / name for name in sorted(set(export_plan(split_map, include_validation=args.with_validation).values()))]
    _checks.outputs_not_over_inputs([out], [src])
    _checks.inputs_not_inside_outputs(filled, [src])
    summary = export_asa2(src, out, split_map=split_map, include_validation=args.with_validation,
                          overwrite=args.overwrite, audio_format=args.audio_format)
    print(summary.format())
    return 0
