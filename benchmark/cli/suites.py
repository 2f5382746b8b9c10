"""``asabench suites``: list the shipped benchmark suites, or show and check one.

The job is :func:`asabench.benchmark.suites.load_suite` (and
:func:`~asabench.benchmark.suites.check_scorer`); this module prints.
"""

from __future__ import annotations

import argparse

from asabench.benchmark.suites import available_suites, check_scorer, load_suite


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``suites`` subcommand."""
    p = subparsers.add_parser(
        "suites", help="list benchmark suites (or show one: tasks, main scores, contract)",
        description="Without NAME: one line per shipped suite (name, tasks, dataset, leaderboard). "
                    "With NAME (a shipped name or a suite file): the suite validated against its "
                    "manifest and the scorer, then its entries, contract and SHA-256.")
    p.add_argument("name", nargs="?", metavar="NAME", help="suite name or .toml/.yaml/.json file")
    p.set_defaults(func=run_suites)


def _tasks(suite) -> str:
    return ", ".join(f"{t.id} ({t.main_score} {'↑' if t.higher_is_better else '↓'})" for t in suite.tasks)


def run_suites(args: argparse.Namespace) -> int:
    """Print the list, or one suite; exit 2 (named file and field) for an invalid suite."""
    if args.name is None:
        for name in available_suites():
            s = load_suite(name, check_manifest=False)
            print(f"{s.name:<18} {'+'.join(s.task_kinds):<9} {s.manifest} {s.manifest_version:<5} "
                  f"-> leaderboard {s.leaderboard}: {_tasks(s)}")
        return 0
    s = load_suite(args.name)
    check_scorer(s)
    c = s.contract
    print(f"suite        {s.name}: {s.description}")
    print(f"file         {s.path}")
    print(f"sha256       {s.sha256}")
    print(f"dataset      manifest {s.manifest} version {s.manifest_version}; splits train={s.splits.train} "
          f"validation={s.splits.validation} test={s.splits.test}")
    print(f"contract     {c.sample_rate} Hz, {c.num_channels} channels, {c.clip_seconds:g} s clips "
          f"({c.num_samples} samples), labels every {c.label_hop_s:g} s, {c.max_objects} object slots")
    print(f"leaderboard  {s.leaderboard}" + (f" (reference: {s.reference})" if s.reference else ""))
    for k, t in enumerate(s.tasks):
        opts = ", ".join(f"{key}={value}" for key, value in t.options.items()) or "scorer defaults"
        lead = "main " if k == 0 else "     "
        print(f"{lead}entry   {t.id}: {t.task}, main score {t.main_score} "
              f"({'higher' if t.higher_is_better else 'lower'} is better); {opts}")
    return 0
