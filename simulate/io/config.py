"""Configuration files as validated data: the one loader for every recipe asabench reads.

Manifests (:mod:`asabench.simulate.manifest`), model presets (``models/presets/<system>/*.toml``
through :mod:`asabench.models.registry`), and the training recipes, evaluation suites and
submission cards to come are all read here: a file (``.toml``, ``.yaml``/``.yml``, ``.json``)
or a shipped name becomes a plain mapping (:func:`resolve_path`, :func:`read_file`), and the
mapping becomes a dataclass whose every field is checked. Nothing executes on load: TOML and
JSON are data by construction and YAML is read with ``yaml.safe_load`` semantics (plus a
duplicate-key check, which TOML already has).

Every problem is a :class:`ConfigError` (a ``ValueError``) whose message is one line::

    <file>: field '<dotted.name>': <what>

for unknown keys, duplicate keys, missing fields, wrong types, out-of-range values and the
dataclass's own ``__post_init__`` checks. A CLI prints ``str(error)`` after its command name.

Two ways to describe a configuration
------------------------------------
*Declarative* (model presets, recipes, suites, cards): a dataclass that inherits
:class:`ConfigBase`. Field types come from the annotations (``int``, ``float``, ``bool``,
``str``, ``Literal[...]``, ``X | None``, ``tuple[X, ...]``, ``tuple[X, Y]``, ``list[X]``,
``dict[str, X]``, nested dataclasses); numeric ranges from :func:`ranged`. Missing fields take
their defaults. Cross-field rules go in ``__post_init__`` and raise ``ConfigError(what,
field="name")`` (or a plain ``ValueError``)::

    @dataclass
    class Suite(ConfigBase):
        config_dir: ClassVar[Path] = Path(__file__).parent / "suites"   # shipped names
        config_what: ClassVar[str] = "suite"                              # used in messages

        name: str
        tasks: tuple[str, ...] = ("uss", "tse", "seld")
        workers: int = ranged(1, lo=1, hi=1024)
        seconds: float = ranged(4.0, lo=0.0, lo_open=True)
        scoring: ScoringConfig = field(default_factory=ScoringConfig)

    suite = Suite.load("dcase-mini")          # shipped name: <config_dir>/dcase-mini.toml
    suite = Suite.load("my/suite.yaml")       # or any file
    suite.save("out/suite.toml")              # atomic; .toml, .json or .yaml by suffix

*Imperative* (the dataset manifest, whose random ranges and cross-field rules read better as
code): a :class:`Table` over the raw mapping, whose typed getters (``integer``, ``real``,
``text``, ``reals``, ``integers``, ``boolean``, ``sub``) check one field each and whose
``finish()`` refuses unknown keys. Both ways produce the same error lines.

Paths read from a configuration file are data like any other value: a loader that opens one
confines it first with :func:`asabench.simulate.io.files.confine`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, TypeVar, Union

from asabench.simulate.io.files import atomic_write_text

__all__ = [
    "ConfigError",
    "Range",
    "ranged",
    "Table",
    "ConfigBase",
    "SUFFIXES",
    "resolve_path",
    "read_file",
    "parse_text",
    "from_data",
    "to_data",
    "dumps",
    "save",
]

Pathlike = Union[str, "os.PathLike[str]"]
T = TypeVar("T")
C = TypeVar("C", bound="ConfigBase")

#: File formats the loader reads, by suffix (``.yml`` is an alias of ``.yaml``).
SUFFIXES: tuple[str, ...] = (".toml", ".yaml", ".yml", ".json")

_RANGE_KEY = "asabench.config.range"


# ----------------------------------------------------------------------------- errors


class ConfigError(ValueError):
    """A configuration file or mapping does not match its schema.

    ``source`` (the file), ``field`` (dotted name) and ``what`` are kept as attributes; the
    message is ``<source>: field '<field>': <what>`` with the absent parts left out.
    """

    def __init__(self, what: str, *, source: Pathlike | None = None, field: str | None = None) -> None:
        self.what = what
        self.source = None if source is None else str(source)
        self.field = field or None
        super().__init__(_format(self.source, self.field, what))

    def relocated(self, *, source: Pathlike | None = None, prefix: str = "") -> "ConfigError":
        """The same error (same class) with ``source`` filled in and ``prefix.`` put before the field."""
        field_name = _join(prefix, self.field) if self.field else (prefix or None)
        return type(self)(self.what, source=self.source or source, field=field_name)


def _format(source: str | None, field_name: str | None, what: str) -> str:
    return (f"{source}: " if source else "") + (f"field '{field_name}': " if field_name else "") + what


def _join(prefix: str, key: str) -> str:
    if not prefix:
        return key
    if not key:
        return prefix
    return f"{prefix}{key}" if key.startswith("[") else f"{prefix}.{key}"


# ----------------------------------------------------------------------------- ranges


@dataclass(frozen=True)
class Range:
    """Accepted interval of a number (or of each number of a list): ``[lo, hi]``, ends optionally open."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    def problem(self, v: float) -> str | None:
        """Why ``v`` is outside the interval, or ``None``."""
        if v < self.lo or v > self.hi or (self.lo_open and v <= self.lo) or (self.hi_open and v >= self.hi):
            return f"{v} is outside {self}"
        return None

    def __str__(self) -> str:
        return f"{'(' if self.lo_open else '['}{self.lo}, {self.hi}{')' if self.hi_open else ']'}"


