"""train -> evaluate -> score end to end on the mini suites, through the console command."""

import json

import pytest

from asabench.benchmark.cli import main
from asabench.benchmark.scoring import score


pytestmark = pytest.mark.usefixtures("one_thread")


def test_run_trains_then_evaluates_and_the_scorer_agrees(mini, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", "--suite", str(mini["tse"]), "--model", "soundcompass", "--config", "tiny",
                 "--data", str(mini["data"]), "--out", str(run), "--max-steps", "2", "--no-progress",
                 "--eval-workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 steps" in out and "mini-tse test scores: tse " in out
    summary = json.loads((run / "evaluation" / "evaluation.json").read_text())
    results = json.loads((run / "evaluation" / "results" / "tse.json").read_text())
    assert results["suite"]["sha256"] == json.loads((run / "run.json").read_text())["settings"]["suite"]["sha256"]
    assert summary["entries"]["tse"]["value"] == results["aggregate"]["si_sdr_i"]["value"]
    # the predictions score the same through the scorer directly (asabench score)
    again = score(mini["data"], "tse", predictions=run / "evaluation" / "predictions" / "tse", split="test",
                  workers=1, target="full", spatial=True)
    assert again["aggregate"]["si_sdr_i"]["value"] == pytest.approx(results["aggregate"]["si_sdr_i"]["value"],
                                                                    abs=1e-9)
    assert results["aggregate"]["si_sdr_i"]["value"] < 30.0  # two steps do not reach the ground truth


def test_train_cli_errors_are_one_line_exit_2(mini, tmp_path, capsys):
    assert main(["train", "--suite", str(mini["tse"]), "--model", "soundcompass", "--data",
                 str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("asabench train: --data ") and "no such" in err[0]
    assert main(["train", "--suite", str(mini["tse"]), "--model", "nosuch", "--config", "tiny", "--data",
                 str(mini["data"]), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'nosuch'" in err[0]
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "b"\nmodels = ["soundcompass"]\n[optimizer]\nlr = 0\n')
    assert main(["train", "--suite", str(mini["tse"]), "--model", "soundcompass", "--config", "tiny",
                 "--recipe", str(bad), "--data", str(mini["data"]), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"asabench train: {bad}: field 'optimizer.lr': 0.0 is outside (0.0, 10.0]"
    assert main(["train", "--suite", str(mini["tse"]), "--model", "soundcompass", "--config", "tiny",
                 "--data", str(mini["data"]), "--out", str(mini["data"] / "inside")]) == 2
    assert "inside" in capsys.readouterr().err and not (mini["data"] / "inside").exists()
    assert not (tmp_path / "r").exists()
