"""DCASE CSV reading/writing: layouts, auto-detection, round trips, error messages."""

import numpy as np
import pytest

from asabench.benchmark.io.dcase_csv import (DcaseFormatError, DcaseLabels, format_dcase_csv,
                                                 read_dcase_csv, scan_dcase_csv, write_dcase_csv)


def random_labels(rng, n=40, distance=True):
    return DcaseLabels.from_polar(rng.integers(0, 600, n), rng.integers(0, 13, n), rng.integers(0, 3, n),
                                  rng.uniform(-179, 179, n), rng.uniform(-89, 89, n),
                                  rng.uniform(20, 500, n) if distance else None)


@pytest.mark.parametrize("distance", [False, True])
@pytest.mark.parametrize("coords", ["polar", "cartesian"])
def test_round_trip(tmp_path, coords, distance):
    lab = random_labels(np.random.default_rng(1), distance=distance)
    path = write_dcase_csv(tmp_path / "a.csv", lab, coords=coords)
    n_fields = {("polar", False): 5, ("polar", True): 6, ("cartesian", False): 6,
                ("cartesian", True): 7}[coords, distance]
    assert {len(line.split(",")) for line in path.read_text().splitlines()} == {n_fields}
    back = read_dcase_csv(path, num_classes=13)  # layout auto-detected
    np.testing.assert_array_equal(back.frame, lab.frame)
    np.testing.assert_array_equal(back.cls, lab.cls)
    np.testing.assert_array_equal(back.track, lab.track)
    np.testing.assert_allclose(back.xyz, lab.xyz, atol=1e-12)
    np.testing.assert_allclose(back.azimuth_deg, lab.azimuth_deg, atol=1e-9)
    assert (back.distance is None) == (not distance)
    if distance:
        np.testing.assert_allclose(back.distance, lab.distance)


def test_polar_to_cartesian_values(tmp_path):
    (tmp_path / "p.csv").write_text("3,1,0,90,0\n4,2,1,0,90\n5,0,0,180,-30\n")
    lab = read_dcase_csv(tmp_path / "p.csv")
    c30 = np.cos(np.radians(30))
    np.testing.assert_allclose(lab.xyz, [[0, 1, 0], [0, 0, 1], [-c30, 0, -0.5]], atol=1e-15)
    text = format_dcase_csv(lab, coords="cartesian")
    back = read_dcase_csv_text(tmp_path, text)
    np.testing.assert_allclose(back.elevation_deg, [0, 90, -30], atol=1e-12)


def read_dcase_csv_text(tmp_path, text, **kw):
    p = tmp_path / "t.csv"
    p.write_text(text)
    return read_dcase_csv(p, **kw)


def test_six_fields_auto_detect_and_override(tmp_path):
    # Unnormalised ACCDOA-style vectors -> Cartesian; degrees + centimetres -> polar.
    cart = read_dcase_csv_text(tmp_path, "0,0,0,0.6,0.0,0.0\n1,0,0,0.0,-0.7,0.0\n")
    assert cart.distance is None and cart.azimuth_deg[1] == pytest.approx(-90)
    polar = read_dcase_csv_text(tmp_path, "0,0,0,45,10,150\n1,0,0,1,0,1\n")
    assert polar.distance.tolist() == [150.0, 1.0] and polar.azimuth_deg[0] == pytest.approx(45)
    forced = read_dcase_csv_text(tmp_path, "1,0,0,1,0,1\n", coords="polar")
    assert forced.distance.tolist() == [1.0] and forced.azimuth_deg[0] == pytest.approx(1.0)


def test_integer_degrees_like_dataset_labels(tmp_path):
    lab = DcaseLabels.from_polar([0], [4], [1], [-35.4], [12.6], [231.7])
    text = format_dcase_csv(lab, integer_degrees=True)
    assert text == "0,4,1,-35,13,232\n"


def test_every_problem_is_reported_with_line_and_field(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([
        "0,1,0,10,5",          # fine
        "1,13,0,10,5",         # class out of range
        "-2,1,0,10,5",         # negative frame
        "3,1,0,nan,5",         # non-finite
        "4,x,0,10,5",          # not an integer
        "5,1,0,10",            # too few fields
        "6,1,0,10,95",         # elevation out of range
        "7,1.5,0,10,5",        # non-integer class
    ]) + "\n")
    labels, problems = scan_dcase_csv(path, num_classes=13)
    assert labels is None
    where = str(path)
    expected = [
        f"{where}:2: field 'class': class id 13 out of range (0..12)",
        f"{where}:3: field 'frame': negative frame index -2",
        f"{where}:4: field 'azimuth': non-finite value 'nan'",
        f"{where}:5: field 'class': expected an integer, got 'x'",
        f"{where}:6: expected 5, 6 or 7 comma-separated fields",
        f"{where}:7: field 'elevation': 95.0 outside [-90, 90] degrees",
        f"{where}:8: field 'class': expected an integer, got '1.5'",
    ]
    assert len(problems) == len(expected)
    for got, want in zip(problems, expected):
        assert got.startswith(want), (got, want)
    with pytest.raises(DcaseFormatError, match=r"bad\.csv:2: field 'class'"):
        read_dcase_csv(path, num_classes=13)


def test_cartesian_zero_vector_and_header(tmp_path):
    _, problems = scan_dcase_csv(_write(tmp_path, "0,0,0,0,0,0,100\n"))
    assert problems and "zero-length direction vector" in problems[0]
    lab = read_dcase_csv(_write(tmp_path, "frame,class,track,azimuth,elevation\n2,0,0,0,0\n"))
    assert lab.frame.tolist() == [2]
    assert read_dcase_csv(_write(tmp_path, "")).num_rows == 0


def _write(tmp_path, text):
    p = tmp_path / "x.csv"
    p.write_text(text)
    return p
