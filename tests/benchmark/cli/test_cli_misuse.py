"""CLI misuse is refused before any work: exit 2, one stderr line naming the option or
path, and not one file created or changed (the folder is compared before and after)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _no_cuda(monkeypatch):
    # The CUDA cases must read the same on a GPU machine: this build "has" no GPU.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def _refused(cli, snapshot, root: Path, command: str, argv: list, *named: str) -> str:
    before = snapshot(root)
    code, out, err = cli(command, *argv)
    assert code == 2, (out, err)
    assert len(err) == 1, err
    assert err[0].startswith(f"asabench {command}: "), err
    for text in named:
        assert text in err[0], (text, err[0])
    assert snapshot(root) == before
    return err[0]


# ----------------------------------------------------------------------------- simulate


@pytest.mark.parametrize("argv, named", [
    (["--workers", "0"], ["--workers 0"]),
    (["--workers", "-3"], ["--workers -3"]),
    (["--workers", "100000"], ["--workers 100000", "4096"]),
    (["--device", "cuda"], ["--device cuda", "CUDA is not available"]),
    (["--device", "cuda:1"], ["--device cuda:1", "CUDA is not available"]),
    (["--device", "cuda:one"], ["--device 'cuda:one'"]),
    (["--device", "gpu"], ["--device 'gpu'"]),
    (["--num", "-1"], ["--num -1"]),
    (["--start", "-2"], ["--start -2"]),
    (["--shard", "2/2"], ["--shard 2/2"]),
    (["--shard", "1of4"], ["--shard '1of4'"]),
    (["--shard=-1/4"], ["--shard -1/4"]),
])
def test_simulate_misuse(cli, snapshot, tmp_path, argv, named):
    _refused(cli, snapshot, tmp_path, "simulate",
             ["demo", "--split", "test", "--out", tmp_path / "ds", "--quiet", *argv], *named)


def test_simulate_out_is_a_file(cli, snapshot, tmp_path):
    (tmp_path / "ds").write_text("not a folder\n")
    _refused(cli, snapshot, tmp_path, "simulate", ["demo", "--split", "test", "--out", tmp_path / "ds"],
             str(tmp_path / "ds"), "expected a folder")


def test_simulate_out_below_a_file(cli, snapshot, tmp_path):
    (tmp_path / "f").write_text("x\n")
    _refused(cli, snapshot, tmp_path, "simulate", ["demo", "--split", "test", "--out", tmp_path / "f" / "ds"],
             str(tmp_path / "f"))


@pytest.mark.parametrize("role", ["--sources", "--noise"])
def test_simulate_out_inside_a_bank_folder(cli, snapshot, tmp_path, role):
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "asabench-index.json").write_text("{}\n")
    _refused(cli, snapshot, tmp_path, "simulate",
             ["demo", "--split", "test", role, bank / "asabench-index.json", "--out", bank / "ds"],
             str(bank / "ds"), str(bank))


def test_simulate_unknown_split_writes_nothing(cli, snapshot, tmp_path):
    _refused(cli, snapshot, tmp_path, "simulate", ["demo", "--split", "nope", "--out", tmp_path / "ds"], "nope")


# ----------------------------------------------------------------------------- render


def test_render_into_its_own_scene_folder(cli, snapshot, reference):
    spec = reference / "test" / "test-000000" / "spec.json"
    line = _refused(cli, snapshot, reference, "render", [spec, "--out", spec.parent], str(spec.parent))
    assert "input" in line


def test_render_inside_the_dataset(cli, snapshot, reference):
    spec = reference / "test" / "test-000000" / "spec.json"
    _refused(cli, snapshot, reference, "render", [spec, "--out", reference / "test" / "again"], str(reference))


@pytest.mark.parametrize("argv, named", [
    (["--device", "cuda"], ["--device cuda"]),
    (["--device", "cuda0"], ["--device 'cuda0'"]),
])
def test_render_misuse(cli, snapshot, tmp_path, reference, argv, named):
    spec = reference / "test" / "test-000000" / "spec.json"
    _refused(cli, snapshot, tmp_path, "render", [spec, "--out", tmp_path / "scene", *argv], *named)


def test_render_missing_spec(cli, snapshot, tmp_path):
    _refused(cli, snapshot, tmp_path, "render", [tmp_path / "nope.json", "--out", tmp_path / "scene"],
             str(tmp_path / "nope.json"))


# ----------------------------------------------------------------------------- score


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("target", ["dataset.json", "index.jsonl", "test/test-000000/labels.csv",
                                    "test/test-000001/mixture.wav"])
def test_score_out_over_the_reference(cli, snapshot, tmp_path, reference, target):
    victim = reference / target
    digest = _sha(victim)
    _refused(cli, snapshot, tmp_path, "score",
             ["--task", "seld", "--reference", reference, "--oracle", "targets", "--out", victim], str(victim))
    assert _sha(victim) == digest


def test_score_csv_beside_the_json_over_a_reference_file(cli, snapshot, tmp_path, reference):
    # --out labels.json in a scene folder: its per-scene CSV would be the scene's labels.csv
    victim = reference / "test" / "test-000000" / "labels.csv"
    digest = _sha(victim)
    _refused(cli, snapshot, tmp_path, "score",
             ["--task", "seld", "--reference", reference, "--oracle", "targets",
              "--out", victim.with_suffix(".json")], str(victim.with_suffix(".json")))
    assert _sha(victim) == digest


def test_score_out_over_a_prediction_file(cli, snapshot, tmp_path, reference, seld_predictions):
    victim = seld_predictions / "test-000001.csv"
    digest = _sha(victim)
    _refused(cli, snapshot, tmp_path, "score",
             ["--task", "seld", "--reference", reference, "--predictions", seld_predictions, "--out", victim],
             str(victim), str(seld_predictions))
    assert _sha(victim) == digest


def test_score_out_in_the_predictions_folder(cli, snapshot, tmp_path, reference, seld_predictions):
    _refused(cli, snapshot, tmp_path, "score",
             ["--task", "seld", "--reference", reference, "--predictions", seld_predictions,
              "--out", seld_predictions / "results.json"], str(seld_predictions))


def test_score_out_is_a_folder(cli, snapshot, tmp_path, reference):
    (tmp_path / "res").mkdir()
    _refused(cli, snapshot, tmp_path, "score",
             ["--task", "seld", "--reference", reference, "--oracle", "targets", "--out", tmp_path / "res"],
             str(tmp_path / "res"), "folder")


@pytest.mark.parametrize("argv, named", [
    (["--workers", "0"], ["--workers 0"]),
    (["--workers", "5000"], ["--workers 5000"]),
    (["--alpha", "1.5"], ["--alpha 1.5"]),
    (["--alpha", "0"], ["--alpha 0"]),
])
def test_score_misuse(cli, snapshot, tmp_path, reference, argv, named):
    _refused(cli, snapshot, tmp_path, "score",
             ["--task", "uss", "--reference", reference, "--oracle", "mixture", "--out", tmp_path / "r.json", *argv],
             *named)


def test_score_missing_reference(cli, snapshot, tmp_path):
    _refused(cli, snapshot, tmp_path, "score",
             ["--task", "uss", "--reference", tmp_path / "nope", "--oracle", "mixture", "--out", tmp_path / "r.json"],
             "--reference", str(tmp_path / "nope"))


def test_score_needs_exactly_one_of_predictions_and_oracle(cli, snapshot, tmp_path, reference, seld_predictions):
    _refused(cli, snapshot, tmp_path, "score",
             ["--task", "seld", "--reference", reference, "--predictions", seld_predictions, "--oracle", "targets",
              "--out", tmp_path / "r.json"], "--predictions", "--oracle")


# ----------------------------------------------------------------------------- export, verify


def test_export_out_inside_the_dataset(cli, snapshot, reference):
    _refused(cli, snapshot, reference, "export", [reference, "--out", reference / "asa2"], str(reference))


def test_export_out_is_the_dataset(cli, snapshot, reference):
    _refused(cli, snapshot, reference, "export", [reference, "--out", reference], str(reference))


def test_export_dataset_inside_a_folder_it_fills(cli, snapshot, tmp_path):
    import numpy as np

    from asabench.simulate.testing.dummies import make_dummy_dataset

    src = tmp_path / "test" / "ds"  # export to tmp_path fills tmp_path/test/...
    make_dummy_dataset(src, 1, 1, 8000, 0.5, np.random.default_rng(1))
    _refused(cli, snapshot, tmp_path, "export", [src, "--out", tmp_path], str(tmp_path / "test"))


@pytest.mark.parametrize("item", ["validation", "validation=", "test=../up", "test=a/b"])
def test_export_bad_map(cli, snapshot, tmp_path, reference, item):
    _refused(cli, snapshot, tmp_path, "export", [reference, "--out", tmp_path / "asa2", "--map", item], "--map")


def test_export_out_is_a_file(cli, snapshot, tmp_path, reference):
    (tmp_path / "asa2").write_text("x\n")
    _refused(cli, snapshot, tmp_path, "export", [reference, "--out", tmp_path / "asa2"], str(tmp_path / "asa2"))


@pytest.mark.parametrize("argv, named", [
    (["--workers", "0"], ["--workers 0"]),
    (["--start", "-1"], ["--start -1"]),
    (["--num", "-5"], ["--num -5"]),
])
def test_verify_misuse(cli, snapshot, reference, argv, named):
    _refused(cli, snapshot, reference, "verify", [reference, *argv], *named)


def test_verify_missing_folder(cli, snapshot, tmp_path):
    _refused(cli, snapshot, tmp_path, "verify", [tmp_path / "nope"], str(tmp_path / "nope"))


# ----------------------------------------------------------------------------- rir


@pytest.mark.parametrize("argv, named", [
    (["--fs", "0"], ["--fs 0"]),
    (["--fs", "-16000"], ["--fs -16000"]),
    (["--fs", "nan"], ["--fs nan"]),
    (["--rt60", "0"], ["--rt60 0"]),
    (["--rt60", "-0.4"], ["--rt60 -0.4"]),
    (["--room", "6", "0", "3"], ["--room 0"]),
    (["--max-order", "-1"], ["--max-order -1"]),
    (["--tmax-db", "-40"], ["--tmax-db -40"]),
    (["--device", "cuda"], ["--device cuda"]),
])
def test_rir_misuse(cli, snapshot, tmp_path, argv, named):
    _refused(cli, snapshot, tmp_path, "rir", ["--source", "1", "1", "1", "--out", tmp_path / "r.npz", *argv], *named)


def test_rir_out_suffix_and_folder(cli, snapshot, tmp_path):
    _refused(cli, snapshot, tmp_path, "rir", ["--source", "1", "1", "1", "--out", tmp_path / "r.txt"], "r.txt", ".npz")
    (tmp_path / "d.wav").mkdir()
    _refused(cli, snapshot, tmp_path, "rir", ["--source", "1", "1", "1", "--out", tmp_path / "d.wav"], "d.wav", "folder")


def test_rir_out_over_the_mics_file(cli, snapshot, tmp_path):
    mics = tmp_path / "mics.wav"  # a (strangely named) positions file is an input
    mics.write_text("3 2.5 1.5\n3.1 2.5 1.5\n")
    _refused(cli, snapshot, tmp_path, "rir", ["--source", "1", "1", "1", "--mics", mics, "--out", mics], str(mics))


def test_rir_no_source(cli, snapshot, tmp_path):
    _refused(cli, snapshot, tmp_path, "rir", ["--out", tmp_path / "r.npz"], "--source")


# ----------------------------------------------------------------------------- prepare, demo, fidelity


@pytest.mark.parametrize("argv, named", [
    (["--workers", "0"], ["--workers 0"]),
    (["--min-duration", "0"], ["--min-duration 0"]),
    (["--silence-db", "nan"], ["--silence-db nan"]),
])
def test_prepare_misuse(cli, snapshot, tmp_path, argv, named):
    (tmp_path / "corpus").mkdir()
    _refused(cli, snapshot, tmp_path, "prepare",
             [tmp_path / "corpus", "--layout", "classfolders", "--out", tmp_path / "i.json", *argv], *named)


def test_prepare_out_over_inputs(cli, snapshot, tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "bell").mkdir(parents=True)
    (corpus / "bell" / "a.wav").write_bytes(b"RIFF....")
    (corpus / "index.csv").write_text("path,class\n")
    _refused(cli, snapshot, tmp_path, "prepare",
             [corpus, "--layout", "index", "--index-file", corpus / "index.csv", "--out", corpus / "index.csv"],
             str(corpus / "index.csv"))
    _refused(cli, snapshot, tmp_path, "prepare",
             [corpus, "--layout", "classfolders", "--out", corpus / "bell" / "a.wav"], str(corpus / "bell" / "a.wav"))
    _refused(cli, snapshot, tmp_path, "prepare", [corpus, "--layout", "classfolders", "--out", corpus], "folder")


def test_demo_misuse(cli, snapshot, tmp_path):
    _refused(cli, snapshot, tmp_path, "demo", ["--out", tmp_path / "demo", "--workers", "0"], "--workers 0")
    (tmp_path / "demo").write_text("x\n")
    _refused(cli, snapshot, tmp_path, "demo", ["--out", tmp_path / "demo"], str(tmp_path / "demo"))


def test_fidelity_misuse(cli, snapshot, tmp_path):
    _refused(cli, snapshot, tmp_path, "fidelity", ["--seconds", "0"], "--seconds 0")
    (tmp_path / "table.md").mkdir()
    _refused(cli, snapshot, tmp_path, "fidelity", ["--out", tmp_path / "table.md"], str(tmp_path / "table.md"))
