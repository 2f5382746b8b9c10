"""Scoring with the named definitions: USS best-J-of-K matching, the deepasa separation
convention, the deepasa SELD mode and the spatial definitions, from the Python API and the CLI."""

from __future__ import annotations

import json
from itertools import permutations

import numpy as np
import pytest
import soundfile as sf

from asabench.benchmark.cli import main
from asabench.benchmark.io.dcase_csv import DcaseLabels, write_dcase_csv
from asabench.benchmark.scoring import load_reference, score
from asabench.benchmark.submissions.layout import SubmissionError
from asabench.simulate.testing.dummies import make_dummy_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    make_dummy_dataset(root, 3, [2, 1, 3], 8000, 0.5, np.random.default_rng(3))
    return root


def _write(path, audio, fs):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio.T.astype(np.float32), fs, subtype="FLOAT")


def _subset_predictions(dataset, out, rng):
    """Scene with 3 sources: 5 estimates, the true ones at 3 (source 0), 4 (source 1), 1 (source 2),
    noise at 0 and 2; scene with 2 sources: 3 estimates (source 1 at 0, source 0 at 2); 1 source: 1."""
    ref = load_reference(dataset)
    layout = {3: [None, 2, None, 0, 1], 2: [1, None, 0], 1: [0]}
    truth = {}
    for record in ref.records:
        images = ref.targets(record, "full")
        noise_level = [0.05, 0.1, 0.2]
        for k, j in enumerate(layout[record.num_sources]):
            if j is None:
                est = images.sum(0) * 0.0 + images.std() * rng.standard_normal(images.shape[1:])
            else:
                est = images[j] + noise_level[j] * images[j].std() * rng.standard_normal(images[j].shape)
            _write(out / record.id / f"{k}.wav", est, ref.info.fs)
        truth[record.id] = [layout[record.num_sources].index(j) for j in range(record.num_sources)]
    return ref, truth


def test_uss_matches_the_best_j_of_up_to_five_estimates(dataset, tmp_path):
    ref, truth = _subset_predictions(dataset, tmp_path / "pred", np.random.default_rng(0))
    for convention in ("pooled", "deepasa"):
        res = score(dataset, "uss", predictions=tmp_path / "pred", spatial=False, separation_convention=convention)
        for row in res["per_scene"]:
            assert row["perm"] == truth[row["id"]], (convention, row["id"])
        assert [row["num_estimates"] for row in res["per_scene"]] == [3, 1, 5]
        assert "J <= K <= max(J, 5)" in res["definitions"]["matching"]
    assert truth["test-000002"] == [3, 4, 1]


def _si_snr0(est, ref):
    e, r = est[0] - est[0].mean(), ref[0] - ref[0].mean()
    a = e @ r / (r @ r)
    return 10 * np.log10(np.sum((a * r) ** 2) / np.sum((a * r - e) ** 2))


def _snr0(est, ref):
    return 10 * np.log10(np.sum(ref[0] ** 2) / np.sum((ref[0] - est[0]) ** 2))


def test_deepasa_separation_convention_against_its_definition(dataset, tmp_path):
    ref, _ = _subset_predictions(dataset, tmp_path / "pred", np.random.default_rng(1))
    res = score(dataset, "uss", predictions=tmp_path / "pred", spatial=False, separation_convention="deepasa")
    assert res["metric_names"] == ["si_snr_ref0", "si_snr_i_ref0", "snr_ref0", "snr_i_ref0"]
    assert res["definitions"]["separation_convention"] == "deepasa"
    assert set(res["definitions"]["metric_conventions"].values()) == {
        "deepasa: reference channel 0, permutation by SA-SDR at channel 0, baseline mixture channel 0"}
    assert res["definitions"]["improvement_baseline"] == "channel 0 of the mixture as the estimate"
    for record, row in zip(ref.records, res["per_scene"]):
        images = ref.targets(record, "full")
        mix = ref.audio(record.files.mixture.path).astype(np.float64)
        est = np.stack([sf.read(str(tmp_path / "pred" / record.id / f"{k}.wav"), always_2d=True)[0].T
                        for k in range(row["num_estimates"])])
        # permutation by SA-SDR at channel 0, by brute force over injective maps
        j = record.num_sources
        best = max(permutations(range(len(est)), j),
                   key=lambda p: -sum(np.sum((images[i][0] - est[p[i]][0]) ** 2) for i in range(j)))
        assert row["perm"] == list(best)
        for i in range(j):
            e = est[best[i]]
            assert row["si_snr_ref0"][i] == pytest.approx(_si_snr0(e, images[i]), abs=1e-9)
            assert row["snr_ref0"][i] == pytest.approx(_snr0(e, images[i]), abs=1e-9)
            assert row["si_snr_i_ref0"][i] == pytest.approx(_si_snr0(e, images[i]) - _si_snr0(mix, images[i]), abs=1e-9)
            assert row["snr_i_ref0"][i] == pytest.approx(_snr0(e, images[i]) - _snr0(mix, images[i]), abs=1e-9)


