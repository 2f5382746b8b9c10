"""``asabench evaluate``: a --predictor oracle through the CLI, exit codes and error lines."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from asabench.benchmark.cli import main
from asabench.benchmark.scoring import score

#: Set by the test to an oracle instance; named on the command line as ``<this module>:ORACLE``.
ORACLE = None


class MixtureOracle:
    """Every object / extraction is the mixture: every improvement is 0 dB."""

    def separate(self, mixture):
        return mixture[:, None].repeat(1, 3, 1, 1)

    def detect(self, mixture):
        from asabench.benchmark.io.dcase_csv import DcaseLabels
        return [DcaseLabels.empty() for _ in range(mixture.shape[0])]

    def extract(self, mixture, direction):
        return mixture.clone()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from asabench.simulate.dataset.build import simulate_dataset

    root = tmp_path_factory.mktemp("demo") / "data"
    simulate_dataset("demo", "test", root, num=2)
    return root


def test_predictor_option_scores_the_oracle_line(demo, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ORACLE", MixtureOracle())
    out = tmp_path / "eval"
    assert main(["evaluate", "--suite", "demo-tse", "--predictor", f"{__name__}:ORACLE", "--data", str(demo),
                 "--out", str(out), "--workers", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "tse              si_sdr_i 0 (higher is better)" in printed
    res = json.loads((out / "results" / "tse.json").read_text())
    line = score(demo, "tse", oracle="mixture", workers=1)
    assert res["aggregate"]["sdr_i"]["value"] == pytest.approx(line["aggregate"]["sdr_i"]["value"], abs=1e-9)
    assert res["system"]["spec"] == f"{__name__}:ORACLE"


def test_class_is_instantiated_and_seld_of_no_events(demo, tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["evaluate", "--suite", "demo-multitask", "--predictor", f"{__name__}:MixtureOracle",
                 "--data", str(demo), "--out", str(out), "--workers", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err  # 3 objects for 2 sources: best-J matching
    uss = json.loads((out / "results" / "uss-pooled.json").read_text())
    assert abs(uss["aggregate"]["si_sdr_i"]["value"]) < 1e-9  # the mixture improves nothing
    seld = json.loads((out / "results" / "seld.json").read_text())
    assert seld["aggregate"]["f"]["value"] == 0.0


@pytest.mark.parametrize("argv, code, text", [
    (["--predictor", "nocolon"], 2, "expected module:attr"),
    (["--predictor", "no_such_module_qq:X"], 2, "cannot import"),
    (["--model", "nosuchmodel"], 2, "unknown model 'nosuchmodel'"),
    (["--model", "soundcompass", "--batch-size", "0"], 2, "--batch-size 0"),
    (["--predictor", f"{__name__}:MixtureOracle", "--config", "tiny"], 2, "--config goes with --model"),
])
def test_misuse_exits_2_with_one_line_and_writes_nothing(demo, tmp_path, capsys, argv, code, text):
    out = tmp_path / "eval"
    assert main(["evaluate", "--suite", "demo-tse", "--data", str(demo), "--out", str(out), *argv]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("asabench evaluate: ") and text in err[0], err
    assert not out.exists() or not any(out.iterdir())


def test_unknown_suite_and_missing_data(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    assert main(["evaluate", "--suite", "nosuite", "--model", "deepasa", "--data", str(tmp_path / "data"),
                 "--out", str(tmp_path / "e")]) == 2
    assert "nosuite: suite file not found" in capsys.readouterr().err
    assert main(["evaluate", "--suite", "demo-tse", "--model", "deepasa", "--data", str(tmp_path / "none"),
                 "--out", str(tmp_path / "e")]) == 2
    assert "--data" in capsys.readouterr().err
