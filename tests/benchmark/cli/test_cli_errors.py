"""The CLI's one error handler: exit 1 for a failed job, 2 for invalid input, one stderr
line per problem, no traceback (unless ASABENCH_TRACEBACK=1), bugs keep theirs."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

import asabench.benchmark.cli.simulate as simulate_cli
from asabench.benchmark import scoring
from asabench.benchmark.cli import exit_status, problem_lines
from asabench.benchmark.io.dcase_csv import DcaseFormatError
from asabench.benchmark.submissions.layout import SubmissionError
from asabench.simulate.dataset.format import DatasetFormatError
from asabench.simulate.io.files import OutputOverlapsInputError, PathConfinementError
from asabench.simulate.manifest import ManifestError
from asabench.simulate.scene.spec import SpecError
from asabench.simulate.sources.base import SourceError


@pytest.mark.parametrize("exc, status", [
    (ManifestError("m.toml: field 'fs': must be > 0"), 2),
    (SpecError("spec.json: field 'num_samples': too large"), 2),
    (DatasetFormatError(Path("ds/dataset.json"), "bad"), 2),
    (SourceError(Path("bank/a.wav"), "unreadable"), 2),
    (scoring.ScoringError("unknown task"), 2),
    (SubmissionError(Path("pred"), ["a.csv: missing"]), 2),
    (DcaseFormatError(["a.csv:1: field 'class': bad"]), 2),
    (PathConfinementError("spec.json", "sources[0].id", "../x", "/bank", "leaves its root"), 2),
    (OutputOverlapsInputError("--out: x would write over the input x"), 2),
    (ValueError("--workers 0"), 2),
    (FileNotFoundError(2, "No such file or directory", "in.json"), 2),
    (FileExistsError("out/0.wav: exists"), 2),
    (BrokenProcessPool("terminated abruptly"), 1),
    (RuntimeError("CUDA error: out of memory"), 1),
    (OSError(28, "No space left on device", "out/x.wav"), 1),
    (PermissionError(13, "Permission denied", "out"), 1),
    (MemoryError(), 1),
    (TypeError("a bug"), None),
    (KeyError("a bug"), None),
])
def test_exit_status_of_each_error_kind(exc, status):
    assert exit_status(exc) == status


def test_config_wav_and_pool_errors():
    from asabench.simulate.executors.local import WorkerDiedError, WorkerError
    from asabench.simulate.io.config import ConfigError
    from asabench.simulate.io.wav import WavError

    assert exit_status(ConfigError("preset.toml: field 'depth': expected an integer")) == 2
    assert issubclass(WavError, ValueError)  # a bad WAV is invalid input
    assert exit_status(WorkerDiedError("killed")) == 1
    assert exit_status(WorkerError("ZeroDivisionError: x")) == 1
    # the pool's own message already names the job and the remedy: printed once, not wrapped
    from asabench.simulate.executors.local import LocalPool
    from concurrent.futures.process import BrokenProcessPool

    pool = LocalPool.__new__(LocalPool)
    pool.what = "scoring"
    line = next(problem_lines(pool._died(BrokenProcessPool("signal 9"))))
    assert line.startswith("a worker process died during scoring") and line.count("a worker process died") == 1
    assert line.endswith("nothing more was written")


def test_a_list_of_problems_gives_one_line_each():
    err = SubmissionError(Path("/p/pred"), ["a.csv:3: field 'class': class id 99 out of range",
                                             "b.csv: missing", "/p/pred: extra\nline"])
    assert list(problem_lines(err)) == ["/p/pred/a.csv:3: field 'class': class id 99 out of range",
                                        "/p/pred/b.csv: missing", "/p/pred: extra line"]
    many = DcaseFormatError([f"x.csv:{k}: field 'frame': bad" for k in range(250)])
    lines = list(problem_lines(many))
    assert len(lines) == 201 and lines[0] == "x.csv:0: field 'frame': bad"
    assert lines[-1] == "... and 50 more problem(s)"


def _simulate(cli, tmp_path):
    return cli("simulate", "demo", "--split", "test", "--out", tmp_path / "ds", "--quiet")


def test_dead_worker_is_a_failed_job(cli, tmp_path, monkeypatch):
    def die(*args, **kwargs):
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(simulate_cli, "simulate_dataset", die)
    code, out, err = _simulate(cli, tmp_path)
    assert code == 1 and len(err) == 1
    assert err[0].startswith("asabench simulate: a worker process died (A process in the process pool")
    assert "--workers" in err[0]


def test_runtime_error_in_a_job_is_a_failed_job(cli, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("scene test-000003: convolution produced NaN")

    monkeypatch.setattr(simulate_cli, "simulate_dataset", fail)
    code, out, err = _simulate(cli, tmp_path)
    assert code == 1
    assert err == ["asabench simulate: scene test-000003: convolution produced NaN "
                   "(ASABENCH_TRACEBACK=1 shows where)"]


def test_write_failure_is_a_failed_job(cli, tmp_path, monkeypatch, reference):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "r.json"))

    monkeypatch.setattr(scoring, "write_results", full)
    code, out, err = cli("score", "--task", "seld", "--reference", reference, "--oracle", "targets",
                         "--out", tmp_path / "r.json")
    assert code == 1 and len(err) == 1
    assert err[0] == f"asabench score: [Errno 28] No space left on device: '{tmp_path / 'r.json'}'"


def test_submission_problems_one_line_each(cli, tmp_path, reference):
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "test-000000.csv").write_text("0,99,0,1,2\n")
    code, out, err = cli("score", "--task", "seld", "--reference", reference, "--predictions", pred,
                         "--out", tmp_path / "r.json")
    assert code == 2
    assert all(line.startswith("asabench score: ") for line in err)
    assert any(line.startswith(f"asabench score: {pred}/test-000000.csv:1: field 'class': class id 99")
               for line in err), err
    assert f"asabench score: {pred}/test-000001.csv: missing" in err
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.csv").exists()


def test_traceback_env_reraises(cli, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(simulate_cli, "simulate_dataset", fail)
    monkeypatch.setenv("ASABENCH_TRACEBACK", "1")
    with pytest.raises(RuntimeError, match="boom"):
        _simulate(cli, tmp_path)
    with pytest.raises(ValueError, match="--workers 0"):
        cli("simulate", "demo", "--split", "test", "--out", tmp_path / "ds", "--workers", "0")


def test_a_bug_keeps_its_traceback(cli, tmp_path, monkeypatch):
    def bug(*args, **kwargs):
        raise TypeError("unexpected keyword")

    monkeypatch.setattr(simulate_cli, "simulate_dataset", bug)
    with pytest.raises(TypeError):
        _simulate(cli, tmp_path)


def test_argparse_usage_errors_still_exit_2(capsys):
    from asabench.benchmark.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["score", "--task", "nope"])
    assert exc.value.code == 2
    assert main([]) == 2
