"""The installed ``asabench`` console script: exit status and one stderr line, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_SCRIPT = Path(sys.executable).parent / "asabench"


@pytest.mark.slow  # a fresh interpreter imports torch (~5-9 s on 2 shared cores)
@pytest.mark.skipif(not _SCRIPT.exists(), reason="the console script is not installed beside this Python")
def test_console_script_misuse_exit_2_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ASABENCH_TRACEBACK"}
    proc = subprocess.run([str(_SCRIPT), "simulate", "demo", "--split", "test", "--out", str(tmp_path / "ds"),
                           "--workers", "0"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == ["asabench simulate: --workers 0: expected a whole number from 1 to 4096"]
    assert list(tmp_path.iterdir()) == []
