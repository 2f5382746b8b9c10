"""Scene labels: per-frame activity of each source and its direction and distance.

Activity follows the published ASA2 rule: per label frame (100 ms), on the reverberant image
(direct + reverberation) of the source at microphone 0, a frame is active when its peak
instantaneous power is at least ``threshold`` (1 %, -20 dB) of the loudest frame's. Direction
and distance of a frame are those of the trajectory point that renders it, relative to the
array centre, in the DCASE convention. Rows are ``frame, class, track, azimuth, elevation,
distance`` with integer degrees and centimetres (``docs/dataset-format.md``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from asabench.simulate.geometry import cartesian_to_dcase

__all__ = ["activity", "frame_points", "frame_directions", "label_rows"]


def activity(image_mic0: np.ndarray, frame_len: int, num_frames: int, threshold: float = 0.01) -> np.ndarray:
    """Active frames of one source by the -20 dB peak-power rule.

    Parameters
    ----------
    image_mic0 : ``[N]`` reverberant image of the source at microphone 0 (any scale).
    frame_len : samples per label frame (``label_hop_s * fs``).
    num_frames : frames in the scene; samples beyond ``num_frames * frame_len`` are ignored,
        missing ones count as silence.
    threshold : fraction of the loudest frame's peak power (0.01 = -20 dB).

    Returns
    -------
    np.ndarray
        ``[num_frames]`` bool. All False for a silent image.
    """
    x = np.zeros(num_frames * frame_len, dtype=np.float64)
    n = min(x.shape[0], image_mic0.shape[-1])
    x[:n] = image_mic0[:n]
    peak = np.max(x.reshape(num_frames, frame_len) ** 2, axis=1)
    top = peak.max()
    if top <= 0:
        return np.zeros(num_frames, dtype=bool)
    return peak >= threshold * top


def frame_points(points: np.ndarray, num_frames: int) -> np.ndarray:
    """Trajectory point of each label frame: ``[P, 3] -> [num_frames, 3]`` (segment ``floor(f P / F)``)."""
    points = np.asarray(points, dtype=np.float64)
    idx = (np.arange(num_frames) * points.shape[0]) // num_frames
    return points[idx]


def frame_directions(points: np.ndarray, center: np.ndarray, num_frames: int) -> np.ndarray:
    """Integer DCASE labels ``[num_frames, 3]``: azimuth (deg), elevation (deg), distance (cm).

    Azimuth is rounded into (-180, 180] (a rounded -180 becomes 180).
    """
    rel = frame_points(points, num_frames) - np.asarray(center, dtype=np.float64)[None, :]
    az, el, dist = cartesian_to_dcase(rel)
    az_i = np.rint(az).astype(np.int64)
    az_i[az_i == -180] = 180
    return np.stack([az_i, np.rint(el).astype(np.int64), np.rint(dist * 100.0).astype(np.int64)], axis=-1)


def label_rows(
    images_mic0: np.ndarray,
    classes: Sequence[int],
    trajectories: Sequence[np.ndarray],
    center: np.ndarray,
    frame_len: int,
    num_frames: int,
    threshold: float = 0.01,
) -> np.ndarray:
    """DCASE label rows of a scene, sorted by frame then track.

    Parameters
    ----------
    images_mic0 : ``[J, N]`` reverberant images of the J sources at microphone 0.
    classes : ``[J]`` DCASE class ids.
    trajectories : J arrays ``[P_k, 3]`` of positions in metres.
    center : ``[3]`` array centre in metres.
    frame_len, num_frames, threshold : see :func:`activity`.

    Returns
    -------
    np.ndarray
        ``[n_rows, 6]`` int64: frame, class, track, azimuth (deg), elevation (deg), distance (cm).
    """
    rows = []
    for k, (cls, pts) in enumerate(zip(classes, trajectories)):
        active = activity(images_mic0[k], frame_len, num_frames, threshold)
        frames = np.flatnonzero(active)
        dirs = frame_directions(pts, center, num_frames)[frames]
        block = np.empty((frames.shape[0], 6), dtype=np.int64)
        block[:, 0] = frames
        block[:, 1] = int(cls)
        block[:, 2] = k
        block[:, 3:] = dirs
        rows.append(block)
    if not rows:
        return np.zeros((0, 6), dtype=np.int64)
    out = np.concatenate(rows, axis=0)
    return out[np.lexsort((out[:, 2], out[:, 0]))]
