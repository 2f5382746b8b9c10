"""The simulate bar is tqdm's: count, rate unit and the split label on stderr, nothing when off."""

from asabench.simulate.dataset.build import _Progress, simulate_dataset


def test_simulate_bar_counts_scenes_on_stderr(tmp_path, capsys):
    simulate_dataset("demo", "validation", tmp_path, num=2, progress=True)
    err = capsys.readouterr().err
    assert "demo/validation" in err and "2/2" in err and "scene" in err
    simulate_dataset("demo", "validation", tmp_path / "quiet", num=1, progress=False)
    assert capsys.readouterr().err == ""


def test_bar_closes_at_the_last_scene(capsys):
    bar = _Progress(2, "x/y", True)
    bar.step()
    assert bar.bar is not None and not bar.bar.disable and bar.bar.n == 1
    bar.step()
    err = capsys.readouterr().err
    assert err.endswith("\n") and "2/2" in err
    assert _Progress(0, "x/y", True).bar is None  # nothing to do: no bar
