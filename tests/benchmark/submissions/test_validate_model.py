"""validate-model: each check passes or fails for the reason it names; a model entry point -> evaluate -> store."""

from __future__ import annotations

import os
import sys
import time

import pytest
import torch

from asabench.benchmark.cli import main
from asabench.benchmark.submissions.validate import BATCH, validate_model

SUITE = "demo-multitask"


class Good:
    sample_rate, num_channels = 8000, 4

    def separate(self, mixture):
        return (mixture / 3)[:, None].repeat(1, 3, 1, 1)

    def detect(self, mixture):
        from asabench.benchmark.io.dcase_csv import DcaseLabels
        return [DcaseLabels.empty() for _ in range(mixture.shape[0])]


class WrongShape(Good):
    def separate(self, mixture):  # drops the channel dimension
        return mixture[:, :1].repeat(1, 3, 1)


class TooFewObjects(Good):
    def separate(self, mixture):  # demo scenes hold up to 3 sources
        return mixture[:, None].repeat(1, 2, 1, 1)


class Nondeterministic(Good):
    def __init__(self):
        self.gen = torch.Generator().manual_seed(0)

    def separate(self, mixture):  # dropout-like noise that changes from call to call
        noise = torch.rand(mixture.shape, generator=self.gen)
        return (mixture * noise)[:, None].repeat(1, 3, 1, 1)


class NoSampleRate(Good):
    sample_rate = None


class WrongRate(Good):
    sample_rate = 16000


def _status(report):
    return {c.name: c.status for c in report.checks}


def test_a_good_predictor_passes_every_check_and_reports_time_per_clip():
    report = validate_model("x:Good", SUITE, predictor=Good())
    assert report.ok, report.table()
    assert list(_status(report)) == ["import", "protocol", "sample_rate", "num_channels", "seld output",
                                     "seld determinism", "seld time per clip", "uss output", "uss determinism",
                                     "uss time per clip"]
    assert "[2, 3, 4, 16000] float32" in dict((c.name, c.detail) for c in report.checks)["uss output"]
    assert set(report.seconds_per_clip) == {"uss", "seld"} and all(v > 0 for v in report.seconds_per_clip.values())


@pytest.mark.parametrize("cls, failed, why", [
    (WrongShape, {"uss output", "uss time per clip"}, "separate(): expected a [B, K, C, N] tensor, got [2, 3, 16000]"),
    (TooFewObjects, {"uss output", "uss time per clip"}, "2 objects per scene; the suite needs 3 to 3"),
    (Nondeterministic, {"uss determinism"}, "two calls on the same batch differ"),
    (NoSampleRate, {"sample_rate"}, "not declared: set predictor.sample_rate = 8000"),
    (WrongRate, {"sample_rate"}, "declares 16000, the suite's contract is 8000 Hz"),
])
def test_a_broken_predictor_fails_the_check_that_names_its_fault(cls, failed, why):
    report = validate_model(f"x:{cls.__name__}", SUITE, predictor=cls())
    status = _status(report)
    assert {k for k, v in status.items() if v == "FAIL"} == failed, report.table()
    assert any(why in c.detail for c in report.checks if c.failed), report.table()
    assert not report.ok


