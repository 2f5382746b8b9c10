"""The distribution installs without -e: packages, shipped manifests and model presets come from
the install, and pip refuses a Python older than ``requires-python`` (3.11, for tomllib)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow  # builds a wheel (a few seconds)


def _source_tree(dest: Path) -> Path:
    """A copy of the checkout's files (tracked and untracked, minus ignored ones).

    Building from the working folder would package whatever a stale ``build/lib`` still
    holds (modules since moved away); a fresh clone has no such folder, so neither has the copy.
    """
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT,
                                check=True, capture_output=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs git to list the checkout's files")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("dist")
    src = _source_tree(base / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(base / "wheel"), str(src)], check=True, cwd=base)
    (whl,) = (base / "wheel").glob("asabench-*.whl")
    return whl


def test_non_editable_install_imports(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", str(target), str(wheel)],
        check=True, cwd=tmp_path,
    )
    shipped = sorted(p.relative_to(ROOT / "models").as_posix() for p in (ROOT / "models" / "presets").glob("*/*.toml"))
    assert "presets/deepasa/tiny.toml" in shipped and "presets/soundcompass/no-band-split.toml" in shipped
    env = dict(os.environ, PYTHONPATH=str(target))
    code = (
        "import asabench.simulate as s, asabench.benchmark as b, asabench.models as m, "
        "asabench.benchmark.cli as c\n"
        f"assert all(x.__file__.startswith({str(target)!r}) for x in (s, b, m, c)), (s.__file__,)\n"
        "c.build_parser()\n"
        "from asabench.simulate.manifest import load_manifest\n"
        "for name in ('asa2', 'asa2-static', 'demo'):\n"
        f"    assert str(load_manifest(name).path).startswith({str(target)!r}), name\n"
        # the model presets are package data of the install, found by name
        "from pathlib import Path\n"
        "from asabench.models.registry import PRESET_DIR, get_entry, resolve_config\n"
        f"assert str(PRESET_DIR).startswith({str(target)!r}), PRESET_DIR\n"
        "installed = sorted(p.relative_to(PRESET_DIR.parent).as_posix() for p in PRESET_DIR.glob('*/*.toml'))\n"
        f"assert installed == {shipped!r}, installed\n"
        f"assert str(get_entry('deepasa').presets['tiny']).startswith({str(target)!r})\n"
        "cfg = resolve_config('deepasa', 'tiny')\n"
        "assert (cfg.n_objects, cfg.backbone.dim, cfg.stft.n_fft) == (3, 16, 128), cfg\n"
        "model = m.create('deepasa', 'tiny')\n"
        "assert sum(p.numel() for p in model.parameters()) > 0\n"
        "assert resolve_config('soundcompass', 'no-band-split').fusion.band_split is False\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)


def _python310() -> str | None:
    """A working Python 3.10 with pip, if this machine has one."""
    candidates = [shutil.which("python3.10"), *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python")))]
    for exe in filter(None, candidates):
        probe = subprocess.run([exe, "-c", "import sys, pip; print(sys.version_info[:2] == (3, 10))"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return exe
    return None


def test_pip_refuses_python_310(wheel: Path, tmp_path: Path) -> None:
    exe = _python310()
    if exe is None:
        pytest.skip("no Python 3.10 with pip on this machine")
    res = subprocess.run([exe, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index",
                          "--target", str(tmp_path / "site"), str(wheel)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode != 0, res.stdout
    assert "requires a different Python" in res.stderr and "'>=3.11'" in res.stderr, res.stderr
    assert not (tmp_path / "site").exists()
