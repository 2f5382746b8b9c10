"""``asabench plot``: what it writes and prints, and its refusals (exit 2, file named, nothing written)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import asabench.benchmark.cli.plot as plot_cli
from asabench.benchmark.cli import main
from asabench.benchmark.plots.scene import plot_scene


def run(capsys, *argv) -> tuple[int, str, list[str]]:
    code = main(["plot", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def scene(tmp_path: Path, demo_scene: Path) -> Path:
    """A private copy of demo scene test-000000 in a dataset folder (tests may break it)."""
    copy = tmp_path / "data" / "test" / demo_scene.name
    shutil.copytree(demo_scene, copy)
    shutil.copy(demo_scene.parents[1] / "dataset.json", tmp_path / "data" / "dataset.json")
    return copy


def test_default_out_is_the_scene_name_in_the_current_folder(capsys, monkeypatch, tmp_path, scene) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = digest(scene)
    code, out, err = run(capsys, scene, "--rir", "--dpi", "30")
    assert (code, err) == (0, [])
    assert [p.name for p in work.iterdir()] == ["test-000000.png"]
    assert (work / "test-000000.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = out.splitlines()
    assert lines[-1] == f"wrote {work / 'test-000000.png'}"
    spec = json.loads((scene / "spec.json").read_text())
    assert len(lines) == len(spec["sources"]) + 1
    assert all(f"RT60 spec {spec['rt60_s']:.3f} s" in line and "T20" in line and "T30" in line for line in lines[:-1])
    assert digest(scene) == before  # nothing written inside the input


def test_cli_passes_the_library_defaults(capsys, monkeypatch, tmp_path, scene) -> None:
    import inspect

    seen = {}

    class Called(Exception):
        pass

    def job(*args, **kwargs):
        seen.update(inspect.signature(plot_scene).bind(*args, **kwargs).arguments)
        raise Called

    job.__signature__ = inspect.signature(plot_scene)  # type: ignore[attr-defined]
    monkeypatch.setattr(plot_cli, "_plot_scene_job", job)
    with pytest.raises(Called):
        main(["plot", str(scene), "--out", str(tmp_path / "x.png")])
    params = inspect.signature(plot_scene).parameters
    for name in ("predictions", "rir", "dpi", "device"):
        assert seen[name] == params[name].default, name


@pytest.mark.parametrize("case", ["dataset-root", "split-folder", "labels-only", "no-folder"])
def test_not_a_scene_folder(capsys, tmp_path, scene, case) -> None:
    target = {"dataset-root": scene.parents[1], "split-folder": scene.parent, "no-folder": tmp_path / "nope"}.get(case)
    if case == "labels-only":
        target = tmp_path / "lonely"
        target.mkdir()
        shutil.copy(scene / "labels.csv", target / "labels.csv")
    out = tmp_path / "x.png"
    code, _, err = run(capsys, target, "--out", out)
    assert code == 2 and len(err) == 1 and not out.exists()
    expected = {"dataset-root": f"{target}: is a dataset folder, not a scene",
                "split-folder": f"{target / 'spec.json'}: missing (not a scene folder",
                "labels-only": f"{target / 'spec.json'}: missing (a scene folder without its spec",
                "no-folder": f"SCENE_DIR {target}: no such file or folder"}[case]
    assert err[0].startswith(f"asabench plot: {expected}"), err


def test_bad_spec_and_contradicting_labels_are_named(capsys, tmp_path, scene) -> None:
    out = tmp_path / "x.png"
    spec = json.loads((scene / "spec.json").read_text())
    spec["rt60_s"] = -1.0
    (scene / "spec.json").write_text(json.dumps(spec))
    code, _, err = run(capsys, scene, "--out", out)
    assert code == 2 and err == [f"asabench plot: {scene / 'spec.json'}: field 'rt60_s': -1.0 is outside (0.0, "
                                 f"{err[0].split('(0.0, ')[1]}"]
    spec["rt60_s"] = 0.2
    (scene / "spec.json").write_text(json.dumps(spec))
    lines = (scene / "labels.csv").read_text().splitlines()
    frame, cls, track, *rest = lines[2].split(",")
    lines[2] = ",".join([frame, cls, str(len(spec["sources"])), *rest])
    (scene / "labels.csv").write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, scene, "--out", out)
    assert code == 2 and err == [f"asabench plot: {scene / 'labels.csv'}:3: field 'track': track "
                                 f"{len(spec['sources'])}, but the spec has {len(spec['sources'])} source(s)"]
    assert not out.exists()


def test_predictions_that_do_not_parse_or_are_missing(capsys, tmp_path, scene) -> None:
    out = tmp_path / "x.png"
    bad = tmp_path / "bad.csv"
    bad.write_text("0,1,0,north,3\n1,99,0,3,3\n")
    code, _, err = run(capsys, scene, "--predictions", bad, "--out", out)
    assert code == 2 and err == [f"asabench plot: {bad}:1: field 'azimuth': expected a number, got 'north'",
                                 f"asabench plot: {bad}:2: field 'class': class id 99 out of range (0..12)"]
    folder = tmp_path / "pred"
    (folder / "seld").mkdir(parents=True)
    code, _, err = run(capsys, scene, "--predictions", folder, "--out", out)
    assert code == 2 and err == [f"asabench plot: {folder}: no predictions of scene test-000000 "
                                 "(seld/test-000000.csv or test-000000.csv)"]
    assert not out.exists()


def test_out_inside_the_scene_or_of_another_format_is_refused(capsys, monkeypatch, tmp_path, scene) -> None:
    before = digest(scene)
    code, _, err = run(capsys, scene, "--out", scene / "picture.png")
    assert code == 2 and len(err) == 1 and "would write over or inside the input" in err[0]
    monkeypatch.chdir(scene)  # the default out would land inside the scene
    code, _, err = run(capsys, scene)
    assert code == 2 and f"{scene / 'test-000000.png'} would write over or inside the input" in err[0]
    code, _, err = run(capsys, scene, "--out", tmp_path / "x.jpg")
    assert code == 2 and err == [f"asabench plot: --out {tmp_path / 'x.jpg'}: expected a .png or .svg path"]
    assert digest(scene) == before and not (tmp_path / "x.jpg").exists()
