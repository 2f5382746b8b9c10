"""The results store: one validated JSON entry per (suite, system) under ``leaderboards/results``.

Layout: ``<root>/<suite name>/<system slug>.json``. An entry (``schema``
``"asabench-leaderboard-entry"``, ``schema_version`` 1) holds what a table needs and what
makes its numbers checkable::

    suite        {name, sha256 (of the suite file's bytes), leaderboard}
    manifest     {name, version, sha256}      the dataset's manifest hash from the results files
    asabench_version, git_revision
    system       {name, slug, origin, kind, card, parameters, macs_per_s}
    split        {name, num_scenes, hidden: false | {fingerprint: "sha256:..."}}
    entries      {<suite entry id>: {task, main_score {name, value, higher_is_better},
                  definition, aggregate, breakdown, results_sha256, per_scene_sha256}}
    predictions_sha256, added

``origin`` is ``reproduced`` (asabench ran the system), ``submitted`` (an outsider's
predictions scored by asabench) or ``reported`` (copied from a paper; those rows normally
live in ``leaderboards/reported/*.csv``). ``kind`` is ``oracle``, ``reference``, ``dsp``,
``learned`` or ``external``.

The store only accepts: :func:`validate_entry` checks every field (errors name the file and
the field, ``<file>: field 'entries.seld.aggregate': ...``); :func:`add_entry` writes
atomically and refuses duplicates (the same predictions hash under another slug, or the
same slug without ``replace``); :func:`load_store` reads and validates a suite's folder.
:func:`entry_from_evaluation` builds an entry from an ``asabench evaluate`` folder.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from pathlib import Path
from typing import Any, Mapping

from asabench.simulate.io.config import ConfigError
from asabench.simulate.io.files import Pathlike, atomic_write_text, sha256_bytes, sha256_file

__all__ = ["ENTRY_SCHEMA", "ENTRY_SCHEMA_VERSION", "ORIGINS", "KINDS", "StoreError", "DuplicateEntryError",
           "slugify", "validate_entry", "entry_path", "entry_from_evaluation", "predictions_sha256",
           "add_entry", "add_evaluation", "load_store", "breakdown_from_results"]

ENTRY_SCHEMA = "asabench-leaderboard-entry"
ENTRY_SCHEMA_VERSION = 1
#: Where a row's numbers come from.
ORIGINS: tuple[str, ...] = ("reproduced", "submitted", "reported")
#: What a system is.
KINDS: tuple[str, ...] = ("oracle", "reference", "dsp", "learned", "external")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class StoreError(ConfigError):
    """An entry or a store file is invalid (``<file>: field '<name>': <what>``)."""


class DuplicateEntryError(StoreError):
    """The entry is already in the store (same predictions, or same system without replace)."""


def slugify(name: str) -> str:
    """File-name slug of a system name: lower case, runs of other characters as one ``-``.

    >>> slugify("DeepASA + chain-of-inference")
    'deepasa-chain-of-inference'
    """
    slug = re.sub(r"[^a-z0-9._]+", "-", name.lower()).strip("-._")
    if not slug:
        raise StoreError(f"system name {name!r} has no letters or digits to name a file", field="system.name")
    return slug[:128]


# ----------------------------------------------------------------------------- validation


class _Check:
    """Field checks that name the file and the dotted field of the first problem."""

    def __init__(self, source: Pathlike | None) -> None:
        self.source = None if source is None else str(source)

    def fail(self, field: str, what: str) -> StoreError:
        return StoreError(what, source=self.source, field=field)

    def mapping(self, value: Any, field: str, keys: tuple[str, ...] = ()) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(field, f"expected an object, got {type(value).__name__}")
        for key in keys:
            if key not in value:
                raise self.fail(f"{field}.{key}" if field else key, "required field is missing")
        return value

    def text(self, value: Any, field: str, *, empty: bool = False) -> str:
        if not isinstance(value, str) or (not empty and not value):
            raise self.fail(field, f"expected a non-empty string, got {value!r}")
        return value

    def sha(self, value: Any, field: str, *, null: bool = False) -> None:
        if value is None and null:
            return
        if not isinstance(value, str) or not _HEX64.match(value):
            raise self.fail(field, f"expected a 64-digit lower-case hex SHA-256, got {value!r}")

    def number(self, value: Any, field: str, *, null: bool = True, lo: float = -math.inf) -> None:
        if value is None and null:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(field, f"expected a finite number{' or null' if null else ''}, got {value!r}")
        if value < lo:
            raise self.fail(field, f"must be >= {lo:g}, got {value!r}")

    def choice(self, value: Any, field: str, choices: tuple[str, ...]) -> None:
        if value not in choices:
            raise self.fail(field, f"{value!r} is not one of {', '.join(choices)}")


def validate_entry(entry: Any, source: Pathlike | None = None) -> dict[str, Any]:
    """Check a store entry field by field; returns it (as a dict) when valid.

    ``source`` names the file in the error (``None``: an entry built in memory).

    Raises
    ------
    StoreError
        ``<source>: field '<dotted name>': <what>`` for the first problem found.
    """
    c = _Check(source)
    e = c.mapping(entry, "", ("schema", "schema_version", "suite", "manifest", "asabench_version",
                               "git_revision", "system", "split", "entries", "predictions_sha256", "added"))
    if e["schema"] != ENTRY_SCHEMA:
        raise c.fail("schema", f"expected {ENTRY_SCHEMA!r}, got {e['schema']!r}")
    if e["schema_version"] != ENTRY_SCHEMA_VERSION or isinstance(e["schema_version"], bool):
        raise c.fail("schema_version", f"expected {ENTRY_SCHEMA_VERSION}, got {e['schema_version']!r} "
                     "(this asabench reads version 1)")
    suite = c.mapping(e["suite"], "suite", ("name", "sha256", "leaderboard"))
    c.text(suite["name"], "suite.name")
    c.sha(suite["sha256"], "suite.sha256")
    c.text(suite["leaderboard"], "suite.leaderboard")
    manifest = c.mapping(e["manifest"], "manifest", ("name", "version", "sha256"))
    c.text(manifest["name"], "manifest.name")
    c.text(manifest["version"], "manifest.version")
    c.sha(manifest["sha256"], "manifest.sha256")
    c.text(e["asabench_version"], "asabench_version")
    if e["git_revision"] is not None:
        c.text(e["git_revision"], "git_revision")
    system = c.mapping(e["system"], "system", ("name", "slug", "origin", "kind", "card", "parameters", "macs_per_s"))
    c.text(system["name"], "system.name")
    if not isinstance(system["slug"], str) or not _SLUG.match(system["slug"]):
        raise c.fail("system.slug", f"expected lower-case letters, digits, '.', '_' or '-', got {system['slug']!r}")
    c.choice(system["origin"], "system.origin", ORIGINS)
    c.choice(system["kind"], "system.kind", KINDS)
    if system["card"] is not None:
        c.mapping(system["card"], "system.card")
    if system["parameters"] is not None and (isinstance(system["parameters"], bool)
                                             or not isinstance(system["parameters"], int)
                                             or system["parameters"] < 0):
        raise c.fail("system.parameters", f"expected a count >= 0 or null, got {system['parameters']!r}")
    c.number(system["macs_per_s"], "system.macs_per_s", lo=0.0)
    split = c.mapping(e["split"], "split", ("name", "num_scenes", "hidden"))
    c.text(split["name"], "split.name")
    if isinstance(split["num_scenes"], bool) or not isinstance(split["num_scenes"], int) or split["num_scenes"] < 1:
        raise c.fail("split.num_scenes", f"expected a scene count >= 1, got {split['num_scenes']!r}")
    hidden = split["hidden"]
    if hidden is not False:
        h = c.mapping(hidden, "split.hidden", ("fingerprint",))
        fp = h["fingerprint"]
        if not isinstance(fp, str) or not fp.startswith("sha256:") or not _HEX64.match(fp[7:]):
            raise c.fail("split.hidden.fingerprint", f"expected 'sha256:<64 hex digits>', got {fp!r}")
    entries = c.mapping(e["entries"], "entries")
    if not entries:
        raise c.fail("entries", "an entry needs at least one scored suite entry")
    for eid, item in entries.items():
        where = f"entries.{eid}"
        it = c.mapping(item, where, ("task", "main_score", "definition", "aggregate", "breakdown",
                                     "results_sha256", "per_scene_sha256"))
        c.choice(it["task"], f"{where}.task", ("uss", "tse", "seld"))
        main = c.mapping(it["main_score"], f"{where}.main_score", ("name", "value", "higher_is_better"))
        c.text(main["name"], f"{where}.main_score.name")
        c.number(main["value"], f"{where}.main_score.value")
        if not isinstance(main["higher_is_better"], bool):
            raise c.fail(f"{where}.main_score.higher_is_better", f"expected true or false, got "
                         f"{main['higher_is_better']!r}")
        c.mapping(it["definition"], f"{where}.definition")
        agg = c.mapping(it["aggregate"], f"{where}.aggregate")
        if main["name"] not in agg:
            raise c.fail(f"{where}.aggregate", f"has no {main['name']!r} (the main score); metrics: "
                         f"{', '.join(agg) or 'none'}")
        for metric, stats in agg.items():
            s = c.mapping(stats, f"{where}.aggregate.{metric}", ("value", "ci_low", "ci_high"))
            for key in ("value", "ci_low", "ci_high"):
                c.number(s[key], f"{where}.aggregate.{metric}.{key}")
        if agg[main["name"]]["value"] != main["value"]:
            raise c.fail(f"{where}.main_score.value", f"{main['value']!r} differs from the aggregate's "
                         f"{main['name']} value {agg[main['name']]['value']!r}")
        bd = c.mapping(it["breakdown"], f"{where}.breakdown")
        for key in bd:
            if key not in ("per_class", "per_source_count"):
                raise c.fail(f"{where}.breakdown.{key}", "unknown breakdown (per_class, per_source_count)")
            c.mapping(bd[key], f"{where}.breakdown.{key}")
        c.sha(it["results_sha256"], f"{where}.results_sha256")
        c.sha(it["per_scene_sha256"], f"{where}.per_scene_sha256")
    c.sha(e["predictions_sha256"], "predictions_sha256", null=True)
    c.text(e["added"], "added")
    try:
        _dt.date.fromisoformat(e["added"][:10])
    except ValueError:
        raise c.fail("added", f"expected an ISO date (YYYY-MM-DD...), got {e['added']!r}") from None
    return dict(e)


# ----------------------------------------------------------------------------- building


def predictions_sha256(pred_dir: Pathlike) -> str:
    """SHA-256 over a predictions folder: each file's relative POSIX path and content hash, sorted."""
    root = Path(pred_dir)
    lines = [f"{p.relative_to(root).as_posix()}\t{sha256_file(p)}\n"
             for p in sorted(root.rglob("*")) if p.is_file()]
    return sha256_bytes("".join(lines).encode("utf-8"))


