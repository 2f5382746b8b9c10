"""SELD counting: per-scene, per-class accumulators of the DCASE modes (:mod:`~asabench.benchmark.metrics.seld.modes`).

Block-level counting (2022/2023 modes), per one-second block of 10 frames and class ``c``:
``nb_gt`` / ``nb_pred`` = the most reference / predicted events of ``c`` in one frame of
the block; in each frame where both have ``c``, a Hungarian association on angle; matched
angles are grouped by the reference entry's position in its frame's list and averaged over
the block; a group with mean angle <= 20 deg is a TP, else an FP_spatial, and every group
adds one DE_TP and its mean angle to the localisation error. Extra predicted tracks are FP,
missing ones FN. Per block ``S += min(FP, FN)``, ``D += max(0, FN - FP)``,
``I += max(0, FP - FN)`` over the block's summed loc_FP (FP + FP_spatial) and loc_FN.
ER_20 = (S + D + I) / N_ref, F_20 = TP / (TP + FP_spatial + (FP + FN) / 2),
LE_CD = total_DE / DE_TP, LR_CD = DE_TP / (DE_TP + DE_FN),
SELD = mean(ER, 1 - F, LE / 180, 1 - LR).

All counting is vectorised over every frame of every scene at once (NumPy grouping); only
frames holding several events of one class on both sides call
:func:`scipy.optimize.linear_sum_assignment`. Counts are kept per scene and class, so the
leave-one-scene-out jackknife is a subtraction.


The loop restatement the tests compare against is :mod:`~asabench.benchmark.metrics.seld.reference`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.metrics.seld.modes import (BLOCK_FRAMES, DOA_THRESHOLD_DEG, REL_DIST_THRESHOLD, SELD_MODES,
                                                   _EPS, SeldMode)


def angular_distance_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle angle in degrees between direction vectors ``a, b: [..., 3]``.

    ``atan2(|a x b|, a . b)`` is accurate at 0 and 180 degrees, where ``arccos`` of the dot
    product loses half the digits; inputs need not be unit length.
    """
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.sum(a * b, axis=-1)
    return np.degrees(np.arctan2(cross, dot))


