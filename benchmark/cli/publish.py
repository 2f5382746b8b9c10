"""``asabench publish``: a dataset as a Hugging Face dataset repository (parsing and printing only).

The job is :func:`asabench.simulate.export.hub.publish_hub` (materialise, then upload);
every default below is read from its signature. ``docs/hub.md`` describes the folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asabench.benchmark.cli import _checks
from asabench.simulate.export import hub

#: The job as imported, whose signature gives the defaults (tests may replace the name).
_JOB = {"publish": hub.publish_hub}


def _default(name: str):
    return _checks.library_default(_JOB["publish"], name)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``publish``."""
    p = subparsers.add_parser(
        "publish", help="publish a dataset to the Hugging Face Hub (parquet shards + dataset card)",
        description="Materialise DIR as a dataset repository folder (README.md card, "
                    "asabench-hub.json, data/<split>-k-of-n.parquet) in --out, then upload it with "
                    "huggingface_hub's resumable large-folder upload. A rerun after a failed upload "
                    "reuses the folder and resumes. Exit 0 done, 1 the upload failed, 2 bad input or no token.")
    p.add_argument("dir", help="asabench dataset folder")
    p.add_argument("--repo-id", required=True, help="dataset repository ORG/NAME")
    p.add_argument("--revision", default=_default("revision"), help="branch to upload to (created if missing)")
    p.add_argument("--private", action="store_true", default=_default("private"), help="create the repository private")
    p.add_argument("--dry-run", action="store_true", default=_default("dry_run"), help="stop after materialising")
    p.add_argument("--out", default=None, help="repository folder (default: DIR-hub beside DIR)")
    p.add_argument("--max-shard-mb", type=float, default=_default("max_shard_bytes") / 2**20,
                   help="largest parquet shard, MiB (default %(default)s)")
    p.add_argument("--license", default=_default("licence"),
                   help="licence of the card (default: mit for the built-in banks, other with corpora)")
    p.set_defaults(func=_publish)


def _publish(args: argparse.Namespace) -> int:
    src = _checks.input_path(args.dir, "DIR", folder=True)
    hub.check_repo_id(args.repo_id)
    if not args.max_shard_mb > 0:
        raise _checks.UsageError(f"--max-shard-mb {args.max_shard_mb}: expected a size > 0")
    out = _checks.out_folder(args.out if args.out is not None else Path(f"{src.resolve()}-hub"))
    _checks.outputs_not_over_inputs([out], [src])
    _checks.inputs_not_inside_outputs([out], [src])
    summary = _JOB["publish"](src, out, args.repo_id, revision=args.revision, private=args.private,
                              dry_run=args.dry_run, max_shard_bytes=int(args.max_shard_mb * 2**20),
                              licence=args.license)
    print(summary.format())
    return 0
