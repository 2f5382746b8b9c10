"""The distribution installs without -e and its three packages import from the install."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_non_editable_install_imports(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT)],
        check=True, cwd=tmp_path,
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    code = (
        "import asabench.simulate as s, asabench.benchmark as b, asabench.models as m, "
        "asabench.benchmark.cli as c\n"
        f"assert all(x.__file__.startswith({str(target)!r}) for x in (s, b, m, c)), (s.__file__,)\n"
        "c.build_parser()\n"
        "from asabench.simulate.manifest import load_manifest\n"
        "for name in ('asa2', 'asa2-static', 'demo'):\n"
        f"    assert str(load_manifest(name).path).startswith({str(target)!r}), name\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)
