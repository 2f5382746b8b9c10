"""SELD counting and scores on hand-computed cases, in the corrected and the DCASE 2023 modes."""

import math

import numpy as np
import pytest

from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.metrics.seld import (angular_distance_deg, count_seld, evaluate_seld,
                                             jackknife, seld_metrics, seld_score,
                                             seld_score_2024)
from asabench.benchmark.metrics.seld.reference import count_seld_loop

C = 3  # classes in the toy cases; 1 and 2 are absent unless a case uses them


def events(*tracks, distance=None):
    """Labels from (class, azimuth_deg, frames) tuples; track k = tuple position."""
    fr, cl, tr, az, di = [], [], [], [], []
    for k, (c, a, frames, *d) in enumerate(tracks):
        for f in frames:
            fr.append(f), cl.append(c), tr.append(k), az.append(a)
            di.append(d[0] if d else 100.0)
    order = np.argsort(fr, kind="stable")  # DCASE files list rows frame by frame
    pick = lambda v: np.asarray(v)[order] if len(v) else np.zeros(0)
    return DcaseLabels.from_polar(pick(fr).astype(int), pick(cl).astype(int), pick(tr).astype(int),
                                  pick(az), np.zeros(len(fr)),
                                  pick(di) if distance or distance is None else None)


def counts_of(ref, pred, mode, n_frames=20, num_classes=C):
    c = count_seld([ref], [pred], num_classes=num_classes, mode=mode, n_frames=n_frames)
    loop = count_seld_loop([ref], [pred], num_classes=num_classes, mode=mode, n_frames=[n_frames])
    for name, value in c.arrays().items():  # the vectorised counts equal the loop port
        np.testing.assert_allclose(value, loop.arrays()[name], atol=1e-12, err_msg=name)
    return c


def class0(c, name):
    return float(getattr(c, name)[0, 0])


BOTH = ["default", "dcase2023"]


@pytest.mark.parametrize("mode", BOTH)
def test_perfect(mode):
    ref = events((0, 30.0, range(10)))
    c = counts_of(ref, ref, mode)
    assert (class0(c, "tp"), class0(c, "fp"), class0(c, "fn"), class0(c, "n_ref")) == (1, 0, 0, 1)
    assert class0(c, "total_de") == 0.0 and c.s.sum() + c.d.sum() + c.i.sum() == 0
    m = seld_metrics(c.total(), mode=mode)
    if mode == "default":  # absent classes 1, 2 are not averaged
        assert (m["er"], m["f"], m["le"], m["lr"], m["seld"]) == (0.0, 1.0, 0.0, 1.0, 0.0)
    else:  # absent classes count F = 0, LE = 180, LR = 0 in the macro average
        assert m["f"] == pytest.approx(1 / 3) and m["le"] == pytest.approx(120.0)
        assert m["lr"] == pytest.approx(1 / 3)
        assert m["seld"] == pytest.approx((0 + 2 / 3 + 120 / 180 + 2 / 3) / 4)


@pytest.mark.parametrize("mode", BOTH)
def test_thirty_degrees_off(mode):
    c = counts_of(events((0, 30.0, range(10))), events((0, 60.0, range(10))), mode)
    assert (class0(c, "tp"), class0(c, "fp_spatial"), class0(c, "de_tp")) == (0, 1, 1)
    assert class0(c, "total_de") == pytest.approx(30.0, abs=1e-12)
    assert (c.s[0], c.d[0], c.i[0]) == (0, 0, 1)  # a mislocated track is an insertion
    m = seld_metrics(c.total(), mode=mode)
    assert m["er"] == pytest.approx(1.0) and m["le_class"][0] == pytest.approx(30.0)
    assert m["f_class"][0] == 0.0 and m["lr_class"][0] == pytest.approx(1.0)
    if mode == "dcase2023":  # docs/seld-modes.md table: absent classes pull LE to 130
        assert (m["le"], m["lr"]) == (pytest.approx(130.0), pytest.approx(1 / 3))
    else:
        assert (m["f"], m["le"], m["lr"]) == (0.0, pytest.approx(30.0), 1.0)


