"""Submit a predictions folder: card + predictions -> scored with the suite's definitions -> results store.

:func:`submit` is the job behind ``asabench submit PRED_DIR --suite S --card CARD.yaml
--data DATA``. It checks everything first and reports every problem at once
(:class:`SubmissionRefusedError`, one line each):

* the system card (:mod:`asabench.benchmark.submissions.card`);
* the dataset against the suite: manifest name, version, rate, channels, split
  (:func:`~asabench.benchmark.evaluate.check_dataset`) and the manifest's SHA-256
  (:func:`~asabench.benchmark.evaluate.check_manifest_hash`: a dataset regenerated from an
  edited manifest is refused); with ``secret_seed``, the hidden split's fingerprint;
* the predictions folder, ``PRED_DIR/<task>/...`` for every task of the suite, in the
  layout ``asabench score`` reads (:mod:`asabench.benchmark.submissions.layout`: every
  file, channels, rate, length, samples);
* the store: the system's slug (from the card's name) must be new unless ``replace``, and
  the same predictions (SHA-256 over the folder) must not be in the store under another name.

Then the predictions are scored for every suite entry with the suite's options
(:func:`~asabench.benchmark.evaluate.score_suite`, the loop ``asabench evaluate`` runs),
into a temporary folder. With ``results`` (an ``asabench evaluate`` folder, its
``evaluation.json`` or one of its ``results/<entry>.json``: the folder's every entry is
used) the results are *checked* instead of trusted: each entry's file must
name the same suite hash, entry, task and options, the same manifest hash, split and scene
count and the same predictions (``predictions.sha256`` of the task folder); the
predictions are scored again and the definitions and every aggregate must agree
(:data:`RESULTS_RTOL`); the accepted entry then hashes the submitted files' bytes. Only
after all of that is the one store file written, atomically
(:func:`asabench.benchmark.leaderboard.store.add_entry`); ``origin`` is ``"submitted"`` and
the card is stored in the entry.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from asabench.benchmark.submissions.card import CardError, SystemCard, load_card
from asabench.simulate.io.files import Pathlike

__all__ = ["SubmissionRefusedError", "SubmitResult", "submit", "DEFAULT_STORE", "RESULTS_RTOL",
           "compare_results"]

#: The results store of the checkout (``leaderboards/results``), relative to the working directory.
DEFAULT_STORE: str = "leaderboards/results"
#: Relative (and absolute, for values near 0) tolerance of a submitted aggregate against the re-scored one.
RESULTS_RTOL: float = 1e-9


class SubmissionRefusedError(ValueError):
    """The submission cannot be accepted; ``problems`` lists every reason, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"submission refused, {len(self.problems)} problem(s): " + "; ".join(self.problems))


@dataclass
class SubmitResult:
    """What :func:`submit` did: the store entry, its file, the card, whether results were checked."""

    entry: dict[str, Any]
    path: Path
    card: SystemCard
    checked_results: bool
    replaced: bool


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=RESULTS_RTOL, abs_tol=RESULTS_RTOL)


def compare_results(claimed: Mapping[str, Any], scored: Mapping[str, Any], where: Path) -> list[str]:
    """Problems of a submitted results record against the re-scored one (definitions, aggregates, main score)."""
    problems = []

    def canon(x: Any) -> str:
        return json.dumps(x, sort_keys=True)

    if canon(claimed.get("definitions")) != canon(scored.get("definitions")):
        keys = sorted(set(claimed.get("definitions") or {}) | set(scored.get("definitions") or {}))
        differ = [k for k in keys if canon((claimed.get("definitions") or {}).get(k))
                  != canon((scored.get("definitions") or {}).get(k))]
        problems.append(f"{where}: field 'definitions': differ from the suite's definitions as this asabench "
                        f"scores them ({', '.join(differ[:5]) or 'layout'})")
    c_agg, s_agg = claimed.get("aggregate") or {}, scored.get("aggregate") or {}
    if set(c_agg) != set(s_agg):
        problems.append(f"{where}: field 'aggregate': metrics {sorted(c_agg)} but the scorer reports {sorted(s_agg)}")
    for metric in sorted(set(c_agg) & set(s_agg)):
        for key in ("value", "ci_low", "ci_high"):
            a, b = (c_agg[metric] or {}).get(key), (s_agg[metric] or {}).get(key)
            if not _close(a, b):
                problems.append(f"{where}: field 'aggregate.{metric}.{key}': {a!r}, but the predictions score {b!r}")
    c_main, s_main = claimed.get("main_score") or {}, scored.get("main_score") or {}
    if c_main.get("name") != s_main.get("name") or not _close(c_main.get("value"), s_main.get("value")):
        problems.append(f"{where}: field 'main_score': {c_main!r}, but the suite's main score is {s_main!r}")
    return problems


