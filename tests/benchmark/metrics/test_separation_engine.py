"""separation_family (one Gram matrix per channel) against the per-metric functions and the scene scorer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asabench.benchmark.metrics.guards import DB_CEIL, DB_FLOOR, GuardReport
from asabench.benchmark.metrics.permutation import pit
from asabench.benchmark.metrics.separation import (
    separation_family_reference,
    si_sdr,
    si_sdr_improvement,
    si_snr,
    si_snr_improvement,
    snr,
    snr_improvement,
)
from asabench.benchmark.metrics.separation_engine import separation_family

TOL_DB = 1e-9
IMPROVEMENTS = ("si_sdr_i", "sdr_i", "si_snr_i", "si_sdr_i_chmean", "sdr_i_chmean", "si_sdr_i_ref0", "sdr_i_ref0")


def _signals(seed: int, shape=(2, 4, 3, 2000)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """References with unequal channel gains, noisy leaky estimates and a noisy mixture."""
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal(shape) * rng.uniform(0.2, 2.0, shape[:-1] + (1,))
    mix = ref.sum(axis=-3) + 0.05 * rng.standard_normal(shape[:-3] + shape[-2:])
    est = ref + 0.2 * (mix[..., None, :, :] - ref) + 0.3 * rng.standard_normal(shape)
    return est, ref, mix


def _close(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, name: str) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=TOL_DB, err_msg=name)


def test_values_and_permutation_equal_the_scene_scorer() -> None:
    est, ref, mix = _signals(0)
    shuffle = np.array([2, 0, 3, 1])
    out = separation_family(est[:, shuffle], ref, mix, permute=True)
    assert all(v.dtype == torch.float64 for k, v in out.items() if k != "perm")
    assert out["si_sdr"].shape == (2, 4) and out["sdr_each"].shape == (2, 4, 3)
    for b in range(2):
        old = separation_family_reference(est[b, shuffle], ref[b], mix[b], permute=True, report=GuardReport())
        assert out["perm"][b].tolist() == old["perm"].tolist() == np.argsort(shuffle).tolist()
        for name in ("si_sdr", "sdr", "si_snr", *IMPROVEMENTS):
            _close(out[name][b], old[name], name)


def test_every_value_equals_the_per_metric_functions() -> None:
    est, ref, mix = _signals(1)
    out = separation_family(torch.from_numpy(est), torch.from_numpy(ref), torch.from_numpy(mix))
    assert "perm" not in out
    for name, fn in (("si_sdr", si_sdr), ("sdr", snr), ("si_snr", si_snr)):
        _close(out[name], fn(est, ref), name)
    _close(out["si_sdr_each"], si_sdr(est, ref, channels="each"), "si_sdr_each")
    _close(out["sdr_each"], snr(est, ref, channels="each"), "sdr_each")
    for name, fn in (("si_sdr_i", si_sdr_improvement), ("sdr_i", snr_improvement), ("si_snr_i", si_snr_improvement)):
        _close(out[name], fn(est, ref, mix), name)
    for key, fn in (("si_sdr", si_sdr_improvement), ("sdr", snr_improvement)):
        _close(out[f"{key}_i_chmean"], fn(est, ref, mix, channels="mean"), f"{key}_i_chmean")
        _close(out[f"{key}_i_ref0"], fn(est, ref, mix, channels=0), f"{key}_i_ref0")
    # Without a mixture only the metrics themselves (and the channel energies) come back.
    alone = separation_family(est, ref)
    assert set(alone) == {"si_sdr", "sdr", "si_snr", "si_sdr_each", "sdr_each", "energy_est", "energy_ref"}
    # the energies are the Gram diagonals: |x_c|² of estimates and references
    np.testing.assert_allclose(alone["energy_est"].numpy(), (est.astype(np.float64) ** 2).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(alone["energy_ref"].numpy(), (ref.astype(np.float64) ** 2).sum(-1), rtol=1e-12)


@pytest.mark.parametrize("n_src", [3, 6])  # 6 > exhaustive_max: the Hungarian path
def test_permutation_equals_pit_on_shuffled_estimates(n_src: int) -> None:
    est, ref, mix = _signals(2 + n_src, (3, n_src, 2, 1500))
    rng = np.random.default_rng(n_src)
    shuffles = np.stack([rng.permutation(n_src) for _ in range(3)])
    est = np.take_along_axis(est, shuffles[:, :, None, None], axis=1)
    out = separation_family(est, ref, mix, permute=True)
    expected = pit(si_sdr, est, ref).perm
    assert torch.equal(out["perm"], expected)
    assert out["perm"].tolist() == np.argsort(shuffles, axis=1).tolist()
    reordered = np.take_along_axis(est, expected.numpy()[:, :, None, None], axis=1)
    _close(out["si_sdr"], si_sdr(reordered, ref), "si_sdr")
    _close(out["sdr_each"], snr(reordered, ref, channels="each"), "sdr_each")
    _close(out["si_snr_i"], si_snr_improvement(reordered, ref, mix), "si_snr_i")


def test_leading_axes_broadcast_like_the_per_metric_functions() -> None:
    est, ref, mix = _signals(10, (2, 3, 2, 800))
    out = separation_family(est[0], ref, mix[:1], permute=True, exhaustive_max=1)  # Hungarian for J=3
    assert out["perm"].shape == (2, 3)
    for b in range(2):
        one = separation_family(est[0], ref[b], mix[0], permute=True)
        assert one["perm"].shape == (3,) and torch.equal(one["perm"], out["perm"][b])
        for name, value in one.items():
            _close(out[name][b], value, name)
    _close(out["sdr_i"], snr_improvement(np.take_along_axis(np.broadcast_to(est[0], ref.shape),
                                                            out["perm"].numpy()[..., None, None], 1), ref, mix[:1]),
           "sdr_i")


def test_float32_inputs_give_the_float64_result_of_their_values() -> None:
    est, ref, mix = (x.astype(np.float32) for x in _signals(3, (2, 3, 2, 1000)))
    f32 = separation_family(torch.from_numpy(est), torch.from_numpy(ref), torch.from_numpy(mix), permute=True)
    f64 = separation_family(est.astype(np.float64), ref.astype(np.float64), mix.astype(np.float64), permute=True)
    for name, value in f64.items():
        assert value.dtype == f32[name].dtype
        torch.testing.assert_close(f32[name], value, rtol=0, atol=0, msg=name)
    # And the float64 of float32 values is what si_sdr gives for the float32 arrays.
    _close(f32["si_sdr"], si_sdr(np.take_along_axis(est, f32["perm"].numpy()[..., None, None], 1), ref), "si_sdr")


@pytest.mark.parametrize("offset", [0.3, 1e2, 1e4])  # DC below and far above half the energy
def test_si_snr_is_exact_on_signals_with_a_dc_offset(offset: float) -> None:
    est, ref, mix = _signals(4, (2, 3, 2, 2000))
    est, ref, mix = est + offset, ref - 0.5 * offset, mix + 2.0 * offset
    out = separation_family(est, ref, mix)
    _close(out["si_snr"], si_snr(est, ref), "si_snr")
    _close(out["si_snr_i"], si_snr_improvement(est, ref, mix), "si_snr_i")
    if offset <= 1e2:
        # Without mean removal a 1e4 offset leaves SI-SDR ill-conditioned (~70 dB of DC
        # correlation): both implementations then round differently, by up to 1e-7 dB.
        _close(out["si_sdr"], si_sdr(est, ref), "si_sdr")
        _close(out["sdr_each"], snr(est, ref, channels="each"), "sdr_each")
    if offset > 1:  # the offset dominates every raw energy: SI-SNR and SI-SDR must differ
        assert (out["si_snr"] - out["si_sdr"]).abs().min() > 1.0


@pytest.mark.parametrize("task", ["tse", "uss"])
def test_guard_counts_equal_the_scene_scorer(task: str) -> None:
    est, ref, mix = _signals(5, (1, 4, 3, 1000))
    ref[0, 1] = 0.0  # silent reference
    est[0, 3] = ref[0, 3] * 2.0  # scale of its reference: SI-SDR clamps at the ceiling
    est[0, 2] = 0.0  # all-zero estimate
    shuffle = [1, 3, 0, 2] if task == "uss" else [0, 1, 2, 3]
    old_report, new_report = GuardReport(), GuardReport()
    old = separation_family_reference(est[0, shuffle], ref[0], mix[0], permute=task == "uss", report=old_report)
    out = separation_family(est[:, shuffle], ref, mix, permute=task == "uss", report=new_report)
    assert new_report.counts == old_report.counts
    for name in ("si_sdr", "sdr", "si_snr", *IMPROVEMENTS):
        np.testing.assert_array_equal(np.isnan(out[name][0].numpy()), np.isnan(old[name].numpy()), err_msg=name)
        _close(np.nan_to_num(out[name][0].numpy()), np.nan_to_num(old[name].numpy()), name)
    assert new_report.counts["silent_reference"] == 1 and new_report.counts["clamped_high"] == 1
    assert torch.isnan(out["si_sdr"][0, 1]) and torch.isnan(out["sdr_each"][0, 1]).all()
    assert float(out["si_sdr"][0, 3]) == DB_CEIL
    if task == "uss":
        # The all-zero estimate scores the floor against every reference, so the best
        # assignment gives it to the silent reference (worth 0 to everyone): no event.
        assert out["perm"][0].tolist() == old["perm"].tolist() == [2, 3, 0, 1]
        assert new_report.counts["zero_estimate"] == 0
    else:
        assert new_report.counts["zero_estimate"] == 1
        assert float(out["si_sdr"][0, 2]) == DB_FLOOR and (out["sdr_each"][0, 2] == DB_FLOOR).all()


@pytest.mark.parametrize("n_copies", [1, 3])  # one broadcast estimate, or the mixture copied per source
def test_mixture_as_estimate_improves_by_exactly_zero(n_copies: int) -> None:
    _, ref, mix = _signals(6, (2, 3, 4, 1000))
    ref[1, 2] = 0.0
    est = np.repeat(mix[:, None], n_copies, axis=1)
    out = separation_family(est, ref, mix, permute=True)
    for name in IMPROVEMENTS:
        value = out[name]
        assert torch.isnan(value[1, 2]), name  # silent reference stays undefined
        value = value.clone()
        value[1, 2] = 0.0
        assert (value == 0).all(), name
    assert out["perm"].tolist() == [[0, 1, 2]] * 2
    # The mixture's own scores are what the scene scorer gives for the mixture oracle.
    for b in range(2):
        old = separation_family_reference(mix[b][None], ref[b], mix[b], permute=True, report=GuardReport())
        for name in ("si_sdr", "sdr", "si_snr", *IMPROVEMENTS):
            np.testing.assert_array_equal(np.isnan(out[name][b].numpy()), np.isnan(old[name].numpy()), err_msg=name)
            _close(np.nan_to_num(out[name][b].numpy()), np.nan_to_num(old[name].numpy()), name)


def test_nonfinite_estimates_raise_or_floor_and_references_raise() -> None:
    est, ref, mix = _signals(7, (1, 2, 2, 500))
    est[0, 1, 0, 10] = np.nan
    with pytest.raises(ValueError, match="est: contains NaN"):
        separation_family(est, ref, mix)
    report, expected = GuardReport(), GuardReport()
    out = separation_family(est, ref, mix, nonfinite="floor", report=report)
    si_sdr(est, ref, nonfinite="floor", report=expected)
    assert report.counts == expected.counts and report.counts["nonfinite_estimate"] == 1
    assert float(out["si_sdr"][0, 1]) == DB_FLOOR and float(out["sdr_each"][0, 1, 0]) == DB_FLOOR
    _close(out["sdr_each"][0, 1, 1], snr(np.nan_to_num(est), ref, channels="each")[0, 1, 1], "sdr_each")
    _close(out["si_sdr"][0, 0], si_sdr(est[:, :1], ref[:, :1])[0, 0], "si_sdr")
    bad_mix = mix.copy()
    bad_mix[0, 1, 3] = np.inf
    with pytest.raises(ValueError, match="mix: contains NaN"):
        separation_family(ref, ref, bad_mix)
    ref[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="ref: contains NaN"):
        separation_family(est, ref, mix, nonfinite="floor")


def test_length_policy_trims_all_three_and_counts_like_si_sdr() -> None:
    est, ref, mix = _signals(8, (2, 3, 2, 600))
    with pytest.raises(ValueError, match=r"length mismatch: est.*\(2, 3, 2, 550\)"):
        separation_family(est[..., :550], ref, mix)
    with pytest.raises(ValueError, match=r"length mismatch: mix"):
        separation_family(est, ref, mix[..., :580])
    report, expected = GuardReport(), GuardReport()
    out = separation_family(est[..., :550], ref, mix[..., :580], length="trim", report=report)
    si_sdr(est[..., :550], ref, length="trim", report=expected)
    assert report.counts == expected.counts and report.counts["length_trimmed"] == 2 * 3 * 2
    short = separation_family(est[..., :550], ref[..., :550], mix[..., :550])
    for name, value in short.items():
        _close(out[name], value, name)


def test_shape_errors_name_the_argument() -> None:
    est, ref, mix = _signals(9, (2, 3, 2, 200))
    with pytest.raises(ValueError, match=r"est: 2 estimates"):
        separation_family(est[:, :2], ref, mix)
    with pytest.raises(ValueError, match=r"est: 1 channels"):
        separation_family(est[:, :, :1], ref, mix)
    with pytest.raises(ValueError, match=r"mix: 3 channels"):
        separation_family(est, ref, np.concatenate([mix, mix[:, :1]], axis=1))
    with pytest.raises(ValueError, match=r"ref: expected \[\.\.\., sources, channels, time\]"):
        separation_family(est, ref[0, 0])
    with pytest.raises(ValueError, match=r"mix: expected \[\.\.\., channels, time\]"):
        separation_family(est, ref, mix[0, 0])
    with pytest.raises(ValueError, match=r"shape mismatch: est \(3, 3, 2, 200\)"):
        separation_family(np.concatenate([est, est[:1]]), ref, mix)
    with pytest.raises(ValueError, match=r"shape mismatch: mix"):
        separation_family(est, ref, np.concatenate([mix, mix[:1]]))


def test_engine_is_the_one_reexported_at_the_old_places() -> None:
    from asabench.benchmark import metrics
    from asabench.benchmark.metrics import separation

    assert separation.separation_family is metrics.separation_family is separation_family