def _mean(values: list[float]) -> float | None:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(finite) / len(finite) if finite else None


def breakdown_from_results(results: Mapping[str, Any]) -> dict[str, Any]:
    """Per-class (SELD) and per-source-count values from a results record.

    ``per_class``: the scorer's per-class metrics (``f_class``, ``le_class``, ``lr_class``:
    pooled counts of each class over all scenes), ``{metric: {class name: value}}``.
    ``per_source_count``: every per-scene metric grouped by the scenes' source count,
    ``{metric: {count: value}}``: for separation the mean over all (scene, source) values of
    those scenes (the aggregate's own definition restricted to them), for SELD the mean of
    the per-scene values (each scene's own counts; scenes without events left out). Each
    carries its ``definition``.
    """
    out: dict[str, Any] = {}
    per_class = results.get("per_class") or {}
    if per_class:
        classes = list((results.get("definitions") or {}).get("classes") or [])

        def name(k: int) -> str:
            return classes[k] if k < len(classes) else str(k)

        out["per_class"] = {
            "definition": "the scorer's per-class values (results file per_class: pooled counts of each "
                          "class over all scenes)",
            "values": {m: {name(k): (None if v is None else float(v)) for k, v in enumerate(vals)}
                       for m, vals in per_class.items()}}
    rows = [r for r in results.get("per_scene") or [] if "num_sources" in r]
    metrics = [m for m in results.get("metric_names") or [] if any(m in r for r in rows)]
    if rows and metrics:
        counts = sorted({int(r["num_sources"]) for r in rows})
        values: dict[str, dict[str, float | None]] = {}
        for m in metrics:
            values[m] = {}
            for n in counts:
                pool: list[float] = []
                for r in rows:
                    if int(r["num_sources"]) == n and m in r:
                        v = r[m]
                        pool.extend(v if isinstance(v, list) else [v])
                values[m][str(n)] = _mean(pool)
        sep = results.get("task") in ("uss", "tse")
        out["per_source_count"] = {
            "definition": ("mean over all (scene, source) values of the scenes with that many sources"
                           if sep else "mean of the per-scene values of the scenes with that many sources "
                           "(scenes without events left out)"),
            "num_scenes": {str(n): sum(1 for r in rows if int(r["num_sources"]) == n) for n in counts},
            "values": values}
    return out


