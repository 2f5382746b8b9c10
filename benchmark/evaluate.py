"""Run a suite: predictions from a model or predictor, then the scorer for each of the suite's tasks.

:func:`evaluate` is the job behind ``asabench evaluate``::

    EVAL/
      predictions/<task>/...      the layout ``asabench score`` validates (see predict.py)
      results/<id>.json, .csv     one results file per suite entry (scoring.write_results)
      evaluation.json             summary: suite, system, each entry's main score, timing

The predictor is one of: a run folder written by ``asabench train`` (its
``checkpoints/best.pt``, else ``last.pt``) or a checkpoint file; a registry model built
untrained from ``model`` and ``config`` (a preset name is fitted to the suite's contract,
:func:`~asabench.benchmark.predict.fit_model_config`); or any object implementing the
protocols of :mod:`asabench.benchmark.predict`.

Every results file is the scorer's record (schema, asabench version, dataset name, version
and manifest hash, definitions, aggregates, per-scene values) plus ``suite`` (name, file,
SHA-256 of the suite file's bytes, entry id, leaderboard), ``main_score`` (name, value,
direction), ``system`` (what produced the predictions), ``git_revision`` and ``timing``.

Everything is checked before any work: the suite against the scorer, the dataset against
the suite (manifest name and version, rate, channels, split), the predictor against the
tasks, and the output folder (absent or empty, outside every input).

The job is two stages that also run apart: :func:`predict_suite` (a system -> the
predictions folder) and :func:`score_suite` (a predictions folder -> one results file per
suite entry + ``evaluation.json``). ``asabench submit`` runs only the second on an
outsider's predictions. With ``time_limit`` a ``predictor_spec`` runs in a child process
(:mod:`asabench.benchmark.submissions.sandbox`) that writes the predictions and is killed
when it overruns; this process scores. Every results file records the SHA-256 of the
task's predictions folder (``predictions.sha256``) and, for a hidden test split, its
fingerprint (``dataset.hidden``, :mod:`asabench.simulate.secret_seed`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from asabench.benchmark.predict import (PredictionReport, PredictorError, check_model_contract, check_predictor,
                                        describe_predictor, fit_model_config, load_predictor,
                                        predictor_for_model, write_predictions)
from asabench.benchmark.suites import Suite, SuiteError, check_scorer, load_suite
from asabench.benchmark.training.callbacks import git_revision  # the one copy (run folders use it too)
from asabench.simulate.io.files import Pathlike, atomic_write_text, refuse_output_over_inputs

__all__ = ["EvaluationError", "Evaluation", "evaluate", "predict_suite", "score_suite", "score_entries",
           "resolve_checkpoint", "build_predictor", "check_dataset", "check_manifest_hash", "hidden_split",
           "check_secret_seed", "check_declared", "git_revision", "EVALUATION_SCHEMA_VERSION"]

#: Version of ``evaluation.json``'s layout.
EVALUATION_SCHEMA_VERSION: int = 1


class EvaluationError(ValueError):
    """The request cannot be evaluated: a dataset, run, model or output that does not fit."""


@dataclass
class Evaluation:
    """What :func:`evaluate` wrote: the summary record and the results file of each entry."""

    out: Path
    summary: dict[str, Any]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def main_scores(self) -> dict[str, float | None]:
        """``{entry id: main score value}``."""
        return {k: v["value"] for k, v in self.summary["entries"].items()}


# ----------------------------------------------------------------------------- inputs


def check_dataset(suite: Suite, data: Pathlike, split: str) -> None:
    """Refuse a dataset that is not the suite's: manifest name and version, rate, channels, split."""
    from asabench.simulate.dataset.reader import DatasetReader

    reader = DatasetReader(Path(data), "asabench")
    info = reader.info
    assert info is not None
    where = Path(data) / "dataset.json"

    def bad(field_name: str, what: str) -> EvaluationError:
        return EvaluationError(f"{where}: field '{field_name}': {what}")

    manifest_name = Path(suite.manifest).stem if Path(suite.manifest).suffix else suite.manifest
    if info.name != manifest_name:
        raise bad("name", f"dataset {info.name!r}, but suite {suite.name} ({suite.path}) is scored on "
                  f"manifest {manifest_name!r}")
    if info.version != suite.manifest_version:
        raise bad("version", f"{info.version!r}, but suite {suite.name} wants manifest version "
                  f"{suite.manifest_version!r}")
    if info.fs != suite.contract.sample_rate:
        raise bad("fs", f"{info.fs} Hz, but suite {suite.name} has sample_rate {suite.contract.sample_rate}")
    if info.num_channels != suite.contract.num_channels:
        raise bad("num_channels", f"{info.num_channels}, but suite {suite.name} has "
                  f"{suite.contract.num_channels} channels")
    splits = sorted({r.split for r in reader.records()})
    if split not in splits:
        raise EvaluationError(f"{Path(data) / 'index.jsonl'}: split {split!r} has no scenes "
                              f"(splits: {', '.join(splits) or 'none'})")


