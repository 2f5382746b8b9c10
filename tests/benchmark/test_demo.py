"""The README's main job (`make demo` -> `asabench demo`) runs end to end and is idempotent."""

import json

from asabench.benchmark.cli import main
from asabench.benchmark.demo import run_demo
from asabench.simulate.dataset.format import read_index


def test_demo_runs_and_reruns_identically(tmp_path, capsys):
    text = run_demo(tmp_path)
    results = tmp_path / "results"
    mix = json.loads((results / "uss-oracle-mixture.json").read_text())
    # the mixture scored as its own estimate is the 0 dB improvement line, exactly
    assert mix["aggregate"]["si_sdr_i"]["value"] == 0.0
    assert mix["aggregate"]["sdr_i"]["value"] == 0.0
    seld = json.loads((results / "seld-oracle-targets.json").read_text())
    assert [seld["aggregate"][k]["value"] for k in ("er", "f", "le", "lr", "seld")] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert "| tse | targets |" in text
    before = {r.id: r.to_dict() for r in read_index(tmp_path / "data")}
    assert len(before) == 14
    # `make demo` again, through the console command: nothing rewritten, same hashes
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert "| uss | mixture | si_sdr_i 0.000 dB" in capsys.readouterr().out
    after = {r.id: r.to_dict() for r in read_index(tmp_path / "data")}
    assert after == before
