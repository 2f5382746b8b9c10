"""DeepASA configuration dataclasses (the shared parts are used by SoundCompass too).

Every hyper-parameter is a checked field (type and range) of a dataclass built on the one
configuration loader, :class:`asabench.simulate.io.config.ConfigBase`: ``from_dict`` (partial
mappings take the defaults), ``load(path)``, ``save(path)``. The defaults of
:class:`DeepASAConfig` are the released (paper) configuration; the named presets (``paper``,
``tiny``, ...) are data files, ``models/presets/<system>/<name>.toml``, read by
:func:`asabench.models.registry.resolve_config`.

Axis order convention for pooling sizes: ``(time, frequency)``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field

from asabench.models.blocks.deft import MambaSpec
from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

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
]

#: Upper bound of widths and channel counts: far above any published model, low enough that a
#: typo (1e9) is refused before a layer tries to allocate it.
MAX_WIDTH = 1 << 16
#: Upper bound of pooling sizes and layer counts.
MAX_COUNT = 1024


@dataclass
class STFTConfig(ConfigBase):
    """Front end: frame size/step in samples and the analysis-window variant."""

    n_fft: int = ranged(640, lo=2, hi=MAX_WIDTH)
    hop: int = ranged(320, lo=1, hi=MAX_WIDTH)
    window: typing.Literal["dynamic", "invariant", "fixed", "hann"] = "dynamic"
    feat_channels: int = ranged(64, lo=1, hi=MAX_WIDTH)
    init_sigma_frac: float = ranged(1.0 / 6.0, lo=0.0, lo_open=True, hi=10.0)
    frozen: bool = False


@dataclass
class MambaConfig(ConfigBase, MambaSpec):
    """T-path BiMamba2 hyper-parameters (see :class:`~asabench.models.blocks.deft.MambaSpec`)."""


@dataclass
class BackboneConfig(ConfigBase):
    """Encoder width and the stack of DeFT-Mamba blocks."""

    dim: int = ranged(64, lo=1, hi=MAX_WIDTH)
    n_blocks: int = ranged(6, lo=1, hi=MAX_COUNT)
    n_heads: int = ranged(4, lo=1, hi=MAX_COUNT)
    head_dim: int = ranged(64, lo=1, hi=MAX_WIDTH)
    kernel: int = ranged(3, lo=1, hi=MAX_COUNT)
    ffn_mult: int = ranged(4, lo=1, hi=MAX_COUNT)
    mamba: MambaConfig = field(default_factory=MambaConfig)
    #: dropout of the attentions (weights and output) and feed-forward networks, training
    #: mode only (0.1 in the released DeepASA configuration)
    dropout: float = ranged(0.1, lo=0.0, hi=1.0, hi_open=True)
    #: recompute each block in the backward pass instead of storing its activations
    #: (training memory of the paper configuration on a 4-s clip: > 20 GB without)
    checkpoint: bool = False


@dataclass
class DoAConfig(ConfigBase):
    """DoA decoder: conv blocks with (time, freq) pools, BiGRU, two linear layers, tanh."""

    channels: int = ranged(64, lo=1, hi=MAX_WIDTH)
    pools: tuple[tuple[int, int], ...] = ranged(((5, 8), (1, 8)), lo=1, hi=MAX_COUNT)
    hidden: int = ranged(128, lo=1, hi=MAX_WIDTH)
    gru_layers: int = ranged(2, lo=1, hi=MAX_COUNT)


@dataclass
class SEDConfig(ConfigBase):
    """SED/class decoder: T-CRNN (7 conv blocks), BiGRU, heads; F-CRNN class path."""

    t_channels: tuple[int, ...] = ranged((64, 64, 64, 64, 64, 64, 64), lo=1, hi=MAX_WIDTH)
    t_pools: tuple[tuple[int, int], ...] = ranged(((5, 2), (1, 2), (1, 2), (1, 2), (1, 2), (1, 2), (1, 2)),
                                                  lo=1, hi=MAX_COUNT)
    hidden: int = ranged(256, lo=1, hi=MAX_WIDTH)
    gru_layers: int = ranged(2, lo=1, hi=MAX_COUNT)
    asp_hidden: int = ranged(128, lo=1, hi=MAX_WIDTH)
    f_channels: tuple[int, ...] = ranged((64, 64), lo=1, hi=MAX_WIDTH)
    f_pools: tuple[tuple[int, int], ...] = ranged(((5, 2), (5, 2)), lo=1, hi=MAX_COUNT)
    f_hidden: int = ranged(128, lo=1, hi=MAX_WIDTH)
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
    dim: int = ranged(768, lo=1, hi=MAX_WIDTH)
    layers: int = ranged(12, lo=1, hi=MAX_COUNT)
    heads: int = ranged(12, lo=1, hi=MAX_COUNT)
    ffn_dim: int = ranged(3072, lo=1, hi=MAX_WIDTH)
    n_mels: int = ranged(64, lo=1, hi=MAX_WIDTH)
    patch_frames: int = ranged(4, lo=1, hi=MAX_COUNT)
    max_patches: int = ranged(256, lo=1, hi=MAX_WIDTH)
    out_dim: int = ranged(128, lo=1, hi=MAX_WIDTH)


@dataclass
class CoIConfig(ConfigBase):
    """Chain-of-inference with temporal coherence matching.

    The TCM attentions take each SED/DoA channel's trajectory over the label frames as one
    feature vector, so their sizes fix the clip length: ``frames`` label frames (40 = 4 s in
    the paper configuration); a CoI model accepts only clips with exactly that many.
    ``fusion`` combines the two attention branches (``"product"`` released code, ``"sum"``
    paper figure). The attentions use ``backbone.dropout``.
    """

    enabled: bool = False
    fusion: typing.Literal["product", "sum"] = "product"
    frames: int = ranged(40, lo=1, hi=MAX_WIDTH)
    heads: int = ranged(4, lo=1, hi=MAX_COUNT)


@dataclass
class DeepASAConfig(ConfigBase):
    """Every DeepASA hyper-parameter; defaults are the released (paper) configuration."""

    sample_rate: int = ranged(16000, lo=1000, hi=384000)
    n_mics: int = ranged(4, lo=1, hi=MAX_COUNT)
    ref_channel: int = ranged(0, lo=0, hi=MAX_COUNT)
    n_objects: int = ranged(5, lo=1, hi=MAX_COUNT)
    n_classes: int = ranged(13, lo=1, hi=MAX_WIDTH)
    stft: STFTConfig = field(default_factory=STFTConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    doa: DoAConfig = field(default_factory=DoAConfig)
    sed: SEDConfig = field(default_factory=SEDConfig)
    atst: ATSTConfig = field(default_factory=ATSTConfig)
    coi: CoIConfig = field(default_factory=CoIConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.ref_channel < self.n_mics:
            raise ConfigError(f"{self.ref_channel} is outside [0, n_mics = {self.n_mics})", field="ref_channel")
        if self.label_hop_frames != _prod(p[0] for p in self.sed.t_pools):
            raise ConfigError("doa.pools and sed.t_pools must pool time by the same total factor "
                              "(both decoders emit the same label frames)", field="sed.t_pools")

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

    @property
    def coi_samples(self) -> tuple[int, int]:
        """Shortest and longest input (samples) giving exactly ``coi.frames`` label frames.

        ``T = N // hop + 1`` STFT frames and ``T' = T // label_hop_frames`` label frames, so
        ``(64000 - 320, 65600 - 321)`` samples for the paper configuration (4 s is 64000).
        """
        s, hop = self.label_hop_frames, self.stft.hop
        return (self.coi.frames * s - 1) * hop, ((self.coi.frames + 1) * s - 1) * hop - 1


def _prod(xs: typing.Iterable[int]) -> int:
    out = 1
    for x in xs:
        out *= x
    return out
