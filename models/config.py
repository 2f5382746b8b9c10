"""Model configurations as data: dataclasses that load from and save to JSON or TOML.

:class:`ConfigBase` gives any (nested) dataclass ``to_dict``, ``from_dict`` (validated: unknown
keys and wrong types raise errors naming the field), ``load(path)`` and ``save(path)``
(atomic). :class:`DeepASAConfig` holds every DeepASA hyper-parameter; :func:`deepasa_paper`
returns the released configuration (4-mic, 16 kHz, n_fft 640, D 64, 6 blocks, J 5, 13 classes)
and :func:`deepasa_tiny` a small one that trains on a CPU in minutes.

Axis order convention for pooling sizes: ``(time, frequency)``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, TypeVar, Union

from asabench.models.blocks.deft import MambaSpec
from asabench.simulate.io.files import atomic_write_text

__all__ = [
    "ConfigBase",
    "ConfigError",
    "STFTConfig",
    "BackboneConfig",
    "DoAConfig",
    "SEDConfig",
    "ATSTConfig",
    "CoIConfig",
    "DeepASAConfig",
    "MambaConfig",
    "deepasa_paper",
    "deepasa_tiny",
    "read_config_file",
]

Pathlike = Union[str, os.PathLike]
C = TypeVar("C", bound="ConfigBase")


class ConfigError(ValueError):
    """A configuration file or mapping does not match its dataclass."""


def read_config_file(path: Pathlike) -> dict[str, Any]:
    """Read a ``.json`` or ``.toml`` file into a dict (errors name the file)."""
    p = Path(path)
    try:
        if p.suffix == ".json":
            data = json.loads(p.read_text())
        elif p.suffix == ".toml":
            data = tomllib.loads(p.read_text())
        else:
            raise ConfigError(f"{p}: configuration files must end in .json or .toml")
    except (OSError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read configuration: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a table/object")
    return data


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if abs(v) == float("inf"):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string literal is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ConfigError(f"cannot write {type(v).__name__} value {v!r} to TOML")


def _to_toml(d: Mapping[str, Any], prefix: str = "") -> str:
    scalars = [f"{k} = {_toml_value(v)}" for k, v in d.items() if not isinstance(v, Mapping) and v is not None]
    out = ([f"[{prefix}]"] if prefix and scalars else []) + scalars
    text = "\n".join(out) + ("\n" if out else "")
    for k, v in d.items():
        if isinstance(v, Mapping):
            text += ("\n" if text else "") + _to_toml(v, f"{prefix}.{k}" if prefix else k)
    return text


def _convert(value: Any, hint: Any, where: str) -> Any:
    """Validate/convert a plain value against a type hint (dataclasses, tuples, unions)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(value, a, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table for {hint.__name__}, got {type(value).__name__}")
        return _from_mapping(hint, value, where)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        conv = [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(conv) if origin is tuple else conv
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{where}: must be one of {typing.get_args(hint)}, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint in (bool, str):
        if not isinstance(value, hint):
            raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
        return value
    return value


def _from_mapping(cls: type, data: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where or 'top level'}: unknown field(s) {unknown} for {cls.__name__}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from exc


class ConfigBase:
    """Mixin for configuration dataclasses: dict/JSON/TOML round trips with validation."""

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples become lists) suitable for JSON/TOML."""
        def plain(v: Any) -> Any:
            if dataclasses.is_dataclass(v):
                return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            return v
        return plain(self)

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any], source: str = "") -> C:
        """Build from a (possibly partial) mapping; missing fields take their defaults.

        Raises :class:`ConfigError` naming ``source`` and the offending field.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source or cls.__name__}: expected a mapping, got {type(data).__name__}")
        try:
            return _from_mapping(cls, data, "")
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}" if source else str(exc)) from None

    @classmethod
    def load(cls: type[C], path: Pathlike) -> C:
        """Read a ``.json`` or ``.toml`` file."""
        return cls.from_dict(read_config_file(path), source=str(path))

    def save(self, path: Pathlike) -> Path:
        """Write as ``.json`` or ``.toml`` (chosen by suffix), atomically."""
        p = Path(path)
        if p.suffix == ".json":
            text = json.dumps(self.to_dict(), indent=2) + "\n"
        elif p.suffix == ".toml":
            text = _to_toml(self.to_dict())
        else:
            raise ConfigError(f"{p}: configuration files must end in .json or .toml")
        atomic_write_text(p, text)
        return p


@dataclass
class STFTConfig(ConfigBase):
    """Front end: frame size/step in samples and the analysis-window variant."""

    n_fft: int = 640
    hop: int = 320
    window: typing.Literal["dynamic", "invariant", "fixed", "hann"] = "dynamic"
    feat_channels: int = 64
    init_sigma_frac: float = 1.0 / 6.0
    frozen: bool = False


@dataclass
class MambaConfig(ConfigBase, MambaSpec):
    """T-path BiMamba2 hyper-parameters (see :class:`~asabench.models.blocks.deft.MambaSpec`)."""


