"""Boards: reported rows and store entries placed in columns by definition, sorted by the main score.

A board has *column groups*. For a board fed by a suite, each group is one suite entry
(``seld``, ``uss``, ``seld-dcase``, ...): a scorer task with its full options (the suite's
options over the scorer's defaults). For a board with reported rows only (``starss23-seld``)
each distinct (task, definition) among the rows is a group. A value enters a group's
column only when its definition matches the group's options on every key it names: a
reported ``seld_mode=dcase2023`` number never lands in a ``seld_mode=deepasa`` column; it is
listed under "values without a matching column" instead. A store entry's value enters the
group of its own entry id, and only if the entry's recorded options equal the suite's.

Store entries whose suite hash or manifest hash differs from the suite's current one (the
suite file's bytes, the manifest's canonical hash), or that were scored on another split than
the suite's test split, are *stale*: they go to a separate table,
never among the current rows. Rows are sorted by the suite's main score (its first entry,
in its direction), then by each further group's main score; a row without a main score
sorts after those with one.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from asabench.benchmark.leaderboard.reported import REPORTED_DIR, ReportedRow, Value, load_tables
from asabench.benchmark.leaderboard.store import load_store
from asabench.simulate.io.files import Pathlike, sha256_file

__all__ = ["MetricInfo", "METRICS", "Group", "Cell", "Row", "Board", "build_board", "suite_groups",
           "full_options", "definition_matches", "REPORTED_ONLY_BOARDS", "board_names"]


@dataclass(frozen=True)
class MetricInfo:
    label: str
    unit: str
    decimals: int
    higher_is_better: bool


#: How a metric is shown: label, unit, decimals in Markdown/HTML, direction.
METRICS: dict[str, MetricInfo] = {
    "seld": MetricInfo("SELD", "", 3, False),
    "er": MetricInfo("ER20", "", 3, False),
    "f": MetricInfo("F20", "", 3, True),
    "le": MetricInfo("LE", "deg", 1, False),
    "lr": MetricInfo("LR", "", 3, True),
    "doae": MetricInfo("DOAE", "deg", 1, False),
    "rde": MetricInfo("RDE", "", 3, False),
    "si_snr_i_ref0": MetricInfo("SI-SNRi ch0", "dB", 2, True),
    "snr_i_ref0": MetricInfo("SNRi ch0", "dB", 2, True),
    "si_sdr_i": MetricInfo("SI-SDRi", "dB", 2, True),
    "sdr_i": MetricInfo("SDRi", "dB", 2, True),
    "si_snr_i": MetricInfo("SI-SNRi", "dB", 2, True),
    "delta_ild_db": MetricInfo("ΔILD", "dB", 3, False),
    "delta_ipd_rad": MetricInfo("ΔIPD", "rad", 3, False),
    "delta_itd_us": MetricInfo("ΔITD", "µs", 2, False),
    # the MC-FUSS slide's columns: sources per mixture and Total, the metric itself not named
    "unstated_sep_total": MetricInfo("Total", "dB", 1, True),
    "unstated_sep_j2": MetricInfo("J=2", "dB", 1, True),
    "unstated_sep_j3": MetricInfo("J=3", "dB", 1, True),
    "unstated_sep_j4": MetricInfo("J=4", "dB", 1, True),
}

#: Boards that have reported rows only (no suite here): title, main metric, direction.
REPORTED_ONLY_BOARDS: dict[str, tuple[str, str, bool]] = {
    "starss23-seld": ("SELD on STARSS23 (DeepASA slides; no asabench suite: reported rows only)", "seld", False),
    "mcfuss-uss": ("USS on MC-FUSS (DeepASA slides: pretrained on ASA2, fine-tuned on MC-FUSS; no asabench suite: "
                   "reported rows only). The slide names no metric and no unit: J=2, J=3, J=4 are mixtures of that "
                   "many sources and Total presumably all of them; probably an SI-SDR improvement in dB, but its "
                   "definition (reference channel or pooled, mean removal, over which mixture) is not stated, "
                   "hence the definition metric=unstated", "unstated_sep_total", True),
}

#: Scorer options that define each task's numbers (the others only change speed).
_DEFINING = {"seld": ("seld_mode", "average", "alpha"),
             "uss": ("separation_convention", "target", "spatial", "spatial_definition", "bss_eval", "alpha"),
             "tse": ("separation_convention", "target", "spatial", "spatial_definition", "bss_eval", "alpha")}
#: Which task a reported definition column speaks for.
_DEFINITION_TASKS = {"uss_definition": ("uss",), "seld_definition": ("seld",),
                     "separation_definition": ("tse", "uss"), "spatial_definition": ("tse", "uss")}


def metric_info(name: str) -> MetricInfo:
    return METRICS.get(name, MetricInfo(name, "", 3, True))


def full_options(task: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The defining scorer options of an entry: the scorer's defaults overlaid by ``options``."""
    from asabench.benchmark import scoring

    defaults = {k: p.default for k, p in inspect.signature(scoring.score).parameters.items()}
    out = {k: defaults[k] for k in _DEFINING[task]}
    out.update({k: v for k, v in options.items() if k in out})
    if "spatial" in out and out["spatial"] is None:
        out["spatial"] = task == "tse"
    return out


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def definition_matches(definition: Mapping[str, str], options: Mapping[str, Any]) -> bool:
    """True when every ``key=value`` of a reported definition equals the group's option."""
    return all(k in options and _text(options[k]) == v for k, v in definition.items())


