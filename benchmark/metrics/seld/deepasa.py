"""The ``deepasa`` SELD mode: the frame-level, slot-wise metric of the DeepASA authors' evaluation code.

Reference notes, section 2a. It is not the DCASE metric: no one-second blocks, no
Hungarian matching of events. Per scene, every object slot ``s`` (a track of the DCASE
CSV: the reference's source index, the prediction's object slot), label frame ``t`` and
class ``c`` is one element:

* SED: ``out[s, t, c]``, ``lab[s, t, c]`` binary (a CSV row ``frame, class, track``);
  DoA ``[s, t, 3]``: the row's unit vector when active, 0 when not (several rows of one
  slot and frame: the sum of their unit vectors, i.e. their common direction when the
  network wrote one DoA per slot).
* ``angle[s, t]``: great-circle angle between the normalised DoA output and label. A
  zero vector normalises to zero, so an undetected, reference-active slot-frame has angle
  ``arccos(0)`` = :data:`UNDETECTED_ANGLE_DEG` (90 deg).
* ``TP = out·lab``, ``FP = out·(1 - lab)``, ``FN = (1 - out)·lab``;
  ``TP20 = TP·[angle <= 20]``, ``FP20 = FP + (TP - TP20)``.
* ``ER = Σ max(FP20, FN) / Σ (TP + FN)`` over all elements: a class confusion in a frame
  counts twice (one FP, one FN).
* micro: ``F = 2 ΣTP20 / (2 ΣTP + ΣFP + ΣFN)``; ``LE`` = mean angle over every
  reference-active slot-frame, detected or not; ``LR = ΣTP / (ΣTP + ΣFN)``.
* macro: per class ``p_c = TP20_c / (TP20_c + FP20_c)``, ``r_c = TP20_c / (TP_c + FN_c)``,
  ``F_c = 2 p_c r_c / (p_c + r_c)``, ``LE_c = Σ angle·lab_c / Σ lab_c``,
  ``LR_c = TP_c / (TP_c + FN_c)``; F, LE, LR are plain means over all C classes (a class
  absent from the references gets F 0, LE 0, LR 0); ER as above.
* ``SELD = (ER + (1 - F) + LE / 180 + (1 - LR)) / 4``; every ratio has
  :data:`DEEPASA_EPS` (1e-8) in its denominator.

Alignment: the predicted slots of a scene are aligned to its reference slots (both padded
with empty slots to the larger count) by the permutation that minimises the ER numerator
``Σ max(FP20, FN)`` of the scene; exhaustive (first minimum in ``itertools.permutations``
order) up to :data:`EXHAUSTIVE_MAX_SLOTS` slots, Hungarian method beyond. Counts are kept
per scene and class, so the aggregate pools every scene's elements and the leave-one-out
jackknife is a subtraction, as for the DCASE modes.

Deviation (documented in ``docs/seld-modes.md``): a set without any reference-active
element has undefined metrics (NaN, ``null`` in results files) where the authors' code
would divide its errors by 1e-8; per-scene values of such a scene are therefore ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from itertools import permutations
from typing import ClassVar, Sequence

import numpy as np

from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.metrics.seld.counting import angular_distance_deg
from asabench.benchmark.metrics.seld.modes import DOA_THRESHOLD_DEG

#: Angle given to a reference-active slot-frame without a predicted DoA (arccos of a zero dot product).
UNDETECTED_ANGLE_DEG: float = 90.0
#: The constant in every denominator of the authors' metric.
DEEPASA_EPS: float = 1e-8
#: Largest slot count aligned by exhaustive search (5! = 120 permutations); Hungarian beyond.
EXHAUSTIVE_MAX_SLOTS: int = 5


@dataclass
class DeepasaCounts:
    """Per-scene, per-class accumulators of the ``deepasa`` mode (``[S, C]`` unless stated).

    Attributes
    ----------
    tp, fp, fn, tp20, fp20 : element counts (slot-frames) of the definition.
    err : ``Σ max(FP20, FN)`` (the ER numerator) per class.
    angle_lab, n_lab : ``Σ angle·lab_c`` and ``Σ lab_c`` (macro LE).
    angle_active, n_active : [S] sum of angles over reference-active slot-frames and their number (micro LE).
    dropped_pred_rows : [S] predicted rows at or beyond the evaluated length.
    alignment : per scene, ``(reference track, predicted track)`` pairs of the chosen
        permutation (``None`` for an empty padding slot).
    """

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    tp20: np.ndarray
    fp20: np.ndarray
    err: np.ndarray
    angle_lab: np.ndarray
    n_lab: np.ndarray
    angle_active: np.ndarray
    n_active: np.ndarray
    dropped_pred_rows: np.ndarray
    alignment: list = field(default_factory=list)
    mode: str = "deepasa"

    _ARRAYS: ClassVar[tuple[str, ...]] = ("tp", "fp", "fn", "tp20", "fp20", "err", "angle_lab", "n_lab",
                                          "angle_active", "n_active")

    @property
    def num_scenes(self) -> int:
        return int(self.tp.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.tp.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """The accumulators by name (per-class ``[S, C]``, ``angle_active``/``n_active`` ``[S]``)."""
        return {k: getattr(self, k) for k in self._ARRAYS}

    def total(self) -> dict[str, np.ndarray]:
        return {k: v.sum(axis=0) for k, v in self.arrays().items()}

    def leave_one_out(self) -> dict[str, np.ndarray]:
        return {k: v.sum(axis=0, keepdims=True) - v for k, v in self.arrays().items()}

    def select(self, scenes: np.ndarray) -> "DeepasaCounts":
        idx = np.arange(self.num_scenes)[scenes]
        kw = {f.name: getattr(self, f.name)[idx] for f in fields(self)
              if f.name not in ("mode", "alignment")}
        return DeepasaCounts(**kw, alignment=[self.alignment[int(i)] for i in idx])


def _grid(labels: DcaseLabels, tracks: list[int], n_frames: int, num_classes: int
          ) -> tuple[np.ndarray, np.ndarray, int]:
    """``(sed [S, T, C] bool, doa [S, T, 3], dropped rows)`` of one scene's rows on the given track ids."""
    sed = np.zeros((len(tracks), n_frames, num_classes), bool)
    doa = np.zeros((len(tracks), n_frames, 3))
    keep = labels.frame < n_frames
    if labels.num_rows:
        slot = np.searchsorted(np.asarray(tracks, np.int64), labels.track[keep])
        f, c = labels.frame[keep], labels.cls[keep]
        sed[slot, f, c] = True
        np.add.at(doa, (slot, f), labels.xyz[keep])
    return sed, doa, int((~keep).sum())


