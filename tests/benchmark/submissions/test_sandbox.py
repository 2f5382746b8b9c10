"""evaluate --predictor ENTRY --time-limit: a hanging child is killed (exit 1, one line); checkpoints run no code."""

from __future__ import annotations

import os
import time

import pytest
import torch

from asabench.benchmark.cli import main

SUITE = "demo-multitask"


def _write_module(folder, name, body):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(body)


def test_a_sleeping_predictor_is_killed_at_the_time_limit(demo_data, tmp_path, capsys, monkeypatch):
    mods = tmp_path / "mods"
    marker = tmp_path / "child-pid"
    # the child records its pid and then hangs in its factory (before any prediction)
    _write_module(mods, "sleepy_predictor_qq", f"""
import os, time
def make():
    open({str(marker)!r}, "w").write(str(os.getpid()))
    time.sleep(600)
""")
    monkeypatch.syspath_prepend(str(mods))
    out = tmp_path / "eval"
    t0 = time.perf_counter()
    code = main(["evaluate", "--suite", SUITE, "--predictor", "sleepy_predictor_qq:make", "--time-limit", "2",
                 "--data", str(demo_data), "--out", str(out), "--workers", "1", "--quiet"])
    elapsed = time.perf_counter() - t0
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("asabench evaluate: predictor sleepy_predictor_qq:make did not "
                                               "finish within the time limit of 2 s (killed after "), err
    assert err[0].endswith("predictions are incomplete and nothing was scored"), err
    assert elapsed < 60
    assert not (out / "results").exists() and not (out / "evaluation.json").exists()
    if marker.exists():  # the child got as far as the factory: it must be gone now
        pid = int(marker.read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_time_limit_goes_with_predictor_only(demo_data, tmp_path, capsys):
    code = main(["evaluate", "--suite", SUITE, "--model", "deepasa", "--time-limit", "5", "--data", str(demo_data),
                 "--out", str(tmp_path / "e")])
    assert code == 2
    assert "--time-limit goes with --predictor" in capsys.readouterr().err


class _RunsCode:
    """Unpickling this calls os.makedirs(marker): arbitrary code in a checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_a_checkpoint_that_runs_code_is_refused_by_evaluate(demo_data, tmp_path, capsys):
    marker = str(tmp_path / "pwned")
    ckpt = tmp_path / "evil.pt"
    torch.save({"format": "asabench.models.checkpoint/1", "name": "deepasa", "config": {},
                "state_dict": {}, "extra": {"x": _RunsCode(marker)}}, ckpt)
    code = main(["evaluate", "--suite", SUITE, "--run", str(ckpt), "--data", str(demo_data),
                 "--out", str(tmp_path / "e")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{ckpt}: not a readable checkpoint" in err[0], err
    assert not os.path.exists(marker)  # weights_only=True: the reduce was never called
    torch.load(ckpt, weights_only=False)  # control: the file is live
    assert os.path.exists(marker)


@pytest.mark.slow
def test_an_invalid_predictor_in_the_child_is_invalid_input(demo_data, tmp_path, capsys, monkeypatch):
    mods = tmp_path / "mods"
    _write_module(mods, "wrong_rate_predictor_qq", """
class P:
    sample_rate, num_channels = 16000, 4
    def separate(self, mixture):
        return mixture[:, None].repeat(1, 3, 1, 1)
    def detect(self, mixture):
        from asabench.benchmark.io.dcase_csv import DcaseLabels
        return [DcaseLabels.empty() for _ in range(mixture.shape[0])]
""")
    monkeypatch.syspath_prepend(str(mods))
    code = main(["evaluate", "--suite", SUITE, "--predictor", "wrong_rate_predictor_qq:P", "--time-limit", "300",
                 "--data", str(demo_data), "--out", str(tmp_path / "eval"), "--workers", "1", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["asabench evaluate: predictor wrong_rate_predictor_qq:P declares sample_rate = 16000, the "
                   "suite's contract has 8000"], err