def _display_metrics(task: str, options: Mapping[str, Any], main: str) -> list[str]:
    if task == "seld":
        from asabench.benchmark.metrics.seld import metric_names

        names = list(metric_names(options.get("seld_mode", "default")))
    elif options.get("separation_convention") == "deepasa":
        names = ["si_snr_i_ref0", "snr_i_ref0"]
    else:
        names = ["si_sdr_i", "sdr_i"] + (["delta_ild_db", "delta_ipd_rad", "delta_itd_us"]
                                         if options.get("spatial") else [])
    return [main] + [n for n in names if n != main]


@dataclass
class Group:
    """One column group: a scored definition."""

    key: str
    task: str
    options: dict[str, Any]
    main_metric: str
    higher_is_better: bool
    metrics: list[str]
    description: str = ""

    @property
    def definition_text(self) -> str:
        return " ".join(f"{k}={_text(v)}" for k, v in self.options.items())


@dataclass
class Cell:
    """One number: value, confidence interval (measured rows) or the paper's ± (reported rows)."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    pm: float | None = None
    text: str | None = None  # a reported value as printed


@dataclass
class Row:
    system: str
    origin: str
    kind: str
    source: str
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    params_m: float | None = None
    frozen_params_m: float | None = None
    gmacs_per_s: float | None = None
    torchinfo_gmult_adds_clip: float | None = None
    hidden: str | None = None
    stale: str | None = None
    suite_sha256: str | None = None
    manifest_sha256: str | None = None
    num_scenes: int | None = None
    notes: str = ""
    #: the main entry's breakdowns (store rows): per_class / per_source_count
    breakdown: dict[str, Any] = field(default_factory=dict)

    @property
    def oracle(self) -> bool:
        return self.kind == "oracle"

    @property
    def marks(self) -> list[str]:
        out = []
        if self.oracle:
            out.append("oracle")
        if self.hidden:
            out.append("hidden test")
        return out


@dataclass
class Board:
    name: str
    title: str
    groups: list[Group]
    rows: list[Row]
    stale: list[Row]
    unmatched: list[tuple[Row, str, Value]]
    inputs: list[tuple[str, str]]
    suite: dict[str, Any] | None = None

    @property
    def main(self) -> Group:
        return self.groups[0]

    def shown_columns(self) -> list[tuple[Group, str]]:
        """(group, metric) columns that hold at least one value (the main score always)."""
        rows = self.rows + self.stale
        out = []
        for g in self.groups:
            for m in g.metrics:
                if (g is self.main and m == g.main_metric) or any((g.key, m) in r.cells for r in rows):
                    out.append((g, m))
        return out

    def has(self, attr: str) -> bool:
        return any(getattr(r, attr) is not None for r in self.rows + self.stale)


def suite_groups(suite: Any) -> list[Group]:
    """One group per suite entry, in the suite's order."""
    return [Group(spec.id, spec.task, full_options(spec.task, spec.options), spec.main_score,
                  spec.higher_is_better,
                  _display_metrics(spec.task, full_options(spec.task, spec.options), spec.main_score),
                  spec.description) for spec in suite.tasks]