def _angles(doa_out: np.ndarray, doa_lab: np.ndarray) -> np.ndarray:
    """``angle [P, R, T]`` between every predicted and reference slot's DoA (90 deg where either is zero)."""
    a, b = doa_out[:, None], doa_lab[None, :]
    ang = angular_distance_deg(a, b)
    zero = (np.linalg.norm(a, axis=-1) == 0) | (np.linalg.norm(b, axis=-1) == 0)
    return np.where(zero, UNDETECTED_ANGLE_DEG, ang)


def _best_alignment(cost: np.ndarray) -> np.ndarray:
    """Predicted slot for each reference slot minimising ``Σ cost[perm[r], r]`` (square ``cost [S, S]``)."""
    n = cost.shape[0]
    if n <= EXHAUSTIVE_MAX_SLOTS:
        cols = np.arange(n)
        perms = np.asarray(list(permutations(range(n))), np.int64)
        return perms[int(np.argmin(cost[perms, cols].sum(axis=-1)))]
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost.T)  # rows: reference slots
    out = np.empty(n, np.int64)
    out[rows] = cols
    return out


def count_seld_deepasa(refs: Sequence[DcaseLabels], preds: Sequence[DcaseLabels], *, num_classes: int,
                       n_frames: np.ndarray | int, doa_threshold_deg: float = DOA_THRESHOLD_DEG) -> DeepasaCounts:
    """Accumulate the ``deepasa`` counts per scene and class (module docstring).

    Parameters
    ----------
    refs, preds : labels of each scene; the ``track`` column is the object slot.
    num_classes : C.
    n_frames : [S] (or scalar) evaluated length in label frames (the file duration);
        rows at or beyond it are dropped (predictions: counted).
    doa_threshold_deg : the TP20 angle (20 deg).
    """
    if len(refs) != len(preds):
        raise ValueError(f"{len(refs)} reference scenes but {len(preds)} prediction scenes")
    n_scenes, C = len(refs), int(num_classes)
    n_frames = np.broadcast_to(np.asarray(n_frames, np.int64), (n_scenes,))
    if np.any(n_frames < 0):
        raise ValueError("n_frames must be >= 0")
    per_class = {k: np.zeros((n_scenes, C)) for k in ("tp", "fp", "fn", "tp20", "fp20", "err", "angle_lab", "n_lab")}
    angle_active, n_active = np.zeros(n_scenes), np.zeros(n_scenes)
    dropped = np.zeros(n_scenes, np.int64)
    alignment: list = []
    for s, (ref, pred) in enumerate(zip(refs, preds)):
        for lab in (ref, pred):
            if lab.num_rows and (np.any(lab.cls < 0) or np.any(lab.cls >= C)):
                raise ValueError(f"class id outside 0..{C - 1}")
            if lab.num_rows and (np.any(lab.frame < 0) or np.any(lab.track < 0)):
                raise ValueError("negative frame or track index")
        t = int(n_frames[s])
        r_ids = sorted({int(v) for v in ref.track})
        p_ids = sorted({int(v) for v in pred.track})
        n_slots = max(len(r_ids), len(p_ids), 1)
        lab, doa_lab, _ = _grid(ref, r_ids, t, C)
        out, doa_out, dropped[s] = _grid(pred, p_ids, t, C)
        lab = np.concatenate([lab, np.zeros((n_slots - len(r_ids), t, C), bool)])
        out = np.concatenate([out, np.zeros((n_slots - len(p_ids), t, C), bool)])
        doa_lab = np.concatenate([doa_lab, np.zeros((n_slots - len(r_ids), t, 3))])
        doa_out = np.concatenate([doa_out, np.zeros((n_slots - len(p_ids), t, 3))])
        angle = _angles(doa_out, doa_lab)  # [P, R, T]
        o, l_ = out[:, None], lab[None, :]  # [P, 1, T, C], [1, R, T, C]
        tp = o & l_
        fp = o & ~l_
        fn = ~o & l_
        tp20 = tp & (angle <= doa_threshold_deg)[..., None]
        fp20 = fp.astype(np.int64) + tp.astype(np.int64) - tp20.astype(np.int64)
        err = np.maximum(fp20, fn)
        perm = _best_alignment(err.sum(axis=(-2, -1)))  # cost [P, R]
        r_idx = np.arange(n_slots)
        pick = (perm, r_idx)
        for name, v in (("tp", tp), ("fp", fp), ("fn", fn), ("tp20", tp20), ("fp20", fp20), ("err", err)):
            per_class[name][s] = v[pick].sum(axis=(0, 1))
        ang = angle[pick]  # [R, T]
        per_class["angle_lab"][s] = np.einsum("rt,rtc->c", ang, lab)
        per_class["n_lab"][s] = lab.sum(axis=(0, 1))
        active = lab.any(axis=-1)
        angle_active[s] = float((ang * active).sum())
        n_active[s] = float(active.sum())
        alignment.append([(r_ids[r] if r < len(r_ids) else None, p_ids[p] if p < len(p_ids) else None)
                          for r, p in zip(r_idx.tolist(), perm.tolist())
                          if r < len(r_ids) or p < len(p_ids)])
    return DeepasaCounts(**per_class, angle_active=angle_active, n_active=n_active, dropped_pred_rows=dropped,
                         alignment=alignment)


