"""SoundCompass: directional target sound extraction on a DeepASA backbone.

Pipeline of one stage (SoundCompass Fig. 1(a))::

    mixture [B, M, N] --dynamic STFT--> X [B, M, T, F] (complex)
      X / s_f (per-frequency reference-channel RMS) -> [re; im] [B, 2M, T, F]
      -> encoder Conv2d(2M -> D, 3x3) + GroupNorm          e [B, D, T, F]
      fusion(X, clue) (SPIN, 12-TET bands, FiLM)           m [B, D, T, F]
      z = e * m  (the fusion output is a spatial feature mask)
      -> N_b DeFT-Mamba blocks                              z [B, D, T, F]
      -> direct / reverb decoders Conv2d(D -> 2M, 3x3) -> complex * s_f -> iSTFT  [B, M, N]
      -> optional SED decoder (T-CRNN -> BiGRU -> on/off logit)                   [B, T']

Iterative refinement (``num_stages = 2``, SoundCompass Fig. 2): the STFT, encoder and
fusion module are shared by both stages (stage 2 is fine-tuned from stage 1 with them
frozen, so they are the same weights); stage 2 has its own blocks and decoders. Its clue
is time-varying: ``activity[t'] * SH(direction)`` linearly interpolated from the activity
frames to the STFT frames, with the activity either predicted by stage 1 (inference) or
given as oracle (fine-tuning; stage 1 is then not run).

The clue is the order-5 spherical-harmonic embedding of the target direction (azimuth,
elevation in degrees, DCASE convention; see :mod:`asabench.models.blocks.clue`), or the
cyclic positional embedding for the ablation.

References
----------
D. Choi and J.-W. Choi, "SoundCompass: navigating target sound extraction with effective
directional clue integration in complex acoustic scenes", 2025 (seeds/002).
D. Lee, Y. Kwon and J.-W. Choi, "DeepASA: an object-oriented one-for-all network for
auditory scene analysis", NeurIPS 2025 (backbone, decoders).
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import Tensor, nn
from torch._subclasses.fake_tensor import is_fake

from asabench.models.blocks.clue import ClueEmbedding, time_varying_clue
from asabench.models.blocks.decoders import AudioDecoder, ConvPoolBlock
from asabench.models.blocks.deft import DeFTMambaBlock
from asabench.models.blocks.encoder import SpectralEncoder, complex_to_channels
from asabench.models.blocks.fusion import FusionModule
from asabench.models.blocks.stft import DynamicSTFT
from asabench.models.config import MAX_COUNT, MAX_WIDTH, BackboneConfig, STFTConfig
from asabench.models.registry import register
from asabench.models.systems.deepasa import validate_mixture
from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

__all__ = [
    "ClueConfig",
    "FusionConfig",
    "ActivityDecoderConfig",
    "SoundCompassConfig",
    "ActivityDecoder",
    "SoundCompass",
]


@dataclass
class ClueConfig(ConfigBase):
    """DoA clue embedding: spherical harmonics (paper) or cyclic positional (ablation)."""

    kind: typing.Literal["sh", "cycpos"] = "sh"
    sh_order: int = ranged(5, lo=0, hi=32)
    cycpos_dim: int = ranged(40, lo=1, hi=MAX_WIDTH)
    cycpos_alpha: float = ranged(20.0, lo=0.0, lo_open=True, hi=1e6)


@dataclass
class FusionConfig(ConfigBase):
    """Fusion module: SPIN pairs, 12-TET band split, AdaNorm, and where it acts."""

    pairwise: bool = True
    band_split: bool = True
    num_bands: int = ranged(31, lo=1, hi=MAX_COUNT)
    step_semitones: int = ranged(3, lo=1, hi=MAX_COUNT)
    adanorm_scale: float = ranged(1.0, lo=0.0, lo_open=True, hi=1e6)
    adanorm_k: float = ranged(0.1, lo=0.0, hi=1e6)
    position: typing.Literal["before", "after"] = "before"


@dataclass
class ActivityDecoderConfig(ConfigBase):
    """SED (target activity) decoder: DeepASA's T-CRNN on/off path.

    ``pools`` are (time, frequency) max-pool sizes of the conv blocks; their time product
    is the number of STFT frames per activity frame (5 x 20 ms = 100 ms in the paper).

    The paper gives the structure (DeepASA's seven conv-maxpool blocks, a temporal BiGRU
    and a linear on/off head) but not the widths. Seven 64-channel blocks with DeepASA's
    T-CRNN pools reproduce the reported +2.97 G Mult-Adds; ``hidden = 200`` (2-layer BiGRU)
    is our choice, the width at which the decoder has the reported +1.39 M parameters
    (DeepASA's 256 would give +2.04 M).
    """

    enabled: bool = False
    channels: tuple[int, ...] = ranged((64, 64, 64, 64, 64, 64, 64), lo=1, hi=MAX_WIDTH)
    pools: tuple[tuple[int, int], ...] = ranged(((5, 2), (1, 2), (1, 2), (1, 2), (1, 2), (1, 2), (1, 2)),
                                                lo=1, hi=MAX_COUNT)
    hidden: int = ranged(200, lo=1, hi=MAX_WIDTH)
    gru_layers: int = ranged(2, lo=1, hi=MAX_COUNT)


@dataclass
class SoundCompassConfig(ConfigBase):
    """Every SoundCompass hyper-parameter; defaults are the paper's configuration."""

    sample_rate: int = ranged(16000, lo=1000, hi=384000)
    n_mics: int = ranged(4, lo=1, hi=MAX_COUNT)
    ref_channel: int = ranged(0, lo=0, hi=MAX_COUNT)
    num_stages: int = 1
    stft: STFTConfig = field(default_factory=STFTConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    clue: ClueConfig = field(default_factory=ClueConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    sed: ActivityDecoderConfig = field(default_factory=ActivityDecoderConfig)

    def __post_init__(self) -> None:
        if self.num_stages not in (1, 2):
            raise ConfigError(f"num_stages must be 1 or 2, got {self.num_stages}", field="num_stages")
        if self.num_stages == 2 and not self.sed.enabled:
            raise ConfigError("num_stages = 2 needs the SED decoder (sed.enabled = true): "
                              "stage 2's clue is built from activity", field="num_stages")
        if not 0 <= self.ref_channel < self.n_mics:
            raise ConfigError(f"{self.ref_channel} is outside [0, n_mics = {self.n_mics})", field="ref_channel")
        if len(self.sed.channels) != len(self.sed.pools):
            raise ConfigError("sed.channels and sed.pools must have the same length", field="sed.pools")

    @property
    def activity_hop_frames(self) -> int:
        """STFT frames per activity frame (product of the SED time pools)."""
        return math.prod(p[0] for p in self.sed.pools)

    @property
    def activity_hop_s(self) -> float:
        """Activity frame step in seconds (0.1 s in the paper configuration)."""
        return self.activity_hop_frames * self.stft.hop / self.sample_rate

    @property
    def min_samples(self) -> int:
        """Shortest accepted input in samples: one frame, or one activity frame with SED."""
        frames = self.activity_hop_frames if self.sed.enabled else 1
        return max(self.stft.n_fft, frames * self.stft.hop)


class ActivityDecoder(nn.Module):
    """Frame-wise target activity from object features (DeepASA's T-CRNN on/off path).

    ``[B, D, T, F]`` -> conv blocks (Conv2d 3x3 - GroupNorm - Mish - MaxPool (time, freq))
    -> ``[B, C, T', F']`` -> BiGRU(C F' -> hidden) -> Linear(2 hidden -> 1) -> logits
    ``[B, T']``, ``T' = T // prod(time pools)``.

    Parameters
    ----------
    in_channels : int
        D.
    num_bins : int
        F, to size the linear layer after the frequency pools.
    cfg : ActivityDecoderConfig
    """

    def __init__(self, in_channels: int, num_bins: int, cfg: ActivityDecoderConfig):
        super().__init__()
        f = num_bins
        for _, pf in cfg.pools:
            f //= pf
        if f < 1:
            raise ValueError(f"ActivityDecoder: frequency pools {cfg.pools} reduce {num_bins} bins to nothing")
        chans = [in_channels, *cfg.channels]
        self.convs = nn.Sequential(*[ConvPoolBlock(a, b, p) for a, b, p in zip(chans[:-1], chans[1:], cfg.pools)])
        self.gru = nn.GRU(chans[-1] * f, cfg.hidden, num_layers=cfg.gru_layers, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * cfg.hidden, 1)

    def forward(self, z: Tensor) -> Tensor:
        """[B, D, T, F] -> activity logits [B, T']."""
        h = self.convs(z)  # [B, C, T', F']
        h, _ = self.gru(h.permute(0, 2, 1, 3).flatten(2))
        return self.head(h)[..., 0]


class _Stage(nn.Module):
    """Per-stage back end: DeFT-Mamba blocks, direct/reverb decoders, optional SED decoder."""

    def __init__(self, cfg: SoundCompassConfig, num_bins: int):
        super().__init__()
        bb = cfg.backbone
        self.blocks = nn.ModuleList(
            DeFTMambaBlock(bb.dim, bb.n_heads, bb.head_dim, bb.kernel, bb.ffn_mult, bb.mamba) for _ in range(bb.n_blocks)
        )
        self.direct = AudioDecoder(bb.dim, cfg.n_mics)
        self.reverb = AudioDecoder(bb.dim, cfg.n_mics)
        self.sed = ActivityDecoder(bb.dim, num_bins, cfg.sed) if cfg.sed.enabled else None


class SoundCompass(nn.Module):
    """Directional target sound extraction (see the module docstring).

    Parameters
    ----------
    config : SoundCompassConfig, optional
        Defaults to the paper configuration.

    Notes
    -----
    ``forward(mixture, direction, activity=None, sample_rate=None)`` returns a dict:

    * ``"direct"``, ``"reverb"``: [B, M, N] multichannel direct-path and reverberant parts of
      the target; ``"output"`` = direct + reverb;
    * with the SED decoder: ``"activity_logits"`` [B, T'] and ``"activity"`` (sigmoid);
    * with two stages: the above from the last stage, and ``"stages"``, a list with each
      run stage's dict.
    """

    def __init__(self, config: SoundCompassConfig | None = None):
        super().__init__()
        self.config = cfg = config if config is not None else SoundCompassConfig()
        s = cfg.stft
        self.stft = DynamicSTFT(s.n_fft, s.hop, s.window, s.feat_channels, s.init_sigma_frac, s.frozen)
        num_bins = self.stft.n_bins
        d = cfg.backbone.dim
        self.encoder = SpectralEncoder(2 * cfg.n_mics, d)
        self.clue_embedding = ClueEmbedding(cfg.clue.kind, cfg.clue.sh_order, cfg.clue.cycpos_dim, cfg.clue.cycpos_alpha)
        fc = cfg.fusion
        self.fusion = FusionModule(
            cfg.n_mics,
            num_bins,
            cfg.sample_rate,
            clue_dim=self.clue_embedding.dim,
            features=d,
            pairwise=fc.pairwise,
            band_split=fc.band_split,
            num_bands=fc.num_bands,
            step_semitones=fc.step_semitones,
            adanorm_scale=fc.adanorm_scale,
            adanorm_k=fc.adanorm_k,
        )
        self.stages = nn.ModuleList(_Stage(cfg, num_bins) for _ in range(cfg.num_stages))

    # ------------------------------------------------------------------ training helpers
    def front_end(self) -> list[nn.Module]:
        """The modules shared by all stages: STFT, encoder, fusion."""
        return [self.stft, self.encoder, self.fusion]

    def freeze_front_end(self, frozen: bool = True) -> None:
        """Stop (or restart) training the STFT window, encoder and fusion module."""
        for module in self.front_end():
            for p in module.parameters():
                p.requires_grad_(not frozen)

    def prepare_refinement(self) -> None:
        """Set up stage-2 fine-tuning (paper recipe): copy stage 1's back end into stage 2,
        freeze stage 1 and the shared front end, leave only stage 2 trainable."""
        if self.config.num_stages != 2:
            raise ValueError("prepare_refinement: the model has a single stage")
        self.stages[1].load_state_dict(self.stages[0].state_dict())
        self.freeze_front_end()
        for p in self.stages[0].parameters():
            p.requires_grad_(False)

    # ------------------------------------------------------------------ forward
    def _validate(
        self, mixture: Tensor, direction: Tensor, activity: Tensor | None, sample_rate: int | None
    ) -> None:
        cfg = self.config
        validate_mixture(mixture, cfg.n_mics, cfg.min_samples, cfg.sample_rate, sample_rate, "SoundCompass")
        b = mixture.shape[0]
        if not isinstance(direction, Tensor) or direction.dim() not in (2, 3) or direction.shape[0] != b or direction.shape[-1] != 2:
            shape = tuple(direction.shape) if isinstance(direction, Tensor) else type(direction).__name__
            raise ValueError(
                f"SoundCompass: direction must be [B, 2] or [B, T', 2] (azimuth_deg, elevation_deg) with B = {b}, got {shape}"
            )
        # value checks need real data (shape-only tracing, e.g. MAC counting, skips them)
        if not is_fake(direction):
            if not torch.isfinite(direction).all():
                raise ValueError("SoundCompass: direction contains NaN or infinite angles")
            if (direction[..., 1].abs() > 90.0).any():
                raise ValueError("SoundCompass: direction elevation_deg must lie in [-90, 90] (DCASE convention)")
        if activity is not None:
            if activity.dim() != 2 or activity.shape[0] != b:
                raise ValueError(f"SoundCompass: activity must be [B, T'] with B = {b}, got {tuple(activity.shape)}")
            if direction.dim() == 3 and direction.shape[1] != activity.shape[1]:
                raise ValueError(
                    f"SoundCompass: direction trajectory has {direction.shape[1]} frames, activity {activity.shape[1]}"
                )
        elif direction.dim() == 3 and direction.shape[1] < 1:
            raise ValueError("SoundCompass: direction trajectory has no frames")

    def _clue(self, embedding: Tensor, activity: Tensor | None, num_frames: int) -> Tensor:
        """Static [B, E] clue, or time-varying [B, T, E] when activity or a trajectory is given."""
        if activity is None and embedding.dim() == 2:
            return embedding
        if activity is None:
            activity = embedding.new_ones(embedding.shape[:2])
        hop_s = self.config.stft.hop / self.config.sample_rate
        return time_varying_clue(activity, embedding, num_frames, self.config.activity_hop_s, hop_s)

    def _run_stage(self, stage: _Stage, enc: Tensor, spec: Tensor, scale: Tensor, clue: Tensor, length: int) -> dict[str, Tensor]:
        mask = self.fusion(spec, clue)
        z = enc * mask if self.config.fusion.position == "before" else enc
        for block in stage.blocks:
            z = block(z)
        if self.config.fusion.position == "after":
            z = z * mask
        out = {"direct": self._decode(stage.direct(z), scale, length), "reverb": self._decode(stage.reverb(z), scale, length)}
        out["output"] = out["direct"] + out["reverb"]
        if stage.sed is not None:
            logits = stage.sed(z)
            out["activity_logits"] = logits
            out["activity"] = torch.sigmoid(logits)
        return out

    def _decode(self, spec: Tensor, scale: Tensor, length: int) -> Tensor:
        return self.stft.inverse(spec * scale, length)

    def forward(
        self,
        mixture: Tensor,
        direction: Tensor,
        activity: Tensor | None = None,
        sample_rate: int | None = None,
    ) -> dict[str, Any]:
        """Extract the target coming from ``direction``.

        Parameters
        ----------
        mixture : Tensor
            [B, M, N] waveform at ``config.sample_rate``.
        direction : Tensor
            [B, 2] (azimuth_deg, elevation_deg), DCASE convention, or [B, T', 2] per
            activity frame (``config.activity_hop_s`` apart).
        activity : Tensor, optional
            [B, T'] target activity in [0, 1] at the activity frames. Single stage: turns
            the clue time-varying. Two stages: oracle activity for stage 2 (stage 1 is
            skipped, as in the paper's stage-2 fine-tuning).
        sample_rate : int, optional
            Checked against ``config.sample_rate`` when given.

        Returns
        -------
        dict
            See the class notes.
        """
        self._validate(mixture, direction, activity, sample_rate)
        cfg = self.config
        length = mixture.shape[-1]
        spec = self.stft(mixture)  # [B, M, T, F]
        # per-frequency RMS of the reference channel (as DeepASA); outputs are de-normalised by it
        scale = spec[:, cfg.ref_channel].abs().pow(2).mean(dim=1).sqrt().clamp_min(1e-8)
        scale = scale[:, None, None, :].detach()  # [B, 1, 1, F]
        enc = self.encoder(complex_to_channels(spec / scale))
        num_frames = spec.shape[2]
        embedding = self.clue_embedding(direction.to(enc.dtype))  # [B, E] or [B, T', E]

        if cfg.num_stages == 1:
            return self._run_stage(self.stages[0], enc, spec, scale, self._clue(embedding, activity, num_frames), length)

        stages: list[dict[str, Tensor]] = []
        if activity is None:
            first = self._run_stage(self.stages[0], enc, spec, scale, self._clue(embedding, None, num_frames), length)
            stages.append(first)
            activity = first["activity"]
        clue = self._clue(embedding, activity, num_frames)
        last = self._run_stage(self.stages[1], enc, spec, scale, clue, length)
        stages.append(last)
        return {**last, "stages": stages}

    def example_inputs(self, n_samples: int) -> tuple[tuple[Tensor, ...], dict[str, Tensor]]:
        """A representative call for complexity counting: one mixture and one direction."""
        from asabench.models.systems import tse_example_inputs

        return tse_example_inputs(self.config.n_mics, n_samples)

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def from_config_dict(cls, data: Mapping[str, Any]) -> "SoundCompass":
        """Build from a plain configuration mapping (``config.to_dict()``)."""
        return cls(SoundCompassConfig.from_dict(data))


register(
    "soundcompass",
    config_cls=SoundCompassConfig,
    description="SoundCompass: DoA-guided target sound extraction (SPIN, SH clue, 12-TET band fusion)",
)(SoundCompass)
register(
    "soundcompass-sed",
    config_cls=SoundCompassConfig,
    description="SoundCompass with the SED (target activity) decoder",
)(SoundCompass)
register(
    "soundcompass-x2",
    config_cls=SoundCompassConfig,
    description="SoundCompass with SED decoder and two-stage iterative refinement (time-varying clue)",
)(SoundCompass)