@pytest.mark.parametrize("mode", BOTH)
def test_missed(mode):
    c = counts_of(events((0, 30.0, range(10))), DcaseLabels.empty(), mode)
    assert (class0(c, "fn"), class0(c, "de_fn"), class0(c, "tp"), c.d[0]) == (1, 1, 0, 1)
    m = seld_metrics(c.total(), mode=mode)
    assert m["er"] == pytest.approx(1.0) and m["le_class"][0] == 180.0 and m["lr_class"][0] == 0.0


@pytest.mark.parametrize("mode", BOTH)
def test_spurious(mode):
    ref = events((0, 30.0, range(10)))
    pred = events((0, 30.0, range(10)), (1, -45.0, range(5)))
    c = counts_of(ref, pred, mode)
    assert (float(c.fp[0, 1]), float(c.de_fp[0, 1]), float(c.n_ref[0, 1])) == (1, 1, 0)
    assert (c.s[0], c.d[0], c.i[0]) == (0, 0, 1)
    m = seld_metrics(c.total(), mode=mode)
    assert m["er"] == pytest.approx(1.0)
    if mode == "default":  # classes 0 and 1 averaged
        assert (m["f"], m["le"], m["lr"]) == (0.5, 90.0, 0.5)
        assert m["classes_averaged"].tolist() == [True, True, False]
    else:
        assert m["f"] == pytest.approx(1 / 3) and m["le"] == pytest.approx(120.0)


@pytest.mark.parametrize("mode", BOTH)
def test_same_class_polyphony(mode):
    ref = events((0, 0.0, range(10)), (0, 90.0, range(10)))
    pred = events((0, 5.0, range(10)), (0, 95.0, range(10)), (0, -90.0, range(5)))
    c = counts_of(ref, pred, mode)
    assert (class0(c, "tp"), class0(c, "fp"), class0(c, "fn"), class0(c, "n_ref")) == (2, 1, 0, 2)
    assert class0(c, "total_de") == pytest.approx(10.0)
    m = seld_metrics(c.total(), mode=mode)
    assert m["er"] == pytest.approx(0.5)  # one insertion over two reference tracks
    assert m["f_class"][0] == pytest.approx(2 / 2.5)
    assert m["le_class"][0] == pytest.approx(5.0) and m["lr_class"][0] == pytest.approx(1.0)


def test_disjoint_frames_differ_between_modes():
    ref = events((0, 30.0, range(0, 5)))
    pred = events((0, 30.0, range(5, 10)), (0, 80.0, range(5, 10)))  # nb_pred = 2, nb_gt = 1
    compat = counts_of(ref, pred, "dcase2023")
    fixed = counts_of(ref, pred, "default")
    # Official: FN += nb_pred (2), no FP.  Corrected: FN += nb_gt (1), FP += nb_pred (2).
    assert (class0(compat, "fn"), class0(compat, "fp"), compat.d[0], compat.i[0]) == (2, 0, 2, 0)
    assert (class0(fixed, "fn"), class0(fixed, "fp"), fixed.s[0], fixed.i[0]) == (1, 2, 1, 1)
    assert class0(compat, "de_fn") == 2 and class0(fixed, "de_fn") == 1
    assert seld_metrics(compat.total(), mode="dcase2023")["lr_class"][0] == pytest.approx(0.0)


def test_evaluated_length():
    ref = events((0, 30.0, range(10)))
    pred = events((0, 30.0, range(10)), (1, 10.0, range(12, 16)))
    compat = counts_of(ref, pred, "dcase2023")
    fixed = counts_of(ref, pred, "default", n_frames=20)
    # Official length: ceil(9 / 10) = 1 block, so the late false positive is never seen.
    assert compat.i[0] == 0 and compat.dropped_pred_rows[0] == 4 and compat.fp.sum() == 0
    assert fixed.i[0] == 1 and fixed.dropped_pred_rows[0] == 0 and fixed.fp[0, 1] == 1
    # Last reference frame 10 -> ceil(10 / 10) = 1 block: frame 10 itself is dropped.
    ref11 = events((0, 30.0, range(11)))
    assert counts_of(ref11, ref11, "dcase2023").n_ref.sum() == 1
    assert counts_of(ref11, ref11, "default", n_frames=20).n_ref.sum() == 2
    # Rows at or beyond the file duration are dropped and counted in the corrected mode.
    assert counts_of(ref, pred, "default", n_frames=14).dropped_pred_rows[0] == 2