def sort_rows(rows: list[Row], groups: list[Group]) -> list[Row]:
    """By each group's main score in its direction (the first group first); missing values last."""
    def key(r: Row) -> tuple:
        parts = []
        for g in groups:
            c = r.cells.get((g.key, g.main_metric))
            parts.append((1, 0.0) if c is None else (0, -c.value if g.higher_is_better else c.value))
        return (*parts, r.system.lower())
    return sorted(rows, key=key)


def _reported_row(r: ReportedRow) -> Row:
    fig = r.figures
    row = Row(r.system, "reported", r.kind, r.source, notes=r.notes)
    if fig.increment_over is None:
        row.params_m, row.frozen_params_m = fig.params_m, fig.frozen_params_m
        if fig.convention == "per_second":
            row.gmacs_per_s = fig.gmacs
        elif fig.convention == "torchinfo_clip":
            row.torchinfo_gmult_adds_clip = fig.gmacs
    else:
        extra = f"complexity printed as an increment over '{fig.increment_over}': +{fig.params_m:g} M, +{fig.gmacs:g} G"
        row.notes = f"{row.notes}; {extra}" if row.notes else extra
    return row


def _place_reported(row: Row, r: ReportedRow, groups: list[Group],
                    unmatched: list[tuple[Row, str, Value]]) -> None:
    for v in r.values:
        tasks = _DEFINITION_TASKS.get(v.column.definition_column, ())
        target = next((g for g in groups if g.task in tasks and v.metric in g.metrics
                       and definition_matches(v.definition, g.options)), None)
        if target is None:
            unmatched.append((row, v.column.column, v))
        else:
            row.cells[(target.key, v.metric)] = Cell(v.value, pm=v.pm, text=v.text or None)


def _groups_from_reported(rows: list[ReportedRow], main: str, higher: bool) -> list[Group]:
    groups: list[Group] = []
    for r in rows:
        for dcol, values in r.values_by_group().items():
            tasks = _DEFINITION_TASKS.get(dcol, ("seld",))
            options = dict(values[0].definition)
            if any(g.task == tasks[0] and g.options == options for g in groups):
                g = next(g for g in groups if g.task == tasks[0] and g.options == options)
            else:
                key = "-".join([tasks[0], *options.values()])
                g = Group(key, tasks[0], options, main, higher, [main],
                          f"as the reported rows define it ({' '.join(f'{k}={v}' for k, v in options.items())})")
                groups.append(g)
            for v in values:
                if v.metric not in g.metrics:
                    g.metrics.append(v.metric)
    return groups


def _store_row(slug: str, entry: Mapping[str, Any], groups: list[Group], suite: Any,
               manifest_sha: str, path: Path) -> Row:
    system = entry["system"]
    hidden = entry["split"]["hidden"]
    row = Row(system["name"], system["origin"], system["kind"], str(path),
              params_m=None if system["parameters"] is None else system["parameters"] / 1e6,
              gmacs_per_s=None if system["macs_per_s"] is None else system["macs_per_s"] / 1e9,
              hidden=hidden["fingerprint"] if hidden else None, suite_sha256=entry["suite"]["sha256"],
              manifest_sha256=entry["manifest"]["sha256"], num_scenes=entry["split"]["num_scenes"])
    problems = []
    if entry["suite"]["sha256"] != suite.sha256:
        problems.append(f"suite sha256 {entry['suite']['sha256'][:12]} is not the current {suite.sha256[:12]}")
    if entry["manifest"]["sha256"] != manifest_sha:
        problems.append(f"manifest sha256 {entry['manifest']['sha256'][:12]} is not the current {manifest_sha[:12]}")
    if entry["split"]["name"] != suite.splits.test:
        problems.append(f"split {entry['split']['name']!r} is not the suite's test split {suite.splits.test!r}")
    notes = []
    for g in groups:
        item = entry["entries"].get(g.key)
        if item is None:
            continue
        recorded = full_options(g.task, (item.get("definition") or {}).get("options") or {})
        if item["task"] != g.task or recorded != g.options:
            notes.append(f"entry {g.key}: recorded definition {recorded} differs from the suite's; left out")
            continue
        for m in g.metrics:
            stats = item["aggregate"].get(m)
            if stats is not None and stats.get("value") is not None:
                row.cells[(g.key, m)] = Cell(stats["value"], stats.get("ci_low"), stats.get("ci_high"))
    if (groups[0].key, groups[0].main_metric) in row.cells:  # the main entry's definition matched
        row.breakdown = dict(entry["entries"][groups[0].key].get("breakdown") or {})
    row.stale = "; ".join(problems) or None
    row.notes = "; ".join(notes)
    return row