def ranged(default: Any = dataclasses.MISSING, *, lo: float = -math.inf, hi: float = math.inf,
           lo_open: bool = False, hi_open: bool = False, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose value (or each value of a list) must lie in ``[lo, hi]``.

    ``n_fft: int = ranged(640, lo=2, hi=65536)``. Checked when the dataclass is built from
    data (:meth:`ConfigBase.from_dict`, :meth:`ConfigBase.load`, :meth:`ConfigBase.validate`).
    """
    meta = {_RANGE_KEY: Range(lo, hi, lo_open, hi_open)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# ----------------------------------------------------------------------------- files


def resolve_path(name_or_path: Pathlike, search: Pathlike | Sequence[Pathlike] | None = None, *,
                 suffixes: Sequence[str] = SUFFIXES, what: str = "configuration",
                 error: type[ConfigError] = ConfigError) -> Path:
    """A configuration file from a path, or a shipped name looked up in ``search`` folders.

    A plain name (no folder, no suffix, such as ``"asa2"`` or ``"tiny"``) that is not a file
    is tried as ``<folder>/<name><suffix>`` for each folder and suffix in order.
    """
    p = Path(name_or_path)
    if p.is_file():
        return p
    if isinstance(search, (str, os.PathLike)):
        search = [search]
    if (search and p.suffix == "" and p.parent == Path(".") and p.name
            and not p.name.startswith(".")):
        for folder in search:
            for ext in suffixes:
                candidate = Path(folder) / f"{p.name}{ext}"
                if candidate.is_file():
                    return candidate
    raise error(f"{p}: {what} file not found")


class _UniqueKeyLoader:
    """``yaml.SafeLoader`` that also refuses a key given twice in one mapping (built lazily)."""

    _cls: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls._cls is None:
            import yaml

            class Loader(yaml.SafeLoader):
                def construct_mapping(self, node: Any, deep: bool = False) -> Any:
                    seen: set[Any] = set()
                    for key_node, _ in node.value:
                        if key_node.tag == "tag:yaml.org,2002:merge":
                            continue
                        key = self.construct_object(key_node, deep=deep)
                        try:
                            duplicate = key in seen
                        except TypeError:  # unhashable: SafeLoader reports it
                            break
                        if duplicate:
                            raise yaml.constructor.ConstructorError(
                                "while constructing a mapping", node.start_mark,
                                f"found duplicate key {key!r}", key_node.start_mark)
                        seen.add(key)
                    return super().construct_mapping(node, deep=deep)

            cls._cls = Loader
        return cls._cls


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse_text(text: str, suffix: str) -> Any:
    """Parse ``text`` as the format of ``suffix`` (no validation; parser errors propagate)."""
    if suffix == ".toml":
        return tomllib.loads(text)
    if suffix == ".json":
        return json.loads(text, object_pairs_hook=_json_object)
    if suffix in (".yaml", ".yml"):
        import yaml

        return yaml.load(text, Loader=_UniqueKeyLoader.get())  # noqa: S506 - a SafeLoader subclass
    raise ValueError(f"unknown format {suffix!r}")


def _one_line(exc: Exception) -> str:
    """A parser's message on one line (YAML's spans several, with a source excerpt)."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def read_file(path: Pathlike, *, suffixes: Sequence[str] = SUFFIXES, what: str = "configuration",
              error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """Read a configuration file into a plain mapping (the top level must be a table).

    Errors name the file: ``<file>: unknown <what> format '.ini' (use .toml or .yaml)``,
    ``<file>: cannot parse: <parser message>``, ``<file>: <what> file not found``.
    """
    p = Path(path)
    where = str(p)
    if p.suffix not in suffixes:
        allowed = " or ".join(s for s in suffixes if s != ".yml")
        raise error(f"{where}: unknown {what} format {p.suffix!r} (use {allowed})")
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise error(f"{where}: {what} file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{where}: cannot read: {exc}") from exc
    try:
        raw = parse_text(text, p.suffix)
    except Exception as exc:  # noqa: BLE001 - syntax errors of any of the three parsers
        raise error(f"{where}: cannot parse: {_one_line(exc)}") from exc
    if not isinstance(raw, dict):
        raise error(f"expected a table at the top level, got {type(raw).__name__}", source=where)
    return raw


