"""Hidden test split: seeds from a secret file (HMAC-SHA256), only its fingerprint written anywhere."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import numpy as np
import pytest

from asabench.benchmark.cli import main
from asabench.simulate.secret_seed import SecretSeedError, read_secret_seed

SUITE = "demo-multitask"
#: SHA-256 of demo test-000000's files made by asabench before the hidden split existed
#: (commit 860f463, `asabench simulate demo --split test --num 2`): the public path is unchanged.
PUBLIC_SPEC_SHA256 = "cf29cd9565f517d16b8029e4adbf3406c6f01f30ee3920446f0703b5f6a08336"
PUBLIC_MIXTURE_SHA256 = "701f019b0a15e59376a2bfb666f5ee240964fd73a843feb4ef87b9573d27294f"


@pytest.fixture(scope="module")
def secret(tmp_path_factory):
    path = tmp_path_factory.mktemp("private") / "test.secret"
    path.write_bytes(np.random.default_rng(20261201).bytes(32))
    return path


@pytest.fixture(scope="module")
def hidden_data(secret, tmp_path_factory):
    from asabench.simulate.dataset.build import simulate_dataset

    root = tmp_path_factory.mktemp("hidden") / "demo-hidden"
    simulate_dataset("demo", "test", root, num=2, secret_seed=secret)
    return root


def test_the_public_split_is_byte_identical_to_before(demo_data):
    scene = demo_data / "test" / "test-000000"
    assert hashlib.sha256((scene / "spec.json").read_bytes()).hexdigest() == PUBLIC_SPEC_SHA256
    assert hashlib.sha256((scene / "mixture.wav").read_bytes()).hexdigest() == PUBLIC_MIXTURE_SHA256
    spec = json.loads((scene / "spec.json").read_text())
    assert spec["seed"] == [7, 2, 0]  # [manifest seed, split key of "test", index]
    assert "hidden_splits" not in json.loads((demo_data / "dataset.json").read_text())


def test_hidden_seeds_and_fingerprint_follow_the_documented_formulas(secret, hidden_data):
    key = secret.read_bytes()
    info = json.loads((hidden_data / "dataset.json").read_text())
    expected_fp = "sha256:" + hashlib.sha256(b"asabench-hidden-split-fingerprint/v1\0" + key).hexdigest()
    assert info["hidden_splits"] == {"test": expected_fp}
    for k in range(2):
        spec = json.loads((hidden_data / "test" / f"test-{k:06d}" / "spec.json").read_text())
        digest = hmac.new(key, b"asabench-hidden-split-seed/v1\0" + f"7\0test\0{k}".encode(), hashlib.sha256).digest()
        assert spec["seed"] == [int.from_bytes(digest[i:i + 8], "big") for i in range(0, 32, 8)]


def test_hidden_results_carry_the_fingerprint_and_the_secret_is_written_nowhere(
        secret, hidden_data, examples_on_path, tmp_path, capsys, example_card):
    key = secret.read_bytes()
    fp = read_secret_seed(secret).fingerprint
    ev = tmp_path / "eval"
    assert main(["evaluate", "--suite", SUITE, "--predictor", "my_predictor.predictor:demo_predictor",
                 "--data", str(hidden_data), "--out", str(ev), "--secret-seed", str(secret),
                 "--workers", "1", "--quiet"]) == 0, capsys.readouterr().err
    results = json.loads((ev / "results" / "uss.json").read_text())
    assert results["dataset"]["hidden"] == {"fingerprint": fp}
    from asabench.benchmark.scoring import score

    assert score(hidden_data, "seld", oracle="targets", workers=1)["dataset"]["hidden"] == {"fingerprint": fp}
    from asabench.benchmark.leaderboard.store import add_entry, entry_from_evaluation
    from asabench.benchmark.submissions.card import load_card

    store = tmp_path / "results"
    add_entry(store, entry_from_evaluation(ev, "submitted", "external", load_card(example_card).to_dict()))
    entry = json.loads((store / SUITE / "split-evenly-example.json").read_text())
    assert entry["split"]["hidden"] == {"fingerprint": fp}
    forms = [key, key.hex().encode(), key.hex().upper().encode(), base64.b64encode(key),
             json.dumps(list(key)).encode()]
    written = [p for root in (hidden_data, ev, store) for p in root.rglob("*") if p.is_file()]
    assert len(written) > 20
    for path in written:
        data = path.read_bytes()
        assert not any(form in data for form in forms), path


def test_a_wrong_or_missing_secret_is_refused(secret, hidden_data, demo_data, demo_predictions, example_card,
                                              tmp_path, capsys):
    other = tmp_path / "other.secret"
    other.write_bytes(bytes(range(32)))
    for data, wanted in ((hidden_data, "made with secret seed sha256:"),
                         (demo_data, "split 'test' uses the public seeds")):
        out = tmp_path / f"e-{data.name}"
        assert main(["evaluate", "--suite", SUITE, "--model", "deepasa", "--data", str(data),
                     "--out", str(out), "--secret-seed", str(other)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "field 'hidden_splits.test'" in err[0] and wanted in err[0], err
        assert not out.exists() or not any(out.iterdir())
    store = tmp_path / "results"
    assert main(["submit", str(demo_predictions), "--suite", SUITE, "--card", str(example_card), "--data",
                 str(hidden_data), "--store", str(store), "--secret-seed", str(other), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "made with secret seed sha256:" in err[0], err
    assert not store.exists()


def test_secret_files_that_could_leak_are_refused(tmp_path, repo_root, capsys):
    short = tmp_path / "short.secret"
    short.write_bytes(b"0123456789")
    with pytest.raises(SecretSeedError, match="10 bytes; a secret seed needs at least 16"):
        read_secret_seed(short)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    inside = repo / "seeds" / "test.secret"
    inside.parent.mkdir()
    inside.write_bytes(bytes(32))
    with pytest.raises(SecretSeedError, match="inside the git work tree"):
        read_secret_seed(inside)
    out = tmp_path / "data"
    (out).mkdir()
    (out / "s.secret").write_bytes(bytes(32))
    assert main(["simulate", "demo", "--split", "test", "--num", "1", "--out", str(out),
                 "--secret-seed", str(out / "s.secret"), "--quiet"]) == 2
    assert "lies inside the output" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["s.secret"]
    assert repr(read_secret_seed(out / "s.secret")).startswith("SecretSeed(fingerprint='sha256:")


def test_a_hidden_split_is_not_added_to_a_public_folder(secret, demo_data, tmp_path):
    import shutil

    from asabench.simulate.dataset.build import simulate_dataset
    from asabench.simulate.dataset.format import DatasetFormatError

    folder = tmp_path / "copy"
    shutil.copytree(demo_data, folder)
    before = (folder / "dataset.json").read_bytes()
    with pytest.raises(DatasetFormatError, match="uses the public seeds; this job's secret seed is sha256:"):
        simulate_dataset("demo", "test", folder, start=0, num=1, secret_seed=secret)
    assert (folder / "dataset.json").read_bytes() == before


@pytest.mark.parametrize("argv", [["export", "{data}", "--format", "asa2", "--out", "{out}"],
                                  ["publish", "{data}", "--repo-id", "org/asa2-hidden", "--dry-run",
                                   "--out", "{out}"]])
def test_a_hidden_split_is_neither_exported_nor_published(hidden_data, tmp_path, capsys, argv):
    out = tmp_path / "exported"
    args = [a.format(data=hidden_data, out=out) for a in argv]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "field 'hidden_splits.test'" in err and str(hidden_data / "dataset.json") in err
    assert not out.exists()
