"""The ``deepasa`` SELD mode on hand-made scenes whose counts are worked out from the definition
(reference notes, section 2a), and against a literal implementation written here from it."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.metrics.seld import count_seld, evaluate_seld, seld_metrics
from asabench.benchmark.metrics.seld.deepasa import DEEPASA_EPS, UNDETECTED_ANGLE_DEG

C = 3  # classes in the vocabulary of these tests


def _labels(rows: list[tuple[int, int, int, float, float]]) -> DcaseLabels:
    """Rows ``(frame, class, track, azimuth, elevation)`` in degrees."""
    if not rows:
        return DcaseLabels.empty(with_distance=False)
    a = np.asarray(rows, np.float64)
    return DcaseLabels.from_polar(a[:, 0].astype(np.int64), a[:, 1].astype(np.int64), a[:, 2].astype(np.int64),
                                  a[:, 3], a[:, 4])


def _track(frames, cls: int, track: int, az: float = 30.0, el: float = 10.0):
    return [(f, cls, track, az, el) for f in frames]


def _eval(refs, preds, average="micro", n_frames=10):
    ev = evaluate_seld([_labels(r) for r in refs], [_labels(p) for p in preds], num_classes=C, mode="deepasa",
                       average=average, n_frames=n_frames)
    return ev


def _approx(v, rel=1e-6, abs_=1e-6):
    return pytest.approx(v, rel=rel, abs=abs_)


def test_perfect_prediction_with_other_track_id() -> None:
    ref = _track(range(10), 0, 0)
    ev = _eval([ref], [_track(range(10), 0, 7)])
    a = ev.aggregate
    assert (a["er"], a["f"], a["le"], a["lr"], a["seld"]) == (_approx(0), _approx(1), _approx(0), _approx(1), _approx(0))
    assert ev.counts.alignment == [[(0, 7)]]


def test_class_confusion_counts_twice() -> None:
    # Same slot, same direction, class 1 instead of 0 in all 10 frames: 10 FN (class 0) and
    # 10 FP (class 1) -> ER = 20 / 10 = 2; F = 0; LE = 0 (the DoA is right); LR = 0.
    ev = _eval([_track(range(10), 0, 0)], [_track(range(10), 1, 0)])
    t = ev.counts.total()
    assert t["fn"].tolist() == [10, 0, 0] and t["fp"].tolist() == [0, 10, 0] and t["err"].sum() == 20
    a = ev.aggregate
    assert a["er"] == _approx(2.0) and a["f"] == _approx(0.0) and a["le"] == _approx(0.0) and a["lr"] == _approx(0.0)
    assert a["seld"] == _approx((2 + 1 + 0 + 1) / 4)


def test_missed_frames() -> None:
    # Detected in frames 0-5, missed in 6-9: TP 6, FN 4. ER = 4/10; F = 2*6 / (2*6 + 0 + 4) = 0.75;
    # LE over the 10 reference-active frames: 6 x 0 deg + 4 x 90 deg (undetected) = 36 deg; LR = 0.6.
    ev = _eval([_track(range(10), 0, 0)], [_track(range(6), 0, 0)])
    a = ev.aggregate
    assert UNDETECTED_ANGLE_DEG == 90.0
    assert a["er"] == _approx(0.4) and a["f"] == _approx(0.75) and a["le"] == _approx(36.0) and a["lr"] == _approx(0.6)
    assert a["seld"] == _approx((0.4 + 0.25 + 36 / 180 + 0.4) / 4)
    macro = _eval([_track(range(10), 0, 0)], [_track(range(6), 0, 0)], average="macro").aggregate
    # class 0: p = 6/6, r = 6/10, F_0 = 0.75; LE_0 = 36; LR_0 = 0.6; classes 1, 2 absent: 0, 0, 0
    assert macro["f"] == _approx(0.75 / 3) and macro["le"] == _approx(12.0) and macro["lr"] == _approx(0.2)
    assert macro["er"] == _approx(0.4)


def test_spurious_track() -> None:
    # A second predicted slot (class 2, frames 0-4) has no reference: it is aligned to an empty
    # slot, 5 FP. ER = 5/10; F = 2*10 / (2*10 + 5 + 0) = 0.8; LE 0; LR 1.
    pred = _track(range(10), 0, 0) + _track(range(5), 2, 1, az=-120.0)
    ev = _eval([_track(range(10), 0, 3)], [pred])
    a = ev.aggregate
    assert a["er"] == _approx(0.5) and a["f"] == _approx(0.8) and a["le"] == _approx(0.0) and a["lr"] == _approx(1.0)
    assert ev.counts.alignment == [[(3, 0), (None, 1)]]


def test_wrong_direction_is_a_tp_but_not_a_tp20() -> None:
    # 30 deg off in every frame: TP 10, TP20 0, FP20 10 -> ER 1, F 0, LE 30, LR 1.
    ev = _eval([_track(range(10), 0, 0, az=0.0, el=0.0)], [_track(range(10), 0, 0, az=30.0, el=0.0)])
    a = ev.aggregate
    assert a["er"] == _approx(1.0) and a["f"] == _approx(0.0) and a["le"] == _approx(30.0) and a["lr"] == _approx(1.0)


def test_macro_class_absent_from_references() -> None:
    # Perfect on class 0; classes 1 and 2 appear nowhere: each gets F 0, LE 0, LR 0 in the
    # plain mean over all 3 classes. F = 1/3, LE = 0, LR = 1/3, SELD = (0 + 2/3 + 0 + 2/3) / 4.
    ev = _eval([_track(range(10), 0, 0)], [_track(range(10), 0, 0)], average="macro")
    a = ev.aggregate
    assert a["f"] == _approx(1 / 3) and a["le"] == _approx(0.0) and a["lr"] == _approx(1 / 3)
    assert a["seld"] == _approx((2 / 3 + 2 / 3) / 4)
    np.testing.assert_allclose(ev.per_class["f_class"], [1, 0, 0], atol=1e-6)
    # A class only predicted (class 2 spurious) is also in the mean with F 0: macro F stays 1/3.
    pred = _track(range(10), 0, 0) + _track(range(4), 2, 1)
    ev = _eval([_track(range(10), 0, 0)], [pred], average="macro")
    assert ev.aggregate["f"] == _approx(1 / 3) and ev.aggregate["er"] == _approx(0.4)


def test_alignment_minimises_the_error_count() -> None:
    # Reference tracks 0 (class 0) and 1 (class 1); predicted slots carry them swapped and
    # slot 5 also has a short spurious class-2 event: alignment 0 <- 9, 1 <- 5.
    refs = _track(range(10), 0, 0, az=0) + _track(range(10), 1, 1, az=90)
    preds = _track(range(10), 1, 5, az=90) + _track(range(3), 2, 5, az=90) + _track(range(10), 0, 9, az=0)
    ev = _eval([refs], [preds])
    assert ev.counts.alignment == [[(0, 9), (1, 5)]]
    assert ev.aggregate["er"] == _approx(3 / 20)


def test_rows_beyond_the_evaluated_length_are_dropped_and_counted() -> None:
    ev = _eval([_track(range(10), 0, 0)], [_track(range(12), 0, 0)])
    assert ev.counts.dropped_pred_rows.tolist() == [2]
    assert ev.aggregate["er"] == _approx(0.0)


def test_scene_without_reference_events_is_undefined_alone() -> None:
    ev = _eval([_track(range(10), 0, 0), []], [_track(range(10), 0, 0), _track(range(2), 1, 0)], n_frames=10)
    assert np.isnan(ev.per_scene["seld"][1]) and not np.isnan(ev.per_scene["seld"][0])
    # pooled: the empty scene's 2 FP count against the first scene's 10 reference elements
    assert ev.aggregate["er"] == _approx(0.2)


def test_deepasa_needs_n_frames() -> None:
    with pytest.raises(ValueError, match="n_frames"):
        count_seld([_labels([])], [_labels([])], num_classes=C, mode="deepasa")


# ----------------------------------------------------------------------------- independent implementation


def _literal(refs, preds, n_frames, average):
    """A literal restatement over [S, T, C] / [S, T, 3] arrays, permutations by brute force."""
    def grid(lab, tracks, t):
        sed = np.zeros((len(tracks), t, C))
        doa = np.zeros((len(tracks), t, 3))
        for f, c, k, xyz in zip(lab.frame, lab.cls, lab.track, lab.xyz):
            if f < t:
                sed[tracks.index(int(k)), f, c] = 1
                doa[tracks.index(int(k)), f] += xyz
        return sed, doa

    tot = {k: np.zeros(C) for k in ("tp", "fp", "fn", "tp20", "fp20", "err", "al", "nl")}
    ang_act = n_act = 0.0
    for ref, pred in zip(refs, preds):
        rt, pt = sorted(set(ref.track.tolist())), sorted(set(pred.track.tolist()))
        n = max(len(rt), len(pt), 1)
        lab, dl = grid(ref, rt, n_frames)
        out, do = grid(pred, pt, n_frames)
        lab = np.concatenate([lab, np.zeros((n - len(rt), n_frames, C))])
        dl = np.concatenate([dl, np.zeros((n - len(rt), n_frames, 3))])
        out = np.concatenate([out, np.zeros((n - len(pt), n_frames, C))])
        do = np.concatenate([do, np.zeros((n - len(pt), n_frames, 3))])

        def norm(v):
            m = np.linalg.norm(v, axis=-1, keepdims=True)
            return np.where(m > 0, v / np.where(m > 0, m, 1), 0)

        best = None
        for perm in permutations(range(n)):
            o, d = out[list(perm)], do[list(perm)]
            angle = np.degrees(np.arccos(np.clip(np.sum(norm(d) * norm(dl), -1), -1, 1)))
            tp = o * lab
            fp = o * (1 - lab)
            fn = (1 - o) * lab
            tp20 = tp * (angle <= 20)[..., None]
            fp20 = fp + tp - tp20
            err = np.maximum(fp20, fn)
            if best is None or err.sum() < best[0]:
                best = (err.sum(), tp, fp, fn, tp20, fp20, err, angle)
        _, tp, fp, fn, tp20, fp20, err, angle = best
        for k, v in (("tp", tp), ("fp", fp), ("fn", fn), ("tp20", tp20), ("fp20", fp20), ("err", err)):
            tot[k] += v.sum(axis=(0, 1))
        tot["al"] += np.einsum("st,stc->c", angle, lab)
        tot["nl"] += lab.sum(axis=(0, 1))
        active = lab.max(axis=-1)
        ang_act += float((angle * active).sum())
        n_act += float(active.sum())
    e = 1e-8
    TP, FP, FN, TP20 = (tot[k].sum() for k in ("tp", "fp", "fn", "tp20"))
    er = tot["err"].sum() / (TP + FN + e)
    if average == "micro":
        f = 2 * TP20 / (2 * TP + FP + FN + e)
        le = ang_act / (n_act + e)
        lr = TP / (TP + FN + e)
    else:
        p = tot["tp20"] / (tot["tp20"] + tot["fp20"] + e)
        r = tot["tp20"] / (tot["tp"] + tot["fn"] + e)
        f = np.mean(2 * p * r / (p + r + e))
        le = np.mean(tot["al"] / (tot["nl"] + e))
        lr = np.mean(tot["tp"] / (tot["tp"] + tot["fn"] + e))
    return {"er": er, "f": f, "le": le, "lr": lr, "seld": (er + 1 - f + le / 180 + 1 - lr) / 4}


def _random_scene(rng: np.random.Generator, n_frames: int):
    def rows(n_tracks, track_ids):
        out = []
        for k in track_ids[:n_tracks]:
            cls = int(rng.integers(C))
            az, el = rng.uniform(-180, 180), rng.uniform(-60, 60)
            start, stop = sorted(rng.integers(0, n_frames + 1, 2))
            for f in range(start, stop):
                c = cls if rng.random() > 0.1 else int(rng.integers(C))
                out.append((f, c, k, az + rng.normal(0, 15), el + rng.normal(0, 5)))
        return out

    ref = rows(int(rng.integers(1, 4)), [0, 1, 2, 3])
    pred = rows(int(rng.integers(0, 4)), [int(v) for v in rng.permutation(6)])
    return _labels(ref), _labels(pred)


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_against_literal_definition_on_random_scenes(average: str) -> None:
    rng = np.random.default_rng(11)
    scenes = [_random_scene(rng, 12) for _ in range(25)]
    refs, preds = [s[0] for s in scenes], [s[1] for s in scenes]
    ev = evaluate_seld(refs, preds, num_classes=C, mode="deepasa", average=average, n_frames=12)
    expected = _literal(refs, preds, 12, average)
    for k, v in expected.items():
        assert ev.aggregate[k] == pytest.approx(v, abs=1e-7), k
    # leave-one-out values equal re-scoring the other scenes
    loo = seld_metrics(ev.counts.leave_one_out(), mode="deepasa", average=average)
    again = _literal(refs[1:], preds[1:], 12, average)
    assert loo["seld"][0] == pytest.approx(again["seld"], abs=1e-7)
    assert DEEPASA_EPS == 1e-8