# ----------------------------------------------------------------------------- imperative reader


class Table:
    """A raw mapping being validated field by field; records the keys read so :meth:`finish` can refuse the rest.

    Parameters
    ----------
    raw : the mapping (anything else is an error naming ``prefix``).
    source : the file name used in messages.
    prefix : dotted name of this table inside the file (``""`` at the top level).
    error : the :class:`ConfigError` subclass to raise (``ManifestError`` for manifests).
    """

    def __init__(self, raw: Any, source: str | None, prefix: str = "", *,
                 error: type[ConfigError] = ConfigError) -> None:
        self.where = source
        self.prefix = prefix
        self.error_cls = error
        if not isinstance(raw, Mapping):
            raise self.error("", f"expected a table, got {type(raw).__name__}")
        self.raw = raw
        self.used: set[str] = set()

    def name(self, key: str) -> str:
        """Dotted name of ``key`` in this table."""
        return _join(self.prefix, key)

    def error(self, key: str, message: str) -> ConfigError:
        """An error naming the file and the field ``key`` of this table."""
        return self.error_cls(message, source=self.where, field=self.name(key) or None)

    def has(self, key: str) -> bool:
        return key in self.raw

    def get(self, key: str, default: Any = dataclasses.MISSING) -> Any:
        """The raw value of ``key`` (or ``default``; a missing required field is an error)."""
        self.used.add(key)
        if key in self.raw:
            return self.raw[key]
        if default is dataclasses.MISSING:
            raise self.error(key, "required field is missing")
        return default

    def sub(self, key: str, required: bool = True) -> "Table":
        """The nested table ``key`` (empty when absent and not required)."""
        self.used.add(key)
        if key not in self.raw:
            if required:
                raise self.error(key, "required table is missing")
            return Table({}, self.where, self.name(key), error=self.error_cls)
        return Table(self.raw[key], self.where, self.name(key), error=self.error_cls)

    def finish(self) -> None:
        """Refuse keys that no getter asked for."""
        unknown = sorted(str(k) for k in set(self.raw) - self.used)
        if unknown:
            raise self.error(unknown[0], f"unknown key (allowed: {', '.join(sorted(self.used))})")

    # typed getters -------------------------------------------------------------------------

    def real(self, key: str, default: Any = dataclasses.MISSING, *, lo: float = -math.inf,
             hi: float = math.inf, lo_open: bool = False) -> float:
        """A finite number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.error(key, f"expected a finite number, got {v!r}")
        v = float(v)
        if v < lo or v > hi or (lo_open and v <= lo):
            bracket = "(" if lo_open else "["
            raise self.error(key, f"{v} is outside {bracket}{lo}, {hi}]")
        return v

    def integer(self, key: str, default: Any = dataclasses.MISSING, *, lo: int | None = None,
                hi: int | None = None) -> int:
        """An integer (not a bool) in ``[lo, hi]``."""
        v = self.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(key, f"expected an integer, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise self.error(key, f"{v} is outside [{lo}, {hi}]")
        return int(v)

    def boolean(self, key: str, default: Any = dataclasses.MISSING) -> bool:
        """``true`` or ``false``."""
        v = self.get(key, default)
        if not isinstance(v, bool):
            raise self.error(key, f"expected true or false, got {v!r}")
        return v

    def text(self, key: str, default: Any = dataclasses.MISSING,
             choices: tuple[str, ...] | None = None) -> str:
        """A non-empty string (one of ``choices`` when given)."""
        v = self.get(key, default)
        if not isinstance(v, str) or not v:
            raise self.error(key, f"expected a non-empty string, got {v!r}")
        if choices is not None and v not in choices:
            raise self.error(key, f"{v!r} is not one of {', '.join(choices)}")
        return v

    def reals(self, key: str, default: Any = dataclasses.MISSING, *, length: int | None = None,
              lo: float = -math.inf, hi: float = math.inf) -> tuple[float, ...]:
        """A non-empty list of numbers in ``[lo, hi]`` (``length`` of them when given)."""
        v = self.get(key, default)
        if (not isinstance(v, (list, tuple)) or not v
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
            raise self.error(key, f"expected a non-empty list of numbers, got {v!r}")
        if length is not None and len(v) != length:
            raise self.error(key, f"expected {length} values, got {len(v)}")
        if any(not (lo <= float(x) <= hi) for x in v):
            raise self.error(key, f"values must lie in [{lo}, {hi}], got {list(v)}")
        return tuple(float(x) for x in v)

    def integers(self, key: str, default: Any = dataclasses.MISSING, *, lo: int, hi: int) -> tuple[int, ...]:
        """A non-empty list of distinct integers in ``[lo, hi]``."""
        v = self.get(key, default)
        if (not isinstance(v, (list, tuple)) or not v
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in v)):
            raise self.error(key, f"expected a non-empty list of integers, got {v!r}")
        if any(not (lo <= x <= hi) for x in v):
            raise self.error(key, f"values must lie in [{lo}, {hi}], got {list(v)}")
        if len(set(v)) != len(v):
            raise self.error(key, f"values must be distinct, got {list(v)}")
        return tuple(int(x) for x in v)


# ----------------------------------------------------------------------------- declarative: data -> dataclass


class _Ctx:
    def __init__(self, source: str | None, error: type[ConfigError]) -> None:
        self.source = source
        self.error_cls = error

    def error(self, name: str, what: str) -> ConfigError:
        return self.error_cls(what, source=self.source, field=name or None)


def _describe(hint: Any) -> str:
    if isinstance(hint, type):
        if dataclasses.is_dataclass(hint):
            return f"a table ({hint.__name__})"
        return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(hint, hint.__name__)
    origin = typing.get_origin(hint)
    if origin in (tuple, list):
        return "a list"
    if origin in (dict, Mapping):
        return "a table"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    return str(hint)


def _convert(value: Any, hint: Any, name: str, ctx: _Ctx, bounds: Range | None) -> Any:
    """Check and convert a plain value against a type hint; errors name the dotted field."""
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors: list[ConfigError] = []
        for a in options:
            try:
                return _convert(value, a, name, ctx, bounds)
            except ConfigError as exc:
                errors.append(exc)
        if len(options) == 1:
            raise errors[0]
        raise ctx.error(name, f"expected {' or '.join(_describe(a) for a in options)}, got {value!r}")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return _build(hint, value, name, ctx)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ctx.error(name, f"expected a list, got {value!r}")
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ctx.error(name, f"expected {len(args)} values, got {len(value)}")
            return tuple(_convert(v, a, f"{name}[{i}]", ctx, bounds) for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [_convert(v, item, f"{name}[{i}]", ctx, bounds) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ctx.error(name, f"expected a table, got {value!r}")
        args = typing.get_args(hint)
        item = args[1] if len(args) == 2 else Any
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ctx.error(name, f"keys must be strings, got {k!r}")
            out[k] = _convert(v, item, _join(name, k), ctx, bounds)
        return out
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if value not in choices or type(value) not in {type(c) for c in choices}:
            raise ctx.error(name, f"{value!r} is not one of {', '.join(repr(c) for c in choices)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ctx.error(name, f"expected a finite number, got {value!r}")
        value = float(value)
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(name, f"expected an integer, got {value!r}")
    elif hint is bool or hint is str:
        if not isinstance(value, hint):
            raise ctx.error(name, f"expected {_describe(hint)}, got {value!r}")
        return value
    elif isinstance(hint, type):
        if not isinstance(value, hint):
            raise ctx.error(name, f"expected {_describe(hint)}, got {value!r}")
        return value
    else:  # a hint this loader does not know: a programming error, not a user's
        raise TypeError(f"{name}: unsupported annotation {hint!r}")
    if bounds is not None:
        why = bounds.problem(value)
        if why:
            raise ctx.error(name, why)
    return value


def _build(cls: type[T], data: Any, prefix: str, ctx: _Ctx) -> T:
    if not isinstance(data, Mapping):
        raise ctx.error(prefix, f"expected a table ({cls.__name__}), got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    table = Table(data, ctx.source, prefix, error=ctx.error_cls)
    table.used.update(fields)
    table.finish()
    hints = typing.get_type_hints(cls)
    kwargs = {k: _convert(v, hints[k], _join(prefix, k), ctx, fields[k].metadata.get(_RANGE_KEY))
              for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise exc.relocated(source=ctx.source, prefix=prefix) from None
    except (TypeError, ValueError) as exc:
        raise ctx.error(prefix, str(exc)) from None


def from_data(cls: type[T], data: Any, *, source: Pathlike | None = None, prefix: str = "",
              error: type[ConfigError] = ConfigError) -> T:
    """Build the dataclass ``cls`` from a (possibly partial) mapping, checking every field.

    ``source`` names the file in messages; ``prefix`` is the dotted name of ``data`` inside
    it (``"config"`` for the configuration stored in a checkpoint).
    """
    return _build(cls, data, prefix, _Ctx(None if source is None else str(source), error))


# ----------------------------------------------------------------------------- declarative: dataclass -> data


def to_data(obj: Any) -> Any:
    """Plain nested data (dicts, lists, scalars) of a dataclass; tuples become lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_data(x) for x in obj]
    return obj