def _symbolic_links(root: Path) -> list[Path]:
    """Every symbolic link under ``root`` (not followed): hashing or scoring one would read outside it."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                found.append(path)
    return sorted(found)


def _results_folder(results: Pathlike) -> Path:
    p = Path(results)
    if p.is_file() and p.name == "evaluation.json":
        return p.parent
    if p.is_dir() and (p / "evaluation.json").is_file():
        return p
    if p.is_file() and p.parent.name == "results" and (p.parent.parent / "evaluation.json").is_file():
        return p.parent.parent  # one entry's results file: its evaluation (every entry is needed)
    raise FileNotFoundError(f"{p}: --results: expected an 'asabench evaluate' folder, its evaluation.json "
                            "or one of its results/<entry>.json")


def _check_results_metadata(folder: Path, suite: Any, manifest_sha256: str, split: str, num_scenes: int,
                            hashes: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Read each entry's results file and check what can be checked without scoring."""
    claimed: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    summary_path = folder / "evaluation.json"
    try:
        listed = set((json.loads(summary_path.read_text(encoding="utf-8")).get("entries") or {}))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        return claimed, [f"{summary_path}: not a readable evaluation summary: {exc}"]
    wanted = {spec.id for spec in suite.tasks}
    if listed != wanted:
        problems.append(f"{summary_path}: field 'entries': {sorted(listed)}, but suite {suite.name} has the "
                        f"entries {sorted(wanted)}")
    for spec in suite.tasks:
        path = folder / "results" / f"{spec.id}.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(f"{path}: missing: the results of suite entry {spec.id!r}")
            continue
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: not a readable results file: {exc}")
            continue
        if not isinstance(record, dict):
            problems.append(f"{path}: expected a JSON object")
            continue
        s = record.get("suite") or {}
        d = record.get("dataset") or {}
        p = record.get("predictions") or {}
        checks = [("suite.sha256", s.get("sha256"), suite.sha256, "the suite file's SHA-256"),
                  ("suite.entry", s.get("entry"), spec.id, "the suite entry"),
                  ("task", record.get("task"), spec.task, "the entry's task"),
                  ("suite.options", s.get("options"), dict(spec.options), "the entry's scorer options"),
                  ("dataset.manifest_sha256", d.get("manifest_sha256"), manifest_sha256, "the dataset's manifest hash"),
                  ("dataset.split", d.get("split"), split, "the split"),
                  ("dataset.num_scenes", d.get("num_scenes"), num_scenes, "the split's scene count"),
                  ("predictions.sha256", p.get("sha256"), hashes[spec.task],
                   f"the SHA-256 of the submitted {spec.task}/ predictions")]
        for name, got, wanted, what in checks:
            if got != wanted:
                problems.append(f"{path}: field '{name}': {got!r}, but {what} is {wanted!r}")
        claimed[spec.id] = record
    return claimed, problems


