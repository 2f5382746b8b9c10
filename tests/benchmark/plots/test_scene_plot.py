"""The scene picture draws what the scene folder holds: spec positions, label cells, predictions."""

from __future__ import annotations

import copy
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from asabench.benchmark.io.dcase_csv import DcaseLabels, format_dcase_csv
from asabench.benchmark.plots.scene import (SceneView, _gaps, load_predictions, load_scene, plot_scene, scene_figure,
                                           sed_slots)
from asabench.simulate.classes import DCASE_CLASSES, NUM_CLASSES


def artists(fig) -> dict:
    """Every artist of the figure that has a gid, by gid (each gid is used once)."""
    out: dict = {}
    for ax in fig.axes:
        for a in [*ax.get_lines(), *ax.images, *ax.collections, *ax.patches]:
            gid = a.get_gid()
            if gid is not None:
                assert gid not in out, gid
                out[gid] = a
    return out


@pytest.fixture(scope="module")
def scene(demo_scene: Path):
    return load_scene(demo_scene)


@pytest.fixture(scope="module")
def figure(scene):
    return scene_figure(scene)


def test_one_trajectory_line_per_source_per_view_with_the_spec_positions(scene, figure) -> None:
    spec, found = scene.spec, artists(figure)
    assert spec.num_sources >= 2
    assert any(s.static for s in spec.sources) and any(not s.static for s in spec.sources)
    for view, (a, b) in {"xy": (0, 1), "xz": (0, 2), "yz": (1, 2)}.items():
        lines = sorted(g for g in found if g.startswith(f"trajectory-{view}-"))
        assert lines == [f"trajectory-{view}-{k}" for k in range(spec.num_sources)]
        for k, s in enumerate(spec.sources):
            line = found[f"trajectory-{view}-{k}"]
            np.testing.assert_array_equal(line.get_xdata(), s.points[:, a])
            np.testing.assert_array_equal(line.get_ydata(), s.points[:, b])
            if s.static:  # one marker, no line; no start/end markers
                assert line.get_linestyle() == "None" and line.get_marker() == "*"
                assert f"start-{view}-{k}" not in found
            else:
                assert line.get_linestyle() == "-"
                start, end = found[f"start-{view}-{k}"], found[f"end-{view}-{k}"]
                assert (start.get_xdata()[0], start.get_ydata()[0]) == (s.points[0, a], s.points[0, b])
                assert (end.get_xdata()[0], end.get_ydata()[0]) == (s.points[-1, a], s.points[-1, b])
        capsules = found[f"capsules-{view}"]
        np.testing.assert_array_equal(capsules.get_xdata(), spec.mics[:, a])
        np.testing.assert_array_equal(capsules.get_ydata(), spec.mics[:, b])
        room = found[f"room-{view}"]
        assert (room.get_width(), room.get_height()) == (spec.room_dim[a], spec.room_dim[b])
    # capsules magnified: centimetres from the array centre
    zoom = found["capsules-zoom"].get_offsets()
    np.testing.assert_allclose(zoom, (spec.mics - spec.array_center)[:, :2] * 100.0)


def test_legend_names_each_source_by_class_and_motion(scene, figure) -> None:
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert texts == [f"{k}: {DCASE_CLASSES[s.class_idx]} ({'static' if s.static else 'moving'})"
                     for k, s in enumerate(scene.spec.sources)]


def test_sed_cells_are_the_label_rows(scene, figure) -> None:
    image = artists(figure)["sed-reference"]
    cells = image.get_array()
    assert cells.shape == (NUM_CLASSES, scene.spec.num_frames)  # no class shared: one row per class
    # expected from the CSV rows, written out independently of the drawing code
    expected = np.zeros(cells.shape, dtype=bool)
    for frame, cls, *_ in scene.labels:
        expected[cls, frame] = True
    np.testing.assert_array_equal(~np.ma.getmaskarray(cells), expected)
    assert expected.sum() > 10
    for frame, cls, track, *_ in scene.labels:  # coloured by track
        assert cells[cls, frame] == track
    x0, x1, y0, y1 = image.get_extent()
    assert (x0, x1) == (0.0, pytest.approx(scene.spec.num_frames * scene.spec.label_hop_s))
    assert (y0, y1) == (-0.5, NUM_CLASSES - 0.5)


def test_sources_of_one_class_keep_their_own_sed_rows(scene) -> None:
    """Two sources of one class: the class row splits in two, neither hides the other."""
    spec = copy.deepcopy(scene.spec)
    spec.sources[1].class_idx = spec.sources[0].class_idx
    labels = scene.labels.copy()
    labels[labels[:, 2] == 1, 1] = spec.sources[0].class_idx
    both = SceneView(scene.path, spec, labels)
    assert sed_slots(spec) == (pytest.approx([0, 1] + [0] * (spec.num_sources - 2)), 2)
    cells = artists(scene_figure(both))["sed-reference"].get_array()
    assert cells.shape == (2 * NUM_CLASSES, spec.num_frames)
    c = spec.sources[0].class_idx
    for k in (0, 1):
        active = np.zeros(spec.num_frames, dtype=bool)
        active[labels[labels[:, 2] == k, 0]] = True
        row = cells[2 * c + k]
        np.testing.assert_array_equal(~np.ma.getmaskarray(row), active)
        assert np.all(row[active] == k)
    # both tracks were active together somewhere, which one row could not have shown
    assert np.any(~np.ma.getmaskarray(cells[2 * c]) & ~np.ma.getmaskarray(cells[2 * c + 1]))