def check_manifest_hash(suite: Suite, data: Pathlike) -> str:
    """Refuse a dataset made from another manifest than the suite's (same name, other content).

    :func:`check_dataset` compares names and versions; this compares the SHA-256 of the
    manifest the suite names (as shipped or as the suite file points to it) with the
    ``manifest_sha256`` recorded in ``dataset.json``. Returns that hash.
    """
    from asabench.benchmark.suites import manifest_path
    from asabench.simulate.dataset.format import read_dataset_info
    from asabench.simulate.manifest import load_manifest

    path = manifest_path(suite)
    wanted = load_manifest(path).sha256
    info = read_dataset_info(data)
    if info.manifest_sha256 != wanted:
        raise EvaluationError(
            f"{Path(data) / 'dataset.json'}: field 'manifest_sha256': {info.manifest_sha256}, but suite "
            f"{suite.name} is scored on manifest {path} ({info.name} {info.version}) with SHA-256 {wanted}: "
            "the dataset was made from a different manifest (regenerate it with asabench simulate "
            f"{Path(suite.manifest).stem})")
    return wanted


def hidden_split(data: Pathlike, split: str) -> dict[str, str] | None:
    """``{"fingerprint": "sha256:..."}`` when ``split`` of the dataset is a hidden one, else None."""
    from asabench.simulate.dataset.format import read_dataset_info
    from asabench.simulate.secret_seed import recorded_fingerprint

    fingerprint = recorded_fingerprint(read_dataset_info(data).extra, split)
    return {"fingerprint": fingerprint} if fingerprint is not None else None


def check_secret_seed(data: Pathlike, split: str, secret_seed: Pathlike) -> dict[str, str]:
    """Refuse a dataset whose split is not the hidden split of ``secret_seed`` (fingerprints compared)."""
    from asabench.simulate.secret_seed import read_secret_seed

    secret = read_secret_seed(secret_seed)
    hidden = hidden_split(data, split)
    where = Path(data) / "dataset.json"
    if hidden is None:
        raise EvaluationError(f"{where}: field 'hidden_splits.{split}': split {split!r} uses the public seeds, "
                              f"but --secret-seed {secret_seed} asks for the hidden split {secret.fingerprint}")
    if hidden["fingerprint"] != secret.fingerprint:
        raise EvaluationError(f"{where}: field 'hidden_splits.{split}': made with secret seed "
                              f"{hidden['fingerprint']}, but --secret-seed {secret_seed} is {secret.fingerprint}")
    return hidden


def check_declared(predictor: Any, contract: Any) -> list[str]:
    """Problems of a predictor's declared ``sample_rate`` / ``num_channels`` against a suite contract.

    Either attribute may be absent (the registry adapters declare none); a declared value
    must equal the contract's.
    """
    problems = []
    for attr, wanted in (("sample_rate", contract.sample_rate), ("num_channels", contract.num_channels)):
        value = getattr(predictor, attr, None)
        if value is not None and (isinstance(value, bool) or value != wanted):
            problems.append(f"declares {attr} = {value!r}, the suite's contract has {wanted}")
    return problems


def resolve_checkpoint(run: Pathlike) -> Path:
    """The checkpoint of a run folder (``checkpoints/best.pt``, else ``checkpoints/last.pt``) or a ``.pt`` file."""
    run = Path(run)
    if run.is_file():
        return run
    if not run.is_dir():
        raise EvaluationError(f"{run}: --run: no such run folder or checkpoint file")
    for name in ("best.pt", "last.pt"):
        candidate = run / "checkpoints" / name
        if candidate.is_file():
            return candidate
    raise EvaluationError(f"{run}: --run: no checkpoints/best.pt or checkpoints/last.pt in the run folder")