def submit(pred_dir: Pathlike, suite: Any, card: Pathlike | SystemCard, data: Pathlike, *,
           results: Pathlike | None = None, store: Pathlike = DEFAULT_STORE, replace: bool = False,
           split: str | None = None, workers: int | None = None, secret_seed: Pathlike | None = None,
           kind: str = "external", log: Callable[[str], None] | None = None) -> SubmitResult:
    """Validate a submission, score (or check) it, and add it to the results store.

    Parameters
    ----------
    pred_dir : the predictions folder, ``PRED_DIR/<task>/...`` for every task of the suite.
    suite : a shipped suite name, a suite file or a :class:`~asabench.benchmark.suites.Suite`.
    card : the system card file (or a loaded :class:`SystemCard`).
    data : the suite's dataset folder (the test split the predictions are for).
    results : an ``asabench evaluate`` folder (or its ``evaluation.json``) to check instead of
        trusting; ``None``: score the predictions.
    store : the results store root (``<store>/<suite>/<slug>.json``).
    replace : replace the system's existing entry (same slug).
    split : the split (default: the suite's test split).
    workers : scorer processes (``None``: automatic).
    secret_seed : the hidden split's private seed file; the dataset must carry its fingerprint.
    kind : the system's kind in the store (``external`` by default; see ``store.KINDS``).

    Raises
    ------
    SubmissionRefusedError
        Listing every problem (card, dataset, predictions, store, results); nothing written.
    SuiteError
        The suite itself is invalid.
    """
    from asabench.benchmark.evaluate import (EvaluationError, check_dataset, check_manifest_hash,
                                             check_secret_seed, hidden_split, score_entries, score_suite)
    from asabench.benchmark.leaderboard import store as results_store
    from asabench.benchmark.submissions.layout import SubmissionError, validate_submission
    from asabench.benchmark.scoring import load_reference
    from asabench.benchmark.suites import check_scorer, load_suite
    from asabench.simulate.classes import NUM_CLASSES
    from asabench.simulate.dataset.format import DatasetFormatError
    from asabench.simulate.io.files import refuse_output_over_inputs

    suite = load_suite(suite)
    check_scorer(suite)
    split = split or suite.splits.test
    pred_dir, data, store = Path(pred_dir), Path(data), Path(store)
    problems: list[str] = []

    # the card
    system_card: SystemCard | None = None
    if isinstance(card, SystemCard):
        system_card = card
    else:
        try:
            system_card = load_card(card)
        except CardError as exc:
            problems.extend(exc.problems)

    # the dataset
    dataset_ok = False
    manifest_sha256 = None
    hidden = None
    try:
        check_dataset(suite, data, split)
        manifest_sha256 = check_manifest_hash(suite, data)
        hidden = check_secret_seed(data, split, secret_seed) if secret_seed is not None else hidden_split(data, split)
        dataset_ok = True
    except (EvaluationError, DatasetFormatError, ValueError) as exc:
        problems.append(" ".join(str(exc).split()))

    # the predictions
    hashes: dict[str, str] = {}
    num_scenes = 0
    links = _symbolic_links(pred_dir) if pred_dir.is_dir() else []
    problems.extend(f"{link}: symbolic link; a predictions folder holds its own files (links are not followed)"
                    for link in links)
    if not pred_dir.is_dir():
        problems.append(f"{pred_dir}: the predictions folder does not exist")
    elif dataset_ok and not links:
        ref = load_reference(data, split)
        num_scenes = len(ref.records)
        for task in suite.task_kinds:
            folder = pred_dir / task
            if not folder.is_dir():
                problems.append(f"{folder}: missing: suite {suite.name} scores {', '.join(suite.task_kinds)}; "
                                f"the layout is PRED_DIR/<task>/... (docs/submissions.md)")
                continue
            needs_distance = any(s.task == "seld" and s.options.get("seld_mode") == "dcase2024" for s in suite.tasks)
            try:
                validate_submission(folder, task, ref.expectations(), num_classes=NUM_CLASSES,  # type: ignore[arg-type]
                                    known_ids=ref.all_ids, require_distance=task == "seld" and needs_distance)
            except SubmissionError as exc:
                problems.extend(p if p.startswith(str(folder)) else f"{folder}/{p}" for p in exc.problems)
            hashes[task] = results_store.predictions_sha256(folder)
        extra = sorted(p.name for p in pred_dir.iterdir() if p.name not in suite.task_kinds)
        if extra:
            problems.append(f"{pred_dir}: unexpected entries {', '.join(extra)} (the folder holds one "
                            f"sub-folder per task: {', '.join(suite.task_kinds)})")

    # the store: duplicates and overlap with the inputs
    slug = None
    replaced = False
    pred_hash = results_store.predictions_sha256(pred_dir) if pred_dir.is_dir() and not links else None
    try:
        refuse_output_over_inputs([store / suite.name], [pred_dir, data], what="--store")
    except ValueError as exc:
        problems.append(str(exc))
    if system_card is not None:
        try:
            slug = results_store.slugify(system_card.name)
        except ValueError as exc:
            problems.append(str(exc))
    try:
        existing = results_store.load_store(store, suite.name)
    except ValueError as exc:
        problems.append(" ".join(str(exc).split()))
        existing = {}
    for other_slug, other in existing.items():
        if pred_hash is not None and other["predictions_sha256"] == pred_hash and other_slug != slug:
            problems.append(f"{store / suite.name / (other_slug + '.json')}: field 'predictions_sha256': the same "
                            f"predictions are already in the store as {other['system']['name']!r}")
    if slug is not None and slug in existing:
        if replace:
            replaced = True
        else:
            problems.append(f"{store / suite.name / (slug + '.json')}: field 'system.slug': system "
                            f"{existing[slug]['system']['name']!r} is already in the store; replace it "
                            "explicitly (--replace)")

    # the results file to check (metadata first: cheap)
    claimed: dict[str, dict[str, Any]] = {}
    folder = None
    if results is not None:
        try:
            folder = _results_folder(results)
        except FileNotFoundError as exc:
            problems.append(str(exc))
        if folder is not None and dataset_ok and len(hashes) == len(suite.task_kinds):
            claimed, found = _check_results_metadata(folder, suite, manifest_sha256 or "", split, num_scenes, hashes)
            problems.extend(found)
    if problems:
        raise SubmissionRefusedError(problems)
    assert system_card is not None
    if log:
        log(f"{pred_dir}: card, dataset and predictions valid; scoring {len(suite.tasks)} entries of {suite.name}")

    record = {"kind": "submitted", "name": system_card.name, "predictions": str(pred_dir)}
    card_dict = system_card.to_dict()
    with tempfile.TemporaryDirectory(prefix="asabench-submit-") as tmp:
        if folder is None:
            evaluation = score_suite(suite, data, pred_dir, Path(tmp) / "eval", split=split, system_record=record,
                                     workers=workers, hidden=hidden)
            eval_dir = evaluation.out
        else:
            scored = score_entries(suite, data, pred_dir, split=split, system_record=record, workers=workers,
                                   hidden=hidden)
            found = []
            for entry_id, fresh in scored.items():
                found.extend(compare_results(claimed[entry_id], fresh, folder / "results" / f"{entry_id}.json"))
            if found:
                raise SubmissionRefusedError(found)
            eval_dir = folder
        entry = results_store.entry_from_evaluation(eval_dir, "submitted", kind, card_dict, name=system_card.name,
                                                    hidden=hidden)
    entry["predictions_sha256"] = pred_hash
    entry = results_store.validate_entry(entry)
    path = results_store.add_entry(store, entry, replace=replace)
    return SubmitResult(entry=entry, path=path, card=system_card, checked_results=folder is not None,
                        replaced=replaced)