@dataclass
class BackboneConfig(ConfigBase):
    """Encoder width and the stack of DeFT-Mamba blocks."""

    dim: int = 64
    n_blocks: int = 6
    n_heads: int = 4
    head_dim: int = 64
    kernel: int = 3
    ffn_mult: int = 4
    mamba: MambaConfig = field(default_factory=MambaConfig)
    #: recompute each block in the backward pass instead of storing its activations
    #: (training memory of the paper configuration on a 4-s clip: > 20 GB without)
    checkpoint: bool = False


@dataclass
class DoAConfig(ConfigBase):
    """DoA decoder: conv blocks with (time, freq) pools, BiGRU, two linear layers, tanh."""

    channels: int = 64
    pools: tuple[tuple[int, int], ...] = ((5, 8), (1, 8))
    hidden: int = 128
    gru_layers: int = 2


@dataclass
class SEDConfig(ConfigBase):
    """SED/class decoder: T-CRNN (7 conv blocks), BiGRU, heads; F-CRNN class path."""

    t_channels: tuple[int, ...] = (64, 64, 64, 64, 64, 64, 64)
    t_pools: tuple[tuple[int, int], ...] = ((5, 2), (1, 2), (1, 2), (1, 2), (1, 2), (1, 2), (1, 2))
    hidden: int = 256
    gru_layers: int = 2
    asp_hidden: int = 128
    f_channels: tuple[int, ...] = (64, 64)
    f_pools: tuple[tuple[int, int], ...] = ((5, 2), (5, 2))
    f_hidden: int = 128
    use_fcrnn: bool = True


@dataclass
class ATSTConfig(ConfigBase):
    """Optional frozen ATST-Frame branch of the SED decoder (off by default).

    ``weights`` is a user-supplied state-dict file (``torch.save``) for the transformer;
    enabling the branch without it is an error. Sizes default to ATST-Frame (12 layers,
    dim 768, 12 heads, 64 mel-like bins, patches of 4 frames).
    """

    enabled: bool = False
    weights: str | None = None
    dim: int = 768
    layers: int = 12
    heads: int = 12
    ffn_dim: int = 3072
    n_mels: int = 64
    patch_frames: int = 4
    max_patches: int = 256
    out_dim: int = 128


@dataclass
class CoIConfig(ConfigBase):
    """Chain-of-inference with temporal coherence matching."""

    enabled: bool = False
    fusion: typing.Literal["product", "sum"] = "product"


@dataclass
class DeepASAConfig(ConfigBase):
    """Every DeepASA hyper-parameter; defaults are the released (paper) configuration."""

    sample_rate: int = 16000
    n_mics: int = 4
    ref_channel: int = 0
    n_objects: int = 5
    n_classes: int = 13
    stft: STFTConfig = field(default_factory=STFTConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    doa: DoAConfig = field(default_factory=DoAConfig)
    sed: SEDConfig = field(default_factory=SEDConfig)
    atst: ATSTConfig = field(default_factory=ATSTConfig)
    coi: CoIConfig = field(default_factory=CoIConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.ref_channel < self.n_mics:
            raise ValueError(f"ref_channel {self.ref_channel} outside [0, {self.n_mics})")
        if self.label_hop_frames != _prod(p[0] for p in self.sed.t_pools):
            raise ValueError("doa.pools and sed.t_pools must pool time by the same total factor "
                             "(both decoders emit the same label frames)")

    @property
    def label_hop_frames(self) -> int:
        """STFT frames per output label frame (product of the DoA time pools)."""
        return _prod(p[0] for p in self.doa.pools)

    @property
    def label_hop_s(self) -> float:
        """Label frame step in seconds (0.1 s for the paper configuration)."""
        return self.label_hop_frames * self.stft.hop / self.sample_rate

    @property
    def min_samples(self) -> int:
        """Shortest accepted input: one label frame of STFT frames."""
        return self.label_hop_frames * self.stft.hop


def _prod(xs: typing.Iterable[int]) -> int:
    out = 1
    for x in xs:
        out *= x
    return out


def deepasa_paper(coi: bool = False) -> DeepASAConfig:
    """Released DeepASA configuration (without ATST), optionally with chain-of-inference."""
    return DeepASAConfig(coi=CoIConfig(enabled=coi))


def deepasa_tiny(coi: bool = False) -> DeepASAConfig:
    """Small DeepASA for CPU tests and smoke training (n_fft 128, D 16, 1 block, J 3)."""
    return DeepASAConfig(
        n_objects=3,
        stft=STFTConfig(n_fft=128, hop=64, feat_channels=8),
        backbone=BackboneConfig(dim=16, n_blocks=1, n_heads=2, head_dim=8,
                                mamba=MambaConfig(d_state=8, expand=2, headdim=8, scan_chunk=32)),
        doa=DoAConfig(channels=16, pools=((5, 4), (5, 4)), hidden=16, gru_layers=1),
        sed=SEDConfig(t_channels=(16, 16, 16), t_pools=((5, 4), (5, 4), (1, 2)), hidden=16,
                      gru_layers=1, asp_hidden=16, f_channels=(16,), f_pools=((5, 4),), f_hidden=16),
        coi=CoIConfig(enabled=coi),
    )