_BARE_KEY = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _toml_key(k: str) -> str:
    return k if k and set(k) <= _BARE_KEY else json.dumps(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string literal is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items() if x is not None) + " }"
    raise ConfigError(f"cannot write {type(v).__name__} value {v!r} to TOML")


def _is_table_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, Mapping) for x in v)


def _to_toml(d: Mapping[str, Any], prefix: str = "") -> str:
    # ``None`` has no TOML spelling: the key is left out and reads back as its default.
    scalars = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in d.items()
               if v is not None and not isinstance(v, Mapping) and not _is_table_list(v)]
    blocks = ["\n".join(([f"[{prefix}]"] if prefix and scalars else []) + scalars)] if scalars else []
    for k, v in d.items():
        name = f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k)
        if isinstance(v, Mapping):
            sub = _to_toml(v, name)
            blocks.append(sub if sub else f"[{name}]")
        elif _is_table_list(v):
            for item in v:
                inner = _to_toml({kk: vv for kk, vv in item.items() if not isinstance(vv, Mapping)}, "")
                blocks.append(f"[[{name}]]" + ("\n" + inner if inner else ""))
                if any(isinstance(vv, Mapping) for vv in item.values()):
                    raise ConfigError(f"{name}: nested tables inside a list of tables are not written to TOML")
    return "\n\n".join(b.rstrip("\n") for b in blocks if b) + ("\n" if blocks else "")


