"""DSENet-style directional target sound extraction with a cyclic positional clue in (azimuth, elevation).

DSENet (Jing, Zhang and Gao, Interspeech 2025) extracts the source coming from a DoA with a
SpatialNet backbone (Quan and Li) whose input to every layer is multiplied by a projection
of a cyclic positional (cyc-pos) embedding of the DoA. SoundCompass (seeds/002, Sec. 3.3,
Table 1) compares against it with one point clue: "extended cyc-pos embedding to elevation
as well as azimuth without beamwidth control". This module is that adaptation.

Pipeline::

    mixture [B, M, N] --STFT (fixed periodic Hann, n_fft 256, hop 128)--> X [B, M, T, F]
      X / s (reference-channel RMS of the waveform, per item) -> [re_1..re_M, im_1..im_M]
      -> encoder Conv1d(2M -> H, k 5) along time, per bin          x [B, F, T, H]
      for each of L layers:
          x = x * PReLU(LN(Linear(E -> H)(clue)))    (clue broadcast over F and T)
          x = SpatialNetLayer(x)                      (cross-band block, narrow-band block)
      -> decoder Linear(H -> 2 C) -> complex * s -> iSTFT          [B, C, N]

Clue (the elevation extension): ``e = [cycpos(azimuth) ; cycpos(elevation)]`` with
:func:`asabench.models.blocks.clue.cycpos_embedding`: each angle phi (radians) is coded on
its own as ``pe[2i] = sin(sin(phi) alpha w_i)``, ``pe[2i+1] = sin(cos(phi) alpha w_i)``,
``w_i = 10000^(-2i/d)``, ``i = 0..d/2-1``, L2-normalised, and the two codes are concatenated
(E = 2d = 80 values for DSENet's d = 40, alpha = 20). No beamwidth embedding.

SpatialNet layer (as in the SpatialNet/DSENet code, ``[B, F, T, H]`` in and out):

* cross-band block: ``x += fconv(x)`` (LayerNorm(H), grouped Conv1d along F, kernel 5,
  8 groups, PReLU(H)); ``x += full(x)`` (LayerNorm(H), Conv1d(H -> S) + SiLU, a per-channel
  linear map across all F bins (``S F^2 + S F`` parameters, *shared by all layers*),
  Conv1d(S -> H) + SiLU); ``x += fconv'(x)``;
* narrow-band block: ``x += MHSA(LN(x))`` along T per bin; ``x += T-ConvFFN(x)``: LN,
  Conv1d(H -> H_ffn, 1), SiLU, two grouped Conv1d(k 3), GroupNorm(8), SiLU, a third grouped
  Conv1d(k 3), SiLU, Conv1d(H_ffn -> H, 1).

Outputs: the benchmark's TSE contract is multichannel (``[B, C, N]``, C = M), so the decoder
emits ``2 C`` values per bin; ``outputs = "reference"`` emits the reference channel only
(C = 1, the single-channel setting of DSENet and of SoundCompass's Table 1, for complexity
comparison; such a model is not a benchmark predictor).

References
----------
K. Jing, W. Zhang and Y. Gao, "End-to-end DoA-guided speech extraction in noisy multi-talker
scenarios", Interspeech 2025 (DSENet).
C. Quan and X. Li, "SpatialNet: extensively learning spatial information for multichannel
joint speech separation, denoising and dereverberation", IEEE/ACM TASLP 2024.
D. Choi and J.-W. Choi, "SoundCompass", 2025 (seeds/002), Sec. 3.3 (the adaptation).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import Tensor, nn
from torch._subclasses.fake_tensor import is_fake

from asabench.models.blocks.clue import cycpos_embedding
from asabench.models.blocks.stft import DynamicSTFT
from asabench.models.config import MAX_COUNT, MAX_WIDTH, STFTConfig
from asabench.models.registry import register
from asabench.models.systems.deepasa import validate_mixture
from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

__all__ = ["DSENetConfig", "DSENet", "SpatialNetLayer", "GroupLinear", "CycPosClueEncoder",
           "validate_direction", "normalise_mixture"]


def _dsenet_stft() -> STFTConfig:
    return STFTConfig(n_fft=256, hop=128, window="hann")


@dataclass
class DSENetConfig(ConfigBase):
    """Every DSENet hyper-parameter; defaults are the SoundCompass-adapted paper configuration.

    ``stft.window`` must be ``"hann"`` (SpatialNet's fixed STFT). ``squeeze`` is S, the
    channels of the full-band linear module; ``conv_groups`` the groups of the frequency
    and time convolutions.
    """

    sample_rate: int = ranged(16000, lo=1000, hi=384000)
    n_mics: int = ranged(4, lo=1, hi=MAX_COUNT)
    ref_channel: int = ranged(0, lo=0, hi=MAX_COUNT)
    outputs: typing.Literal["all", "reference"] = "all"
    stft: STFTConfig = field(default_factory=_dsenet_stft)
    hidden: int = ranged(192, lo=1, hi=MAX_WIDTH)
    ffn: int = ranged(192, lo=1, hi=MAX_WIDTH)
    squeeze: int = ranged(8, lo=1, hi=MAX_WIDTH)
    n_layers: int = ranged(8, lo=1, hi=MAX_COUNT)
    n_heads: int = ranged(2, lo=1, hi=MAX_COUNT)
    encoder_kernel: int = ranged(5, lo=1, hi=MAX_COUNT)
    f_kernel: int = ranged(5, lo=1, hi=MAX_COUNT)
    t_kernel: int = ranged(3, lo=1, hi=MAX_COUNT)
    conv_groups: int = ranged(8, lo=1, hi=MAX_COUNT)
    share_full: bool = True
    cycpos_dim: int = ranged(40, lo=2, hi=MAX_WIDTH)
    cycpos_alpha: float = ranged(20.0, lo=0.0, lo_open=True, hi=1e6)
    dropout: float = ranged(0.0, lo=0.0, hi=1.0, hi_open=True)

    def __post_init__(self) -> None:
        if not 0 <= self.ref_channel < self.n_mics:
            raise ConfigError(f"{self.ref_channel} is outside [0, n_mics = {self.n_mics})", field="ref_channel")
        if self.stft.window != "hann":
            raise ConfigError("DSENet uses SpatialNet's fixed STFT: set window = \"hann\"", field="stft.window")
        if self.cycpos_dim % 2:
            raise ConfigError(f"must be even, got {self.cycpos_dim}", field="cycpos_dim")
        for name in ("hidden", "ffn"):
            if getattr(self, name) % self.conv_groups:
                raise ConfigError(f"{getattr(self, name)} is not divisible by conv_groups = {self.conv_groups}",
                                  field=name)
        if self.hidden % self.n_heads:
            raise ConfigError(f"hidden {self.hidden} is not divisible by n_heads {self.n_heads}", field="n_heads")

    @property
    def out_channels(self) -> int:
        return self.n_mics if self.outputs == "all" else 1

    @property
    def clue_dim(self) -> int:
        """E: the azimuth and the elevation codes concatenated."""
        return 2 * self.cycpos_dim

    @property
    def min_samples(self) -> int:
        return self.stft.n_fft


# ----------------------------------------------------------------------------- shared helpers


def validate_direction(direction: Any, batch: int, who: str) -> None:
    """Refuse a clue that is not ``[B, 2]`` finite (azimuth_deg, elevation_deg in [-90, 90])."""
    if not isinstance(direction, Tensor) or direction.dim() != 2 or direction.shape != (batch, 2):
        shape = tuple(direction.shape) if isinstance(direction, Tensor) else type(direction).__name__
        raise ValueError(f"{who}: direction must be [B, 2] (azimuth_deg, elevation_deg) with B = {batch}, got {shape}")
    if not is_fake(direction):  # shape-only tracing (MAC counting) skips the value checks
        if not torch.isfinite(direction).all():
            raise ValueError(f"{who}: direction contains NaN or infinite angles")
        if (direction[:, 1].abs() > 90.0).any():
            raise ValueError(f"{who}: direction elevation_deg must lie in [-90, 90] (DCASE convention)")


def normalise_mixture(mixture: Tensor, ref_channel: int) -> tuple[Tensor, Tensor]:
    """Divide by the reference channel's RMS per item: ``(x / s, s [B, 1, 1])``."""
    scale = mixture[:, ref_channel].pow(2).mean(-1).sqrt().clamp_min(1e-8)[:, None, None].detach()
    return mixture / scale, scale


# ----------------------------------------------------------------------------- layers


class GroupLinear(nn.Module):
    """One linear map across the last axis per group: ``[N, G, I] -> [N, G, O]``.

    ``y[n, g] = W_g x[n, g] + b_g`` with ``W: [G, O, I]``, ``b: [G, O]`` (SpatialNet's
    full-band module: G squeezed channels, I = O = F frequency bins).
    """

    def __init__(self, in_features: int, out_features: int, groups: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(groups, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(groups, out_features))
        bound = 1.0 / in_features ** 0.5
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return torch.einsum("ngi,goi->ngo", x, self.weight) + self.bias


class _ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channel axis of a ``[N, C, L]`` tensor."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class SpatialNetLayer(nn.Module):
    """Cross-band then narrow-band block on ``[B, F, T, H]`` (see the module docstring).

    ``full`` is the full-band :class:`GroupLinear` to use (shared between layers) or None
    to create one.
    """

    def __init__(self, cfg: DSENetConfig, num_bins: int, full: GroupLinear | None = None):
        super().__init__()
        h, g, s = cfg.hidden, cfg.conv_groups, cfg.squeeze

        def fconv() -> nn.Sequential:
            return nn.Sequential(_ChannelNorm(h), nn.Conv1d(h, h, cfg.f_kernel, padding="same", groups=g), nn.PReLU(h))

        self.fconv1 = fconv()
        self.norm_full = nn.LayerNorm(h)
        self.squeeze = nn.Sequential(nn.Conv1d(h, s, 1), nn.SiLU())
        self.full = full if full is not None else GroupLinear(num_bins, num_bins, s)
        self.unsqueeze = nn.Sequential(nn.Conv1d(s, h, 1), nn.SiLU())
        self.fconv2 = fconv()
        self.norm_mhsa = nn.LayerNorm(h)
        self.mhsa = nn.MultiheadAttention(h, cfg.n_heads, dropout=cfg.dropout, batch_first=True)
        f = cfg.ffn
        self.tconvffn = nn.Sequential(
            _ChannelNorm(h), nn.Conv1d(h, f, 1), nn.SiLU(),
            nn.Conv1d(f, f, cfg.t_kernel, padding="same", groups=g), nn.SiLU(),
            nn.Conv1d(f, f, cfg.t_kernel, padding="same", groups=g), nn.GroupNorm(g, f), nn.SiLU(),
            nn.Conv1d(f, f, cfg.t_kernel, padding="same", groups=g), nn.SiLU(),
            nn.Conv1d(f, h, 1),
        )
        self.dropout = nn.Dropout(cfg.dropout)

    @staticmethod
    def _along_f(module: nn.Module, x: Tensor) -> Tensor:
        b, f, t, h = x.shape
        y = module(x.permute(0, 2, 3, 1).reshape(b * t, h, f))
        return y.reshape(b, t, h, f).permute(0, 3, 1, 2)

    def _full(self, x: Tensor) -> Tensor:
        b, f, t, h = x.shape
        y = self.squeeze(self.norm_full(x).permute(0, 2, 3, 1).reshape(b * t, h, f))  # [BT, S, F]
        y = self.unsqueeze(self.full(y))
        return y.reshape(b, t, h, f).permute(0, 3, 1, 2)

    def forward(self, x: Tensor) -> Tensor:
        """[B, F, T, H] -> [B, F, T, H]."""
        b, f, t, h = x.shape
        x = x + self._along_f(self.fconv1, x)
        x = x + self._full(x)
        x = x + self._along_f(self.fconv2, x)
        y = self.norm_mhsa(x).reshape(b * f, t, h)
        y, _ = self.mhsa(y, y, y, need_weights=False)
        x = x + self.dropout(y.reshape(b, f, t, h))
        y = self.tconvffn(x.reshape(b * f, t, h).transpose(1, 2)).transpose(1, 2)
        return x + self.dropout(y.reshape(b, f, t, h))


class CycPosClueEncoder(nn.Module):
    """Per-layer clue projection: ``PReLU(LayerNorm(Linear(E -> H)(e)))`` -> ``[B, H]``."""

    def __init__(self, clue_dim: int, hidden: int):
        super().__init__()
        self.linear = nn.Linear(clue_dim, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.act = nn.PReLU()

    def forward(self, e: Tensor) -> Tensor:
        return self.act(self.norm(self.linear(e)))


class DSENet(nn.Module):
    """DSENet-style TSE (see the module docstring); built from a :class:`DSENetConfig`.

    ``forward(mixture [B, M, N], direction [B, 2] degrees) -> {"output": [B, C, N]}``.
    """

    def __init__(self, config: DSENetConfig | None = None):
        super().__init__()
        self.config = cfg = config if config is not None else DSENetConfig()
        self.stft = DynamicSTFT(cfg.stft.n_fft, cfg.stft.hop, "hann")
        num_bins = self.stft.n_bins
        self.encoder = nn.Conv1d(2 * cfg.n_mics, cfg.hidden, cfg.encoder_kernel, padding="same")
        self.clues = nn.ModuleList(CycPosClueEncoder(cfg.clue_dim, cfg.hidden) for _ in range(cfg.n_layers))
        layers: list[SpatialNetLayer] = []
        for _ in range(cfg.n_layers):
            shared = layers[0].full if (layers and cfg.share_full) else None
            layers.append(SpatialNetLayer(cfg, num_bins, shared))
        self.layers = nn.ModuleList(layers)
        self.decoder = nn.Linear(cfg.hidden, 2 * cfg.out_channels)

    def embed(self, direction: Tensor) -> Tensor:
        """[B, 2] (azimuth_deg, elevation_deg) -> [B, E] clue (azimuth code, elevation code)."""
        cfg = self.config
        return cycpos_embedding(direction[:, 0], direction[:, 1], cfg.cycpos_dim, cfg.cycpos_alpha)

    def forward(self, mixture: Tensor, direction: Tensor, sample_rate: int | None = None) -> dict[str, Tensor]:
        """Extract the target coming from ``direction``.

        Parameters
        ----------
        mixture : Tensor
            [B, M, N] waveform at ``config.sample_rate``.
        direction : Tensor
            [B, 2] (azimuth_deg, elevation_deg), DCASE convention.

        Returns
        -------
        dict
            ``"output"``: [B, C, N] the target's image at every microphone (C = M), or at the
            reference microphone only (C = 1) with ``outputs = "reference"``.
        """
        cfg = self.config
        validate_mixture(mixture, cfg.n_mics, cfg.min_samples, cfg.sample_rate, sample_rate, "DSENet")
        validate_direction(direction, mixture.shape[0], "DSENet")
        b, m, n = mixture.shape
        x, scale = normalise_mixture(mixture, cfg.ref_channel)
        spec = self.stft(x)  # [B, M, T, F]
        t, f = spec.shape[2], spec.shape[3]
        feats = torch.cat([spec.real, spec.imag], dim=1)  # [B, 2M, T, F]
        h = self.encoder(feats.permute(0, 3, 1, 2).reshape(b * f, 2 * m, t))  # [BF, H, T]
        h = h.reshape(b, f, cfg.hidden, t).transpose(2, 3)  # [B, F, T, H]
        e = self.embed(direction.to(h.dtype))
        for clue, layer in zip(self.clues, self.layers):
            h = layer(h * clue(e)[:, None, None, :])
        y = self.decoder(h)  # [B, F, T, 2C]
        c = cfg.out_channels
        est = torch.complex(y[..., :c], y[..., c:]).permute(0, 3, 2, 1)  # [B, C, T, F]
        return {"output": self.stft.inverse(est, n) * scale}

    def example_inputs(self, n_samples: int) -> tuple[tuple[Tensor, ...], dict[str, Tensor]]:
        """A representative call for complexity counting: one mixture and one direction."""
        from asabench.models.systems import tse_example_inputs

        return tse_example_inputs(self.config.n_mics, n_samples)

    @classmethod
    def from_config_dict(cls, data: Mapping[str, Any]) -> "DSENet":
        return cls(DSENetConfig.from_dict(data))


register(
    "dsenet",
    config_cls=DSENetConfig,
    description="DSENet-style TSE (SpatialNet + cyclic positional clue in azimuth and elevation), "
                "as SoundCompass adapted it to one point clue",
)(DSENet)
