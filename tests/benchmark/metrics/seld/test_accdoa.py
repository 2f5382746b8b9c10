"""Multi-ACCDOA decoding: activity threshold, same-class merging, layout."""

import numpy as np
import pytest

from asabench.benchmark.metrics.seld.accdoa import decode_multi_accdoa, split_multi_accdoa
from asabench.benchmark.io.dcase_csv import polar_to_unit

C = 2


def vec(az_deg, norm=0.9, el_deg=0.0):
    return norm * polar_to_unit(np.array(az_deg, float), np.array(el_deg, float))


def frame(tracks):
    """[3, 3, C] block from {(track, class): vector}."""
    out = np.zeros((3, 3, C))
    for (k, c), v in tracks.items():
        out[k, :, c] = v
    return out


def test_activity_threshold_is_strict():
    out = np.stack([frame({(0, 0): vec(10, 0.5)}), frame({(0, 0): vec(10, 0.5001)})])
    lab = decode_multi_accdoa(out, C)
    assert lab.frame.tolist() == [1] and lab.cls.tolist() == [0]
    assert lab.azimuth_deg[0] == pytest.approx(10.0)


def test_close_tracks_merge_into_their_mean():
    # 10 deg apart -> one event at the mean direction; 20 deg apart -> two events.
    out = np.stack([frame({(0, 0): vec(0), (1, 0): vec(10)}),
                    frame({(0, 0): vec(0), (1, 0): vec(20)})])
    lab = decode_multi_accdoa(out, C)
    assert lab.frame.tolist() == [0, 1, 1]
    mean = (vec(0) + vec(10)) / 2
    np.testing.assert_allclose(lab.xyz[0], mean / np.linalg.norm(mean), atol=1e-12)
    assert lab.azimuth_deg[0] == pytest.approx(5.0)
    assert sorted(np.round(lab.azimuth_deg[1:], 9).tolist()) == [0.0, 20.0]
    assert lab.track[1:].tolist() == [0, 1]


def test_one_pair_keeps_the_third_track_and_many_pairs_average_all():
    # Tracks 1, 2 close (5 deg) and track 0 far: the far track plus the pair's mean.
    # All three within 15 deg: a single event at the mean of the three.
    out = np.stack([frame({(0, 1): vec(-90), (1, 1): vec(40), (2, 1): vec(45)}),
                    frame({(0, 1): vec(0), (1, 1): vec(6), (2, 1): vec(12)})])
    lab = decode_multi_accdoa(out, C)
    assert lab.frame.tolist() == [0, 0, 1] and set(lab.cls.tolist()) == {1}
    np.testing.assert_allclose(lab.azimuth_deg[:2], [-90.0, 42.5], atol=1e-9)
    assert lab.azimuth_deg[2] == pytest.approx(6.0)


def test_merging_is_per_class_and_distance_is_averaged():
    out = np.zeros((1, 3, 4, C))
    out[0, 0, :3, 0], out[0, 0, 3, 0] = vec(0), 100.0
    out[0, 1, :3, 1], out[0, 1, 3, 1] = vec(5), 300.0  # other class: never merged
    out[0, 2, :3, 1], out[0, 2, 3, 1] = vec(9), 200.0
    lab = decode_multi_accdoa(out.reshape(1, -1), C, with_distance=True, frame_offset=7)
    assert lab.frame.tolist() == [7, 7] and lab.cls.tolist() == [0, 1]
    np.testing.assert_allclose(lab.distance, [100.0, 250.0])
    assert lab.azimuth_deg[1] == pytest.approx(7.0, abs=1e-9)


def test_flat_layout_is_track_axis_class():
    flat = np.arange(2 * 3 * 3 * C, dtype=float).reshape(2, -1)
    blocks = split_multi_accdoa(flat, C)
    # index = track * 3C + axis * C + class
    assert blocks[1, 2, 1, 0] == flat[1, 2 * 3 * C + 1 * C + 0]
    with pytest.raises(ValueError, match="3 tracks x 3 x 2 classes"):
        split_multi_accdoa(np.zeros((2, 17)), C)
