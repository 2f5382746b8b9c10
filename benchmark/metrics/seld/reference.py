"""Per-block, per-frame, per-class loop implementation of the SELD counting, for checking only.

A literal, unvectorised restatement of the DCASE 2022/2023 (block-level) and DCASE 2024
(frame-level) evaluation algorithms as described in :mod:`~asabench.benchmark.metrics.seld.modes`:
dictionaries of frames, one Hungarian assignment per frame and class, Python loops over
blocks and classes. It serves as the test oracle of the vectorised
:func:`~asabench.benchmark.metrics.seld.counting.count_seld` and as the "official algorithm" timing
in ``benchmark/perf/seld.py``. Use :func:`count_seld` for real work.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.metrics.seld.counting import SeldCounts, angular_distance_deg
from asabench.benchmark.metrics.seld.modes import BLOCK_FRAMES, DOA_THRESHOLD_DEG, REL_DIST_THRESHOLD


def _frames(labels: DcaseLabels, n_eval: int) -> dict[int, dict[int, list[tuple[np.ndarray, float]]]]:
    # frame -> class -> list of (unit vector, distance) in file order
    out: dict[int, dict[int, list[tuple[np.ndarray, float]]]] = {}
    dist = labels.distance if labels.distance is not None else np.full(labels.num_rows, np.nan)
    for r in range(labels.num_rows):
        f = int(labels.frame[r])
        if f >= n_eval:
            continue
        out.setdefault(f, {}).setdefault(int(labels.cls[r]), []).append((labels.xyz[r], float(dist[r])))
    return out


def _assign(gt: list[tuple[np.ndarray, float]], pr: list[tuple[np.ndarray, float]]):
    cost = np.zeros((len(gt), len(pr)))
    for a, (g, _) in enumerate(gt):
        for b, (p, _) in enumerate(pr):
            cost[a, b] = angular_distance_deg(g, p)
    rows, cols = linear_sum_assignment(cost)
    return rows, cols, cost[rows, cols]


def count_seld_loop(refs: Sequence[DcaseLabels], preds: Sequence[DcaseLabels], *, num_classes: int,
                    mode: str = "dcase2023", n_frames: Sequence[int] | None = None,
                    doa_threshold_deg: float = DOA_THRESHOLD_DEG,
                    rel_dist_threshold: float = REL_DIST_THRESHOLD,
                    block_frames: int = BLOCK_FRAMES) -> SeldCounts:
    """Loop version of :func:`~asabench.benchmark.metrics.seld.counting.count_seld` (same arguments)."""
    S, C = len(refs), num_classes
    names = ("tp", "fp", "fn", "fp_spatial", "n_ref", "n_pred", "de_tp", "de_fn", "de_fp",
             "total_de", "total_dist_err", "total_rel_dist_err")
    acc = {k: np.zeros((S, C)) for k in names}
    sdi = {k: np.zeros(S) for k in "sdi"}
    dropped = np.zeros(S, np.int64)
    for s in range(S):
        if mode == "dcase2023":
            last = int(refs[s].frame.max()) if refs[s].num_rows else 0
            n_eval = math.ceil(last / block_frames) * block_frames
        else:
            assert n_frames is not None
            n_eval = int(n_frames[s])
        dropped[s] = int(np.sum(preds[s].frame >= n_eval))
        gt, pr = _frames(refs[s], n_eval), _frames(preds[s], n_eval)
        if mode == "dcase2024":
            _frames_2024(gt, pr, n_eval, s, C, acc, sdi, doa_threshold_deg, rel_dist_threshold)
            continue
        n_blocks = math.ceil(n_eval / block_frames)
        for b in range(n_blocks):
            block = range(b * block_frames, min((b + 1) * block_frames, n_eval))
            loc_fp = loc_fn = 0
            for c in range(C):
                g_frames = [f for f in block if c in gt.get(f, {})]
                p_frames = [f for f in block if c in pr.get(f, {})]
                nb_gt = max((len(gt[f][c]) for f in g_frames), default=0)
                nb_pr = max((len(pr[f][c]) for f in p_frames), default=0)
                acc["n_ref"][s, c] += nb_gt
                acc["n_pred"][s, c] += nb_pr
                if g_frames and p_frames:
                    tracks: dict[int, list[float]] = {}
                    for f in g_frames:
                        if f not in p_frames:
                            continue
                        rows, _, dists = _assign(gt[f][c], pr[f][c])
                        for r, dval in zip(rows, dists):
                            tracks.setdefault(int(r), []).append(float(dval))
                    if not tracks:
                        if mode == "dcase2023":
                            fn_add, fp_add = nb_pr, 0
                        else:
                            fn_add, fp_add = nb_gt, nb_pr
                        loc_fn += fn_add
                        loc_fp += fp_add
                        for k in ("fn", "de_fn"):
                            acc[k][s, c] += fn_add
                        for k in ("fp", "de_fp"):
                            acc[k][s, c] += fp_add
                        continue
                    for dlist in tracks.values():
                        mean = sum(dlist) / len(dlist)
                        acc["total_de"][s, c] += mean
                        acc["de_tp"][s, c] += 1
                        if mean <= doa_threshold_deg:
                            acc["tp"][s, c] += 1
                        else:
                            loc_fp += 1
                            acc["fp_spatial"][s, c] += 1
                    if nb_pr > nb_gt:
                        loc_fp += nb_pr - nb_gt
                        acc["fp"][s, c] += nb_pr - nb_gt
                        acc["de_fp"][s, c] += nb_pr - nb_gt
                    elif nb_pr < nb_gt:
                        loc_fn += nb_gt - nb_pr
                        acc["fn"][s, c] += nb_gt - nb_pr
                        acc["de_fn"][s, c] += nb_gt - nb_pr
                elif g_frames:
                    loc_fn += nb_gt
                    acc["fn"][s, c] += nb_gt
                    acc["de_fn"][s, c] += nb_gt
                elif p_frames:
                    loc_fp += nb_pr
                    acc["fp"][s, c] += nb_pr
                    acc["de_fp"][s, c] += nb_pr
            sdi["s"][s] += min(loc_fp, loc_fn)
            sdi["d"][s] += max(0, loc_fn - loc_fp)
            sdi["i"][s] += max(0, loc_fp - loc_fn)
    return SeldCounts(mode=mode, **acc, **sdi, dropped_pred_rows=dropped)


def _frames_2024(gt, pr, n_eval, s, C, acc, sdi, ang_t, rel_t) -> None:
    eps = float(np.finfo(np.float64).eps)
    for f in range(n_eval):
        loc_fp = loc_fn = 0
        for c in range(C):
            g = gt.get(f, {}).get(c, [])
            p = pr.get(f, {}).get(c, [])
            R, P = len(g), len(p)
            acc["n_ref"][s, c] += R
            acc["n_pred"][s, c] += P
            if R and P:
                rows, cols, angles = _assign(g, p)
                d_err = np.array([abs(p[j][1] - g[i][1]) for i, j in zip(rows, cols)])
                rel = d_err / (np.array([g[i][1] for i in rows]) + eps)
                wrong = int(np.sum((angles > ang_t) | (rel > rel_t)))
                K = len(rows)
                acc["tp"][s, c] += K - wrong
                acc["fp_spatial"][s, c] += wrong
                acc["fp"][s, c] += max(0, P - R)
                acc["de_fp"][s, c] += max(0, P - R)
                acc["fn"][s, c] += max(0, R - P)
                acc["de_fn"][s, c] += max(0, R - P)
                acc["de_tp"][s, c] += K
                acc["total_de"][s, c] += angles.sum()
                acc["total_dist_err"][s, c] += d_err.sum()
                acc["total_rel_dist_err"][s, c] += rel.sum()
                loc_fp += max(0, P - R) + wrong
                loc_fn += max(0, R - P)
            elif R:
                acc["fn"][s, c] += R
                acc["de_fn"][s, c] += R
                loc_fn += R
            elif P:
                acc["fp"][s, c] += P
                acc["de_fp"][s, c] += P
                loc_fp += P
        sdi["s"][s] += min(loc_fp, loc_fn)
        sdi["d"][s] += max(0, loc_fn - loc_fp)
        sdi["i"][s] += max(0, loc_fp - loc_fn)
