"""``asabench demo``: the main job on the built-in defaults, end to end.

Regenerates the shipped demo recipe (``manifests/demo.toml``) on the built-in procedural
banks, verifies it, exports the ASA2 layout, reads both layouts back through
``SceneDataset``, and scores the oracle rows (mixture = the 0 dB line, ground truth = the
upper line) for every task. Running it twice completes nothing new and gives the same
hashes: the dataset is resumable and deterministic.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

#: Headline metric shown per task in the demo summary, with its unit.
_HEADLINES: dict[str, list[tuple[str, str]]] = {
    "uss": [("si_sdr_i", "dB"), ("sdr_i", "dB")],
    # sdr_i is the plain-SNR improvement, the SNRi of SoundCompass Table 1
    "tse": [("sdr_i", "dB"), ("si_snr_i", "dB"), ("delta_ild_db", "dB"), ("delta_ipd_rad", "rad"),
            ("delta_itd_us", "us")],
    "seld": [("er", ""), ("f", ""), ("le", "deg"), ("lr", ""), ("seld", "")],
}


def _value(aggregate: dict[str, Any], name: str) -> str:
    entry = aggregate.get(name)
    if entry is None:
        return "-"
    value = entry.get("value") if isinstance(entry, dict) else entry
    return "-" if value is None else f"{float(value):.3f}"


def run_demo(out: Path, manifest: str = "demo", workers: int = 1) -> str:
    """Run the demo pipeline into ``out`` and return the summary text (markdown)."""
    from asabench.benchmark.scoring import score, write_results
    from asabench.simulate.export.asa2 import export_asa2
    from asabench.simulate.dataset.loader import SceneDataset
    from asabench.simulate.manifest import load_manifest
    from asabench.simulate.dataset.build import simulate_dataset
    from asabench.simulate.dataset.verify import verify_dataset

    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    m = load_manifest(manifest)
    lines = [f"# asabench demo: {m.name} v{m.version} (seed {m.seed}, {m.fs} Hz, {m.duration_s} s)", ""]

    t0 = time.perf_counter()
    for split in m.splits:
        summary = simulate_dataset(m, split, data, workers=workers, progress=True)
        print(summary.text(), flush=True)
        if summary.failed:
            raise SystemExit(f"demo: {len(summary.failed)} scenes of {split!r} failed; see above")
    lines.append(f"* simulated {sum(m.splits.values())} scenes in {time.perf_counter() - t0:.1f} s "
                 f"into `{data}`")

    report = verify_dataset(data, m.path)
    if not report.ok:
        raise SystemExit("demo: verification failed:\n" + report.format())
    lines.append("* `asabench verify`: every file present and its sha256 as indexed")

    asa2 = out / "asa2"
    exported = export_asa2(data, asa2, overwrite=True)
    n_ours = len(SceneDataset(data, split="test"))
    n_asa2 = sum(len(SceneDataset(asa2, split=s)) for s in ("dev", "test") if (asa2 / s).exists())
    lines.append(f"* ASA2 layout exported to `{asa2}` ({', '.join(f'{k}: {v}' for k, v in sorted(exported.scenes.items()))}); "
                 f"SceneDataset reads {n_ours} test scenes from ours and {n_asa2} from the ASA2 layout")
    lines += ["", "| task | oracle | metrics (test split) |", "|---|---|---|"]

    for task, heads in _HEADLINES.items():
        # SELD has no "mixture" estimate: only the ground-truth labels make an oracle.
        for oracle in (("targets",) if task == "seld" else ("mixture", "targets")):
            results = score(data, task, oracle=oracle, split="test")
            path, _ = write_results(results, out / "results" / f"{task}-oracle-{oracle}.json")
            cells = ", ".join(f"{name} {_value(results['aggregate'], name)}{(' ' + unit) if unit else ''}"
                              for name, unit in heads if name in results["aggregate"])
            lines.append(f"| {task} | {oracle} | {cells} |")
    lines += ["", f"Results files (JSON + per-scene CSV) are in `{out / 'results'}`."]
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="the main job on the built-in defaults: simulate, verify, export, score oracles",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="out/demo", help="output folder (default: out/demo)")
    p.add_argument("--manifest", default="demo", help="recipe to run (default: the shipped demo)")
    p.add_argument("--workers", type=int, default=1, help="worker processes for simulation")
    p.set_defaults(func=_demo_cmd)


def _demo_cmd(args: argparse.Namespace) -> int:
    print(run_demo(Path(args.out), args.manifest, args.workers))
    return 0
