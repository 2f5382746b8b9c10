"""``asabench verify`` and ``asabench export``: commands on an existing dataset folder."""

from __future__ import annotations

import argparse
import sys

from asabench.simulate.dataset.format import DatasetFormatError


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the ``verify`` and ``export`` subcommands."""
    p = subparsers.add_parser(
        "verify", help="re-hash a dataset and check it is complete",
        description="Re-hash every file listed in DIR/index.jsonl, check that every scene of "
                    "the manifest's splits (or of --start/--num) is present, and list missing, "
                    "altered and stray files. Exit status 0 when the dataset is intact, 1 otherwise.")
    p.add_argument("dir", help="dataset folder (holds dataset.json and index.jsonl)")
    p.add_argument("--manifest", default=None,
                   help="manifest file or shipped name; default: the one stored in dataset.json")
    p.add_argument("--split", action="append", default=None, dest="splits",
                   help="require only this split (repeatable; default: all splits)")
    p.add_argument("--start", type=int, default=0, help="first scene index required")
    p.add_argument("--num", type=int, default=None,
                   help="number of scenes required per split (default: the manifest's size)")
    p.add_argument("--no-audio-check", action="store_true",
                   help="skip the WAV header checks (channels, rate, lengths)")
    p.add_argument("--workers", type=int, default=2, help="hashing threads")
    p.add_argument("--limit", type=int, default=50, help="lines listed per problem category")
    p.set_defaults(func=_verify)

    e = subparsers.add_parser(
        "export", help="write a dataset in another layout (the published ASA2 one)",
        description="Write DIR in the published ASA2 layout ({dev|test}/mixed|anechoic|reverb|info, "
                    "16-bit PCM, polar elevation, ASA2 class ids) under OUT.")
    e.add_argument("dir", help="asabench dataset folder")
    e.add_argument("--format", choices=["asa2"], default="asa2", help="target layout")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--map", action="append", default=None, metavar="SPLIT=DIR",
                   help="split to ASA2 folder, e.g. validation=dev (repeatable; default "
                        "train=dev, validation=dev after train, test=test)")
    e.add_argument("--overwrite", action="store_true", help="replace files already in OUT")
    e.set_defaults(func=_export)


def _verify(args: argparse.Namespace) -> int:
    from asabench.simulate.dataset.verify import verify_dataset

    report = verify_dataset(args.dir, args.manifest, splits=args.splits, start=args.start,
                            num=args.num, check_audio=not args.no_audio_check,
                            workers=args.workers)
    print(report.format(limit=args.limit))
    return 0 if report.ok else 1


def _export(args: argparse.Namespace) -> int:
    from asabench.simulate.export.asa2 import Asa2FormatError, export_asa2

    split_map = None
    if args.map:
        split_map = {}
        for item in args.map:
            if "=" not in item:
                print(f"asabench export: --map {item!r}: expected SPLIT=DIR", file=sys.stderr)
                return 2
            key, value = item.split("=", 1)
            split_map[key.strip()] = value.strip()
    try:
        summary = export_asa2(args.dir, args.out, split_map=split_map, overwrite=args.overwrite)
    except (DatasetFormatError, Asa2FormatError, FileExistsError) as err:
        print(f"asabench export: {err}", file=sys.stderr)
        return 1
    print(summary.format())
    return 0
