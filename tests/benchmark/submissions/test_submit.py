"""asabench submit: predictions + card -> store entry; refusals leave the store untouched."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from asabench.benchmark.cli import main
from asabench.benchmark.evaluate import score_suite
from asabench.benchmark.leaderboard.store import load_store, predictions_sha256
from asabench.benchmark.scoring import score
from asabench.benchmark.submissions.submit import SubmissionRefusedError, submit
from asabench.benchmark.suites import load_suite

SUITE = "demo-multitask"


def _card(tmp_path: Path, example_card: Path, **changes) -> Path:
    import yaml

    data = yaml.safe_load(example_card.read_text())
    data.update(changes)
    path = tmp_path / f"card-{len(list(tmp_path.glob('card-*')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} if root.exists() else {}


def test_round_trip_predictions_and_card_to_a_store_entry(demo_data, demo_predictions, example_card, tmp_path, capsys):
    store = tmp_path / "results"
    code = main(["submit", str(demo_predictions), "--suite", SUITE, "--card", str(example_card),
                 "--data", str(demo_data), "--store", str(store), "--workers", "1", "--quiet"])
    assert code == 0, capsys.readouterr().err
    path = store / SUITE / "split-evenly-example.json"
    assert capsys.readouterr().out.strip() == f"added {path}"
    entry = load_store(store, SUITE)["split-evenly-example"]
    assert entry["system"]["origin"] == "submitted" and entry["system"]["kind"] == "external"
    assert entry["system"]["card"]["authors"][0]["email"] == "ada@example.org"
    assert entry["system"]["parameters"] == 0 and entry["split"] == {"name": "test", "num_scenes": 2, "hidden": False}
    assert entry["predictions_sha256"] == predictions_sha256(demo_predictions)
    suite = load_suite(SUITE)
    assert entry["suite"]["sha256"] == suite.sha256 and set(entry["entries"]) == {t.id for t in suite.tasks}
    # every entry's numbers are the scorer's on the same predictions with the entry's options
    for spec in suite.tasks:
        direct = score(demo_data, spec.task, predictions=demo_predictions / spec.task, workers=1, **spec.options)
        got = entry["entries"][spec.id]
        assert got["main_score"]["value"] == pytest.approx(direct["aggregate"][spec.main_score]["value"], abs=1e-12)
        assert got["definition"]["options"] == dict(spec.options)
    # each object is mixture / K: scale-invariant SI-SNR at channel 0 improves by exactly 0 dB
    assert entry["entries"]["uss"]["main_score"]["value"] == pytest.approx(0.0, abs=1e-6)
    # no events: DCASE SELD = mean(ER=1, 1-F=1, LE/180=1, 1-LR=1) = 1
    assert entry["entries"]["seld-dcase"]["main_score"]["value"] == pytest.approx(1.0, abs=1e-12)


def test_the_rebuilt_board_shows_the_submitted_row(demo_data, demo_predictions, example_card, tmp_path):
    build = pytest.importorskip("asabench.benchmark.leaderboard.build")
    store = tmp_path / "results"
    submit(demo_predictions, SUITE, example_card, demo_data, store=store, workers=1)
    board = build.build_board(load_suite(SUITE).leaderboard, suite=SUITE, store=store)
    rows = [r for r in board.rows if r.system == "Split evenly (example)"]
    assert len(rows) == 1 and rows[0].origin == "submitted" and rows[0].num_scenes == 2
    render = pytest.importorskip("asabench.benchmark.leaderboard.render")
    assert "Split evenly (example)" in render.render_markdown(board)


def test_a_dataset_of_another_manifest_is_refused(demo_predictions, example_card, tmp_path, repo_root):
    from asabench.simulate.dataset.build import simulate_dataset

    edited = tmp_path / "demo.toml"  # same name and version, another seed: another dataset
    edited.write_text((repo_root / "manifests" / "demo.toml").read_text().replace("seed = 7", "seed = 8"))
    data = tmp_path / "other"
    simulate_dataset(edited, "test", data, num=2)
    store = tmp_path / "results"
    with pytest.raises(SubmissionRefusedError) as info:
        submit(demo_predictions, SUITE, example_card, data, store=store, workers=1)
    text = "\n".join(info.value.problems)
    assert f"{data / 'dataset.json'}: field 'manifest_sha256'" in text
    assert "the dataset was made from a different manifest" in text
    assert not store.exists()


def test_duplicates_are_refused_and_replace_replaces(demo_data, demo_predictions, pred_copy, example_card, tmp_path):
    store = tmp_path / "results"
    first = submit(demo_predictions, SUITE, example_card, demo_data, store=store, workers=1)
    before = _tree(store)
    # the same predictions under another name
    other = _card(tmp_path, example_card, name="Someone else")
    with pytest.raises(SubmissionRefusedError, match="the same predictions are already in the store"):
        submit(demo_predictions, SUITE, other, demo_data, store=store, workers=1)
    # the same name, other predictions, without --replace
    wav = pred_copy / "uss" / "test-000000" / "0.wav"
    from asabench.simulate.io.wav import read_wav, wav_bytes

    audio, fs = read_wav(wav)
    wav.write_bytes(wav_bytes(0.5 * audio, fs))
    with pytest.raises(SubmissionRefusedError, match=r"already in the store; replace it explicitly \(--replace\)"):
        submit(pred_copy, SUITE, example_card, demo_data, store=store, workers=1)
    assert _tree(store) == before
    # --replace: the entry now holds the new predictions' hash and scores
    result = submit(pred_copy, SUITE, example_card, demo_data, store=store, workers=1, replace=True)
    assert result.replaced and result.path == first.path
    entry = json.loads(first.path.read_text())
    assert entry["predictions_sha256"] == predictions_sha256(pred_copy) != first.entry["predictions_sha256"]
    assert sorted(p.name for p in (store / SUITE).iterdir()) == [first.path.name]


def test_everything_is_reported_at_once_and_nothing_written(demo_data, pred_copy, example_card, tmp_path, capsys):
    bad_card = _card(tmp_path, example_card, licence="Apache 2", code_url="github.com/x")
    (pred_copy / "seld" / "test-000001.csv").unlink()
    shutil.rmtree(pred_copy / "uss" / "test-000000")
    store = tmp_path / "results"
    code = main(["submit", str(pred_copy), "--suite", SUITE, "--card", str(bad_card), "--data", str(demo_data),
                 "--store", str(store), "--workers", "1"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("asabench submit: ") for line in err)
    text = "\n".join(err)
    assert f"{bad_card}: field 'licence'" in text and f"{bad_card}: field 'code_url'" in text
    assert f"{pred_copy / 'seld'}/test-000001.csv: missing" in text
    assert f"{pred_copy / 'uss'}/test-000000/: missing" in text
    assert len(err) == 4, err
    assert not store.exists()


def test_a_results_folder_is_checked_against_a_rescoring(demo_data, demo_predictions, pred_copy, example_card,
                                                          tmp_path):
    suite = load_suite(SUITE)
    ev = tmp_path / "eval"
    score_suite(suite, demo_data, demo_predictions, ev, split="test", system_record={"name": "x"}, workers=1)
    store = tmp_path / "results"
    # a claimed value that the predictions do not score
    tampered = tmp_path / "tampered"
    shutil.copytree(ev, tampered)
    res = tampered / "results" / "uss.json"
    record = json.loads(res.read_text())
    record["aggregate"]["si_snr_i_ref0"]["value"] += 0.5
    record["main_score"]["value"] += 0.5
    res.write_text(json.dumps(record))
    with pytest.raises(SubmissionRefusedError) as info:
        submit(demo_predictions, SUITE, example_card, demo_data, results=tampered, store=store, workers=1)
    assert [p.split(": field ")[1].split(":")[0] for p in info.value.problems] == [
        "'aggregate.si_snr_i_ref0.value'", "'main_score'"]
    assert info.value.problems[0].startswith(f"{res}: ")
    # results of other predictions: refused before any scoring, naming the hash
    wav = pred_copy / "uss" / "test-000001" / "1.wav"
    wav.write_bytes(wav.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(SubmissionRefusedError, match=r"field 'predictions.sha256'.*the SHA-256 of the submitted uss/"):
        submit(pred_copy, SUITE, example_card, demo_data, results=ev, store=store, workers=1)
    assert not store.exists()
    # the genuine folder is accepted; the entry hashes its files' bytes
    result = submit(demo_predictions, SUITE, example_card, demo_data, results=ev / "evaluation.json", store=store,
                    workers=1)
    assert result.checked_results
    for entry_id, item in result.entry["entries"].items():
        data = (ev / "results" / f"{entry_id}.json").read_bytes()
        assert item["results_sha256"] == hashlib.sha256(data).hexdigest()


def test_cli_defaults_are_the_library_defaults(demo_data, demo_predictions, example_card, monkeypatch, tmp_path):
    import inspect

    import asabench.benchmark.cli.submit as submit_cli

    seen = {}

    def job(*args, **kwargs):
        seen.update(inspect.signature(submit).bind(*args, **kwargs).arguments)
        raise KeyboardInterrupt  # stop before any work; main() turns it into 130

    job.__signature__ = inspect.signature(submit)  # the parser reads its defaults from it
    monkeypatch.setattr(submit_cli, "_submit_job", job)
    assert main(["submit", str(demo_predictions), "--suite", SUITE, "--card", str(example_card),
                 "--data", str(demo_data)]) == 130
    params = inspect.signature(submit).parameters
    compared = [k for k in ("results", "store", "replace", "split", "workers", "secret_seed", "kind")
                if (Path(seen[k]) == Path(params[k].default) if k == "store" else seen[k] == params[k].default)]
    assert compared == ["results", "store", "replace", "split", "workers", "secret_seed", "kind"]


def test_results_may_name_the_folder_its_summary_or_one_results_file(tmp_path):
    from asabench.benchmark.submissions.submit import _results_folder

    ev = tmp_path / "eval"
    (ev / "results").mkdir(parents=True)
    (ev / "evaluation.json").write_text("{}")
    (ev / "results" / "uss.json").write_text("{}")
    for given in (ev, ev / "evaluation.json", ev / "results" / "uss.json"):
        assert _results_folder(given) == ev
    (tmp_path / "loose.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="expected an 'asabench evaluate' folder"):
        _results_folder(tmp_path / "loose.json")


def test_a_symbolic_link_in_the_predictions_is_refused(demo_data, pred_copy, example_card, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of the submission")
    (pred_copy / "uss" / "notes.txt").symlink_to(outside)
    with pytest.raises(SubmissionRefusedError) as info:
        submit(pred_copy, SUITE, example_card, demo_data, store=tmp_path / "results", workers=1)
    assert info.value.problems == [f"{pred_copy / 'uss' / 'notes.txt'}: symbolic link; a predictions folder "
                                   "holds its own files (links are not followed)"]
