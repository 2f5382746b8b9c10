"""DeepASA's object splitter and parameter-shared decoders (audio, DoA, SED/class).

All decoders act on one object feature ``[N, D, T, F]`` (``N`` = batch x objects; the same
weights serve every object). Pool sizes are given as ``(time, frequency)``.

* :class:`ObjectSplitter`: ``Conv2d(D, n*D, 3x3) - Mish - GroupNorm(1, n*D)`` -> ``[B, n, D, T, F]``.
* :class:`AudioDecoder`: ``Conv2d(D, 2M, 3x3)`` -> complex spectrum ``[N, M, T, F]``
  (spectral mapping; the system de-normalises and applies the iSTFT).
* :class:`DoADecoder`: 2 x (Conv2d-GroupNorm-Mish-MaxPool) -> BiGRU -> Linear -> Linear(3)
  -> tanh: Cartesian DoA per label frame ``[N, T', 3]`` (unit vector when active, 0 when not).
* :class:`SEDDecoder`: T-CRNN (conv blocks down to the label frames) [+ ATST features] ->
  BiGRU -> per-frame class probabilities ``[N, T', C]`` (softmax, as the released decoder
  returns them), on/off logit ``[N, T']``, and clip class logits ``[N, C]`` =
  attentive-statistics-pooled frame features + an F-CRNN path.

References
----------
DeepASA (NeurIPS 2025), Fig. 3(b) and Section 3.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = [
    "ObjectSplitter",
    "AudioDecoder",
    "ConvPoolBlock",
    "DoADecoder",
    "AttentiveStatsPool",
    "SEDDecoder",
]


class ObjectSplitter(nn.Module):
    """Split a feature map into ``n_objects`` object features.

    ``[B, D, T, F] -> [B, n_objects, D, T, F]``. One normalisation group spans all objects'
    channels (``GroupNorm(1, n_objects * D)``, released code), so the objects keep their
    relative levels.
    """

    def __init__(self, dim: int, n_objects: int, kernel: int = 3) -> None:
        super().__init__()
        self.n_objects = n_objects
        self.conv = nn.Conv2d(dim, dim * n_objects, kernel, padding=kernel // 2)
        self.act = nn.Mish()
        self.norm = nn.GroupNorm(1, dim * n_objects)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, d, t, f = z.shape
        return self.norm(self.act(self.conv(z))).reshape(b, self.n_objects, d, t, f)


class AudioDecoder(nn.Module):
    """Spectral mapping ``[N, D, T, F] -> complex [N, n_mics, T, F]`` (normalised domain)."""

    def __init__(self, dim: int, n_mics: int, kernel: int = 3) -> None:
        super().__init__()
        self.n_mics = n_mics
        self.conv = nn.Conv2d(dim, 2 * n_mics, kernel, padding=kernel // 2)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        y = self.conv(feat).float()
        return torch.complex(y[:, : self.n_mics], y[:, self.n_mics:])


class ConvPoolBlock(nn.Module):
    """``Conv2d(3x3) - GroupNorm(1) - Mish - MaxPool(time, freq)`` on ``[N, C, T, F]``."""

    def __init__(self, c_in: int, c_out: int, pool: Sequence[int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm = nn.GroupNorm(1, c_out)
        self.act = nn.Mish()
        self.pool = nn.MaxPool2d(tuple(pool)) if tuple(pool) != (1, 1) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.act(self.norm(self.conv(x))))


def _pooled(n: int, pools: Sequence[Sequence[int]], axis: int) -> int:
    for p in pools:
        n //= p[axis]
    return n


class DoADecoder(nn.Module):
    """Per-object Cartesian DoA trajectory.

    Parameters
    ----------
    dim : object feature channels D.
    n_freq : frequency bins F of the feature map.
    channels : conv channels.
    pools : (time, freq) max-pool sizes of the conv blocks; ``((5, 8), (1, 8))`` takes the
        paper's 201 x 321 map to 40 x 5.
    hidden, gru_layers : BiGRU size.

    Shapes: ``[N, D, T, F] -> [N, T // prod(time pools), 3]``, values in (-1, 1).
    """

    def __init__(self, dim: int, n_freq: int, channels: int = 64,
                 pools: Sequence[Sequence[int]] = ((5, 8), (1, 8)), hidden: int = 128,
                 gru_layers: int = 2) -> None:
        super().__init__()
        f_out = _pooled(n_freq, pools, 1)
        if f_out < 1:
            raise ValueError(f"DoADecoder: {n_freq} frequency bins cannot be pooled by {pools}")
        chans = [dim] + [channels] * len(pools)
        self.convs = nn.Sequential(*[ConvPoolBlock(a, b, p) for a, b, p in zip(chans[:-1], chans[1:], pools)])
        self.gru = nn.GRU(channels * f_out, hidden, gru_layers, batch_first=True, bidirectional=True)
        self.fc1 = nn.Linear(2 * hidden, hidden)
        self.fc2 = nn.Linear(hidden, 3)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        h = self.convs(feat)  # [N, C, T', F']
        n, c, t, f = h.shape
        h, _ = self.gru(h.permute(0, 2, 1, 3).reshape(n, t, c * f))
        return torch.tanh(self.fc2(self.fc1(h)))


class AttentiveStatsPool(nn.Module):
    """Attentive statistics pooling over frames: ``[N, T, H] -> [N, 2H]`` (weighted mean, std).

    Weights ``softmax_t(v^T tanh(W h_t + b))``; std ``sqrt(sum_t a_t h_t^2 - mu^2)``.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.attn = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        a = torch.softmax(self.attn(h), dim=1)  # [N, T, 1]
        mu = (a * h).sum(dim=1)
        var = (a * h.pow(2)).sum(dim=1) - mu.pow(2)
        return torch.cat([mu, var.clamp_min(1e-6).sqrt()], dim=-1)


class SEDDecoder(nn.Module):
    """Per-object sound event detection and classification.

    Parameters
    ----------
    dim : object feature channels D.
    n_freq : frequency bins F.
    n_classes : C.
    t_channels, t_pools : T-CRNN conv widths and (time, freq) pools (7 blocks in the paper,
        time pooled by 5 in total: 201 -> 40 frames).
    hidden, gru_layers : T-GRU (bidirectional) size.
    asp_hidden : attention width of the statistics pooling.
    f_channels, f_pools, f_hidden : F-CRNN conv widths, pools and F-GRU size.
    use_fcrnn : add the F-CRNN clip logits.
    atst : optional frame-level branch ``[N, D, T, F] -> [N, T', A]`` concatenated to the
        T-CRNN features (see :mod:`asabench.models.blocks.atst`); ``atst_dim`` is ``A``.

    Returns (``forward``): dict with ``sed`` ``[N, T', C]`` frame class probabilities
    (softmax over classes), ``onoff`` ``[N, T']`` activity logits, ``class_logits`` ``[N, C]``.
    """

    def __init__(
        self,
        dim: int,
        n_freq: int,
        n_classes: int,
        t_channels: Sequence[int] = (64,) * 7,
        t_pools: Sequence[Sequence[int]] = ((5, 2),) + ((1, 2),) * 6,
        hidden: int = 256,
        gru_layers: int = 2,
        asp_hidden: int = 128,
        f_channels: Sequence[int] = (64, 64),
        f_pools: Sequence[Sequence[int]] = ((5, 2), (5, 2)),
        f_hidden: int = 128,
        use_fcrnn: bool = True,
        atst: nn.Module | None = None,
        atst_dim: int = 0,
    ) -> None:
        super().__init__()
        if len(t_channels) != len(t_pools):
            raise ValueError("SEDDecoder: t_channels and t_pools must have the same length")
        f_out = _pooled(n_freq, t_pools, 1)
        if f_out < 1:
            raise ValueError(f"SEDDecoder: {n_freq} frequency bins cannot be pooled by {t_pools}")
        chans = [dim, *t_channels]
        self.t_convs = nn.Sequential(*[ConvPoolBlock(a, b, p) for a, b, p in zip(chans[:-1], chans[1:], t_pools)])
        self.atst = atst
        self.t_gru = nn.GRU(t_channels[-1] * f_out + (atst_dim if atst is not None else 0), hidden,
                            gru_layers, batch_first=True, bidirectional=True)
        self.onoff_head = nn.Linear(2 * hidden, 1)
        self.sed_head = nn.Linear(2 * hidden, n_classes)
        self.asp = AttentiveStatsPool(2 * hidden, asp_hidden)
        self.clip_head = nn.Linear(4 * hidden, n_classes)
        self.use_fcrnn = use_fcrnn
        if use_fcrnn:
            if len(f_channels) != len(f_pools):
                raise ValueError("SEDDecoder: f_channels and f_pools must have the same length")
            fch = [dim, *f_channels]
            self.f_convs = nn.Sequential(*[ConvPoolBlock(a, b, p) for a, b, p in zip(fch[:-1], fch[1:], f_pools)])
            self.f_gru = nn.GRU(f_channels[-1], f_hidden, batch_first=True, bidirectional=True)
            self.f_head = nn.Linear(2 * f_hidden, n_classes)

    def forward(self, feat: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.t_convs(feat)  # [N, C, T', F']
        n, c, t, f = h.shape
        h = h.permute(0, 2, 1, 3).reshape(n, t, c * f)
        if self.atst is not None:
            h = torch.cat([h, self.atst(feat, t)], dim=-1)
        h, _ = self.t_gru(h)  # [N, T', 2H]
        out = {
            "sed": torch.softmax(self.sed_head(h), dim=-1),
            "onoff": self.onoff_head(h)[..., 0],
        }
        clip = self.clip_head(self.asp(h))
        if self.use_fcrnn:
            g = self.f_convs(feat).mean(dim=2).transpose(1, 2)  # time-averaged: [N, F'', C]
            g, _ = self.f_gru(g)
            clip = clip + self.f_head(g.mean(dim=1))
        out["class_logits"] = clip
        return out