def build_predictor(suite: Suite, *, predictor: Any = None, predictor_spec: str | None = None,
                    model: Any = None, config: Any = None, run: Pathlike | None = None,
                    device: str = "cpu", seed: int = 0, data: Pathlike | None = None,
                    split: str | None = None) -> tuple[Any, dict[str, Any]]:
    """``(predictor, description)`` from exactly one of the four ways of naming a system."""
    given = [x is not None for x in (predictor, predictor_spec, run)] + [model is not None]
    if sum(given) != 1:
        raise EvaluationError("give exactly one of a predictor (--predictor module:attr), a run "
                              "(--run RUN) or a model (--model M [--config C])")
    if config is not None and (model is None or not isinstance(model, str)):
        raise EvaluationError("--config goes with --model NAME")
    tasks = suite.task_kinds
    if predictor_spec is not None:
        predictor = load_predictor(predictor_spec)
    if predictor is not None:
        check_predictor(predictor, tasks)
        declared = check_declared(predictor, suite.contract)
        if declared:
            raise PredictorError(f"predictor {type(predictor).__name__} " + "; ".join(declared))
        return predictor, describe_predictor(predictor, predictor_spec)
    from asabench.benchmark import baselines

    if isinstance(model, str) and baselines.is_baseline(model):
        entry = baselines.get_baseline(model)
        missing = [t for t in tasks if t not in entry.tasks]
        if missing:
            raise EvaluationError(f"--model {model}: the baseline does {', '.join(entry.tasks)}; suite "
                                  f"{suite.name} also scores {', '.join(missing)}")
        context = baselines.BaselineContext(suite=suite, data=Path(data) if data is not None else None,
                                            split=split, config=config, seed=seed)
        predictor = entry.factory(context)
        check_predictor(predictor, tasks)
        return predictor, {**describe_predictor(predictor), "baseline": model, "baseline_kind": entry.kind,
                           "oracle": entry.kind == "oracle",
                           "config_source": str(config) if config is not None else None}
    import torch

    from asabench import models

    record: dict[str, Any]
    if run is not None:
        ckpt = resolve_checkpoint(run)
        net = models.load(ckpt, map_location="cpu")
        record = {"run": str(run), "checkpoint": str(ckpt)}
    elif isinstance(model, str):
        from asabench.models.registry import get_entry

        try:
            entry = get_entry(model)
        except KeyError as exc:
            raise EvaluationError(f"--model: {exc.args[0]}") from None
        cfg = config if config is not None else "tiny"
        if isinstance(cfg, str) and cfg in entry.presets:
            cfg = fit_model_config(model, cfg, suite.contract)
        net = models.create(model, cfg, seed=seed)
        record = {"untrained": True, "seed": seed,
                  "config_source": str(config) if config is not None else "tiny"}
    elif isinstance(model, torch.nn.Module):
        net, record = model, {}
    else:
        raise EvaluationError(f"model must be a registry name or a torch module, got {type(model).__name__}")
    check_model_contract(net, suite.contract, tasks)
    adapter = predictor_for_model(net, device)
    check_predictor(adapter, tasks)
    return adapter, {**describe_predictor(adapter), **record, "device": str(device)}


def _check_out(out: Path, inputs: list[Path]) -> None:
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"{out}: --out exists and is not a folder")
        if any(out.iterdir()):
            raise FileExistsError(f"{out}: --out exists and is not empty; choose a new folder")
    refuse_output_over_inputs([out], inputs, what="--out")


# ----------------------------------------------------------------------------- the job


def predict_suite(suite: Suite, system: Any, data: Pathlike, pred_dir: Pathlike, *, split: str,
                  batch_size: int = 1, progress: Callable[[int, int], None] | None = None) -> PredictionReport:
    """Write ``system``'s predictions of every task of the suite (``pred_dir/<task>/...``)."""
    return write_predictions(system, data, pred_dir, suite.task_kinds, split=split, batch_size=batch_size,
                             max_objects=suite.contract.max_objects, progress=progress)


