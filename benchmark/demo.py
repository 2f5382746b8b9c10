"""The demo job: the main pipeline on the built-in defaults, end to end.

:func:`run_demo` regenerates the shipped demo recipe (``manifests/demo.toml``) on the
built-in procedural banks, verifies it, exports the ASA2 layout, reads both layouts back
through ``SceneDataset``, scores the oracle rows (mixture = the 0 dB line, ground
truth = the upper line) for every task, then trains a tiny DeepASA on the
``demo-multitask`` suite and a tiny SoundCompass on ``demo-tse`` for ``train_steps``
optimiser steps each (``asabench train``), evaluates both on the test split
(``asabench evaluate``) and prints one table of oracle and model rows. Running it twice
completes nothing new and gives the same hashes: the dataset is resumable and
deterministic, a finished run is resumed as a no-op and a finished evaluation is read back.
The command line is ``asabench demo`` (:mod:`asabench.benchmark.cli.demo`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from asabench.simulate.io.files import Pathlike, atomic_write_text

__all__ = ["HEADLINES", "run_demo"]

#: Headline metric shown per task in the demo summary, with its unit.
HEADLINES: dict[str, list[tuple[str, str]]] = {
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


#: The systems the demo trains: (row label, registry model, suite).
DEMO_SYSTEMS: tuple[tuple[str, str, str], ...] = (("deepasa", "deepasa", "demo-multitask"),
                                                  ("soundcompass", "soundcompass", "demo-tse"))


def run_demo(out: Pathlike, manifest: str = "demo", workers: int = 1,
             log: Callable[[str], None] | None = print, train_steps: int = 4) -> str:
    """Run the demo pipeline into ``out`` and return the summary text (markdown).

    Parameters
    ----------
    out : output folder: ``data/`` (the dataset), ``asa2/`` (its ASA2 export),
        ``results/`` (one JSON + CSV per task and oracle) and ``summary.md``.
    manifest : recipe to run (a shipped name or a path).
    workers : simulation worker processes.
    log : called with each split's simulation summary (``None``: silent).
    train_steps : optimiser steps of each tiny model (0: oracle rows only; also skipped when
        ``manifest`` is not the demo recipe the demo suites are defined on).

    Raises
    ------
    RuntimeError
        Scenes failed to render or the dataset did not verify (the message says which).
    """
    from asabench.benchmark.scoring import score, write_results
    from asabench.simulate.dataset.build import simulate_dataset
    from asabench.simulate.dataset.loader import SceneDataset
    from asabench.simulate.dataset.verify import verify_dataset
    from asabench.simulate.export.asa2 import export_asa2
    from asabench.simulate.manifest import load_manifest

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    m = load_manifest(manifest)
    lines = [f"# asabench demo: {m.name} v{m.version} (seed {m.seed}, {m.fs} Hz, {m.duration_s} s)", ""]

    t0 = time.perf_counter()
    for split in m.splits:
        summary = simulate_dataset(m, split, data, workers=workers, progress=log is not None)
        if log is not None:
            log(summary.text())
        if summary.failed:
            raise RuntimeError(f"{len(summary.failed)} scene(s) of split {split!r} failed to render: "
                               + "; ".join(summary.failed[:5]))
    lines.append(f"* simulated {sum(m.splits.values())} scenes in {time.perf_counter() - t0:.1f} s "
                 f"into `{data}`")

    report = verify_dataset(data, m.path)
    if not report.ok:
        raise RuntimeError(f"{data}: the demo dataset did not verify:\n{report.format()}")
    lines.append("* `asabench verify`: every file present and its sha256 as indexed")

    asa2 = out / "asa2"
    exported = export_asa2(data, asa2, overwrite=True)
    n_ours = len(SceneDataset(data, split="test"))
    n_asa2 = sum(len(SceneDataset(asa2, split=s)) for s in ("dev", "test") if (asa2 / s).exists())
    lines.append(f"* ASA2 layout exported to `{asa2}` ({', '.join(f'{k}: {v}' for k, v in sorted(exported.scenes.items()))}); "
                 f"SceneDataset reads {n_ours} test scenes from ours and {n_asa2} from the ASA2 layout")
    lines += ["", "| task | system | metrics (test split) |", "|---|---|---|"]

    for task, heads in HEADLINES.items():
        # SELD has no "mixture" estimate: only the ground-truth labels make an oracle.
        for oracle in (("targets",) if task == "seld" else ("mixture", "targets")):
            results = score(data, task, oracle=oracle, split="test")
            write_results(results, out / "results" / f"{task}-oracle-{oracle}.json")
            cells = ", ".join(f"{name} {_value(results['aggregate'], name)}{(' ' + unit) if unit else ''}"
                              for name, unit in heads if name in results["aggregate"])
            lines.append(f"| {task} | {oracle} | {cells} |")
    if train_steps > 0 and m.name == "demo":
        lines += _trained_rows(out, data, train_steps, log)
    picture = _scene_picture(out, data)
    lines += ["", picture] if picture else []
    lines += ["", f"Results files (JSON + per-scene CSV) are in `{out / 'results'}`"
              + (f" and `{out / 'eval'}/<system>/results`." if train_steps > 0 and m.name == "demo" else ".")]
    text = "\n".join(lines) + "\n"
    atomic_write_text(out / "summary.md", text)
    return text


def _scene_picture(out: Path, data: Path) -> str | None:
    """Draw the first test scene (``asabench plot --rir``), with DeepASA's SELD predictions
    when the demo evaluated it; returns the summary line naming the picture (None: no such scene)."""
    from asabench.benchmark.plots.scene import plot_scene

    scene_dir = data / "test" / "test-000000"
    if not (scene_dir / "spec.json").is_file():
        return None
    predictions = out / "eval" / "deepasa" / "predictions"
    pred = predictions if (predictions / "seld" / f"{scene_dir.name}.csv").is_file() else None
    result = plot_scene(scene_dir, out / f"scene-{scene_dir.name}.png", predictions=pred, rir=True)
    return (f"Picture of scene {scene_dir.name} (room, trajectories, SED/DoA labels"
            f"{', DeepASA predictions' if pred is not None else ''}, RIR decay): `{result.path}` "
            f"(`asabench plot {scene_dir} --rir`)")


def _trained_rows(out: Path, data: Path, steps: int, log: Callable[[str], None] | None) -> list[str]:
    """Train each demo system for ``steps`` steps, evaluate it on the test split, one table row per entry."""
    import json

    from asabench.benchmark.evaluate import evaluate
    from asabench.benchmark.suites import load_suite
    from asabench.benchmark.training.loop import checkpoint_paths, train

    rows = []
    for label, model, suite_name in DEMO_SYSTEMS:
        suite = load_suite(suite_name)
        run = out / "runs" / label
        t0 = time.perf_counter()
        # a finished run resumes as a no-op; a killed one continues from its last checkpoint
        resume = checkpoint_paths(run)["last"].is_file()
        result = train(suite, model, config="tiny", data=data, out=run, max_steps=steps, resume=resume,
                       progress=log is not None, log=None)
        ev_dir = out / "eval" / label
        if (ev_dir / "evaluation.json").is_file():
            summary = json.loads((ev_dir / "evaluation.json").read_text(encoding="utf-8"))
            results = {k: json.loads((ev_dir / "results" / f"{k}.json").read_text(encoding="utf-8"))
                       for k in summary["entries"]}
        else:
            if ev_dir.exists():  # an evaluation killed before its summary: done again from scratch
                import shutil

                shutil.rmtree(ev_dir)
            results = evaluate(suite, data, ev_dir, run=checkpoint_paths(run)["best"], workers=1).results
        if log is not None:
            log(f"{label}: {result.steps} steps on {suite_name} in {time.perf_counter() - t0:.1f} s "
                f"(run {run}, evaluation {ev_dir})")
        for spec in suite.tasks:
            aggregate = results[spec.id]["aggregate"]
            heads = [(spec.main_score, "dB" if spec.task != "seld" else "")]
            heads += [h for h in HEADLINES[spec.task] if h[0] != spec.main_score]
            cells = ", ".join(f"{name} {_value(aggregate, name)}{(' ' + unit) if unit else ''}"
                              for name, unit in heads if name in aggregate)
            rows.append(f"| {spec.task} | {label} tiny, {result.steps} steps ({spec.id}) | {cells} |")
    return rows