def _shown_path(path: Path) -> str:
    """``path`` relative to the repository (or working directory) when inside it, POSIX style."""
    p = Path(path).resolve()
    for base in (REPORTED_DIR.parents[1], Path.cwd().resolve()):
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            continue
    return p.as_posix()


def board_names(reported: Pathlike | None = None) -> list[str]:
    """Every board a shipped suite feeds or a reported row names, sorted."""
    from asabench.benchmark.suites import available_suites, load_suite

    names = {load_suite(s, check_manifest=False).leaderboard for s in available_suites()}
    names |= {b for r in load_tables(reported) for b in r.boards}
    return sorted(names)


def build_board(board: str, *, suite: Any = None, store: Pathlike | None = None,
                reported: Pathlike | None = None) -> Board:
    """The board ``board`` from the reported tables and (with a suite) the store's entries.

    ``suite``: a suite name, file or :class:`~asabench.benchmark.suites.Suite` feeding the
    board (its ``leaderboard`` must be ``board``); ``None`` for a reported-only board.
    ``store``: the results store root (``leaderboards/results``). ``reported``: the reported
    tables folder (default :data:`~asabench.benchmark.leaderboard.reported.REPORTED_DIR`).
    """
    from asabench.benchmark.leaderboard.store import StoreError

    folder = Path(reported) if reported is not None else REPORTED_DIR
    rep_rows = [r for r in load_tables(folder) if board in r.boards]
    inputs: list[tuple[str, str]] = []
    for table in sorted({r.table_id for r in rep_rows}):
        p = folder / f"{table}.csv"
        inputs.append((_shown_path(p), sha256_file(p)))
    if rep_rows:
        inputs.append((_shown_path(folder / "columns.csv"), sha256_file(folder / "columns.csv")))
    unmatched: list[tuple[Row, str, Value]] = []
    rows: list[Row] = []
    stale: list[Row] = []
    suite_record = None
    if suite is not None:
        from asabench.benchmark.suites import load_suite, manifest_path
        from asabench.simulate.manifest import load_manifest

        suite = load_suite(suite)
        if suite.leaderboard != board:
            raise StoreError(f"suite {suite.name} feeds board {suite.leaderboard!r}, not {board!r}",
                             source=suite.path, field="leaderboard")
        manifest = load_manifest(manifest_path(suite))
        groups = suite_groups(suite)
        title = f"{suite.name}: {suite.description}" if suite.description else suite.name
        suite_record = {"name": suite.name, "sha256": suite.sha256, "path": suite.path,
                        "manifest": manifest.name, "manifest_version": suite.manifest_version,
                        "manifest_sha256": manifest.sha256, "reference": suite.reference}
        inputs.insert(0, (_shown_path(Path(str(suite.path))), str(suite.sha256)))
        if store is not None:
            for slug, entry in load_store(store, suite.name).items():
                path = Path(store) / suite.name / f"{slug}.json"
                inputs.append((_shown_path(path), sha256_file(path)))
                row = _store_row(slug, entry, groups, suite, manifest.sha256, Path(_shown_path(path)))
                (stale if row.stale else rows).append(row)
    elif board in REPORTED_ONLY_BOARDS:
        title, main, higher = REPORTED_ONLY_BOARDS[board]
        groups = _groups_from_reported(rep_rows, main, higher)
    else:
        raise StoreError(f"board {board!r} has no suite and is not a reported-only board "
                         f"({', '.join(REPORTED_ONLY_BOARDS)})")
    for r in rep_rows:
        row = _reported_row(r)
        _place_reported(row, r, groups, unmatched)
        rows.append(row)
    return Board(board, title, groups, sort_rows(rows, groups), sort_rows(stale, groups), unmatched, inputs,
                 suite_record)


# ----------------------------------------------------------------------------- writing


