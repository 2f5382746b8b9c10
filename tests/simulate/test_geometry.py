"""Geometry: DCASE angle convention, the tetrahedral array, rooms, Sabine helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asabench.simulate.geometry import (
    TETRA_CAPSULES_DEG,
    MicArray,
    Room,
    cartesian_to_dcase,
    dcase_to_cartesian,
    tetra_array,
)
from asabench.simulate.rir.sabine import att_to_time, betas_from_rt60, images_per_dim, rt60_from_betas


def test_dcase_axes() -> None:
    # The convention's defining cases: az 0 = +x, az 90 = +y (counter-clockwise), el 90 = +z.
    xyz = dcase_to_cartesian([0, 90, 180, -90, 0], [0, 0, 0, 0, 90])
    np.testing.assert_allclose(xyz, [[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0], [0, 0, 1]], atol=1e-12)


def test_dcase_round_trip_vectorised() -> None:
    rng = np.random.default_rng(0)
    az = rng.uniform(-179.9, 180, size=(5, 7))
    el = rng.uniform(-89.9, 89.9, size=(5, 7))
    dist = rng.uniform(0.1, 9, size=(5, 7))
    xyz = dcase_to_cartesian(az, el, dist)
    assert xyz.shape == (5, 7, 3)
    a, e, d = cartesian_to_dcase(xyz)
    np.testing.assert_allclose(a, az, atol=1e-9)
    np.testing.assert_allclose(e, el, atol=1e-9)
    np.testing.assert_allclose(d, dist, rtol=1e-12)


def test_azimuth_interval_is_half_open_at_minus_180() -> None:
    a, _, _ = cartesian_to_dcase(np.array([[-1.0, -0.0, 0.0], [-1.0, 0.0, 0.0]]))
    np.testing.assert_array_equal(a, [180.0, 180.0])


def test_tetra_geometry() -> None:
    pos = tetra_array((1.0, 2.0, 3.0))
    assert pos.shape == (4, 3)
    np.testing.assert_allclose(np.linalg.norm(pos - [1, 2, 3], axis=1), 0.042, rtol=1e-12)
    # Nearly regular (35 deg is the rounded 35.26): edges 6.85-6.88 cm vs r sqrt(8/3) = 6.86 cm.
    edges = [np.linalg.norm(pos[i] - pos[j]) for i in range(4) for j in range(i + 1, 4)]
    np.testing.assert_allclose(edges, 0.042 * math.sqrt(8 / 3), rtol=4e-3)
    assert 0.0684 < min(edges) and max(edges) < 0.0689
    az, el, _ = cartesian_to_dcase(pos - [1, 2, 3])
    np.testing.assert_allclose(np.stack([az, el], 1), TETRA_CAPSULES_DEG, atol=1e-9)


def test_mic_array_and_room() -> None:
    arr = MicArray.tetrahedral((3, 2.5, 1.5))
    assert arr.num_mics == 4
    np.testing.assert_allclose(arr.center, [3, 2.5, 1.5], atol=1e-12)
    assert MicArray.from_positions([[0, 0, 1]]).num_mics == 1
    room = Room(np.array([6.0, 5.0, 3.0]))
    inside = room.contains([[0.6, 0.6, 0.6], [0.4, 1, 1], [5.9, 4.9, 2.9]], margin=0.5)
    np.testing.assert_array_equal(inside, [True, False, False])
    assert room.volume == pytest.approx(90.0)


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: MicArray.from_positions(np.zeros((0, 3))), "positions"),
        (lambda: MicArray.from_positions(np.zeros((2, 2))), "positions"),
        (lambda: Room(np.array([6.0, -1.0, 3.0])), "room_dim"),
        (lambda: tetra_array((0, 0)), "center"),
        (lambda: cartesian_to_dcase(np.zeros((4, 2))), "xyz"),
    ],
)
def test_bad_geometry_names_field(call, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        call()


@pytest.mark.parametrize("room, rt60", [([6, 5, 3], 0.3), ([8, 7, 4], 0.6), ([5, 5, 3], 0.2)])
def test_sabine_fit_round_trip(room: list[float], rt60: float) -> None:
    weights = (0.8, 0.8, 0.8, 0.8, 0.8, 0.5)
    betas = betas_from_rt60(room, rt60, weights)
    # Sabine with c = 343: RT60 = 0.1611 V / sum(S alpha), checked by hand-written formula.
    lx, ly, lz = room
    areas = np.array([ly * lz, ly * lz, lx * lz, lx * lz, lx * ly, lx * ly])
    alpha = 1 - betas**2
    assert 24 * math.log(10) / 343.0 * lx * ly * lz / np.sum(areas * alpha) == pytest.approx(rt60, rel=1e-9)
    # Absorption proportional to the weights: the ceiling absorbs 0.5 / 0.8 of the others.
    assert alpha[5] / alpha[0] == pytest.approx(0.5 / 0.8)
    assert rt60_from_betas(room, betas) == pytest.approx(rt60, rel=1e-12)


def test_sabine_unreachable_rt60() -> None:
    with pytest.raises(ValueError, match="rt60"):
        betas_from_rt60([10, 10, 4], 0.05)
    with pytest.raises(ValueError, match="abs_weights"):
        betas_from_rt60([6, 5, 3], 0.4, (0, 0, 0, 0, 0, 0))


def test_time_helpers() -> None:
    assert att_to_time(12, 0.5) == pytest.approx(0.1)
    # ceil(2 * 0.1 * 343 / L): 68.6 / 6 -> 12, / 5 -> 14, / 3 -> 23.
    np.testing.assert_array_equal(images_per_dim(0.1, [6, 5, 3]), [12, 14, 23])