def dumps(obj: Any, fmt: str = ".toml") -> str:
    """Text of a dataclass (or mapping) in ``.toml``, ``.json`` or ``.yaml``."""
    data = to_data(obj)
    if fmt == ".toml":
        return _to_toml(data)
    if fmt == ".json":
        return json.dumps(data, indent=2) + "\n"
    if fmt in (".yaml", ".yml"):
        import yaml

        return yaml.safe_dump(data, sort_keys=False)
    raise ConfigError(f"unknown configuration format {fmt!r} (use .toml, .json or .yaml)")


def save(obj: Any, path: Pathlike) -> Path:
    """Write ``obj`` atomically in the format of ``path``'s suffix."""
    p = Path(path)
    if p.suffix not in SUFFIXES:
        raise ConfigError(f"{p}: configuration files must end in .toml, .json or .yaml")
    atomic_write_text(p, dumps(obj, p.suffix))
    return p


# ----------------------------------------------------------------------------- the mixin


class ConfigBase:
    """Mixin for configuration dataclasses: checked loading from data and files, saving.

    Class attributes a subclass may set: ``config_dir`` (folder of shipped files, so that
    :meth:`load` accepts a plain name) and ``config_what`` (the noun used in messages).
    """

    config_dir: Path | Sequence[Path] | None = None
    config_what: str = "configuration"

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples become lists) suitable for JSON/TOML/YAML."""
        return to_data(self)

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any], source: Pathlike | None = None, *,
                  prefix: str = "") -> C:
        """Build from a (possibly partial) mapping; missing fields take their defaults.

        Raises :class:`ConfigError` naming ``source`` and the offending field.
        """
        return from_data(cls, data, source=source or None, prefix=prefix)

    @classmethod
    def load(cls: type[C], name_or_path: Pathlike, *, search: Pathlike | Sequence[Pathlike] | None = None) -> C:
        """Read a file, or a shipped name from ``search`` (default: the class's ``config_dir``)."""
        folders = cls.config_dir if search is None else search
        p = resolve_path(name_or_path, folders, what=cls.config_what)
        return cls.from_dict(read_file(p, what=cls.config_what), source=str(p))

    def validate(self: C, source: Pathlike | None = None) -> C:
        """Check an object built in Python against the same rules as loaded data (returns ``self``)."""
        type(self).from_dict(self.to_dict(), source)
        return self

    def dumps(self, fmt: str = ".toml") -> str:
        """Text in ``.toml``, ``.json`` or ``.yaml``."""
        return dumps(self, fmt)

    def save(self, path: Pathlike) -> Path:
        """Write as ``.toml``, ``.json`` or ``.yaml`` (chosen by suffix), atomically."""
        return save(self, path)