def test_cli_prints_the_table_and_exits_2_on_a_failed_check(capsys, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ENTRY", NoSampleRate(), raising=False)
    assert main(["validate-model", f"{__name__}:ENTRY", "--suite", SUITE]) == 2
    captured = capsys.readouterr()
    assert "sample_rate         FAIL    not declared" in captured.out
    assert captured.err.strip() == f"asabench validate-model: {__name__}:ENTRY: 1 check(s) failed: sample_rate"
    assert main(["validate-model", "no_such_module_qq:make", "--suite", SUITE]) == 2
    out = capsys.readouterr().out
    assert "import              FAIL    --predictor 'no_such_module_qq:make': cannot import" in out
    assert "protocol            skip    needs import" in out


def test_the_time_per_clip_budget_fails_the_row_above_it_and_passes_below():
    report = validate_model("x:Good", SUITE, predictor=Good(), max_seconds_per_clip=1e-9)
    status = _status(report)
    assert {k for k, v in status.items() if v == "FAIL"} == {"seld time per clip", "uss time per clip"}
    detail = dict((c.name, c.detail) for c in report.checks)["uss time per clip"]
    measured = report.seconds_per_clip["uss"]
    assert measured > 1e-9 and detail.startswith(f"{measured:.4f} s per 2-s clip")
    assert detail.endswith("above the budget of 1e-09 s per clip")
    report = validate_model("x:Good", SUITE, predictor=Good(), max_seconds_per_clip=3600)
    assert report.ok, report.table()
    assert all(report.seconds_per_clip[t] <= 3600 for t in ("uss", "seld"))
    assert dict((c.name, c.detail) for c in report.checks)["seld time per clip"].endswith(
        "within the budget of 3600 s per clip")


@pytest.mark.parametrize("argv, why", [
    (["--time-limit", "0"], "--time-limit 0.0: expected a finite number > 0"),
    (["--max-seconds-per-clip", "-1"], "--max-seconds-per-clip -1.0: expected a finite number > 0"),
])
def test_time_options_are_checked_before_any_check(argv, why, capsys):
    assert main(["validate-model", "no_such_module_qq:make", "--suite", SUITE] + argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and why in captured.err


def test_a_time_limit_cannot_check_a_given_object():
    with pytest.raises(ValueError, match="cannot check a given predictor object"):
        validate_model("x:Good", SUITE, predictor=Good(), time_limit=5)


@pytest.mark.slow
def test_a_sleeping_entry_is_killed_at_the_time_limit_naming_the_check(tmp_path, capsys, monkeypatch):
    mods = tmp_path / "mods"
    mods.mkdir()
    marker = tmp_path / "child-pid"
    # seld passes quickly; separate() records the child's pid and hangs
    (mods / "sleepy_validate_qq.py").write_text(f"""
import os, time
from asabench.benchmark.io.dcase_csv import DcaseLabels
class P:
    sample_rate, num_channels = 8000, 4
    def detect(self, mixture):
        return [DcaseLabels.empty() for _ in range(mixture.shape[0])]
    def separate(self, mixture):
        open({str(marker)!r}, "w").write(str(os.getpid()))
        time.sleep(600)
""")
    monkeypatch.syspath_prepend(str(mods))
    limit = 4.0
    t0 = time.perf_counter()
    code = main(["validate-model", "sleepy_validate_qq:P", "--suite", SUITE, "--time-limit", f"{limit:g}"])
    elapsed = time.perf_counter() - t0
    assert code == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1, err
    prefix = f"asabench validate-model: sleepy_validate_qq:P: did not finish within the time limit of {limit:g} s (killed "
    assert err[0].startswith(prefix) and err[0].endswith("after the checks began), during check 'uss output'"), err
    killed_after = float(err[0][len(prefix):].split(" s after")[0])
    assert limit <= killed_after < limit + 2.0  # the clock starts at the import check; polled every 0.05 s
    # the table holds the finished checks and ends with the killed one
    rows = [line.split()[:3] for line in captured.out.splitlines()[2:-1]]
    assert [r[0] if r[0] in ("import", "protocol", "sample_rate", "num_channels") else " ".join(r[:2]) for r in rows] \
        == ["import", "protocol", "sample_rate", "num_channels", "seld output", "seld determinism", "seld time",
            "uss output"]
    assert "uss output          FAIL    did not finish within the time limit" in captured.out
    assert sum(" pass " in line for line in captured.out.splitlines()) == 7
    assert elapsed < 60 + limit  # the child's start (12-16 s here under load) plus the limit
    pid = int(marker.read_text())  # the child reached separate(); it and its group are gone
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.slow
def test_a_normal_entry_passes_in_the_child_as_in_process(examples_on_path, capsys):
    entry = "my_predictor.predictor:demo_predictor"
    here = validate_model(entry, SUITE)
    child = validate_model(entry, SUITE, time_limit=120, max_seconds_per_clip=60)
    assert here.ok and child.ok and child.stopped is None, child.table()
    assert [(c.name, c.status) for c in child.checks] == [(c.name, c.status) for c in here.checks]
    same = [c.name for c in here.checks if "time per clip" not in c.name]
    assert {c.name: c.detail for c in child.checks if c.name in same} == \
        {c.name: c.detail for c in here.checks if c.name in same}
    assert set(child.seconds_per_clip) == {"uss", "seld"} and all(0 < v <= 60 for v in child.seconds_per_clip.values())


def test_the_data_batch_is_the_first_scenes(demo_data):
    report = validate_model("x:Good", SUITE, predictor=Good(), data=demo_data)
    assert report.ok, report.table()
    detail = dict((c.name, c.detail) for c in report.checks)["uss output"]
    assert f"on the first {BATCH} scenes of demo/test" in detail


def test_model_entry_point_validate_evaluate_store(demo_data, examples_on_path, example_card, tmp_path, capsys):
    from asabench.benchmark.leaderboard.store import add_entry, entry_from_evaluation, load_store
    from asabench.benchmark.submissions.card import load_card

    entry = "my_predictor.predictor:demo_predictor"
    assert main(["validate-model", entry, "--suite", SUITE]) == 0
    assert "all checks passed" in capsys.readouterr().out
    ev = tmp_path / "eval"
    assert main(["evaluate", "--suite", SUITE, "--predictor", entry, "--data", str(demo_data), "--out", str(ev),
                 "--workers", "1", "--quiet"]) == 0
    store = tmp_path / "results"
    record = entry_from_evaluation(ev, "submitted", "external", load_card(example_card).to_dict())
    add_entry(store, record)
    stored = load_store(store, SUITE)["split-evenly-example"]
    assert stored["system"]["card"]["licence"] == "MIT"
    assert stored["entries"]["uss"]["main_score"]["value"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.slow
def test_the_same_entry_in_a_child_process_gives_the_same_predictions(demo_data, examples_on_path, tmp_path):
    from asabench.benchmark.evaluate import evaluate
    from asabench.benchmark.leaderboard.store import predictions_sha256

    entry = "my_predictor.predictor:demo_predictor"
    here = evaluate(SUITE, demo_data, tmp_path / "here", predictor_spec=entry, workers=1)
    child = evaluate(SUITE, demo_data, tmp_path / "child", predictor_spec=entry, workers=1, time_limit=300)
    assert predictions_sha256(tmp_path / "here" / "predictions") == predictions_sha256(tmp_path / "child" / "predictions")
    assert child.summary["system"]["sandbox"]["time_limit_s"] == 300
    assert here.main_scores() == child.main_scores()
