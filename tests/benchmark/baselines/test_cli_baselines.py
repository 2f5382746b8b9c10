"""``asabench baselines``: the registry listed with kinds and tasks, filters, unknown names."""

from __future__ import annotations

from asabench.benchmark.baselines import available_baselines, get_baseline
from asabench.benchmark.cli import main


def _rows(capsys):
    return {line.split()[0]: line.split()[1:3] for line in capsys.readouterr().out.splitlines()}


def test_lists_every_baseline_with_kind_and_tasks(capsys):
    assert main(["baselines"]) == 0
    rows = _rows(capsys)
    assert sorted(rows) == available_baselines()
    assert rows["mixture"] == ["reference", "uss+tse+seld"]
    assert rows["oracle-irm"] == ["oracle", "uss+tse+seld"]
    assert rows["mvdr"] == ["dsp", "tse"] and rows["das"] == ["dsp", "tse"]
    for name, (kind, tasks) in rows.items():
        entry = get_baseline(name)
        assert kind == entry.kind and tasks == "+".join(entry.tasks)


def test_filters(capsys):
    assert main(["baselines", "--kind", "oracle"]) == 0
    assert sorted(_rows(capsys)) == ["oracle-ibm", "oracle-irm"]
    assert main(["baselines", "--task", "tse", "--kind", "dsp"]) == 0
    assert {"das", "mvdr", "mpdr"} <= set(_rows(capsys))
    assert main(["baselines", "mvdr"]) == 0
    assert list(_rows(capsys)) == ["mvdr"]


def test_unknown_name_is_exit_2_with_one_line(capsys):
    assert main(["baselines", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("asabench baselines: NAME: unknown baseline 'nope'")
