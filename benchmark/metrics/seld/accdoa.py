"""Multi-ACCDOA decoding: network output vectors to DCASE event predictions.

Multi-ACCDOA (Shimada et al., ICASSP 2022) encodes, per frame, 3 tracks x (x, y, z) x C
classes (x, y, z, distance in the DCASE 2024 variant). A track of a class is active when its
vector is longer than 0.5; active tracks of the same class whose directions are closer than
15 degrees are unified into their mean, exactly as the DCASE 2022-2024 baselines do: with
one similar pair, the pair's mean plus the third track if active; with two or more similar
pairs, the mean of all three tracks. Everything is vectorised over frames and classes.

References
----------
K. Shimada et al., "Multi-ACCDOA: localizing and detecting overlapping sounds from the same
class with auxiliary duplicating permutation invariant training", ICASSP 2022; DCASE 2023
Task 3 baseline (``thresh_unify = 15``).
"""

from __future__ import annotations

import numpy as np

from asabench.benchmark.io.dcase_csv import DcaseLabels

#: A track is active when its ACCDOA vector norm exceeds this.
ACTIVITY_THRESHOLD: float = 0.5
#: Same-class active tracks closer than this (degrees) are merged.
UNIFY_THRESHOLD_DEG: float = 15.0
N_TRACKS: int = 3


def split_multi_accdoa(output: np.ndarray, num_classes: int, *,
                       with_distance: bool = False) -> np.ndarray:
    """Reshape a flat multi-ACCDOA output to ``[n_frames, 3, n_axes, C]``.

    Parameters
    ----------
    output : [n_frames, 3 * n_axes * C] in the baselines' track-major layout (index
        ``track * n_axes * C + axis * C + class``), or already ``[n_frames, 3, n_axes, C]``.
    num_classes : C.
    with_distance : ``n_axes`` is 4 (x, y, z, distance) instead of 3.
    """
    axes = 4 if with_distance else 3
    output = np.asarray(output, np.float64)
    if output.ndim == 4:
        if output.shape[1:] != (N_TRACKS, axes, num_classes):
            raise ValueError(f"expected [n_frames, {N_TRACKS}, {axes}, {num_classes}], "
                             f"got {list(output.shape)}")
        return output
    if output.ndim != 2 or output.shape[1] != N_TRACKS * axes * num_classes:
        raise ValueError(f"expected [n_frames, {N_TRACKS * axes * num_classes}] "
                         f"(3 tracks x {axes} x {num_classes} classes), got {list(output.shape)}")
    return output.reshape(len(output), N_TRACKS, axes, num_classes)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # a, b: [..., 3]; normalised as the baseline does (+1e-10 under the root).
    na = np.sqrt(np.sum(a * a, axis=-1) + 1e-10)
    nb = np.sqrt(np.sum(b * b, axis=-1) + 1e-10)
    cos = np.clip(np.sum(a * b, axis=-1) / (na * nb), -1.0, 1.0)
    return np.degrees(np.arccos(cos))


def decode_multi_accdoa(output: np.ndarray, num_classes: int, *, with_distance: bool = False,
                        activity_threshold: float = ACTIVITY_THRESHOLD,
                        unify_threshold_deg: float = UNIFY_THRESHOLD_DEG,
                        frame_offset: int = 0) -> DcaseLabels:
    """Decode multi-ACCDOA vectors of one scene into DCASE predictions.

    Parameters
    ----------
    output : network output, see :func:`split_multi_accdoa` (one row per label frame).
    num_classes : C.
    with_distance : the output carries a distance per track (DCASE 2024); it is averaged
        along with the direction when tracks merge.
    activity_threshold : vector norm above which a track is active (0.5).
    unify_threshold_deg : same-class tracks closer than this merge (15 deg).
    frame_offset : index of the first row's label frame.

    Returns
    -------
    DcaseLabels with one row per emitted event, ordered by frame, class, then emission
    order; ``track`` numbers the events of a class within a frame.
    """
    acc = split_multi_accdoa(output, num_classes, with_distance=with_distance)
    vec = np.moveaxis(acc[:, :, :3, :], 2, -1)            # [T, 3, C, 3]
    dist = acc[:, :, 3, :] if with_distance else None     # [T, 3, C]
    active = np.linalg.norm(vec, axis=-1) > activity_threshold   # [T, 3, C]
    pairs = ((0, 1), (1, 2), (2, 0))
    similar = np.stack([active[:, a] & active[:, b]
                        & (_angle_deg(vec[:, a], vec[:, b]) < unify_threshold_deg)
                        for a, b in pairs], axis=1)       # [T, 3 pairs, C]
    n_similar = similar.sum(axis=1)                       # [T, C]
    none, one, many = n_similar == 0, n_similar == 1, n_similar >= 2
    # Candidate events per frame and class, in the baseline's emission order:
    # track0, track1, track2, mean01, mean12, mean20, mean012.
    third = (2, 0, 1)  # the track left out by pair p
    emit_track = [active[:, k] & (none | (one & similar[:, [p for p in range(3) if third[p] == k][0]]))
                  for k in range(3)]
    emit = np.stack(emit_track + [one & similar[:, p] for p in range(3)] + [many], axis=1)  # [T, 7, C]
    cand_vec = np.concatenate([vec, np.stack([(vec[:, a] + vec[:, b]) / 2 for a, b in pairs], 1),
                               vec.mean(axis=1, keepdims=True)], axis=1)              # [T, 7, C, 3]
    if dist is not None:
        cand_dist = np.concatenate([dist, np.stack([(dist[:, a] + dist[:, b]) / 2 for a, b in pairs], 1),
                                    dist.mean(axis=1, keepdims=True)], axis=1)        # [T, 7, C]
    # Order rows by frame, class, candidate.
    t_idx, k_idx, c_idx = np.nonzero(emit)
    order = np.lexsort((k_idx, c_idx, t_idx))
    t_idx, k_idx, c_idx = t_idx[order], k_idx[order], c_idx[order]
    xyz = cand_vec[t_idx, k_idx, c_idx]
    group = t_idx * num_classes + c_idx
    first = np.r_[True, group[1:] != group[:-1]] if len(group) else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(group)), 0)) if len(group) else group
    track = np.arange(len(group)) - start
    return DcaseLabels.from_cartesian(t_idx + frame_offset, c_idx, track, xyz,
                                      cand_dist[t_idx, k_idx, c_idx] if dist is not None else None)