@pytest.mark.parametrize("task", ["uss", "tse"])
def test_deepasa_convention_mixture_oracle_is_exactly_zero(dataset, task):
    res = score(dataset, task, oracle="mixture", spatial=False, separation_convention="deepasa")
    for name in ("si_snr_i_ref0", "snr_i_ref0"):
        assert all(v == 0.0 for row in res["per_scene"] for v in row[name])


def test_pooled_results_name_each_convention(dataset):
    res = score(dataset, "tse", oracle="mixture", spatial=True)
    conv = res["definitions"]["metric_conventions"]
    assert res["definitions"]["separation_convention"] == "pooled"
    assert conv["si_sdr_i"].startswith("pooled") and conv["sdr_i_chmean"].startswith("per channel")
    assert conv["si_sdr_i_ref0"].startswith("reference channel 0")
    assert conv["delta_itd_us"] == "spatial cues 'm2m' (all mic pairs)"
    assert res["definitions"]["spatial_parameters"]["definition"] == "m2m"
    assert res["definitions"]["spatial_parameters"]["ild"]["eps"] == float(np.finfo(np.float32).eps)
    old = score(dataset, "tse", oracle="mixture", spatial=True, spatial_definition="exact-length")
    assert old["definitions"]["spatial_parameters"]["itd"]["fft_length"] == "exactly T_i + T_j"


def test_extra_estimates_are_refused_beyond_five_with_gaps_and_for_tse(dataset, tmp_path):
    ref, _ = _subset_predictions(dataset, tmp_path / "pred", np.random.default_rng(2))
    scene = tmp_path / "pred" / "test-000002"
    (scene / "5.wav").write_bytes((scene / "0.wav").read_bytes())  # a sixth estimate for 3 sources
    (tmp_path / "pred" / "test-000000" / "4.wav").write_bytes((scene / "0.wav").read_bytes())  # gap: no 3.wav
    with pytest.raises(SubmissionError) as err:
        score(dataset, "uss", predictions=tmp_path / "pred", spatial=False)
    text = "\n".join(err.value.problems)
    assert "test-000002/5.wav: unexpected entry" in text and "test-000000/4.wav: unexpected entry" in text
    with pytest.raises(SubmissionError) as err:
        score(dataset, "tse", predictions=tmp_path / "pred", spatial=False)
    assert "test-000000/2.wav: unexpected entry" in "\n".join(err.value.problems)


def _renamed_tracks(labels: DcaseLabels, offset: int) -> DcaseLabels:
    return DcaseLabels(labels.frame, labels.cls, labels.track + offset, labels.xyz, labels.distance)


def test_seld_deepasa_mode_through_score_and_cli(dataset, tmp_path, capsys):
    ref = load_reference(dataset)
    refs = [ref.labels(r) for r in ref.records]
    pred = tmp_path / "pred"
    pred.mkdir()
    for record, lab in zip(ref.records, refs):
        write_dcase_csv(pred / f"{record.id}.csv", _renamed_tracks(lab, 7))
    micro = score(dataset, "seld", predictions=pred, seld_mode="deepasa", average="micro")
    agg = {k: v["value"] for k, v in micro["aggregate"].items()}
    assert agg["er"] == 0.0 and agg["le"] == pytest.approx(0.0, abs=1e-6)  # CSV degrees round trip
    assert agg["f"] == pytest.approx(1.0, abs=1e-9) and agg["lr"] == pytest.approx(1.0, abs=1e-9)
    assert micro["definitions"]["seld_mode"] == "deepasa" and micro["definitions"]["block_frames"] is None
    assert micro["per_scene"][2]["alignment"] == [[t, t + 7] for t in sorted(set(refs[2].track.tolist()))]
    macro = score(dataset, "seld", predictions=pred, seld_mode="deepasa", average="macro")
    present = len(set(np.concatenate([r.cls for r in refs]).tolist()))
    assert macro["aggregate"]["f"]["value"] == pytest.approx(present / 13, abs=1e-7)  # absent classes: F 0 (1e-8 eps)
    out = tmp_path / "res.json"
    assert main(["score", "--task", "seld", "--reference", str(dataset), "--predictions", str(pred),
                 "--seld-mode", "deepasa", "--average", "micro", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["definitions"]["seld_mode"] == "deepasa" and res["definitions"]["average"] == "micro"
    assert res["aggregate"]["seld"]["value"] == pytest.approx(agg["seld"], abs=1e-12)


def test_cli_separation_options(dataset, tmp_path, capsys):
    out = tmp_path / "res.json"
    assert main(["score", "--task", "tse", "--reference", str(dataset), "--oracle", "mixture", "--out", str(out),
                 "--separation-convention", "deepasa", "--spatial-definition", "exact-length"]) == 0
    res = json.loads(out.read_text())
    assert res["definitions"]["separation_convention"] == "deepasa"
    assert res["definitions"]["spatial_parameters"]["definition"] == "exact-length"
    assert res["aggregate"]["snr_i_ref0"]["value"] == 0.0
    capsys.readouterr()
    with pytest.raises(SystemExit) as err:
        main(["score", "--task", "uss", "--reference", str(dataset), "--oracle", "mixture", "--out", str(out),
              "--separation-convention", "channel0"])
    assert err.value.code == 2
    assert "--separation-convention" in capsys.readouterr().err
