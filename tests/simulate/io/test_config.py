"""The one configuration loader: files and shipped names, checked dataclasses, one-line errors."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import pytest
import yaml

from asabench.simulate.io.config import (
    ConfigBase,
    ConfigError,
    Table,
    dumps,
    from_data,
    ranged,
    read_file,
    resolve_path,
)


@dataclass
class Inner(ConfigBase):
    size: int = ranged(2, lo=0, hi=2)
    gain: float = ranged(1.0, lo=0.0, lo_open=True)
    pools: tuple[tuple[int, int], ...] = ranged(((1, 2),), lo=1, hi=8)


@dataclass
class Task(ConfigBase):
    name: str = "uss"
    weight: float = 1.0


@dataclass
class Outer(ConfigBase):
    config_what: ClassVar[str] = "suite"

    name: str
    mode: Literal["fast", "exact"] = "exact"
    seed: int | None = None
    enabled: bool = True
    tags: tuple[str, ...] = ()
    splits: dict[str, int] = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)
    tasks: list[Task] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode == "fast" and self.inner.size == 0:
            raise ConfigError("fast mode needs inner.size > 0", field="inner.size")


def _error(data: dict, source: str | None = "suite.toml") -> str:
    with pytest.raises(ConfigError) as err:
        Outer.from_dict(data, source=source)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_partial_mapping_takes_defaults_and_converts_lists() -> None:
    cfg = Outer.from_dict({"name": "a", "inner": {"pools": [[2, 3], [4, 5]]}, "tasks": [{"name": "tse"}]})
    assert cfg.inner == Inner(size=2, gain=1.0, pools=((2, 3), (4, 5)))
    assert cfg.tasks == [Task("tse", 1.0)] and cfg.seed is None and cfg.splits == {}
    assert isinstance(cfg.inner.pools, tuple) and isinstance(cfg.tasks, list)


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"name": "a", "inner": {"sise": 1}},
         "suite.toml: field 'inner.sise': unknown key (allowed: gain, pools, size)"),
        ({"name": "a", "inner": {"size": 3}}, "suite.toml: field 'inner.size': 3 is outside [0, 2]"),
        ({"name": "a", "inner": {"gain": 0.0}}, "suite.toml: field 'inner.gain': 0.0 is outside (0.0, inf]"),
        ({"name": "a", "inner": {"gain": math.nan}}, "suite.toml: field 'inner.gain': expected a finite number, got nan"),
        ({"name": "a", "inner": {"pools": [[1, 2], [9, 1]]}}, "suite.toml: field 'inner.pools[1][0]': 9 is outside [1, 8]"),
        ({"name": "a", "inner": {"pools": [[1, 2, 3]]}}, "suite.toml: field 'inner.pools[0]': expected 2 values, got 3"),
        ({"name": "a", "seed": True}, "suite.toml: field 'seed': expected an integer, got True"),
        ({"name": "a", "seed": "7"}, "suite.toml: field 'seed': expected an integer, got '7'"),
        ({"name": "a", "enabled": 1}, "suite.toml: field 'enabled': expected true or false, got 1"),
        ({"name": "a", "mode": "quick"}, "suite.toml: field 'mode': 'quick' is not one of 'fast', 'exact'"),
        ({"name": "a", "splits": {"train": 1.5}}, "suite.toml: field 'splits.train': expected an integer, got 1.5"),
        ({"name": "a", "tasks": [{"name": "uss"}, {"weight": "x"}]},
         "suite.toml: field 'tasks[1].weight': expected a finite number, got 'x'"),
        ({"name": "a", "inner": 3}, "suite.toml: field 'inner': expected a table (Inner), got 3"),
        ({"name": "a", "mode": "fast", "inner": {"size": 0}}, "suite.toml: field 'inner.size': fast mode needs inner.size > 0"),
        ({}, "suite.toml: missing 1 required positional argument: 'name'"),
    ],
)
def test_errors_name_file_and_dotted_field(data: dict, expected: str) -> None:
    message = _error(data)
    if expected.startswith("suite.toml: missing"):
        assert message.startswith("suite.toml: ") and "'name'" in message
    else:
        assert message == expected


def test_error_keeps_its_parts_and_prefix() -> None:
    with pytest.raises(ConfigError) as err:
        from_data(Inner, {"size": -1}, source="ckpt.pt", prefix="config.inner")
    e = err.value
    assert (e.source, e.field, e.what) == ("ckpt.pt", "config.inner.size", "-1 is outside [0, 2]")
    assert isinstance(e, ValueError)


def test_validate_checks_objects_built_in_python() -> None:
    cfg = Outer(name="a", inner=Inner(size=5))  # the constructor does not range-check
    with pytest.raises(ConfigError, match=r"^mine: field 'inner.size': 5 is outside \[0, 2\]$"):
        cfg.validate("mine")
    assert Outer(name="a").validate() == Outer(name="a")


@pytest.mark.parametrize("suffix", [".toml", ".json", ".yaml"])
def test_save_load_round_trip(tmp_path: Path, suffix: str) -> None:
    cfg = Outer(name="x y", mode="fast", seed=3, tags=("a", "b"), splits={"train": 4, "dev-1": 2},
                inner=Inner(size=1, gain=0.25, pools=((2, 3),)), tasks=[Task("tse", 0.5), Task("seld", 2.0)])
    path = cfg.save(tmp_path / f"cfg{suffix}")
    assert Outer.load(path) == cfg
    assert read_file(path) == cfg.to_dict() | {"seed": 3}
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_toml_writer_leaves_none_out_and_quotes_keys() -> None:
    text = dumps({"a": None, "b": {"key with space": 1, "ok": [1.5, math.inf]}})
    assert text == '[b]\n"key with space" = 1\nok = [1.5, inf]\n'


def test_load_by_shipped_name_and_refusals(tmp_path: Path) -> None:
    shipped = tmp_path / "suites"
    shipped.mkdir()
    (shipped / "mini.toml").write_text('name = "mini"\n[inner]\nsize = 1\n')
    assert Outer.load("mini", search=shipped).inner.size == 1
    assert resolve_path("mini", [tmp_path, shipped]) == shipped / "mini.toml"
    # a name is a file name in the folder, never a path out of it
    (tmp_path / "outside.toml").write_text('name = "x"\n')
    for bad in ("../outside", "sub/mini", ".hidden", "mini.toml"):
        with pytest.raises(ConfigError, match="suite file not found"):
            Outer.load(bad, search=shipped)
    (tmp_path / "c.ini").write_text("name = 1\n")
    with pytest.raises(ConfigError, match=r"c\.ini: unknown suite format '\.ini' \(use \.toml or \.yaml or \.json\)"):
        Outer.load(tmp_path / "c.ini")


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("dup.json", '{"name": "a", "name": "b"}', r"dup\.json: cannot parse: duplicate key 'name'"),
        ("dup.yaml", "name: a\nname: b\n", r"dup\.yaml: cannot parse: found duplicate key 'name' \(line 2, column 1\)"),
        ("dup.toml", 'name = "a"\nname = "b"\n', r"dup\.toml: cannot parse: "),
        ("list.yaml", "- 1\n- 2\n", r"list\.yaml: expected a table at the top level, got list"),
        ("bad.toml", "name = \n", r"bad\.toml: cannot parse: Invalid value"),
        ("bytes.toml", b"name = '\xff'\n", r"bytes\.toml: cannot read: .*utf-8"),
    ],
)
def test_unreadable_files_are_named(tmp_path: Path, name: str, text: str | bytes, match: str) -> None:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=match) as err:
        read_file(p)
    assert "\n" not in str(err.value)


def test_yaml_runs_no_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    p = tmp_path / "evil.yaml"
    p.write_text(f"name: !!python/object/apply:os.mkdir [{json.dumps(str(marker))}]\n")
    with pytest.raises(ConfigError, match=r"evil\.yaml: cannot parse: could not determine a constructor"):
        Outer.load(p)
    assert not marker.exists()
    # the same text under an unsafe loader would have run: the test file is live
    yaml.unsafe_load(p.read_text())
    assert marker.exists()


def test_table_reader_uses_the_same_error_lines() -> None:
    t = Table({"n": 5, "x": "y", "sub": {"k": 1.5}}, "m.toml")
    assert t.integer("n", lo=0, hi=9) == 5
    with pytest.raises(ConfigError, match=r"^m\.toml: field 'sub\.k': 1\.5 is outside \[2\.0, 3\.0\]$"):
        t.sub("sub").real("k", lo=2.0, hi=3.0)
    with pytest.raises(ConfigError, match=r"^m\.toml: field 'x': unknown key \(allowed: n, sub\)$"):
        t.finish()
    with pytest.raises(ConfigError, match=r"^m\.toml: field 'flag': expected true or false, got 'y'$"):
        Table({"flag": "y"}, "m.toml").boolean("flag")
    assert json.loads(json.dumps(t.raw)) == {"n": 5, "x": "y", "sub": {"k": 1.5}}  # reading changed nothing