def score_entries(suite: Suite, data: Pathlike, pred_dir: Pathlike, *, split: str, system_record: Mapping[str, Any],
                  workers: int | None = None, report: PredictionReport | None = None,
                  revision: str | None = None, hidden: Mapping[str, Any] | None = None,
                  log: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """Score ``pred_dir/<task>`` for every suite entry; ``{entry id: results record}`` (nothing written).

    Each record is the scorer's (:func:`asabench.benchmark.scoring.score` with the entry's
    options) plus ``suite``, ``main_score``, ``system``, ``git_revision``, ``timing``,
    ``predictions.sha256`` (the task folder's hash) and ``dataset.hidden``.
    """
    from asabench.benchmark import scoring
    from asabench.benchmark.leaderboard.store import predictions_sha256

    pred_dir = Path(pred_dir)
    revision = git_revision() if revision is None else revision
    hashes = {task: predictions_sha256(pred_dir / task) for task in suite.task_kinds}
    out: dict[str, dict[str, Any]] = {}
    for spec in suite.tasks:
        t0 = time.perf_counter()
        results = scoring.score(data, spec.task, predictions=pred_dir / spec.task, split=split,
                                workers=workers, **spec.options)
        score_s = time.perf_counter() - t0
        aggregate = results.get("aggregate", {})
        if spec.main_score not in aggregate:
            raise SuiteError(f"{spec.main_score!r} is not among the {spec.task} results' metrics "
                             f"({', '.join(aggregate)})", source=suite.path,
                             field=f"tasks[{suite.tasks.index(spec)}].main_score")
        value = aggregate[spec.main_score].get("value")
        main = {"name": spec.main_score, "value": value, "higher_is_better": spec.higher_is_better}
        results["suite"] = {**suite.to_record(), "entry": spec.id, "task": spec.task,
                            "leaderboard": suite.leaderboard, "reference": suite.reference,
                            "options": dict(spec.options), "description": spec.description}
        results["main_score"] = main
        results["system"] = dict(system_record)
        results["git_revision"] = revision
        results["predictions"]["sha256"] = hashes[spec.task]
        results["dataset"]["hidden"] = dict(hidden) if hidden else False
        results["timing"] = {"predict_s": round(report.seconds.get(spec.task, 0.0), 6) if report else None,
                             "score_s": round(score_s, 6)}
        if report is not None and report.notes:
            results.setdefault("warnings", []).extend(report.notes)
        out[spec.id] = results
        if log:
            shown = "n/a" if value is None else f"{value:.4g}"
            log(f"{spec.id}: {spec.main_score} {shown} ({'higher' if spec.higher_is_better else 'lower'} is better)")
    return out


def score_suite(suite: Suite, data: Pathlike, pred_dir: Pathlike, out: Pathlike, *, split: str,
                system_record: Mapping[str, Any], workers: int | None = None,
                report: PredictionReport | None = None, hidden: Mapping[str, Any] | None = None,
                t_start: float | None = None, log: Callable[[str], None] | None = None) -> Evaluation:
    """Score a predictions folder for every suite entry; write ``out/results/`` and ``out/evaluation.json``.

    ``pred_dir`` holds ``<task>/...`` in the layout ``asabench score`` reads; it may be
    ``out/predictions`` (evaluate) or a folder elsewhere (submit). Nothing is written before
    every entry has been scored.
    """
    from asabench.benchmark import scoring

    t_start = time.perf_counter() if t_start is None else t_start
    out = Path(out)
    revision = git_revision()
    scored = score_entries(suite, data, pred_dir, split=split, system_record=system_record, workers=workers,
                           report=report, revision=revision, hidden=hidden)
    evaluation = Evaluation(out, {})
    entries: dict[str, Any] = {}
    for entry_id, results in scored.items():
        json_path, _ = scoring.write_results(results, out / "results" / f"{entry_id}.json")
        evaluation.results[entry_id] = results
        evaluation.files[entry_id] = json_path
        main = results["main_score"]
        entries[entry_id] = {**main, "task": results["task"], "results": str(json_path.relative_to(out))}
        if log:
            value = main["value"]
            shown = "n/a" if value is None else f"{value:.4g}"
            log(f"{entry_id}: {main['name']} {shown} ({'higher' if main['higher_is_better'] else 'lower'} "
                f"is better) -> {json_path}")
    evaluation.summary = {
        "schema_version": EVALUATION_SCHEMA_VERSION,
        "format": "asabench-evaluation",
        "suite": {**suite.to_record(), "leaderboard": suite.leaderboard},
        "dataset": {"path": str(data), "split": split, "hidden": dict(hidden) if hidden else False},
        "system": dict(system_record),
        "git_revision": revision,
        "entries": entries,
        "predictions": report.to_dict() if report is not None else {"path": str(pred_dir)},
        "timing": {"total_s": round(time.perf_counter() - t_start, 6)},
    }
    atomic_write_text(out / "evaluation.json", json.dumps(evaluation.summary, indent=1, allow_nan=False) + "\n")
    return evaluation


def evaluate(suite: str | Path | Suite, data: Pathlike, out: Pathlike, *, predictor: Any = None,
             predictor_spec: str | None = None, model: Any = None, config: Any = None,
             run: Pathlike | None = None, split: str | None = None, device: str = "cpu",
             batch_size: int = 1, workers: int | None = None, seed: int = 0,
             time_limit: float | None = None, secret_seed: Pathlike | None = None,
             progress: Callable[[int, int], None] | None = None,
             log: Callable[[str], None] | None = None) -> Evaluation:
    """Predict the suite's tasks on ``data``'s test split and score every entry.

    Parameters
    ----------
    suite : a shipped suite name, a suite file or a :class:`Suite`.
    data : the suite's dataset folder (``asabench simulate <manifest>``).
    out : the evaluation folder (absent or empty).
    predictor / predictor_spec / model (+ config) / run : the system, exactly one
        (see the module docstring); ``model`` may also be a ``torch.nn.Module``.
    split : split to evaluate (default: the suite's test split).
    device : torch device of a model. batch_size : scenes (TSE: clues) per call.
    workers : scorer processes (``None``: automatic, as ``asabench score``).
    seed : weight seed of an untrained ``model``.
    time_limit : seconds; run ``predictor_spec`` in a child process that is killed after
        this long (:mod:`asabench.benchmark.submissions.sandbox`). Only with ``predictor_spec``.
    secret_seed : the hidden split's private seed file: the dataset's split must carry its
        fingerprint (:func:`check_secret_seed`).
    log : optional callable receiving one line per finished stage.

    Raises
    ------
    SuiteError, EvaluationError, PredictorError, SubmissionError, ScoringError
        Invalid input (named); nothing is scored.
    FileExistsError
        ``out`` exists and is not empty.
    PredictorTimeoutError
        The child process overran ``time_limit`` (a ``TimeoutError``: the job failed, exit 1).
    """
    t_start = time.perf_counter()
    suite = load_suite(suite)
    check_scorer(suite)
    split = split or suite.splits.test
    data = Path(data)
    out = Path(out)
    inputs = [data] + ([Path(run)] if run is not None else [])
    _check_out(out, inputs)
    check_dataset(suite, data, split)
    hidden = check_secret_seed(data, split, secret_seed) if secret_seed is not None else hidden_split(data, split)
    if batch_size < 1:
        raise EvaluationError(f"batch size must be >= 1, got {batch_size}")
    pred_dir = out / "predictions"
    if time_limit is not None:
        if predictor_spec is None or any(x is not None for x in (predictor, model, run)):
            raise EvaluationError("a time limit (--time-limit) goes with --predictor MODULE:ATTR only")
        if not (time_limit > 0) or time_limit == float("inf"):
            raise EvaluationError(f"time limit {time_limit}: expected a finite number of seconds > 0")
        from asabench.benchmark.submissions.sandbox import predict_in_subprocess

        out.mkdir(parents=True, exist_ok=True)
        report, system_record = predict_in_subprocess(predictor_spec, suite, data, pred_dir, split=split,
                                                      batch_size=batch_size, time_limit=time_limit)
    else:
        system, system_record = build_predictor(suite, predictor=predictor, predictor_spec=predictor_spec,
                                                model=model, config=config, run=run, device=device, seed=seed,
                                                data=data, split=split)
        out.mkdir(parents=True, exist_ok=True)
        report = predict_suite(suite, system, data, pred_dir, split=split, batch_size=batch_size,
                               progress=progress)
    if log:
        log(f"predicted {', '.join(suite.task_kinds)} for {report.num_scenes} scenes of {split} in "
            f"{sum(report.seconds.values()):.1f} s")
    return score_suite(suite, data, pred_dir, out, split=split, system_record=system_record, workers=workers,
                       report=report, hidden=hidden, t_start=t_start, log=log)