def _read_json(path: Path, what: str) -> tuple[dict[str, Any], bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StoreError(f"{path}: {what} not found") from None
    try:
        record = json.loads(data)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(record, dict):
        raise StoreError(f"{path}: expected a JSON object")
    return record, data


def _system_name(system: Mapping[str, Any], card: Mapping[str, Any] | None) -> str | None:
    if card and isinstance(card.get("name"), str):
        return card["name"]
    for key in ("baseline", "name", "model"):
        if isinstance(system.get(key), str) and system[key]:
            return system[key]
    return None


#: Kept in an evaluation folder whose predictions were deleted to save space: their hash.
PREDICTIONS_HASH_FILE = "predictions.sha256"


def _predictions_hash(root: Path) -> str | None:
    """``predictions_sha256(EVAL/predictions)``, else the hash kept in ``EVAL/predictions.sha256``."""
    pred = root / "predictions"
    if pred.is_dir():
        return predictions_sha256(pred)
    kept = root / PREDICTIONS_HASH_FILE
    if kept.is_file():
        value = kept.read_text(encoding="utf-8").strip()
        if len(value) != 64 or any(ch not in "0123456789abcdef" for ch in value):
            raise StoreError(f"expected the 64 hex digits of predictions_sha256(EVAL/predictions), "
                             f"got {value[:80]!r}", source=kept)
        return value
    return None


def entry_from_evaluation(eval_dir: Pathlike, origin: str, kind: str | None = None,
                          card: Mapping[str, Any] | None = None, *, name: str | None = None,
                          parameters: int | None = None, macs_per_s: float | None = None,
                          hidden: Mapping[str, Any] | None = None, added: str | None = None) -> dict[str, Any]:
    """A store entry from an ``asabench evaluate`` folder (``EVAL/evaluation.json`` + ``EVAL/results``).

    Every suite entry listed in ``evaluation.json`` is read from ``results/<id>.json``; its
    bytes and its per-scene CSV (``results/<id>.csv``) are hashed. The suite, manifest and
    split must agree across the results files. ``name`` (default: the card's ``name``, else
    the baseline or predictor name recorded by evaluate), ``kind`` (default: the baseline's
    kind when evaluate recorded one), ``parameters`` and ``macs_per_s`` (default: the card's
    ``parameters`` / ``macs_per_s`` when given) describe the system. ``hidden``: the hidden
    split's ``{"fingerprint": "sha256:..."}`` (default: the results' ``dataset.hidden`` if any).

    Raises
    ------
    StoreError
        A missing or inconsistent file, or an entry that does not validate.
    """
    root = Path(eval_dir)
    summary_path = root / "evaluation.json"
    summary, _ = _read_json(summary_path, "evaluation summary")
    c = _Check(summary_path)
    if summary.get("format") != "asabench-evaluation":
        raise c.fail("format", f"expected 'asabench-evaluation', got {summary.get('format')!r}")
    listed = c.mapping(summary.get("entries"), "entries")
    system_record = c.mapping(summary.get("system") or {}, "system")
    entries: dict[str, Any] = {}
    first: dict[str, Any] | None = None
    for eid in listed:
        path = root / "results" / f"{eid}.json"
        results, data = _read_json(path, f"results file of entry {eid!r}")
        rc = _Check(path)
        csv_path = path.with_suffix(".csv")
        if not csv_path.is_file():
            raise StoreError(f"{csv_path}: per-scene CSV of entry {eid!r} not found")
        rsuite = rc.mapping(results.get("suite"), "suite", ("name", "sha256"))
        dataset = rc.mapping(results.get("dataset"), "dataset", ("name", "version", "manifest_sha256", "split",
                                                                  "num_scenes"))
        main = rc.mapping(results.get("main_score"), "main_score", ("name", "value", "higher_is_better"))
        key = (rsuite["name"], rsuite["sha256"], dataset["name"], dataset["version"], dataset["manifest_sha256"],
               dataset["split"], dataset["num_scenes"])
        if first is None:
            first = {"key": key, "results": results, "path": path}
        elif key != first["key"]:
            raise rc.fail("dataset", f"suite/manifest/split {key} differ from {first['path']}'s {first['key']}")
        aggregate = {m: dict(v) for m, v in rc.mapping(results.get("aggregate"), "aggregate").items()}
        entries[eid] = {
            "task": results.get("task"),
            "main_score": dict(main),
            "definition": {"options": (rsuite.get("options") or {}), "description": rsuite.get("description", ""),
                           **(results.get("definitions") or {})},
            "aggregate": aggregate,
            "breakdown": breakdown_from_results(results),
            "results_sha256": sha256_bytes(data),
            "per_scene_sha256": sha256_file(csv_path),
        }
    if first is None:
        raise c.fail("entries", "the evaluation lists no scored entries")
    results = first["results"]
    ssum = c.mapping(summary.get("suite"), "suite", ("name", "sha256"))
    if (ssum["name"], ssum["sha256"]) != first["key"][:2]:
        raise c.fail("suite", f"{ssum['name']} {ssum['sha256']} differs from the results files' "
                     f"{first['key'][0]} {first['key'][1]}")
    card = dict(card) if card is not None else None
    sys_name = name or _system_name(system_record, card)
    if not sys_name:
        raise c.fail("system", "no system name recorded; give one (--name)")
    if kind is None:
        kind = system_record.get("baseline_kind") or ("oracle" if system_record.get("oracle") else None)
        if kind is None:
            raise c.fail("system", "the system's kind is not recorded; give one (--kind: "
                         f"{', '.join(KINDS)})")
    if parameters is None and card is not None and card.get("parameters") is not None:
        parameters = card["parameters"]
    if macs_per_s is None and card is not None and card.get("macs_per_s") is not None:
        macs_per_s = card["macs_per_s"]
    dataset = results["dataset"]
    if hidden is None:
        found = dataset.get("hidden") or dataset.get("hidden_split") or None
        hidden = {"fingerprint": found} if isinstance(found, str) else found
    entry = {
        "schema": ENTRY_SCHEMA, "schema_version": ENTRY_SCHEMA_VERSION,
        "suite": {"name": first["key"][0], "sha256": first["key"][1],
                  "leaderboard": (results["suite"].get("leaderboard") or ssum.get("leaderboard") or first["key"][0])},
        "manifest": {"name": dataset["name"], "version": dataset["version"], "sha256": dataset["manifest_sha256"]},
        "asabench_version": results.get("asabench_version") or "unknown",
        "git_revision": results.get("git_revision") or summary.get("git_revision"),
        "system": {"name": sys_name, "slug": slugify(sys_name), "origin": origin, "kind": kind, "card": card,
                   "parameters": parameters, "macs_per_s": macs_per_s},
        "split": {"name": dataset["split"], "num_scenes": dataset["num_scenes"],
                  "hidden": dict(hidden) if hidden else False},
        "entries": entries,
        "predictions_sha256": _predictions_hash(root),
        "added": added or _dt.date.today().isoformat(),
    }
    return validate_entry(entry, summary_path)


# ----------------------------------------------------------------------------- the store


def entry_path(root: Pathlike, entry: Mapping[str, Any]) -> Path:
    """``<root>/<suite name>/<system slug>.json``."""
    suite = entry["suite"]["name"]
    if not _SLUG.match(suite.lower()) or "/" in suite or suite.startswith("."):
        raise StoreError(f"suite name {suite!r} cannot name a folder", field="suite.name")
    return Path(root) / suite / f"{entry['system']['slug']}.json"


def load_store(root: Pathlike, suite: str) -> dict[str, dict[str, Any]]:
    """Every entry of ``suite`` in the store, validated, keyed by system slug (sorted).

    A missing folder is an empty store. A file whose suite name or slug does not match its
    place is refused, naming it.
    """
    folder = Path(root) / suite
    out: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        record, _ = _read_json(path, "store entry")
        entry = validate_entry(record, path)
        if entry["suite"]["name"] != suite:
            raise StoreError(f"entry for suite {entry['suite']['name']!r} in the folder of {suite!r}",
                             source=path, field="suite.name")
        if entry["system"]["slug"] != path.stem:
            raise StoreError(f"slug {entry['system']['slug']!r} does not match the file name {path.name}",
                             source=path, field="system.slug")
        out[path.stem] = entry
    return out


def add_entry(root: Pathlike, entry: Mapping[str, Any], replace: bool = False) -> Path:
    """Validate ``entry`` and write it to the store atomically; returns its path.

    Refused (:class:`DuplicateEntryError`, nothing written): an entry of the same suite with
    the same ``predictions_sha256`` under another slug (always), or with the same slug unless
    ``replace``.
    """
    entry = validate_entry(dict(entry))
    path = entry_path(root, entry)
    existing = load_store(root, entry["suite"]["name"])
    slug = entry["system"]["slug"]
    pred = entry["predictions_sha256"]
    for other_slug, other in existing.items():
        if pred is not None and other["predictions_sha256"] == pred and other_slug != slug:
            raise DuplicateEntryError(f"the same predictions (sha256 {pred[:12]}...) are already in the store "
                                      f"as {other['system']['name']!r}", source=path.parent / f"{other_slug}.json",
                                      field="predictions_sha256")
    if slug in existing and not replace:
        raise DuplicateEntryError(f"system {existing[slug]['system']['name']!r} is already in the store; "
                                  "replace it explicitly (--replace)", source=path, field="system.slug")
    atomic_write_text(path, json.dumps(entry, indent=1, allow_nan=False, ensure_ascii=False) + "\n")
    return path


def add_evaluation(eval_dir: Pathlike, *, origin: str = "reproduced", store: Pathlike = "leaderboards/results",
                   replace: bool = False, kind: str | None = None, name: str | None = None,
                   parameters: int | None = None, macs_per_s: float | None = None,
                   card: Mapping[str, Any] | None = None) -> Path:
    """Put an ``asabench evaluate`` folder into the store (:func:`entry_from_evaluation` +
    :func:`add_entry`); returns the entry's path. The entry may not land inside ``eval_dir``."""
    from asabench.simulate.io.files import refuse_output_over_inputs

    entry = entry_from_evaluation(eval_dir, origin, kind, card, name=name, parameters=parameters,
                                  macs_per_s=macs_per_s)
    refuse_output_over_inputs([entry_path(store, entry)], [Path(eval_dir)], what="--store")
    return add_entry(store, entry, replace=replace)