def write_board(board: Board, out: Pathlike, *, plots: bool = True,
                inputs: list[Pathlike] = ()) -> list[Path]:
    """Write ``<out>/<board>.md``, ``.csv``, ``.html`` and the plots (``<board>.<plot>.png/.svg``).

    Every file is written atomically; none may land on or inside an input (``inputs``: the
    store and the reported folder). Returns the paths written.
    """
    from asabench.benchmark.leaderboard.html import render_html
    from asabench.benchmark.leaderboard.render import render_csv, render_markdown
    from asabench.simulate.io.files import atomic_write_text, refuse_output_over_inputs

    out = Path(out)
    figures = []
    if plots:
        from asabench.benchmark.plots.leaderboard import board_figures

        figures = board_figures(board)
    names = [out / f"{board.name}.{ext}" for ext in ("md", "csv", "html")]
    names += [out / f"{board.name}.{kind}.{ext}" for kind, _ in figures for ext in ("png", "svg")]
    refuse_output_over_inputs(names, [Path(p) for p in inputs], what="--out")
    written: list[Path] = []
    svgs: list[tuple[str, str]] = []
    md_plots: list[tuple[str, str]] = []
    if figures:
        from asabench.benchmark.plots.leaderboard import save_figure

        for kind, fig in figures:
            svg, _ = save_figure(fig, out / f"{board.name}.{kind}")
            caption = {"pareto": "main score against cost, Pareto front dashed",
                       "per-source-count": "main score by number of sources (measured rows)",
                       "per-class": "F20 per class (measured rows)"}.get(kind, kind)
            svgs.append((caption, svg))
            md_plots.append((f"{board.name}.{kind}.svg", caption))
            written += [out / f"{board.name}.{kind}.png", out / f"{board.name}.{kind}.svg"]
    atomic_write_text(out / f"{board.name}.csv", render_csv(board))
    atomic_write_text(out / f"{board.name}.md", render_markdown(board, md_plots))
    atomic_write_text(out / f"{board.name}.html", render_html(board, svgs))
    return [out / f"{board.name}.csv", out / f"{board.name}.md", out / f"{board.name}.html"] + written


def boards_to_build(suite: Any = None, board: str | None = None, store: Pathlike | None = None,
                    reported: Pathlike | None = None) -> list[tuple[str, Any]]:
    """``(board, suite or None)`` pairs: the named suite's board, the named board, or every board
    that has rows (reported rows, or store entries of a shipped suite)."""
    from asabench.benchmark.suites import available_suites, load_suite

    if suite is not None:
        s = load_suite(suite)
        if board is not None and board != s.leaderboard:
            from asabench.benchmark.leaderboard.store import StoreError

            raise StoreError(f"suite {s.name} feeds board {s.leaderboard!r}, not {board!r}", field="--board")
        return [(s.leaderboard, s)]
    feeding: dict[str, Any] = {}
    for name in available_suites():
        s = load_suite(name)
        feeding.setdefault(s.leaderboard, s)
    with_rows = {b for r in load_tables(reported) for b in r.boards}
    if store is not None:
        with_rows |= {s.leaderboard for s in feeding.values() if (Path(store) / s.name).is_dir()
                      and any((Path(store) / s.name).glob("*.json"))}
    names = [board] if board is not None else sorted(with_rows)
    out = []
    for name in names:
        if name not in feeding and name not in REPORTED_ONLY_BOARDS:
            from asabench.benchmark.leaderboard.store import StoreError

            raise StoreError(f"no shipped suite feeds board {name!r} and it is not a reported-only board "
                             f"(boards: {', '.join(sorted(set(feeding) | set(REPORTED_ONLY_BOARDS)))})",
                             field="--board")
        out.append((name, feeding.get(name)))
    return out


def build_leaderboards(suite: Any = None, board: str | None = None, *,
                       store: Pathlike | None = "leaderboards/results", out: Pathlike = "leaderboards",
                       reported: Pathlike | None = None, plots: bool = True) -> dict[str, list[Path]]:
    """Build and write boards (:func:`boards_to_build`); returns ``{board: paths written}``.

    Every board is built (and so every input validated) before anything is written.
    """
    boards = [build_board(name, suite=s, store=store, reported=reported)
              for name, s in boards_to_build(suite, board, store, reported)]
    inputs = [p for p in (store, reported if reported is not None else REPORTED_DIR) if p is not None]
    return {b.name: write_board(b, out, plots=plots, inputs=inputs) for b in boards}