def test_micro_vs_macro():
    ref = events((0, 0.0, range(10)), (0, 90.0, range(10)), (1, 40.0, range(10)))
    pred = events((0, 5.0, range(10)), (0, 95.0, range(10)), (0, -90.0, range(5)))
    c = counts_of(ref, pred, "default")
    macro = seld_metrics(c.total(), mode="default", average="macro")
    micro = seld_metrics(c.total(), mode="default", average="micro")
    assert macro["er"] == micro["er"] == pytest.approx(1 / 3)  # S = 1 over N_ref = 3
    assert macro["f"] == pytest.approx((0.8 + 0) / 2) and micro["f"] == pytest.approx(2 / 3)
    assert macro["le"] == pytest.approx((5 + 180) / 2) and micro["le"] == pytest.approx(5.0)
    assert macro["lr"] == pytest.approx(0.5) and micro["lr"] == pytest.approx(2 / 3)


def test_dcase2024_frame_level_counts():
    ref = events((0, 0.0, range(4), 100.0))
    fr = [0, 1, 2, 4]
    pred = DcaseLabels.from_polar(np.array(fr), np.zeros(4, int), np.zeros(4, int),
                                  np.array([0.0, 0.0, 30.0, 0.0]), np.zeros(4),
                                  np.array([100.0, 250.0, 100.0, 100.0]))
    c = counts_of(ref, pred, "dcase2024", n_frames=10, num_classes=1)
    # frame 0 TP; frame 1 rel. distance error 1.5 and frame 2 at 30 deg: FP_spatial;
    # frame 3 missed: FN; frame 4 spurious: FP.
    assert (class0(c, "tp"), class0(c, "fp_spatial"), class0(c, "fn"), class0(c, "fp")) == (1, 2, 1, 1)
    assert (c.s[0], c.d[0], c.i[0]) == (0, 1, 3)
    m = seld_metrics(c.total(), mode="dcase2024")
    assert m["f"] == pytest.approx(1 / (1 + 2 + 0.5 * 2))
    assert m["doae"] == pytest.approx(10.0) and m["rde"] == pytest.approx(0.5)
    assert m["er"] == pytest.approx(1.0) and m["lr"] == pytest.approx(0.75)
    assert m["seld"] == pytest.approx((0.75 + 10 / 180 + 0.5) / 3)
    assert float(seld_score_2024(0.5, np.nan, 0.25)) == pytest.approx(0.375)


def test_paper_seld_arithmetic():
    # DeepASA on ASA2: ER .288, F .702, LE 18.5, LR .769 -> SELD 0.230.
    value = float(seld_score(0.288, 0.702, 18.5, 0.769))
    assert value == pytest.approx((0.288 + 0.298 + 18.5 / 180 + 0.231) / 4, abs=1e-15)
    assert round(value, 3) == 0.230


