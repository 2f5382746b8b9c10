"""The training job: run folder, checkpoints loadable by models.load, kill -9 + resume, gloo DDP."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from asabench import models
from asabench.benchmark.training.callbacks import read_metrics
from asabench.benchmark.training.loop import EpochSampler, train
from asabench.benchmark.training.recipe import load_recipe
from asabench.models.checkpoint import read
from asabench.simulate.io.config import ConfigError

PY = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: oversubscribed threads stall
    yield
    torch.set_num_threads(threads)


def recipe_file(tmp_path: Path, base: str, name: str = "r.toml", **changes) -> Path:
    data = load_recipe(base).to_dict()
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data[section][field] = value
        else:
            data[key] = value
    from asabench.benchmark.training.recipe import Recipe

    path = tmp_path / name
    Recipe.from_dict(data).save(path)
    return path


def test_epoch_sampler_splits_each_global_batch_across_ranks():
    one = list(EpochSampler(10, 4, 0, 1, seed=3, epoch=1))
    r0 = list(EpochSampler(10, 2, 0, 2, seed=3, epoch=1))
    r1 = list(EpochSampler(10, 2, 1, 2, seed=3, epoch=1))
    assert len(one) == 8 and sorted(one) != one  # two global batches of 4, shuffled; 2 scenes dropped
    assert [one[0:2], one[2:4], one[4:6], one[6:8]] == [r0[0:2], r1[0:2], r0[2:4], r1[2:4]]
    assert list(EpochSampler(10, 4, 0, 1, seed=3, epoch=1, skip=1)) == one[4:]
    assert list(EpochSampler(10, 4, 0, 1, seed=3, epoch=2)) != one  # a new order each epoch
    assert list(EpochSampler(5, 2, 0, 1, seed=0, epoch=0, shuffle=False)) == [0, 1, 2, 3]


def test_run_folder_and_checkpoints(mini, tmp_path):
    run = tmp_path / "run"
    result = train(mini["multitask"], "deepasa", config="tiny", data=mini["data"], out=run, max_steps=3,
                   progress=False, log=None)
    assert result.steps == 3 and result.epochs_done == 1 and result.main_score == "seld"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.toml", "metrics.jsonl", "recipe.toml",
                                                    "run.json", "suite.toml"]
    assert (run / "suite.toml").read_bytes() == Path(mini["multitask"]).read_bytes()
    record = json.loads((run / "run.json").read_text())
    assert record["state"] == "done" and record["steps"] == 3 and record["steps_per_epoch"] == 2
    assert record["settings"]["suite"]["sha256"] and record["settings"]["recipe"]["name"] == "deepasa-tiny"
    env = record["environment"]
    assert env["versions"]["torch"] == torch.__version__.split("+")[0] or env["versions"]["torch"].startswith(
        torch.__version__.split("+")[0])
    assert env["device"]["type"] == "cpu" and env["world_size"] == 1 and "git_revision" in env
    # both checkpoints load through the model registry alone, fitted to the 8-kHz contract
    best = models.load(run / "checkpoints" / "best.pt")
    last = models.load(run / "checkpoints" / "last.pt")
    assert best.config.sample_rate == 8000 and best.config.n_objects == 3 and best.config.stft.hop == 32
    state = read(run / "checkpoints" / "last.pt")["extra"]["training"]
    assert state["position"] == {"epoch": 1, "batch_in_epoch": 1, "step": 3}
    assert set(state) >= {"optimizer", "scheduler", "rng", "position", "best"}
    assert all(torch.equal(a, b) for a, b in zip(last.state_dict().values(),
                                                  read(run / "checkpoints" / "last.pt")["state_dict"].values()))
    lines = read_metrics(run / "metrics.jsonl")
    steps = [r for r in lines if r["event"] == "step"]
    vals = [r for r in lines if r["event"] == "validation"]
    assert [r["step"] for r in steps] == [1, 2, 3] and all(r["loss"] is not None for r in steps)
    assert [v["step"] for v in vals] == [2, 3] and {"seld", "si_sdr_i", "loss"} <= set(vals[0]["scores"])
    assert 0.0 <= vals[0]["scores"]["seld"] <= 1.0 + 1e-9
    # an existing run is never overwritten; --resume must keep the run's settings
    before = (run / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(FileExistsError, match="--resume"):
        train(mini["multitask"], "deepasa", config="tiny", data=mini["data"], out=run, max_steps=3, log=None)
    with pytest.raises(ConfigError, match="recipe"):
        train(mini["multitask"], "deepasa", config="tiny", data=mini["data"], out=run, resume=True, seed=5,
              log=None)
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


def test_wrong_suite_model_or_stage_refused(mini, tmp_path):
    with pytest.raises(ValueError, match="extracts a target"):
        train(mini["multitask"], "soundcompass", config="tiny", data=mini["data"], out=tmp_path / "a", log=None)
    with pytest.raises(ConfigError, match="--init CKPT"):
        train(mini["multitask"], "deepasa-coi", config="tiny", recipe="deepasa-coi", data=mini["data"],
              out=tmp_path / "b", log=None)
    with pytest.raises(ConfigError, match="trains deepasa, not soundcompass"):
        train(mini["tse"], "soundcompass", config="tiny", recipe="deepasa-paper", data=mini["data"],
              out=tmp_path / "c", log=None)
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_coi_stage_from_a_stage_one_checkpoint_freezes_early_blocks(mini, tmp_path):
    stage1 = train(mini["multitask"], "deepasa", config="tiny", data=mini["data"], out=tmp_path / "s1",
                   max_steps=1, progress=False, log=None)
    ckpt = stage1.run / "checkpoints" / "last.pt"
    recipe = recipe_file(tmp_path, "deepasa-coi", model_config="tiny", batch_size=2, precision="fp32",
                         data__workers=0)
    train(mini["multitask"], "deepasa-coi", config="tiny", recipe=recipe, init=ckpt, data=mini["data"],
          out=tmp_path / "s2", max_steps=1, progress=False, log=None)
    one, two = read(ckpt)["state_dict"], read(tmp_path / "s2" / "checkpoints" / "last.pt")["state_dict"]
    frozen = [k for k in one if k.startswith(("stft.", "encoder.", "blocks."))]
    assert frozen and all(torch.equal(one[k], two[k]) for k in frozen)  # copied, then not trained
    assert any(not torch.equal(one[k], two[k]) for k in one if k.startswith("sed_decoder."))
    assert any(k.startswith("tcm.") for k in two)


def _wait_for_step(metrics: Path, step: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if metrics.is_file() and any(r.get("step", 0) >= step for r in read_metrics(metrics)):
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before step {step}: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError(f"no step {step} within {timeout} s")


@pytest.mark.slow
def test_kill_9_then_resume_gives_bit_identical_weights(mini, tmp_path):
    recipe = recipe_file(tmp_path, "deepasa-tiny", epochs=3, checkpoint__every_steps=1)
    args = ["-m", "asabench.benchmark.cli", "train", "--suite", str(mini["multitask"]), "--model", "deepasa",
            "--config", "tiny", "--recipe", str(recipe), "--data", str(mini["data"]), "--max-steps", "5",
            "--no-progress", "--seed", "11"]
    whole = subprocess.run([PY, *args, "--out", str(tmp_path / "whole")], env=ENV, capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    killed = tmp_path / "killed"
    proc = subprocess.Popen([PY, *args, "--out", str(killed)], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    _wait_for_step(killed / "metrics.jsonl", 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    at_kill = read(killed / "checkpoints" / "last.pt")["extra"]["training"]["position"]["step"]
    assert 1 <= at_kill < 5
    again = subprocess.run([PY, *args, "--out", str(killed), "--resume"], env=ENV, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"resuming {killed} at step {at_kill}" in again.stdout
    a = read(tmp_path / "whole" / "checkpoints" / "last.pt")
    b = read(killed / "checkpoints" / "last.pt")
    assert a["extra"]["training"]["position"] == b["extra"]["training"]["position"] == {
        "epoch": 2, "batch_in_epoch": 1, "step": 5}
    assert list(a["state_dict"]) == list(b["state_dict"])
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    sa, sb = a["extra"]["training"]["optimizer"]["state"], b["extra"]["training"]["optimizer"]["state"]
    assert all(torch.equal(sa[i]["exp_avg"], sb[i]["exp_avg"]) for i in sa)
    assert a["extra"]["training"]["best"] == b["extra"]["training"]["best"]
    best_a = read(tmp_path / "whole" / "checkpoints" / "best.pt")["state_dict"]
    best_b = read(killed / "checkpoints" / "best.pt")["state_dict"]
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(mini, tmp_path):
    one = recipe_file(tmp_path, "soundcompass-tiny", "one.toml", batch_size=2)
    two = recipe_file(tmp_path, "soundcompass-tiny", "two.toml", batch_size=1)
    common = ["train", "--suite", str(mini["tse"]), "--model", "soundcompass", "--config", "tiny",
              "--data", str(mini["data"]), "--max-steps", "3", "--no-progress"]
    single = subprocess.run([PY, "-m", "asabench.benchmark.cli", *common, "--recipe", str(one),
                             "--out", str(tmp_path / "one")], env=ENV, capture_output=True, text=True)
    assert single.returncode == 0, single.stderr
    torchrun = [PY, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                "-m", "asabench.benchmark.cli"]
    ddp = subprocess.run([*torchrun, *common, "--recipe", str(two), "--out", str(tmp_path / "two")],
                         env=ENV, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    env = json.loads((tmp_path / "two" / "run.json").read_text())["environment"]
    assert env["world_size"] == 2 and env["launcher"] == "torchrun"
    l1 = [r["loss"] for r in read_metrics(tmp_path / "one" / "metrics.jsonl") if r["event"] == "step"]
    l2 = [r["loss"] for r in read_metrics(tmp_path / "two" / "metrics.jsonl") if r["event"] == "step"]
    assert len(l1) == len(l2) == 3
    assert l1 == pytest.approx(l2, rel=1e-4, abs=1e-4)
    w1 = read(tmp_path / "one" / "checkpoints" / "last.pt")["state_dict"]
    w2 = read(tmp_path / "two" / "checkpoints" / "last.pt")["state_dict"]
    assert max(float((w1[k] - w2[k]).abs().max()) for k in w1) < 1e-4
    start = models.create("soundcompass", tmp_path / "one" / "config.toml", seed=0).state_dict()
    assert max(float((w1[k] - start[k]).abs().max()) for k in w1) > 1e-4  # the steps did train