def test_doa_lines_are_each_tracks_label_angles(scene, figure) -> None:
    found, hop = artists(figure), scene.spec.label_hop_s
    for k in range(scene.spec.num_sources):
        rows = scene.labels[scene.labels[:, 2] == k]
        for name, column, scale in (("azimuth", 3, 1.0), ("elevation", 4, 1.0), ("distance", 5, 100.0)):
            line = found[f"{name}-{k}"]
            t, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
            keep = ~np.isnan(y)
            np.testing.assert_allclose(t[keep], (rows[:, 0] + 0.5) * hop)
            np.testing.assert_allclose(y[keep], rows[:, column] / scale)


def test_gaps_break_lines_at_missing_frames_and_azimuth_wraps() -> None:
    frames = np.array([0, 1, 2, 5, 6, 7])
    az = np.array([170.0, 178.0, -178.0, -170.0, -160.0, -150.0])
    t, y = _gaps(frames * 0.1, az, frames, wrap=180.0)
    # a break after frame 1 (178 -> -178 wraps) and after frame 2 (frames 3, 4 missing)
    np.testing.assert_array_equal(np.isnan(y), [False, False, True, False, True, False, False, False])
    np.testing.assert_allclose(y[~np.isnan(y)], az)
    _, y = _gaps(frames * 0.1, az, frames, wrap=None)
    assert np.isnan(y).sum() == 1


def test_predictions_overlay_their_rows(tmp_path: Path, scene) -> None:
    # Cartesian predictions made from the labels (the reader normalises and converts back)
    rows = scene.labels[::3]
    az, el = np.radians(rows[:, 3] + 7.0), np.radians(rows[:, 4] - 5.0)
    xyz = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=1) * 0.8
    pred = DcaseLabels.from_cartesian(rows[:, 0], rows[:, 1], rows[:, 2], xyz, rows[:, 5].astype(float))
    folder = tmp_path / "predictions" / "seld"
    folder.mkdir(parents=True)
    (folder / f"{scene.spec.id}.csv").write_text(format_dcase_csv(pred, coords="cartesian"))
    path, read = load_predictions(tmp_path / "predictions", scene.spec.id)
    assert path == (folder / f"{scene.spec.id}.csv").resolve()
    found = artists(scene_figure(scene, read))
    hop = scene.spec.label_hop_s
    sed = found["sed-predicted"].get_offsets()
    np.testing.assert_allclose(sed, np.stack([(rows[:, 0] + 0.5) * hop, rows[:, 1]], axis=1))
    wrapped = (rows[:, 3] + 7.0 + 180.0) % 360.0 - 180.0
    np.testing.assert_allclose(found["azimuth-predicted"].get_offsets()[:, 1], wrapped, atol=1e-4)
    np.testing.assert_allclose(found["elevation-predicted"].get_offsets()[:, 1], rows[:, 4] - 5.0, atol=1e-4)
    np.testing.assert_allclose(found["distance-predicted"].get_offsets()[:, 1], rows[:, 5] / 100.0, atol=1e-4)


def test_png_decodes_at_the_figure_size(tmp_path: Path, demo_scene: Path) -> None:
    from PIL import Image

    out = tmp_path / "scene.png"
    result = plot_scene(demo_scene, out, dpi=40)
    assert result.path == out and result.rirs is None
    with Image.open(out) as img:
        img.load()
        # 15 in wide; rows 4.0 + 2.8 + 2.6 in plus 1.2 in of title and legend, at 40 dpi
        assert img.format == "PNG" and img.size == (600, 424)
        pixels = np.asarray(img.convert("L"))
    assert pixels.std() > 10  # drawn, not blank
    assert [p.name for p in tmp_path.iterdir()] == ["scene.png"]  # no temporary left behind


def test_svg_is_xml_of_the_figure_size_and_repeatable(tmp_path: Path, demo_scene: Path) -> None:
    scene = load_scene(demo_scene)
    from asabench.benchmark.plots.scene import figure_bytes

    fig = scene_figure(scene, dpi=40)
    first = figure_bytes(fig, ".svg")
    root = ET.parse(io.BytesIO(first)).getroot()
    assert root.tag.endswith("svg")
    assert (root.get("width"), root.get("height")) == ("1080pt", "763.2pt")  # 15 x 10.6 in at 72 pt/in
    assert figure_bytes(fig, ".svg") == first  # no date, fixed ids
