"""A miniature manifest (0.5-s scenes) and its two suites, so training tests take seconds."""

from pathlib import Path

import pytest

from asabench.simulate.manifest import load_manifest

ROOT = Path(__file__).resolve().parents[3]


def write_mini(folder: Path, train: int = 4, validation: int = 2, test: int = 2) -> dict[str, Path]:
    """``mini.toml`` (the demo recipe cut to 0.5 s) and ``mini-multitask.toml`` / ``mini-tse.toml``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "manifests" / "demo.toml").read_text()
    text = text.replace('name = "demo"', 'name = "mini"').replace("duration_s = 2.0", "duration_s = 0.5")
    head, _, _ = text.partition("[splits]")
    (folder / "mini.toml").write_text(head + f"[splits]\ntrain = {train}\nvalidation = {validation}\ntest = {test}\n")
    out = {"manifest": folder / "mini.toml"}
    for name in ("demo-multitask", "demo-tse"):
        suite = (ROOT / "benchmark" / "suites" / f"{name}.toml").read_text()
        suite = suite.replace('manifest = "demo"', 'manifest = "mini.toml"').replace("clip_seconds = 2.0",
                                                                                      "clip_seconds = 0.5")
        suite = suite.replace(f'name = "{name}"', f'name = "mini-{name[5:]}"')
        path = folder / f"mini-{name[5:]}.toml"
        path.write_text(suite)
        out[name[5:]] = path
    return out


@pytest.fixture(scope="session")
def mini(tmp_path_factory):
    """The mini files and a dataset folder holding every split."""
    from asabench.simulate.dataset.build import simulate_dataset

    folder = tmp_path_factory.mktemp("mini")
    files = write_mini(folder)
    m = load_manifest(files["manifest"])
    data = folder / "data"
    for split in m.splits:
        simulate_dataset(m, split, data)
    files["data"] = data
    return files
