"""SSDQ-style directional target sound extraction with a point spatial query.

SSDQ (Zhu, Qian and Liang, IEEE SPL 2025) extracts a target speaker from a multichannel
mixture with a DPRNN separator queried twice: semantically (a frozen CLAP text embedding)
and spatially (a hand-crafted target-phase-difference feature for an angular *region*).
SoundCompass (seeds/002, Sec. 3.3, Table 1) compares against it with one DoA clue: "a point
spatial query directing a point (theta, phi) instead of a region query". This module is that
adaptation; the semantic (text) query has no counterpart in a direction-only clue and is
left out (with it the released model holds ~0.5 M more parameters than Table 1's 3.91 M).

Pipeline (time domain, Conv-TasNet/DPRNN style)::

    mixture [B, M, N] -> / s (reference-channel RMS per item)
      encoder Conv1d(M -> N_f, L, stride L/2, no bias) + ReLU           w [B, N_f, K]
      spatial query (no parameters)                                      q [B, 4P, K]
      GroupNorm(1, N_f) -> Conv1d(N_f -> B_c, 1) ; concat q -> Conv1d(B_c + 4P -> B_c, 1)
      -> chunk (K_c frames, hop K_c/2) -> R dual-path BiLSTM blocks -> overlap-add
      -> PReLU -> Conv1d(B_c -> C N_f, 1) -> ReLU                        masks [B, C, N_f, K]
      -> mask refinement per channel (shared weights): m + 0.25 g([w; m])
      -> w * m -> Linear(N_f -> L, no bias) per frame -> overlap-add -> * s   [B, C, N]

Point spatial query: for the target direction u (unit vector of azimuth, elevation, DCASE
convention) and each microphone pair p = (a, b), a < b (P = M(M-1)/2 = 6 pairs), the target
phase difference at the analysis bin frequency f_k = k fs / L (k = 0..L/2) is
``TPD_p(f_k) = 2 pi f_k (r_a - r_b) . u / c`` (a plane wave from u reaches the microphone
nearer the source first, so its phase leads). The observed IPD comes from an L-sample
Hamming-windowed DFT of each channel on the encoder's frames. The query per frame is the
bin average of ``cos(IPD - TPD)``, ``sin(IPD - TPD)`` (the alignment of the observed and the
target phase differences, SSDQ's inner product of their unit vectors) and of ``cos(IPD)``,
``sin(IPD)``: 4P = 24 channels, the 24 extra inputs of the released fusion convolution.

Mask refinement (the released code's decoder block; g without normalisation):
``g = Res(2 N_f -> N_f) -> TCN(6 x [Conv1d k 3 -> ReLU], width 64, Conv1d(64 -> N_f, 1)) ->
Res(N_f -> N_f)``, ``Res(x) = conv2(sigmoid(conv1(x))) + proj(x)`` (kernel 3 convolutions,
``proj`` a 1x1 convolution when the widths differ).

Outputs: multichannel (C = M, the benchmark's TSE contract: one mask per microphone, the
encoder, separator and decoder basis shared) or ``outputs = "reference"`` (C = 1, SSDQ's and
Table 1's single-channel setting, for complexity comparison; not a benchmark predictor).

References
----------
X. Zhu, X. Qian and D. Liang, "SSDQ: target speaker extraction via semantic and spatial dual
querying", IEEE Signal Process. Letters 32, 2025.
Y. Luo, Z. Chen and T. Yoshioka, "Dual-path RNN", ICASSP 2020.
D. Choi and J.-W. Choi, "SoundCompass", 2025 (seeds/002), Sec. 3.3 (the adaptation).
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from asabench.models.config import MAX_COUNT, MAX_WIDTH
from asabench.models.registry import register
from asabench.models.systems.deepasa import validate_mixture
from asabench.models.systems.dsenet import normalise_mixture, validate_direction
from asabench.simulate.geometry import SPEED_OF_SOUND, tetra_array
from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

__all__ = ["SSDQConfig", "SSDQ", "mic_pairs", "target_phase_difference", "point_spatial_query",
           "DualPathBlock", "MaskRefiner", "direction_unit_vector"]


def _tetra_positions() -> tuple[tuple[float, float, float], ...]:
    return tuple(tuple(float(v) for v in row) for row in tetra_array())


@dataclass
class SSDQConfig(ConfigBase):
    """Every SSDQ hyper-parameter; defaults are the released configuration (N 256, L 40,
    B 64, H 128, K 100, R 6) without the semantic query.

    ``mic_positions_m``: capsule positions relative to the array centre, metres (default the
    DCASE tetrahedral array of radius 4.2 cm, ``asabench.simulate.geometry.tetra_array``).
    """

    sample_rate: int = ranged(16000, lo=1000, hi=384000)
    n_mics: int = ranged(4, lo=2, hi=MAX_COUNT)
    ref_channel: int = ranged(0, lo=0, hi=MAX_COUNT)
    outputs: typing.Literal["all", "reference"] = "all"
    mic_positions_m: tuple[tuple[float, float, float], ...] = field(default_factory=_tetra_positions)
    speed_of_sound: float = ranged(SPEED_OF_SOUND, lo=1.0, hi=10000.0)
    filters: int = ranged(256, lo=1, hi=MAX_WIDTH)
    kernel: int = ranged(40, lo=2, hi=MAX_WIDTH)
    bottleneck: int = ranged(64, lo=1, hi=MAX_WIDTH)
    hidden: int = ranged(128, lo=1, hi=MAX_WIDTH)
    chunk: int = ranged(100, lo=2, hi=MAX_WIDTH)
    n_blocks: int = ranged(6, lo=1, hi=MAX_COUNT)
    refine_width: int = ranged(64, lo=1, hi=MAX_WIDTH)
    refine_layers: int = ranged(6, lo=1, hi=MAX_COUNT)
    refine_weight: float = ranged(0.25, lo=0.0, hi=10.0)

    def __post_init__(self) -> None:
        if not 0 <= self.ref_channel < self.n_mics:
            raise ConfigError(f"{self.ref_channel} is outside [0, n_mics = {self.n_mics})", field="ref_channel")
        if len(self.mic_positions_m) != self.n_mics:
            raise ConfigError(f"{len(self.mic_positions_m)} positions for n_mics = {self.n_mics}",
                              field="mic_positions_m")
        if self.kernel % 2:
            raise ConfigError(f"must be even (frames hop by kernel / 2), got {self.kernel}", field="kernel")
        if self.chunk % 2:
            raise ConfigError(f"must be even (chunks hop by chunk / 2), got {self.chunk}", field="chunk")

    @property
    def out_channels(self) -> int:
        return self.n_mics if self.outputs == "all" else 1

    @property
    def num_pairs(self) -> int:
        return self.n_mics * (self.n_mics - 1) // 2

    @property
    def min_samples(self) -> int:
        return self.kernel


# ----------------------------------------------------------------------------- spatial query


def mic_pairs(n_mics: int) -> list[tuple[int, int]]:
    """All microphone pairs (a, b), a < b, in lexicographic order."""
    return list(combinations(range(n_mics), 2))


def direction_unit_vector(direction_deg: Tensor) -> Tensor:
    """[..., 2] (azimuth, elevation) degrees, DCASE convention -> [..., 3] unit vectors."""
    az, el = torch.deg2rad(direction_deg[..., 0]), torch.deg2rad(direction_deg[..., 1])
    return torch.stack([torch.cos(el) * torch.cos(az), torch.cos(el) * torch.sin(az), torch.sin(el)], dim=-1)


def target_phase_difference(direction_deg: Tensor, positions_m: Tensor, freqs_hz: Tensor,
                            speed_of_sound: float = SPEED_OF_SOUND) -> Tensor:
    """Plane-wave phase difference of every pair: ``2 pi f (r_a - r_b) . u / c``.

    Parameters
    ----------
    direction_deg : [B, 2] (azimuth, elevation) degrees.
    positions_m : [M, 3] capsule positions, metres.
    freqs_hz : [K] bin frequencies.

    Returns
    -------
    Tensor
        [B, P, K] radians, pairs in :func:`mic_pairs` order.
    """
    u = direction_unit_vector(direction_deg)  # [B, 3]
    a, b = zip(*mic_pairs(positions_m.shape[0]))
    delta = positions_m[list(a)] - positions_m[list(b)]  # [P, 3]
    tdoa = u @ delta.T / speed_of_sound  # [B, P] seconds (a leads b by this much)
    return 2 * math.pi * tdoa[..., None] * freqs_hz


def point_spatial_query(spec: Tensor, tpd: Tensor) -> Tensor:
    """Frame-wise query features from the mixture's IPDs and the target's phase differences.

    Parameters
    ----------
    spec : complex [B, M, K, F] short-time spectra of the channels (K frames, F bins).
    tpd : [B, P, F] target phase differences (:func:`target_phase_difference`).

    Returns
    -------
    Tensor
        [B, 4P, K]: bin means of cos(IPD - TPD), sin(IPD - TPD), cos(IPD), sin(IPD), pairs in
        :func:`mic_pairs` order within each group. cos(IPD - TPD) is 1 where a bin's IPD is
        exactly the target's.
    """
    a, b = zip(*mic_pairs(spec.shape[1]))
    phase = torch.angle(spec)
    ipd = phase[:, list(a)] - phase[:, list(b)]  # [B, P, K, F]
    diff = ipd - tpd[:, :, None, :]
    feats = [torch.cos(diff), torch.sin(diff), torch.cos(ipd), torch.sin(ipd)]
    return torch.cat([f.mean(-1) for f in feats], dim=1)


# ----------------------------------------------------------------------------- layers


class DualPathBlock(nn.Module):
    """Intra-chunk then inter-chunk BiLSTM, each ``x + GroupNorm(Linear(BiLSTM(x)))``.

    ``[B, C, S, K]`` (S chunks of K frames) in and out.
    """

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.intra_rnn = nn.LSTM(channels, hidden, batch_first=True, bidirectional=True)
        self.intra_linear = nn.Linear(2 * hidden, channels)
        self.intra_norm = nn.GroupNorm(1, channels, eps=1e-8)
        self.inter_rnn = nn.LSTM(channels, hidden, batch_first=True, bidirectional=True)
        self.inter_linear = nn.Linear(2 * hidden, channels)
        self.inter_norm = nn.GroupNorm(1, channels, eps=1e-8)

    def forward(self, x: Tensor) -> Tensor:
        b, c, s, k = x.shape
        # the projections see [rows, 2H] (the released layout; torchinfo then counts them per row)
        y, _ = self.intra_rnn(x.permute(0, 2, 3, 1).reshape(b * s, k, c))
        y = self.intra_linear(y.reshape(b * s * k, -1)).reshape(b, s, k, c).permute(0, 3, 1, 2)
        x = x + self.intra_norm(y)
        y, _ = self.inter_rnn(x.permute(0, 3, 2, 1).reshape(b * k, s, c))
        y = self.inter_linear(y.reshape(b * k * s, -1)).reshape(b, k, s, c).permute(0, 3, 2, 1)
        return x + self.inter_norm(y)


class _ResConv(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.conv2 = nn.Conv1d(cout, cout, 3, padding=1)
        self.proj = nn.Conv1d(cin, cout, 1) if cin != cout else None

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.proj is None else self.proj(x)
        return self.conv2(torch.sigmoid(self.conv1(x))) + skip


class MaskRefiner(nn.Module):
    """``m + weight * g([w; m])`` (see the module docstring); ``[N, F, K]`` masks."""

    def __init__(self, filters: int, width: int, layers: int, weight: float):
        super().__init__()
        self.res_in = _ResConv(2 * filters, filters)
        convs: list[nn.Module] = []
        for i in range(layers):
            convs += [nn.Conv1d(filters if i == 0 else width, width, 3, padding=1), nn.ReLU()]
        self.tcn = nn.Sequential(*convs, nn.Conv1d(width, filters, 1))
        self.res_out = _ResConv(filters, filters)
        self.weight = weight

    def forward(self, w: Tensor, m: Tensor) -> Tensor:
        return m + self.weight * self.res_out(self.tcn(self.res_in(torch.cat([w, m], dim=1))))


class SSDQ(nn.Module):
    """SSDQ-style TSE with a point spatial query (see the module docstring).

    ``forward(mixture [B, M, N], direction [B, 2] degrees) -> {"output": [B, C, N]}``.
    """

    positions: Tensor
    window: Tensor

    def __init__(self, config: SSDQConfig | None = None):
        super().__init__()
        self.config = cfg = config if config is not None else SSDQConfig()
        n, bc, q = cfg.filters, cfg.bottleneck, 4 * cfg.num_pairs
        self.register_buffer("positions", torch.tensor(cfg.mic_positions_m, dtype=torch.float32), persistent=False)
        self.register_buffer("window", torch.hamming_window(cfg.kernel, periodic=False), persistent=False)
        self.encoder = nn.Conv1d(cfg.n_mics, n, cfg.kernel, stride=cfg.kernel // 2, bias=False)
        self.norm = nn.GroupNorm(1, n, eps=1e-8)
        self.bottleneck = nn.Conv1d(n, bc, 1, bias=False)
        self.query_fusion = nn.Conv1d(bc + q, bc, 1, bias=False)
        self.blocks = nn.ModuleList(DualPathBlock(bc, cfg.hidden) for _ in range(cfg.n_blocks))
        self.prelu = nn.PReLU()
        self.mask = nn.Conv1d(bc, cfg.out_channels * n, 1, bias=False)
        self.refiner = MaskRefiner(n, cfg.refine_width, cfg.refine_layers, cfg.refine_weight)
        self.decoder = nn.Linear(n, cfg.kernel, bias=False)

    @property
    def hop(self) -> int:
        return self.config.kernel // 2

    def bin_frequencies(self) -> Tensor:
        """[L/2 + 1] frequencies (Hz) of the query's analysis bins, ``k fs / L``."""
        cfg = self.config
        return torch.arange(cfg.kernel // 2 + 1, dtype=torch.float32, device=self.window.device) * cfg.sample_rate / cfg.kernel

    def query(self, x: Tensor, direction: Tensor) -> Tensor:
        """[B, M, N'] waveform (frame-aligned), [B, 2] degrees -> [B, 4P, K] query features."""
        frames = x.unfold(-1, self.config.kernel, self.hop) * self.window  # [B, M, K, L]
        spec = torch.fft.rfft(frames, dim=-1)
        tpd = target_phase_difference(direction.to(x.dtype), self.positions.to(x.dtype),
                                      self.bin_frequencies().to(x.dtype), self.config.speed_of_sound)
        return point_spatial_query(spec, tpd)

    def _chunk(self, x: Tensor) -> tuple[Tensor, int]:
        """[B, C, K] -> [B, C, S, K_c] half-overlapping chunks (zero-padded), and the padded length."""
        kc, hop = self.config.chunk, self.config.chunk // 2
        length = x.shape[-1]
        total = max(kc, length + 2 * hop)
        total += (-(total - kc)) % hop
        x = F.pad(x, (hop, total - length - hop))
        return x.unfold(-1, kc, hop), total

    def _merge(self, chunks: Tensor, total: int, length: int) -> Tensor:
        """Overlap-add [B, C, S, K_c] chunks back to [B, C, length]."""
        kc, hop = self.config.chunk, self.config.chunk // 2
        b, c, s, _ = chunks.shape
        out = F.fold(chunks.reshape(b, c * 1, s, kc).permute(0, 1, 3, 2).reshape(b, c * kc, s),
                     output_size=(1, total), kernel_size=(1, kc), stride=(1, hop))
        return out[:, :, 0, hop:hop + length]

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
            ``"output"``: [B, C, N] (C = M, or 1 with ``outputs = "reference"``).
        """
        cfg = self.config
        validate_mixture(mixture, cfg.n_mics, cfg.min_samples, cfg.sample_rate, sample_rate, "SSDQ")
        validate_direction(direction, mixture.shape[0], "SSDQ")
        b, _, n = mixture.shape
        x, scale = normalise_mixture(mixture, cfg.ref_channel)
        x = F.pad(x, (0, (-(n - cfg.kernel)) % self.hop))  # whole frames up to the last sample
        w = F.relu(self.encoder(x))  # [B, N_f, K]
        frames = w.shape[-1]
        h = self.bottleneck(self.norm(w))
        h = self.query_fusion(torch.cat([h, self.query(x, direction)], dim=1))
        chunks, total = self._chunk(h)
        for block in self.blocks:
            chunks = block(chunks)
        h = self.prelu(self._merge(chunks, total, frames))
        c = cfg.out_channels
        m = F.relu(self.mask(h)).reshape(b * c, cfg.filters, frames)
        ww = w.repeat_interleave(c, dim=0)
        m = self.refiner(ww, m)
        est = self.decoder((ww * m).transpose(1, 2))  # [B C, K, L]
        wave = F.fold(est.transpose(1, 2), output_size=(1, x.shape[-1]), kernel_size=(1, cfg.kernel),
                      stride=(1, self.hop))[:, 0, 0, :n]
        return {"output": wave.reshape(b, c, n) * scale}

    def example_inputs(self, n_samples: int) -> tuple[tuple[Tensor, ...], dict[str, Tensor]]:
        """A representative call for complexity counting: one mixture and one direction."""
        from asabench.models.systems import tse_example_inputs

        return tse_example_inputs(self.config.n_mics, n_samples)

    @classmethod
    def from_config_dict(cls, data: Mapping[str, Any]) -> "SSDQ":
        return cls(SSDQConfig.from_dict(data))


register(
    "ssdq",
    config_cls=SSDQConfig,
    description="SSDQ-style TSE (DPRNN with a point spatial query from target phase differences), "
                "as SoundCompass adapted it to one point clue",
)(SSDQ)
