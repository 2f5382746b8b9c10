"""Scoring against a tiny dataset: oracle lines, file predictions, results file, CLI."""

import csv
import json
import math

import numpy as np
import pytest
import soundfile as sf

from asabench.benchmark.cli import main
from asabench.benchmark.io.dcase_csv import read_dcase_csv, write_dcase_csv
from asabench.benchmark.metrics.guards import DB_CEIL
from asabench.benchmark.metrics.seld import evaluate_seld
from asabench.benchmark.scoring import (load_reference, mean_with_jackknife, score,
                                        write_results)
from asabench.simulate.testing.dummies import make_dummy_dataset

IMPROVEMENTS = ["si_sdr_i", "sdr_i", "si_snr_i", "si_sdr_i_chmean", "si_sdr_i_ref0",
                "sdr_i_chmean", "sdr_i_ref0"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    make_dummy_dataset(root, 3, [2, 1, 3], 8000, 0.5, np.random.default_rng(3))
    return root


@pytest.mark.parametrize("task", ["uss", "tse"])
def test_mixture_oracle_is_exactly_zero_improvement(dataset, task):
    res = score(dataset, task, oracle="mixture", spatial=False, bss_eval=(task == "tse"))
    names = IMPROVEMENTS + (["bss_sdr_i"] if task == "tse" else [])
    for name in names:
        values = [v for row in res["per_scene"] for v in row[name]]
        assert len(values) == 6 and all(v == 0.0 for v in values), (name, values)
        assert res["aggregate"][name]["value"] == 0.0
    assert res["aggregate"]["si_sdr"]["value"] > 0  # the mixture itself is not silent


@pytest.mark.parametrize("precision, ipd_tol", [("float64", 1e-12), ("float32", 1e-6)])
def test_targets_oracle_hits_the_clamp_ceiling(dataset, precision, ipd_tol):
    res = score(dataset, "uss", oracle="targets", spatial=True, spatial_precision=precision)
    for name in ("si_sdr", "sdr", "si_snr"):
        assert all(v == DB_CEIL for row in res["per_scene"] for v in row[name])
    assert res["guard_events"]["clamped_high"] == 6  # one per source, from the SI-SDR pass
    for name in ("delta_ild_db", "delta_itd_us", "delta_itd_subsample_us"):
        assert res["aggregate"][name]["value"] == 0.0
    # X·conj(X) has a zero imaginary part only up to rounding (FMA), so float32 leaves ~1e-8 rad
    assert res["aggregate"]["delta_ipd_rad"]["value"] < ipd_tol
    assert res["definitions"]["spatial_parameters"]["fft_precision"].startswith(precision)
    assert res["per_scene"][0]["perm"] == [0, 1]
    assert res["definitions"]["spatial_parameters"]["itd"]["max_tau_s"] == 1e-3


def test_seld_targets_oracle_is_perfect(dataset):
    res = score(dataset, "seld", oracle="targets")
    agg = {k: v["value"] for k, v in res["aggregate"].items()}
    assert agg == {"er": 0.0, "f": 1.0, "le": 0.0, "lr": 1.0, "seld": 0.0}
    assert res["aggregate"]["seld"]["std_err"] == 0.0  # every leave-one-out set is perfect too
    with pytest.raises(ValueError, match="does not apply to SELD"):
        score(dataset, "seld", oracle="mixture")


def test_file_predictions_uss_permuted_and_tse_by_index(dataset, tmp_path):
    ref = load_reference(dataset)
    for record in ref.records:
        images = ref.targets(record, "full")
        for k in range(record.num_sources):
            j = record.num_sources - 1 - k  # reversed order on disk
            path = tmp_path / record.id / f"{k}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), images[j].T.astype(np.float32), ref.info.fs, subtype="FLOAT")
    uss = score(dataset, "uss", predictions=tmp_path, spatial=False)
    assert uss["per_scene"][2]["perm"] == [2, 1, 0]
    # float32 files of float64 sums: far above any real system, below the clamp.
    assert min(v for row in uss["per_scene"] for v in row["si_sdr"]) > 90
    tse = score(dataset, "tse", predictions=tmp_path, spatial=False)
    assert tse["per_scene"][1]["si_sdr"][0] > 90  # one source: reversing changes nothing
    assert max(tse["per_scene"][2]["si_sdr"][0], tse["per_scene"][2]["si_sdr"][2]) < 10
    direct = score(dataset, "uss", predictions=tmp_path, spatial=False, target="direct")
    assert direct["definitions"]["target_image"] == "direct"
    assert direct["aggregate"]["si_sdr"]["value"] < uss["aggregate"]["si_sdr"]["value"]


def test_seld_file_predictions_match_direct_evaluation(dataset, tmp_path):
    ref = load_reference(dataset)
    refs = [ref.labels(r) for r in ref.records]
    preds = [refs[0], refs[1].select(refs[1].frame % 2 == 0), refs[2].select(refs[2].cls != refs[2].cls[0])]
    for record, pred in zip(ref.records, preds):
        write_dcase_csv(tmp_path / f"{record.id}.csv", pred, coords="cartesian")
    res = score(dataset, "seld", predictions=tmp_path, average="micro", seld_mode="dcase2023")
    ev = evaluate_seld(refs, [read_dcase_csv(tmp_path / f"{r.id}.csv") for r in ref.records],
                       num_classes=13, mode="dcase2023", average="micro")
    for k in ("er", "f", "le", "lr", "seld"):
        assert res["aggregate"][k]["value"] == pytest.approx(ev.aggregate[k], abs=1e-12)
        assert res["aggregate"][k]["ci_low"] == pytest.approx(ev.intervals[k].ci_low, abs=1e-12)
    assert res["aggregate"]["er"]["value"] > 0  # the degraded scenes count


def test_mean_with_jackknife_by_hand():
    out = mean_with_jackknife([np.array([1.0, 3.0]), np.array([5.0]), np.array([np.nan, 2.0])])
    assert out["value"] == 11 / 4 and out["n_values"] == 4
    partial = np.array([3.5, 2.0, 3.0])  # leave out scene 0, 1, 2
    assert out["bias"] == pytest.approx(2 * (partial.mean() - 11 / 4))
    assert out["std_err"] == pytest.approx(math.sqrt(2 / 3 * np.sum((partial - partial.mean()) ** 2)))


def test_cli_end_to_end_writes_valid_results(dataset, tmp_path, capsys):
    out = tmp_path / "res" / "results.json"
    assert main(["score", "--task", "tse", "--reference", str(dataset), "--oracle", "mixture",
                 "--out", str(out), "--no-spatial"]) == 0
    res = json.loads(out.read_text())
    info = json.loads((dataset / "dataset.json").read_text())
    assert res["schema_version"] == 1 and res["task"] == "tse"
    assert res["dataset"]["manifest_sha256"] == info["manifest_sha256"]
    assert res["dataset"]["num_scenes"] == 3 and res["predictions"]["oracle"] == "mixture"
    assert set(res["definitions"]["guards"]) >= {"db_floor", "db_ceil"}
    agg = res["aggregate"]["si_sdr_i"]
    assert agg["value"] == 0.0 and agg["ci_low"] == 0.0 and agg["ci_high"] == 0.0
    rows = list(csv.reader(out.with_suffix(".csv").read_text().splitlines()))
    assert rows[0][:3] == ["id", "num_sources", "si_sdr"]
    assert [r[0] for r in rows[1:]] == ["test-000000", "test-000001", "test-000002"]
    assert float(rows[1][rows[0].index("si_sdr_i")]) == 0.0
    assert "wrote" in capsys.readouterr().out


def test_cli_rejects_bad_predictions_without_touching_results(dataset, tmp_path, capsys):
    out = tmp_path / "results.json"
    out.write_text("previous results\n")
    pred = tmp_path / "pred"
    pred.mkdir()
    (pred / "test-000000.csv").write_text("0,99,0,1,2\n")
    code = main(["score", "--task", "seld", "--reference", str(dataset), "--predictions", str(pred),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "test-000000.csv:1: field 'class': class id 99 out of range (0..12)" in err
    assert "test-000001.csv: missing" in err and "test-000002.csv: missing" in err
    assert out.read_text() == "previous results\n"


def test_write_results_is_strict_json(tmp_path, dataset):
    res = score(dataset, "seld", oracle="targets", seld_mode="dcase2024")
    path, csv_path = write_results(res, tmp_path / "r.json")
    text = path.read_text()
    assert "NaN" not in text and json.loads(text)["definitions"]["rel_dist_threshold"] == 1.0
    assert csv_path.name == "r.csv"


def test_scene_metrics_equal_the_improvement_functions():
    import torch

    from asabench.benchmark.metrics.guards import GuardReport
    from asabench.benchmark.metrics.separation import (si_sdr_improvement, si_snr_improvement,
                                                       snr_improvement)
    from asabench.benchmark.scoring import separation_scene_metrics

    rng = np.random.default_rng(5)
    ref = rng.standard_normal((3, 4, 2000)) * np.array([1.0, 0.5, 2.0, 0.1])[:, None]
    est = ref[[2, 0, 1]] + 0.3 * rng.standard_normal((3, 4, 2000))
    mix = ref.sum(0) + 0.1 * rng.standard_normal((4, 2000))
    out = separation_scene_metrics(est, ref, mix, 8000, task="uss", report=GuardReport(), spatial=False)
    assert out["perm"] == [1, 2, 0]
    e, r, m = (torch.from_numpy(x)[None] for x in (est[[1, 2, 0]], ref, mix))
    expected = {"si_sdr_i": si_sdr_improvement(e, r, m), "sdr_i": snr_improvement(e, r, m),
                "si_snr_i": si_snr_improvement(e, r, m),
                "si_sdr_i_chmean": si_sdr_improvement(e, r, m, channels="mean"),
                "si_sdr_i_ref0": si_sdr_improvement(e, r, m, channels=0),
                "sdr_i_chmean": snr_improvement(e, r, m, channels="mean"),
                "sdr_i_ref0": snr_improvement(e, r, m, channels=0)}
    for name, value in expected.items():
        np.testing.assert_allclose(out[name], value[0].numpy(), rtol=0, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_worker_processes_give_the_same_results(dataset, tmp_path, monkeypatch, start_method):
    monkeypatch.setenv("ASABENCH_START_METHOD", start_method)
    # Noisy, permuted file predictions so that every metric (and the permutation) is non-trivial.
    ref = load_reference(dataset)
    rng = np.random.default_rng(8)
    for record in ref.records:
        images = ref.targets(record, "full")
        for k in range(record.num_sources):
            j = (k + 1) % record.num_sources
            est = images[j] + 0.3 * rng.standard_normal(images[j].shape) * images[j].std()
            path = tmp_path / record.id / f"{k}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(path), est.T.astype(np.float32), ref.info.fs, subtype="FLOAT")
    one = score(dataset, "uss", predictions=tmp_path, spatial=True, workers=1)
    two = score(dataset, "uss", predictions=tmp_path, spatial=True, workers=2)
    assert one["guard_events"] == two["guard_events"]
    assert [r.get("perm") for r in one["per_scene"]] == [r.get("perm") for r in two["per_scene"]]
    assert one["per_scene"][2]["perm"] == [2, 0, 1]
    for name in one["metric_names"]:
        a = [v for row in one["per_scene"] for v in row[name]]
        b = [v for row in two["per_scene"] for v in row[name]]
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-9, err_msg=name)
    with pytest.raises(ValueError, match="workers"):
        score(dataset, "uss", predictions=tmp_path, workers=0)


def test_coherent_dummy_images_are_delayed_copies(tmp_path):
    from asabench.benchmark.metrics.spatial import tdoa

    make_dummy_dataset(tmp_path, 1, 2, 8000, 1.0, np.random.default_rng(5), coherent=True)
    ref = load_reference(tmp_path)
    direct = np.stack([ref.audio(f.path) for f in ref.records[0].files.direct]).astype(np.float64)
    lags = tdoa(direct, 8000).numpy() * 8000  # pairs (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    np.testing.assert_allclose(lags, np.round(lags), atol=1e-9)
    assert np.all(np.abs(lags) <= 3)
    # delays are differences of per-channel delays: tau_02 = tau_01 + tau_12, etc.
    np.testing.assert_array_equal(lags[:, 1], lags[:, 0] + lags[:, 3])
    np.testing.assert_array_equal(lags[:, 5], lags[:, 4] - lags[:, 3])
    # and the channels are exact shifted copies: x_0(t) = x_1(t - tau_01) wherever both are active
    x = direct[0]
    d = int(lags[0, 0])
    a, b = x[0, 3:-3], np.roll(x[1], d)[3:-3]
    active = (a != 0) & (b != 0)
    assert active.sum() > 1000
    np.testing.assert_allclose(a[active], b[active], rtol=0, atol=1e-7)


def test_nan_in_predictions_is_reported_by_file_and_nothing_is_written(dataset, tmp_path, capsys):
    ref = load_reference(dataset)
    pred = tmp_path / "pred"
    for record in ref.records:
        images = ref.targets(record, "full")
        for k in range(record.num_sources):
            data = images[k].T.astype(np.float32)
            if (record.id, k) in (("test-000000", 1), ("test-000002", 0)):
                data[5 + k, 1] = np.nan
            (pred / record.id).mkdir(parents=True, exist_ok=True)
            sf.write(str(pred / record.id / f"{k}.wav"), data, ref.info.fs, subtype="FLOAT")
    from asabench.benchmark.submissions.layout import SubmissionError

    with pytest.raises(SubmissionError) as err:
        score(dataset, "tse", predictions=pred)
    assert err.value.problems == ["test-000000/1.wav: 1 NaN/inf sample value(s), first at sample 6 (channel 1, NaN)",
                                  "test-000002/0.wav: 1 NaN/inf sample value(s), first at sample 5 (channel 1, NaN)"]
    out = tmp_path / "r.json"
    out.write_text("previous\n")
    code = main(["score", "--task", "uss", "--reference", str(dataset), "--predictions", str(pred),
                 "--out", str(out)])
    assert code == 2 and "test-000000/1.wav: 1 NaN/inf" in capsys.readouterr().err
    assert out.read_text() == "previous\n"


def test_audio_problems_found_by_the_workers_read_like_validation(dataset, tmp_path):
    from asabench.benchmark.submissions.layout import SubmissionError, validate_submission

    ref = load_reference(dataset)
    pred = tmp_path / "pred"
    for record in ref.records:
        images = ref.targets(record, "full")
        for k in range(record.num_sources):
            data, fs = images[k].T.astype(np.float32), ref.info.fs
            if (record.id, k) == ("test-000000", 0):
                data = data[:, :2]  # two channels
            if (record.id, k) == ("test-000002", 2):
                data = data[:-1]  # one sample short
            (pred / record.id).mkdir(parents=True, exist_ok=True)
            sf.write(str(pred / record.id / f"{k}.wav"), data, fs, subtype="FLOAT")
    (pred / "test-000001" / "0.wav").write_bytes(b"not a wav")
    with pytest.raises(SubmissionError) as err:
        score(dataset, "uss", predictions=pred)
    with pytest.raises(SubmissionError) as full:
        validate_submission(pred, "uss", ref.expectations(), num_classes=13)
    assert err.value.problems == full.value.problems
    assert err.value.problems[0] == "test-000000/0.wav: 2 channels, expected 4"
    assert err.value.problems[1].startswith("test-000001/0.wav: not a readable audio file")
    assert err.value.problems[2] == "test-000002/2.wav: 3999 samples, expected 4000 (0.5 s at 8000 Hz)"


def test_cli_reports_a_dead_worker_without_writing(dataset, tmp_path, capsys, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    import asabench.benchmark.scoring as scoring

    def die(*args, **kwargs):
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(scoring, "score", die)
    out = tmp_path / "r.json"
    code = main(["score", "--task", "uss", "--reference", str(dataset), "--oracle", "mixture", "--out", str(out),
                 "--workers", "2"])
    assert code == 1 and "worker process died" in capsys.readouterr().err and not out.exists()


# ----------------------------------------------------------------------------- hardening


def _copy_dataset(dataset, tmp_path):
    import shutil

    root = tmp_path / "ref"
    shutil.copytree(dataset, root)
    return root


def _poke_nan(path, channel, sample):
    audio, fs = sf.read(str(path), dtype="float32", always_2d=True)
    audio[sample, channel] = np.nan
    sf.write(str(path), audio, fs, subtype="FLOAT")


@pytest.mark.parametrize("workers", [1, 2])
def test_nan_in_a_reference_is_an_invalid_dataset_naming_the_file(dataset, tmp_path, workers, capsys):
    from asabench.simulate.dataset.format import DatasetFormatError

    root = _copy_dataset(dataset, tmp_path)
    ref = load_reference(root)
    victim = root / ref.records[2].files.direct[1].path
    _poke_nan(victim, 2, 77)
    message = (f"{victim.resolve()}: field 'samples': 1 NaN/inf sample value(s), first at sample 77 "
               "(channel 2, NaN)")
    with pytest.raises(DatasetFormatError) as err:  # not a BrokenProcessPool
        score(root, "uss", oracle="mixture", spatial=False, workers=workers)
    assert type(err.value) is DatasetFormatError and str(err.value) == message
    assert err.value.field == "samples"
    out = tmp_path / "r.json"
    code = main(["score", "--task", "tse", "--reference", str(root), "--oracle", "targets",
                 "--out", str(out), "--workers", str(workers), "--no-spatial"])
    stderr = capsys.readouterr().err
    assert code == 2 and message in stderr and "Traceback" not in stderr
    assert not out.exists() and not out.with_suffix(".csv").exists()


def test_nan_in_a_reference_mixture_is_named_too(dataset, tmp_path):
    from asabench.simulate.dataset.format import DatasetFormatError

    root = _copy_dataset(dataset, tmp_path)
    victim = root / load_reference(root).records[0].files.mixture.path
    _poke_nan(victim, 0, 3)
    with pytest.raises(DatasetFormatError, match=r"mixture\.wav: field 'samples': .*first at sample 3 \(channel 0"):
        score(root, "tse", oracle="mixture", spatial=False, workers=2)


def _snapshot(*folders):
    return {p: p.read_bytes() for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


def test_results_are_never_written_over_or_inside_the_inputs(dataset, tmp_path, capsys):
    from asabench.simulate.io.files import OutputOverlapsInputError

    root = _copy_dataset(dataset, tmp_path)
    ref = load_reference(root)
    pred = tmp_path / "pred"
    for record in ref.records:
        labels = ref.labels(record)
        write_dcase_csv(pred / f"{record.id}.csv", labels)
    results = score(root, "seld", predictions=pred)
    labels_csv = root / ref.records[0].files.labels.path
    before = _snapshot(root, pred)
    targets = [root / "dataset.json",                      # the reference dataset.json itself
               labels_csv.with_suffix(".json"),             # its CSV would be the scene's labels.csv
               pred / "test-000001.json",                   # its CSV would be a prediction file
               pred / "test-000001.csv",                    # a prediction file itself
               root / "test" / "new-results.json"]          # inside the reference folder
    for out in targets:
        with pytest.raises(OutputOverlapsInputError, match="would write over or inside the input"):
            write_results(results, out)
        code = main(["score", "--task", "seld", "--reference", str(root), "--predictions", str(pred),
                     "--out", str(out)])
        assert code == 2 and str(out.name) in capsys.readouterr().err
    assert _snapshot(root, pred) == before  # byte for byte, nothing added
    assert not (root / "test" / "new-results.json").exists()
    # explicit inputs replace the recorded ones; outside every input it is written
    with pytest.raises(OutputOverlapsInputError):
        write_results(results, tmp_path / "elsewhere" / "r.json", inputs=[tmp_path / "elsewhere"])
    json_path, csv_path = write_results(results, tmp_path / "r.json")
    assert json.loads(json_path.read_text())["dataset"]["path"] == str(root)
    assert csv_path.read_text().startswith("id,num_sources,")


def test_score_defaults_are_the_cli_defaults():
    import inspect

    from asabench.benchmark.scoring import resolve_workers, score_separation

    for fn in (score, score_separation):
        params = inspect.signature(fn).parameters
        assert params["workers"].default is None and params["spatial_precision"].default == "float32"
    assert resolve_workers(None, 15) == 1  # too few scenes to repay a second process
    assert resolve_workers(3, 2) == 2 and resolve_workers(1, 100) == 1
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="workers must be an integer >= 1"):
            resolve_workers(bad, 10)
