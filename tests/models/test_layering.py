"""Layers: ``simulate`` <- ``models`` <- ``benchmark``; the data and model layers never import the harness."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def test_simulate_and_models_do_not_import_benchmark() -> None:
    files = sorted((ROOT / "simulate").rglob("*.py")) + sorted((ROOT / "models").rglob("*.py"))
    assert len(files) > 40
    bad = [f"{f.relative_to(ROOT)}:{line}: {name}" for f in files for line, name in _imports(f)
           if name == "asabench.benchmark" or name.startswith("asabench.benchmark.")]
    assert not bad, bad


def test_simulate_does_not_import_models() -> None:
    bad = [f"{f.relative_to(ROOT)}:{line}: {name}" for f in sorted((ROOT / "simulate").rglob("*.py"))
           for line, name in _imports(f) if name == "asabench.models" or name.startswith("asabench.models.")]
    assert not bad, bad
