"""The README's main job (`make demo` -> `asabench demo`) runs end to end and is idempotent."""

import json

import pytest

from asabench import models
from asabench.benchmark.cli import main
from asabench.benchmark.demo import run_demo
from asabench.simulate.dataset.format import read_index


def test_demo_oracle_rows_and_rerun(tmp_path, capsys):
    text = run_demo(tmp_path, train_steps=0)
    results = tmp_path / "results"
    mix = json.loads((results / "uss-oracle-mixture.json").read_text())
    # the mixture scored as its own estimate is the 0 dB improvement line, exactly
    assert mix["aggregate"]["si_sdr_i"]["value"] == 0.0
    assert mix["aggregate"]["sdr_i"]["value"] == 0.0
    seld = json.loads((results / "seld-oracle-targets.json").read_text())
    assert [seld["aggregate"][k]["value"] for k in ("er", "f", "le", "lr", "seld")] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert "| tse | targets |" in text and "tiny" not in text and not (tmp_path / "runs").exists()
    assert f"`{tmp_path / 'scene-test-000000.png'}`" in text  # the scene's picture (asabench plot)
    assert (tmp_path / "scene-test-000000.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = {r.id: r.to_dict() for r in read_index(tmp_path / "data")}
    assert len(before) == 14
    # `make demo` again, through the console command: nothing rewritten, same hashes
    assert main(["demo", "--out", str(tmp_path), "--train-steps", "0"]) == 0
    assert "| uss | mixture | si_sdr_i 0.000 dB" in capsys.readouterr().out
    after = {r.id: r.to_dict() for r in read_index(tmp_path / "data")}
    assert after == before


@pytest.mark.slow
def test_demo_trains_and_evaluates_both_systems_and_reruns_as_a_no_op(tmp_path, capsys):
    text = run_demo(tmp_path, train_steps=2, log=None)
    for label, suite, entries in (("deepasa", "demo-multitask", ("seld", "uss")), ("soundcompass", "demo-tse", ("tse",))):
        run = tmp_path / "runs" / label
        record = json.loads((run / "run.json").read_text())
        assert record["state"] == "done" and record["steps"] == 2 and record["settings"]["suite"]["name"] == suite
        assert models.load(run / "checkpoints" / "best.pt").asabench_name == label
        summary = json.loads((tmp_path / "eval" / label / "evaluation.json").read_text())
        for entry in entries:
            value = summary["entries"][entry]["value"]
            assert value is not None
            assert f"| {summary['entries'][entry]['task']} | {label} tiny, 2 steps ({entry}) | " in text
    assert "| seld | targets | er 0.000, f 1.000" in text
    last = (tmp_path / "runs" / "deepasa" / "checkpoints" / "last.pt").read_bytes()
    results = (tmp_path / "eval" / "soundcompass" / "results" / "tse.json").read_bytes()
    assert main(["demo", "--out", str(tmp_path), "--train-steps", "2"]) == 0
    again = capsys.readouterr().out
    assert (tmp_path / "runs" / "deepasa" / "checkpoints" / "last.pt").read_bytes() == last  # resumed: nothing to do
    assert (tmp_path / "eval" / "soundcompass" / "results" / "tse.json").read_bytes() == results
    assert [line for line in again.splitlines() if line.startswith("| ")] == \
        [line for line in text.splitlines() if line.startswith("| ")]
