"""DeFT-Mamba for universal sound separation, single- (MISO) and multichannel-output (MIMO).

DeFT-Mamba is DeepASA's predecessor: the same object-oriented separation backbone without
the SELD decoders, chain of inference or learnable window. DeepASA's Table 1 starts its
ablation from it ("Framework" rows): DeFT-Mamba-MISO (the original paper's network) and
DeFT-Mamba-MIMO, both 3.6 M parameters / 83.8 GMAC/s, SI-SDRi 10.4 / 10.0 dB on ASA2.

* **MISO** (multi-input single-output, registry ``deft-mamba-miso``): all M channels in, each
  object's image at the reference microphone ``ref_channel`` out, ``[B, J, 1, N]``; the
  DeFT-Mamba paper separates at one reference channel.
* **MIMO** (registry ``deft-mamba-mimo``): each object's image at all M microphones,
  ``[B, J, M, N]`` (DeepASA's multichannel-to-multichannel output).

The only difference is the audio decoder's width (``Conv2d(D, 2)`` vs ``Conv2d(D, 2M)``).

Pipeline on ``x: [B, M, N]``: fixed-Hann STFT (:class:`~asabench.models.blocks.stft.DynamicSTFT`,
``"hann"``) -> per-frequency normalisation by the reference channel's RMS magnitude (as
DeepASA) -> real/imaginary channels -> ``Conv2d(2M, D) + GroupNorm`` -> ``n_blocks``
DeFT-Mamba blocks -> object splitter (J objects) -> parameter-shared audio decoder
(spectral mapping) -> de-normalisation -> iSTFT.

The block (:class:`DeFTMambaUSSBlock`) differs from DeepASA's
(:class:`~asabench.models.blocks.deft.DeFTMambaBlock`) as DeepASA's Table 1 says the
predecessor did: the F-path's feed-forward is a BiMamba2 too (``backbone.f_mamba``; "(-)
F-Mamba" in Table 1) and the gated convolution reads ``backbone.unfold`` neighbouring
positions unfolded into channels ("(-) Unfold"). The original's unfold size is not in our
notes, and even the smallest unfold as built here (2 neighbours: +0.30 M parameters,
+4.8 GMAC/s on the paper configuration, measured) costs far more than Table 1's "(-) Unfold"
row says it saves (< 0.05 M, 0.4 G/s), so our reading of it is likely not the original's:
the ``paper`` preset leaves it out (``unfold = 1``) and keeps the option for ablations.

References
----------
D. Lee, J.-W. Choi, "DeFT-Mamba: Universal multichannel sound separation and polyphonic
audio classification", ICASSP 2025; DeepASA (NeurIPS 2025), Table 1 ("Framework") and Table 9.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from asabench.models.blocks.decoders import AudioDecoder, ObjectSplitter
from asabench.models.blocks.deft import HybridPath, MambaSpec, reference_scale, run_blocks
from asabench.models.blocks.encoder import SpectralEncoder, complex_to_channels
from asabench.models.blocks.stft import DynamicSTFT
from asabench.models.config import MAX_COUNT, BackboneConfig, STFTConfig
from asabench.models.registry import register
from asabench.models.systems.deepasa import validate_mixture
from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

__all__ = ["DeFTBackboneConfig", "DeFTMambaConfig", "DeFTMambaMIMOConfig", "UnfoldGatedConv",
           "DeFTMambaUSSBlock", "DeFTMamba"]


@dataclass
class DeFTBackboneConfig(BackboneConfig):
    """DeepASA's backbone fields plus the predecessor's F-path Mamba and unfold."""

    #: BiMamba2 feed-forward in the F-path too (DeFT-Mamba); False: DeepASA's MLP
    f_mamba: bool = True
    #: neighbouring positions the gated convolution reads as channels (1: no unfold)
    unfold: int = ranged(1, lo=1, hi=MAX_COUNT)


def _hann_stft() -> STFTConfig:
    return STFTConfig(window="hann")


@dataclass
class DeFTMambaConfig(ConfigBase):
    """Every DeFT-Mamba hyper-parameter; ``mode`` says MISO or MIMO (see the module docstring)."""

    mode: typing.Literal["miso", "mimo"] = "miso"
    sample_rate: int = ranged(16000, lo=1000, hi=384000)
    n_mics: int = ranged(4, lo=1, hi=MAX_COUNT)
    ref_channel: int = ranged(0, lo=0, hi=MAX_COUNT)
    n_objects: int = ranged(5, lo=1, hi=MAX_COUNT)
    stft: STFTConfig = field(default_factory=_hann_stft)
    backbone: DeFTBackboneConfig = field(default_factory=DeFTBackboneConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.ref_channel < self.n_mics:
            raise ConfigError(f"{self.ref_channel} is outside [0, n_mics = {self.n_mics})", field="ref_channel")
        if self.stft.window == "dynamic" or self.stft.window == "invariant":
            raise ConfigError("DeFT-Mamba uses a fixed window ('hann' or 'fixed'); the learnable one is DeepASA's",
                              field="stft.window")

    @property
    def out_channels(self) -> int:
        """Channels per object: 1 (MISO, the reference microphone) or ``n_mics`` (MIMO)."""
        return 1 if self.mode == "miso" else self.n_mics

    @property
    def min_samples(self) -> int:
        return self.stft.hop


@dataclass
class DeFTMambaMIMOConfig(DeFTMambaConfig):
    """:class:`DeFTMambaConfig` whose ``mode`` defaults to ``"mimo"`` (registry ``deft-mamba-mimo``)."""

    mode: typing.Literal["miso", "mimo"] = "mimo"


class UnfoldGatedConv(nn.Module):
    """Gated convolution over ``unfold`` neighbouring positions stacked as channels.

    ``[N, L, D] -> [N, L, D]``: the sequence is zero-padded by ``unfold - 1`` positions
    (``(unfold - 1) // 2`` before), cut into windows of ``unfold`` positions (stride 1,
    channels position-major), and ``Conv1d(unfold*D, D, kernel)(u) * Mish(Conv1d(...)(u))``
    is taken; ``unfold = 1`` is :class:`~asabench.models.blocks.deft.GatedConv` exactly.
    """

    def __init__(self, dim: int, kernel: int = 3, unfold: int = 1) -> None:
        super().__init__()
        self.unfold = unfold
        self.value = nn.Conv1d(dim * unfold, dim, kernel, padding=kernel // 2)
        self.gate = nn.Conv1d(dim * unfold, dim, kernel, padding=kernel // 2)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        u = h.transpose(1, 2)                                   # [N, D, L]
        if self.unfold > 1:
            left = (self.unfold - 1) // 2
            u = F.pad(u, (left, self.unfold - 1 - left))
            n, d, _ = u.shape
            u = u.unfold(2, self.unfold, 1)                     # [N, D, L, unfold]
            u = u.permute(0, 3, 1, 2).reshape(n, self.unfold * d, -1)
        return (self.value(u) * F.mish(self.gate(u))).transpose(1, 2)


class DeFTMambaUSSBlock(nn.Module):
    """F-path then T-path on ``[B, D, T, F]``; both paths' FFN BiMamba2 when ``f_mamba``."""

    def __init__(self, dim: int, n_heads: int, head_dim: int, kernel: int, ffn_mult: int,
                 mamba: MambaSpec, dropout: float, f_mamba: bool, unfold: int) -> None:
        super().__init__()
        self.f_path = HybridPath(dim, "mamba" if f_mamba else "mlp", n_heads, head_dim, kernel, ffn_mult,
                                 mamba=mamba, dropout=dropout)
        self.t_path = HybridPath(dim, "mamba", n_heads, head_dim, kernel, mamba=mamba, dropout=dropout)
        if unfold > 1:
            self.f_path.gcb = UnfoldGatedConv(dim, kernel, unfold)
            self.t_path.gcb = UnfoldGatedConv(dim, kernel, unfold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, d, t, f = x.shape
        y = x.permute(0, 2, 3, 1).reshape(b * t, f, d)
        y = self.f_path(y).reshape(b, t, f, d).transpose(1, 2).reshape(b * f, t, d)
        y = self.t_path(y).reshape(b, f, t, d)
        return y.permute(0, 3, 2, 1)


class DeFTMamba(nn.Module):
    """DeFT-Mamba USS network (see the module docstring); ``forward`` -> ``{"separated": [B, J, C', N]}``.

    ``C'`` is :attr:`DeFTMambaConfig.out_channels` (1 for MISO: the ``ref_channel`` image).
    """

    def __init__(self, config: DeFTMambaConfig | None = None) -> None:
        super().__init__()
        cfg = config or DeFTMambaConfig()
        self.config = cfg
        s, bb = cfg.stft, cfg.backbone
        self.stft = DynamicSTFT(s.n_fft, s.hop, s.window, s.feat_channels, s.init_sigma_frac, s.frozen)
        self.encoder = SpectralEncoder(2 * cfg.n_mics, bb.dim, bb.kernel)
        mamba = MambaSpec(**{k: getattr(bb.mamba, k) for k in MambaSpec.__dataclass_fields__})
        self.blocks = nn.ModuleList(
            DeFTMambaUSSBlock(bb.dim, bb.n_heads, bb.head_dim, bb.kernel, bb.ffn_mult, mamba, bb.dropout,
                              bb.f_mamba, bb.unfold)
            for _ in range(bb.n_blocks))
        self.splitter = ObjectSplitter(bb.dim, cfg.n_objects)
        self.decoder = AudioDecoder(bb.dim, cfg.out_channels)

    def forward(self, x: torch.Tensor, sample_rate: int | None = None) -> dict[str, torch.Tensor]:
        cfg = self.config
        validate_mixture(x, cfg.n_mics, cfg.min_samples, cfg.sample_rate, sample_rate, "DeFT-Mamba")
        b, _, n = x.shape
        j, c_out = cfg.n_objects, cfg.out_channels
        spec = self.stft(x)                                                   # [B, M, T, F]
        scale = reference_scale(spec, cfg.ref_channel)                        # [B, 1, 1, F]
        z = run_blocks(self.blocks, self.encoder(complex_to_channels(spec / scale)), cfg.backbone.checkpoint)
        t, f = z.shape[-2:]
        objs = self.splitter(z).reshape(b * j, -1, t, f)
        y = self.decoder(objs).reshape(b, j, c_out, t, f) * scale[:, None]
        return {"separated": self.stft.inverse(y, n)}


def _builder(mode: str) -> typing.Callable[[DeFTMambaConfig], DeFTMamba]:
    def build(cfg: DeFTMambaConfig) -> DeFTMamba:
        if cfg.mode != mode:
            raise ConfigError(f"deft-mamba-{mode} builds mode {mode!r}, the configuration says {cfg.mode!r} "
                              f"(use deft-mamba-{cfg.mode})", field="mode")
        return DeFTMamba(cfg)

    build.__name__ = f"build_deft_mamba_{mode}"
    return build


register("deft-mamba-miso", config_cls=DeFTMambaConfig,
         description="DeFT-Mamba, multichannel input, reference-channel output per object (USS)")(_builder("miso"))
register("deft-mamba-mimo", config_cls=DeFTMambaMIMOConfig,
         description="DeFT-Mamba, multichannel input, multichannel output per object (USS)")(_builder("mimo"))