@dataclass
class SeldCounts:
    """Per-scene, per-class SELD accumulators; every array is ``[n_scenes, n_classes]`` except S/D/I.

    Attributes
    ----------
    mode : counting mode that produced them.
    tp, fp, fn : true / false positives and false negatives (block tracks or frame events).
    fp_spatial : matched tracks (2022/2023) or pairs (2024) beyond the angle (and, in 2024,
        relative-distance) threshold.
    n_ref, n_pred : reference / predicted tracks (block-level) or events (frame-level).
    de_tp, de_fn, de_fp : class-aware localisation counts (matched, missed, spurious).
    total_de : sum of matched angles (degrees).
    total_dist_err, total_rel_dist_err : sums of matched distance errors (2024; file unit).
    s, d, i : [n_scenes] substitutions, deletions, insertions (per block; per frame in 2024).
    dropped_pred_rows : [n_scenes] predicted rows outside the evaluated length.
    """

    mode: str
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    fp_spatial: np.ndarray
    n_ref: np.ndarray
    n_pred: np.ndarray
    de_tp: np.ndarray
    de_fn: np.ndarray
    de_fp: np.ndarray
    total_de: np.ndarray
    total_dist_err: np.ndarray
    total_rel_dist_err: np.ndarray
    s: np.ndarray
    d: np.ndarray
    i: np.ndarray
    dropped_pred_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    _PER_CLASS: ClassVar[tuple[str, ...]] = ("tp", "fp", "fn", "fp_spatial", "n_ref", "n_pred", "de_tp", "de_fn", "de_fp",
                  "total_de", "total_dist_err", "total_rel_dist_err")
    _PER_SCENE: ClassVar[tuple[str, ...]] = ("s", "d", "i")

    @property
    def num_scenes(self) -> int:
        return int(self.tp.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.tp.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """The accumulators by name (per-class ones ``[S, C]``, ``s/d/i`` ``[S]``)."""
        return {name: getattr(self, name) for name in self._PER_CLASS + self._PER_SCENE}

    def total(self) -> dict[str, np.ndarray]:
        """Accumulators summed over scenes (``[C]`` and scalars)."""
        return {k: v.sum(axis=0) for k, v in self.arrays().items()}

    def leave_one_out(self) -> dict[str, np.ndarray]:
        """Accumulators of the set without scene ``j`` for every ``j`` (``[S, C]`` / ``[S]``)."""
        return {k: v.sum(axis=0, keepdims=True) - v for k, v in self.arrays().items()}

    def select(self, scenes: np.ndarray) -> "SeldCounts":
        """Counts of the given scene indices (or boolean mask)."""
        kw = {f.name: getattr(self, f.name)[scenes] for f in fields(self)
              if f.name not in ("mode",) and not f.name.startswith("_")}
        return SeldCounts(mode=self.mode, **kw)


# ----------------------------------------------------------------------------- grouping


@dataclass
class _Rows:
    """Rows of many scenes sorted by (scene, frame, class), with their frame-class groups."""

    scene: np.ndarray     # [N]
    frame: np.ndarray     # [N]
    cls: np.ndarray       # [N]
    xyz: np.ndarray       # [N, 3]
    dist: np.ndarray      # [N] (nan without distance)
    key: np.ndarray       # [N] group key of (scene, frame, class)
    gkey: np.ndarray      # [G] unique group keys
    gstart: np.ndarray    # [G] first row of each group
    gsize: np.ndarray     # [G] rows per group


def _concat(labels: Sequence[DcaseLabels], n_eval: np.ndarray, n_frames_max: int,
            num_classes: int) -> tuple[_Rows, np.ndarray]:
    sizes = np.asarray([lab.num_rows for lab in labels], np.int64)
    scene = np.repeat(np.arange(len(labels), dtype=np.int64), sizes)
    if sizes.sum():
        frame = np.concatenate([lab.frame for lab in labels]).astype(np.int64)
        cls = np.concatenate([lab.cls for lab in labels]).astype(np.int64)
        xyz = np.concatenate([lab.xyz for lab in labels]).astype(np.float64)
        dist = np.concatenate([lab.distance if lab.distance is not None
                               else np.full(lab.num_rows, np.nan) for lab in labels])
    else:
        frame = cls = np.zeros(0, np.int64)
        xyz, dist = np.zeros((0, 3)), np.zeros(0)
    if np.any((cls < 0) | (cls >= num_classes)):
        bad = int(cls[(cls < 0) | (cls >= num_classes)][0])
        raise ValueError(f"class id {bad} outside 0..{num_classes - 1}")
    if np.any(frame < 0):
        raise ValueError("negative frame index")
    keep = frame < n_eval[scene]
    dropped = np.bincount(scene[~keep], minlength=len(labels)).astype(np.int64)
    scene, frame, cls, xyz, dist = scene[keep], frame[keep], cls[keep], xyz[keep], dist[keep]
    key = (scene * (n_frames_max + 1) + frame) * num_classes + cls
    # A stable sort keeps each frame's rows in file order: the official code identifies a
    # reference track by its position in the frame's list.
    order = np.argsort(key, kind="stable")
    scene, frame, cls, xyz, dist, key = (scene[order], frame[order], cls[order], xyz[order],
                                         dist[order], key[order])
    gkey, gstart, gsize = np.unique(key, return_index=True, return_counts=True)
    return _Rows(scene, frame, cls, xyz, dist, key, gkey, gstart, gsize), dropped


def _associate(ref: _Rows, pred: _Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hungarian association on angle within every frame-class group present on both sides.

    Returns
    -------
    ref_row, pred_row : [K] matched row indices into ``ref`` / ``pred``.
    ref_pos : [K] position of the matched reference row within its frame's list.
    angle : [K] great-circle angle in degrees.
    """
    common, gi_r, gi_p = np.intersect1d(ref.gkey, pred.gkey, assume_unique=True,
                                        return_indices=True)
    if len(common) == 0:
        z = np.zeros(0, np.int64)
        return z, z, z, np.zeros(0)
    ng, npd = ref.gsize[gi_r], pred.gsize[gi_p]
    rs, ps = ref.gstart[gi_r], pred.gstart[gi_p]
    m = ng * npd
    grp = np.repeat(np.arange(len(common)), m)
    offs = np.concatenate([[0], np.cumsum(m)[:-1]])
    local = np.arange(m.sum()) - offs[grp]
    gi = local // npd[grp]
    pj = local % npd[grp]
    r_row = rs[grp] + gi
    p_row = ps[grp] + pj
    angle = angular_distance_deg(ref.xyz[r_row], pred.xyz[p_row])

    # One side with a single event: the assignment is the closest pair (first on ties).
    single = (ng == 1) | (npd == 1)
    sel_pair = np.isin(grp, np.flatnonzero(single))
    order = np.lexsort((np.arange(len(angle)), angle, grp))
    order = order[sel_pair[order]]
    first = np.ones(len(order), bool)
    first[1:] = grp[order][1:] != grp[order][:-1]
    chosen = [order[first]]
    # Several events on both sides: a proper Hungarian assignment per frame.
    for g in np.flatnonzero(~single):
        cost = angle[offs[g]:offs[g] + m[g]].reshape(ng[g], npd[g])
        rows, cols = linear_sum_assignment(cost)
        chosen.append(offs[g] + rows * npd[g] + cols)
    pick = np.concatenate(chosen)
    return r_row[pick], p_row[pick], gi[pick], angle[pick]


def _n_eval_frames(refs: Sequence[DcaseLabels], n_frames: np.ndarray | None, mode: str,
                   block_frames: int) -> np.ndarray:
    if mode == "dcase2023":
        # Official: max frame index of the reference file, then ceil(max / block) blocks.
        last = np.asarray([int(r.frame.max()) if r.num_rows else 0 for r in refs], np.int64)
        return -(-last // block_frames) * block_frames
    if n_frames is None:
        raise ValueError(f"mode {mode!r} needs n_frames (the file duration in label frames)")
    n_frames = np.broadcast_to(np.asarray(n_frames, np.int64), (len(refs),)).copy()
    if np.any(n_frames < 0):
        raise ValueError("n_frames must be >= 0")
    return n_frames


def count_seld(refs: Sequence[DcaseLabels], preds: Sequence[DcaseLabels], *,
               num_classes: int, mode: SeldMode = "default",
               n_frames: np.ndarray | int | None = None,
               doa_threshold_deg: float = DOA_THRESHOLD_DEG,
               rel_dist_threshold: float = REL_DIST_THRESHOLD,
               block_frames: int = BLOCK_FRAMES) -> SeldCounts:
    """Accumulate SELD counts per scene and class.

    Parameters
    ----------
    refs, preds : reference and predicted labels of each scene (same length S).
    num_classes : number of classes C.
    mode : ``"default"``, ``"dcase2023"``, ``"dcase2024"`` (module docstring) or
        ``"deepasa"`` (then the result is a
        :class:`~asabench.benchmark.metrics.seld.deepasa.DeepasaCounts`).
    n_frames : [S] (or scalar) evaluated length in label frames from the file duration;
        required by ``"default"`` and ``"dcase2024"``, ignored by ``"dcase2023"``.
    doa_threshold_deg : angular threshold (20 deg in DCASE).
    rel_dist_threshold : relative distance threshold of ``"dcase2024"`` (1.0).
    block_frames : frames per block of the 2022/2023 modes (10).

    Returns
    -------
    SeldCounts with ``[S, C]`` accumulators.
    """
    if mode not in SELD_MODES:
        raise ValueError(f"unknown SELD mode {mode!r}; expected one of {SELD_MODES}")
    if mode == "deepasa":
        from asabench.benchmark.metrics.seld.deepasa import count_seld_deepasa

        if n_frames is None:
            raise ValueError("mode 'deepasa' needs n_frames (the file duration in label frames)")
        return count_seld_deepasa(refs, preds, num_classes=num_classes, n_frames=n_frames,  # type: ignore[return-value]
                                  doa_threshold_deg=doa_threshold_deg)
    if len(refs) != len(preds):
        raise ValueError(f"{len(refs)} reference scenes but {len(preds)} prediction scenes")
    n_scenes, C = len(refs), int(num_classes)
    n_eval = _n_eval_frames(refs, n_frames, mode, block_frames)
    fmax = int(n_eval.max()) if n_scenes else 0
    ref, _ = _concat(refs, n_eval, fmax, C)
    pred, dropped = _concat(preds, n_eval, fmax, C)
    if mode == "dcase2024":
        if np.any(np.isnan(ref.dist)) or np.any(np.isnan(pred.dist)):
            raise ValueError("mode 'dcase2024' needs a distance column in reference and prediction")
        counts = _count_frames_2024(ref, pred, n_scenes, C, fmax, doa_threshold_deg, rel_dist_threshold)
    else:
        counts = _count_blocks(ref, pred, n_scenes, C, mode, fmax, doa_threshold_deg, block_frames)
    counts.dropped_pred_rows = dropped
    return counts


def _sc_bincount(scene: np.ndarray, cls: np.ndarray, weights: np.ndarray, S: int, C: int) -> np.ndarray:
    return np.bincount(scene * C + cls, weights=weights, minlength=S * C).reshape(S, C)


def _count_blocks(ref: _Rows, pred: _Rows, S: int, C: int, mode: str, fmax: int,
                  threshold: float, block_frames: int) -> SeldCounts:
    n_blocks = fmax // block_frames + 1

    def block_key(rows: _Rows) -> tuple[np.ndarray, np.ndarray]:
        # Per frame-class group: key of its (scene, block, class) and its event count.
        first = rows.gstart
        bk = (rows.scene[first] * n_blocks + rows.frame[first] // block_frames) * C + rows.cls[first]
        return bk, rows.gsize

    bk_r, n_r = block_key(ref)
    bk_p, n_p = block_key(pred)
    keys = np.unique(np.concatenate([bk_r, bk_p]))
    K = len(keys)
    nb_gt = np.zeros(K, np.int64)
    nb_pred = np.zeros(K, np.int64)
    np.maximum.at(nb_gt, np.searchsorted(keys, bk_r), n_r)
    np.maximum.at(nb_pred, np.searchsorted(keys, bk_p), n_p)

    r_row, p_row, r_pos, angle = _associate(ref, pred)
    # Matched angles grouped into tracks = (scene, block, class, position in frame list).
    pair_bk = (ref.scene[r_row] * n_blocks + ref.frame[r_row] // block_frames) * C + ref.cls[r_row]
    max_pos = int(r_pos.max()) + 1 if len(r_pos) else 1
    track_key = pair_bk * max_pos + r_pos
    tkeys, tinv = np.unique(track_key, return_inverse=True)
    t_mean = np.bincount(tinv, weights=angle) / np.bincount(tinv)
    t_block = np.searchsorted(keys, tkeys // max_pos)
    n_tracks = np.bincount(t_block, minlength=K)
    n_tp = np.bincount(t_block, weights=(t_mean <= threshold).astype(np.float64), minlength=K)
    n_fps = n_tracks - n_tp
    sum_de = np.bincount(t_block, weights=t_mean, minlength=K)

    has_g, has_p = nb_gt > 0, nb_pred > 0
    matched = has_g & has_p & (n_tracks > 0)
    disjoint = has_g & has_p & (n_tracks == 0)
    gt_only, pred_only = has_g & ~has_p, has_p & ~has_g
    fn = (np.where(matched, np.maximum(0, nb_gt - nb_pred), 0) + np.where(gt_only, nb_gt, 0)
          + np.where(disjoint, nb_pred if mode == "dcase2023" else nb_gt, 0))
    fp = np.where(matched, np.maximum(0, nb_pred - nb_gt), 0) + np.where(pred_only, nb_pred, 0)
    if mode != "dcase2023":
        fp = fp + np.where(disjoint, nb_pred, 0)
    loc_fp = fp + n_fps
    loc_fn = fn

    k_scene = keys // C // n_blocks
    k_cls = keys % C
    block_id = keys // C  # (scene, block)
    ub, binv = np.unique(block_id, return_inverse=True)
    b_fp = np.bincount(binv, weights=loc_fp, minlength=len(ub))
    b_fn = np.bincount(binv, weights=loc_fn, minlength=len(ub))
    b_scene = ub // n_blocks
    s = np.bincount(b_scene, weights=np.minimum(b_fp, b_fn), minlength=S)
    d = np.bincount(b_scene, weights=np.maximum(0, b_fn - b_fp), minlength=S)
    i = np.bincount(b_scene, weights=np.maximum(0, b_fp - b_fn), minlength=S)

    def acc(values: np.ndarray) -> np.ndarray:
        return _sc_bincount(k_scene, k_cls, values.astype(np.float64), S, C)

    zero = np.zeros((S, C))
    return SeldCounts(mode=mode, tp=acc(n_tp), fp=acc(fp), fn=acc(fn), fp_spatial=acc(n_fps),
                      n_ref=acc(nb_gt), n_pred=acc(nb_pred), de_tp=acc(n_tracks),
                      de_fn=acc(fn), de_fp=acc(fp), total_de=acc(sum_de),
                      total_dist_err=zero, total_rel_dist_err=zero.copy(), s=s, d=d, i=i)


def _count_frames_2024(ref: _Rows, pred: _Rows, S: int, C: int, fmax: int,
                       ang_threshold: float, rel_threshold: float) -> SeldCounts:
    keys = np.unique(np.concatenate([ref.gkey, pred.gkey]))
    K = len(keys)
    R = np.zeros(K)
    P = np.zeros(K)
    R[np.searchsorted(keys, ref.gkey)] = ref.gsize
    P[np.searchsorted(keys, pred.gkey)] = pred.gsize
    r_row, p_row, _, angle = _associate(ref, pred)
    dist_err = np.abs(pred.dist[p_row] - ref.dist[r_row])
    rel_err = dist_err / (ref.dist[r_row] + _EPS)
    wrong = ((angle > ang_threshold) | (rel_err > rel_threshold)).astype(np.float64)
    pk = np.searchsorted(keys, ref.key[r_row])
    n_match = np.bincount(pk, minlength=K).astype(np.float64)
    n_wrong = np.bincount(pk, weights=wrong, minlength=K)
    tp = n_match - n_wrong
    fp = np.maximum(0, P - R)
    fn = np.maximum(0, R - P)
    # Frame-class key layout from _concat: ((scene * (fmax + 1) + frame) * C + class).
    k_cls = keys % C
    frame_id = keys // C
    k_scene = frame_id // (fmax + 1)
    uf, finv = np.unique(frame_id, return_inverse=True)
    f_fp = np.bincount(finv, weights=fp + n_wrong, minlength=len(uf))
    f_fn = np.bincount(finv, weights=fn, minlength=len(uf))
    f_scene = uf // (fmax + 1)

    def acc(values: np.ndarray) -> np.ndarray:
        return _sc_bincount(k_scene, k_cls, values, S, C)

    return SeldCounts(mode="dcase2024", tp=acc(tp), fp=acc(fp), fn=acc(fn),
                      fp_spatial=acc(n_wrong), n_ref=acc(R), n_pred=acc(P), de_tp=acc(n_match),
                      de_fn=acc(fn), de_fp=acc(fp),
                      total_de=acc(np.bincount(pk, weights=angle, minlength=K)),
                      total_dist_err=acc(np.bincount(pk, weights=dist_err, minlength=K)),
                      total_rel_dist_err=acc(np.bincount(pk, weights=rel_err, minlength=K)),
                      s=np.bincount(f_scene, weights=np.minimum(f_fp, f_fn), minlength=S),
                      d=np.bincount(f_scene, weights=np.maximum(0, f_fn - f_fp), minlength=S),
                      i=np.bincount(f_scene, weights=np.maximum(0, f_fp - f_fn), minlength=S))