def deepasa_metrics(counts: dict[str, np.ndarray], *, average: str = "macro") -> dict[str, np.ndarray]:
    """ER, F, LE, LR, SELD of the ``deepasa`` mode from summed counts, vectorised over leading axes.

    ``counts`` as :meth:`DeepasaCounts.total` / ``leave_one_out`` / ``arrays``. Returns
    ``er, f, le, lr, seld`` ``[...]`` and, in macro, ``f_class, le_class, lr_class`` ``[..., C]``.
    Where no element is reference-active the metrics are NaN (module docstring).
    """
    if average not in ("macro", "micro"):
        raise ValueError(f"average must be 'macro' or 'micro', got {average!r}")
    c = {k: np.asarray(v, np.float64) for k, v in counts.items()}
    e = DEEPASA_EPS
    tp, fp, fn, tp20, fp20 = (c[k].sum(axis=-1) for k in ("tp", "fp", "fn", "tp20", "fp20"))
    er = c["err"].sum(axis=-1) / (tp + fn + e)
    out: dict[str, np.ndarray] = {}
    if average == "micro":
        f = 2 * tp20 / (2 * tp + fp + fn + e)
        le = c["angle_active"] / (c["n_active"] + e)
        lr = tp / (tp + fn + e)
    else:
        p_c = c["tp20"] / (c["tp20"] + c["fp20"] + e)
        r_c = c["tp20"] / (c["tp"] + c["fn"] + e)
        f_c = 2 * p_c * r_c / (p_c + r_c + e)
        le_c = c["angle_lab"] / (c["n_lab"] + e)
        lr_c = c["tp"] / (c["tp"] + c["fn"] + e)
        out.update(f_class=f_c, le_class=le_c, lr_class=lr_c)
        f, le, lr = f_c.mean(axis=-1), le_c.mean(axis=-1), lr_c.mean(axis=-1)
    undefined = (tp + fn) == 0
    er, f, le, lr = (np.where(undefined, np.nan, v) for v in (er, f, le, lr))
    out.update(er=er, f=f, le=le, lr=lr, seld=(er + (1 - f) + le / 180.0 + (1 - lr)) / 4.0)
    return out
