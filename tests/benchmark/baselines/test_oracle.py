"""The mixture line and the oracle masks: hand-worked masks, exact 0 dB, end-to-end evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from asabench.benchmark.baselines import BaselineError
from asabench.benchmark.baselines.oracle import (
    MixturePredictor,
    OracleMaskPredictor,
    ideal_mask,
    oracle_mask_estimates,
)
from asabench.benchmark.baselines.spectral import stft_spec
from asabench.benchmark.evaluate import evaluate
from asabench.benchmark.predict import write_predictions


def test_masks_by_hand():
    # |S| = 3, |I| = 4: IRM = sqrt(9 / 25) = 0.6, IBM = 0; |S| = 4, |I| = 3: 0.8 and 1;
    # |S| = |I| = 1 (0 dB, not above the criterion): IRM sqrt(1/2), IBM 0; silence: 0 and 0
    S = torch.tensor([3.0, 4j, 1.0, 0.0], dtype=torch.complex128)
    I = torch.tensor([-4j, 3.0, 1j, 0.0], dtype=torch.complex128)
    np.testing.assert_allclose(ideal_mask(S, I, "irm").numpy(), [0.6, 0.8, np.sqrt(0.5), 0.0], atol=1e-15)
    np.testing.assert_array_equal(ideal_mask(S, I, "ibm").numpy(), [0.0, 1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="irm, ibm"):
        ideal_mask(S, I, "wiener")


def test_two_tones_at_bin_centres_are_separated_by_the_masks():
    # two channels, two sources: tones at STFT bin centres (bins 20 and 60 of n_fft 256 at
    # 8 kHz); each mask keeps its own tone (IBM: exactly, away from the edges; IRM: the
    # other tone's leakage is < -60 dB at 40 bins of a Hann window)
    fs, n = 8000, 8000
    spec = stft_spec(fs)
    t = np.arange(n) / fs
    a = np.stack([np.sin(2 * np.pi * 20 * fs / spec.n_fft * t), 0.5 * np.sin(2 * np.pi * 20 * fs / spec.n_fft * t)])
    b = np.stack([0.3 * np.cos(2 * np.pi * 60 * fs / spec.n_fft * t), np.cos(2 * np.pi * 60 * fs / spec.n_fft * t)])
    mix = torch.tensor(a + b)[None]
    targets = torch.tensor(np.stack([a, b]))[None]
    core = slice(spec.n_fft, n - spec.n_fft)
    for kind in ("irm", "ibm"):
        est = oracle_mask_estimates(mix, targets, fs, kind).double()[0]
        for k, ref in enumerate((a, b)):
            err = est[k, :, core].numpy() - ref[:, core]
            assert 10 * np.log10(np.sum(ref[:, core] ** 2) / np.sum(err**2)) > 40.0


def test_mixture_baseline_shapes():
    p = MixturePredictor(3)
    x = torch.randn(2, 4, 100)
    assert p.separate(x).shape == (2, 3, 4, 100) and torch.equal(p.separate(x)[:, 2], x)
    assert torch.equal(p.extract(x, torch.zeros(2, 2)), x)
    assert [lab.num_rows for lab in p.detect(x)] == [0, 0]


def test_oracle_refuses_calls_without_references():
    p = OracleMaskPredictor("irm", 8000)
    with pytest.raises(BaselineError, match="bind_references"):
        p.separate(torch.zeros(1, 4, 10))
    with pytest.raises(BaselineError, match="direct"):
        p.bind_references({"mixture": torch.zeros(1, 4, 10)})


class _Recorder(OracleMaskPredictor):
    """The IRM oracle that also records what the harness bound (to check the hook)."""

    def __init__(self, fs):
        super().__init__("irm", fs)
        self.bound = []

    def bind_references(self, batch, sources=None):
        super().bind_references(batch, sources)
        self.bound.append((list(batch["id"]), None if sources is None else list(sources)))


def test_write_predictions_binds_references_per_batch_and_clue(demo_dataset, tmp_path):
    from asabench.simulate.dataset.loader import SceneDataset

    p = _Recorder(8000)
    write_predictions(p, demo_dataset, tmp_path / "pred", ["uss", "tse"], batch_size=2, max_objects=3)
    counts = [int(SceneDataset(demo_dataset, "test", targets=False)[i]["num_sources"]) for i in range(4)]
    per_batch = [p.bound[i] for i in range(len(p.bound)) if p.bound[i][1] is None]
    assert [ids for ids, _ in per_batch] == [["test-000000", "test-000001"], ["test-000002", "test-000003"]]
    clue_calls = [src for _, src in p.bound if src is not None]
    expected = [(b, k) for half in (0, 2) for b in range(2) for k in range(counts[half + b])]
    assert [pair for call in clue_calls for pair in call] == expected
    assert all(len(call) <= 2 for call in clue_calls)       # TSE: batch_size clues per call


@pytest.fixture(scope="module")
def tse_rows(demo_dataset, tmp_path_factory):
    """evaluate --suite demo-tse for the mixture, the two oracles, das and mvdr (main scores)."""
    root = tmp_path_factory.mktemp("tse-rows")
    out = {}
    for name in ("mixture", "oracle-irm", "oracle-ibm", "das", "mvdr", "mvdr-90"):
        model, _, off = name.partition("-9")
        config = {"azimuth_offset_deg": 90.0} if off else None
        ev = evaluate("demo-tse", demo_dataset, root / name, model=model if off else name, config=config)
        out[name] = json.loads((ev.out / "results" / "tse.json").read_text())
    return out


@pytest.mark.slow
def test_demo_tse_rows(tse_rows):
    main = {k: r["aggregate"]["si_sdr_i"]["value"] for k, r in tse_rows.items()}
    assert main["mixture"] == 0.0                         # by definition: the mixture is the estimate
    assert tse_rows["mixture"]["aggregate"]["sdr_i"]["value"] == 0.0
    assert tse_rows["mixture"]["aggregate"]["si_snr_i"]["value"] == 0.0
    assert tse_rows["oracle-irm"]["system"]["oracle"] is True and tse_rows["mvdr"]["system"]["oracle"] is False
    assert main["oracle-irm"] > 10.0 and main["oracle-ibm"] > 10.0
    for name in ("das", "mvdr"):                          # the oracles bound the beamformers
        assert main[name] < min(main["oracle-irm"], main["oracle-ibm"])
    assert main["mvdr-90"] < main["mvdr"] - 1.0           # steering 90 degrees off is worse


@pytest.mark.slow
def test_demo_multitask_mixture_and_oracle(demo_dataset, tmp_path):
    rows = {}
    for name in ("mixture", "oracle-irm"):
        ev = evaluate("demo-multitask", demo_dataset, tmp_path / name, model=name)
        rows[name] = {e: json.loads((ev.out / "results" / f"{e}.json").read_text())
                      for e in ("uss", "uss-pooled", "seld", "seld-dcase")}
    # the DeepASA convention removes the mean first: 0 up to rounding
    assert abs(rows["mixture"]["uss"]["aggregate"]["si_snr_i_ref0"]["value"]) < 1e-9
    assert rows["mixture"]["uss-pooled"]["aggregate"]["si_sdr_i"]["value"] == 0.0
    assert rows["oracle-irm"]["uss-pooled"]["aggregate"]["si_sdr_i"]["value"] > 10.0
    # SELD: the oracle returns the reference labels, scored as the scorer's own
    # oracle="targets" (DeepASA macro mode: classes absent from 4 scenes count as F = 0, so
    # not 0); the DCASE mode is perfect. The mixture detects nothing: the worst row.
    from asabench.benchmark.scoring import score

    for entry, mode in (("seld", "deepasa"), ("seld-dcase", "default")):
        targets = score(demo_dataset, "seld", oracle="targets", split="test", seld_mode=mode, average="macro")
        oracle = rows["oracle-irm"][entry]["aggregate"]
        for metric in ("seld", "er", "f", "le", "lr"):
            # (the loader's float32 directions: equal up to 1e-6)
            assert oracle[metric]["value"] == pytest.approx(targets["aggregate"][metric]["value"], abs=1e-6)
        assert rows["mixture"][entry]["aggregate"]["seld"]["value"] > oracle["seld"]["value"] + 0.2
    assert rows["oracle-irm"]["seld-dcase"]["aggregate"]["seld"]["value"] == pytest.approx(0.0, abs=1e-6)