def test_jackknife_against_hand_computation():
    # Scenes: one missed event (ER 1/1), one perfect, one perfect with two events.
    a = events((0, 0.0, range(10)))
    b = events((0, 0.0, range(10)))
    cc = events((0, 0.0, range(10)), (0, 90.0, range(10)))
    ev = evaluate_seld([a, b, cc], [DcaseLabels.empty(), b, cc], num_classes=1,
                       mode="default", average="micro", n_frames=10)
    assert ev.aggregate["er"] == pytest.approx(1 / 4)
    np.testing.assert_allclose(ev.per_scene["er"], [1.0, 0.0, 0.0])
    jk = ev.intervals["er"]
    # Leave-one-out ERs 0, 1/3, 1/2; mean 5/18; bias 2 (5/18 - 1/4) = 1/18.
    se = math.sqrt(2 / 3 * ((5 / 18) ** 2 + (1 / 18) ** 2 + (4 / 18) ** 2))
    t = 0.95 * math.sqrt(2 / (4 * 0.975 * 0.025))  # Student t quantile, 2 dof, closed form
    assert jk.bias == pytest.approx(1 / 18) and jk.estimate == pytest.approx(7 / 36)
    assert jk.std_err == pytest.approx(se)
    assert (jk.ci_low, jk.ci_high) == (pytest.approx(7 / 36 - t * se), pytest.approx(7 / 36 + t * se))
    direct = jackknife(0.25, np.array([0.0, 1 / 3, 0.5]))
    assert direct.ci_high == pytest.approx(jk.ci_high)


@pytest.mark.parametrize("mode", ["default", "dcase2023", "dcase2024"])
def test_vectorised_equals_loop_on_random_scenes(mode):
    rng = np.random.default_rng(7)
    refs, preds = [], []
    for _ in range(60):
        n = int(rng.integers(0, 60))
        ref = DcaseLabels.from_polar(rng.integers(0, 30, n), rng.integers(0, 2, n), np.zeros(n, int),
                                     rng.uniform(-180, 180, n), rng.uniform(-60, 60, n),
                                     rng.uniform(50, 300, n))
        keep = rng.random(n) < 0.8
        xyz = ref.xyz[keep] + rng.normal(0, 0.3, (keep.sum(), 3))
        pred = DcaseLabels.from_cartesian(np.clip(ref.frame[keep] + rng.integers(-1, 3, keep.sum()), 0, 35),
                                          ref.cls[keep], ref.track[keep], xyz,
                                          ref.distance[keep] * rng.uniform(0.2, 3, keep.sum()))
        refs.append(ref)
        preds.append(pred)
    fast = count_seld(refs, preds, num_classes=2, mode=mode, n_frames=30)
    slow = count_seld_loop(refs, preds, num_classes=2, mode=mode, n_frames=[30] * 60)
    for name, value in fast.arrays().items():
        np.testing.assert_allclose(value, slow.arrays()[name], atol=1e-9, err_msg=name)
    assert fast.tp.sum() > 0 and fast.fn.sum() > 0 and fast.fp.sum() > 0  # the cases occur


def test_angular_distance_exact_at_zero_and_pi():
    a = np.array([[1.0, 0, 0], [0, 0, 1.0], [1.0, 0, 0]])
    b = np.array([[1.0, 0, 0], [0, 0, -2.0], [0, 3.0, 0]])
    np.testing.assert_array_equal(angular_distance_deg(a, b), [0.0, 180.0, 90.0])


@pytest.mark.parametrize("mode", BOTH)
def test_tracks_are_identified_by_position_in_the_frame_list(mode):
    # Official grouping: a reference "track" is the row's position among the frame's rows of
    # its class, not its track id. Source B (listed first from frame 5 on) is 30 deg off.
    rows = [(f, 0, 0, 0.0) for f in range(5)] + [r for f in range(5, 10)
                                                  for r in ((f, 0, 1, 90.0), (f, 0, 0, 0.0))]
    fr, cl, tr, az = (np.array(v) for v in zip(*rows))
    ref = DcaseLabels.from_polar(fr, cl, tr, az, np.zeros(len(fr)))
    pred = DcaseLabels.from_polar(fr, cl, tr, np.where(tr == 1, 120.0, 0.0), np.zeros(len(fr)))
    c = counts_of(ref, pred, mode)
    # position 0: A in frames 0-4 (0 deg), B in 5-9 (30 deg) -> mean 15 -> TP;
    # position 1: A in frames 5-9 -> 0 -> TP.  By track id, B would be an FP_spatial.
    assert (class0(c, "tp"), class0(c, "fp_spatial"), class0(c, "de_tp")) == (2, 0, 2)
    assert class0(c, "total_de") == pytest.approx(15.0)
