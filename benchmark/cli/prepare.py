"""``asabench prepare``: index a corpus once for use as a source or noise bank.

The job is :func:`asabench.simulate.sources.prepare.prepare`; the defaults are read from it.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from typing import Any

from asabench.benchmark.cli import _checks
from asabench.simulate.classes import DCASE_CLASSES
from asabench.simulate.sources import LAYOUTS, prepare


_JOB = prepare  # as imported: its signature gives the defaults


def _default(name: str) -> Any:
    return _checks.library_default(_JOB, name)


def register(subparsers: Any) -> None:
    """Add ``prepare`` to the ``asabench`` command."""
    p = subparsers.add_parser(
        "prepare",
        help="index a corpus (class folders, index table, FSD50K, LibriSpeech, TAU-SNoise) for use as a bank",
        description=(
            "Walk a corpus, map its files to the 13 DCASE classes (or to background noise), check that each "
            "file is readable, long enough and not silent, and write a JSON index with durations, rates, "
            "channel counts and SHA-256 hashes. Pass the index (or a folder holding asabench-index.json) to "
            "`asabench simulate --sources/--noise`."
        ),
    )
    p.add_argument("root", help="corpus root folder")
    p.add_argument("--layout", required=True, choices=LAYOUTS, help="how the corpus maps files to classes")
    p.add_argument("--out", required=True, help="index JSON to write (e.g. ROOT/asabench-index.json)")
    p.add_argument("--on-bad", choices=("skip", "error"), default=_default("on_bad"),
                   help="skip and list bad files (default) or stop at the first")
    p.add_argument("--index-file", default=_default("index_file"), help="CSV/JSON table of the 'index' layout (default ROOT/index.csv)")
    p.add_argument("--min-duration", type=float, default=_default("min_duration_s"),
                   help="shortest usable file in seconds (default %(default)s)")
    p.add_argument("--silence-db", type=float, default=20.0 * math.log10(_default("silence_peak")),
                   help="files whose peak is below this dBFS are silent (default %(default)s)")
    p.add_argument("--workers", type=int, default=_default("workers"), help="threads reading and hashing files (default %(default)s)")
    p.set_defaults(func=run_prepare)


def run_prepare(args: argparse.Namespace) -> int:
    """Run ``asabench prepare``; prints a summary, returns the exit code."""
    root = _checks.input_path(args.root, "ROOT", folder=True)
    _checks.workers(args.workers)
    _checks.positive(args.min_duration, "--min-duration")
    if not math.isfinite(args.silence_db):
        raise _checks.UsageError(f"--silence-db {args.silence_db}: expected a finite level in dBFS")
    out = _checks.out_file(args.out)
    _checks.outputs_not_over_inputs([out], [args.index_file])
    resolved = out.resolve()
    if resolved.is_file() and root.resolve() in resolved.parents and resolved.suffix.lower() != ".json":
        raise _checks.UsageError(f"--out {out}: is a file of the corpus; the index must be a new or earlier .json file")
    report = prepare(
        args.root,
        args.layout,
        args.out,
        on_bad=args.on_bad,
        index_file=args.index_file,
        min_duration_s=args.min_duration,
        silence_peak=10.0 ** (args.silence_db / 20.0),
        workers=args.workers,
    )
    counts = report.files_per_class()
    print(f"wrote {report.index_path} ({report.kind}, layout {report.layout}): {len(report.entries)} file(s)")
    if report.kind == "noise":
        hours = sum(e["duration_s"] for e in report.entries) / 3600
        print(f"  background noise: {counts.get(None, 0)} file(s), {hours:.2f} h")
    else:
        durations: Counter = Counter()
        for e in report.entries:
            durations[e["class_idx"]] += e["duration_s"]
        for k, name in enumerate(DCASE_CLASSES):
            print(f"  {k:2d} {name:<20s} {counts.get(k, 0):7d} file(s) {durations[k] / 60:9.1f} min")
    if report.bad:
        print(f"skipped {len(report.bad)} bad file(s):")
        for bad in report.bad[:20]:
            print(f"  {bad.path}: {bad.reason}")
        if len(report.bad) > 20:
            print(f"  ... {len(report.bad) - 20} more (listed under 'skipped' in the index)")
    if report.unmapped:
        print(f"not mapped to a class: {sum(report.unmapped.values())} file(s)")
        for reason, count in sorted(report.unmapped.items(), key=lambda kv: -kv[1]):
            print(f"  {count:7d}  {reason}")
    return 0
