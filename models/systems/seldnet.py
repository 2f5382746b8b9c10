"""SELDnet as the DCASE 2023 Task 3 baseline builds it, for the microphone-array (MIC) format.

Pipeline on a mixture ``x: [B, M, N]`` (M = 4 capsules):

1. features ``[B, M + M(M-1)/2, T, n_mels]`` (:class:`MicFeatures`): the log-mel spectrogram
   of every channel and the GCC-PHAT of every channel pair, its lags cut to the mel band
   count around lag 0 (as the baseline does, so both stack as image channels);
2. the baseline's feature standardisation, here as running per-(channel, bin) statistics
   (``BatchNorm`` without affine parameters; the baseline fits a scaler on the train split);
3. three conv blocks ``Conv2d(3x3) - BatchNorm - ReLU - MaxPool(t, f) - Dropout`` (pools
   ``(5, 4), (1, 4), (1, 2)``: time down to the 100-ms label rate, 64 bins down to 2);
4. a 2-layer bidirectional GRU; its outputs go through ``tanh`` and the two directions are
   multiplied (2023 baseline);
5. two multi-head self-attention layers, each with a residual and a LayerNorm (2023 baseline);
6. a linear layer, then ``Linear(-> 3 x 3 x C)`` and ``tanh``: multi-ACCDOA, 3 tracks per
   class, output ``accdoa`` ``[B, T', 3, 3, C]`` (track, xyz, class).

Trained with the ADPIT loss (:mod:`asabench.models.losses.adpit`). Inference
(:func:`decode_multi_accdoa`): class ``c`` is active in track ``n`` where the vector's norm
exceeds 0.5; two active tracks of one class closer than 15 degrees are merged into one
event (their mean vector), as the baseline's ``determine_similar_location`` does.

Front end at other rates: the baseline runs at 24 kHz with a 20-ms hop, a 40-ms Hann
window and a 1024-point FFT; the ``paper`` preset keeps the 20-ms hop and 40-ms window at
16 kHz (hop 320, FFT 1024). The window is always ``2 * hop`` samples (baseline rule).

References
----------
S. Adavanne, A. Politis, J. Nikunen, T. Virtanen, "Sound event localization and detection
of overlapping sources using convolutional recurrent neural networks", IEEE JSTSP 2019;
A. Politis et al., DCASE 2023 Task 3 baseline (STARSS23); K. Shimada et al., Multi-ACCDOA
and ADPIT, ICASSP 2022.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from asabench.models.blocks.stft import frame_signal
from asabench.models.registry import register
from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

__all__ = ["SELDFeatureConfig", "SELDnetConfig", "SELDnet", "MicFeatures", "mel_filterbank",
           "decode_multi_accdoa"]

MAX_WIDTH = 1 << 16
MAX_COUNT = 1024


@dataclass
class SELDFeatureConfig(ConfigBase):
    """MIC-format front end: STFT (window ``2 * hop``), mel bands, ``power_to_db`` floor."""

    n_fft: int = ranged(1024, lo=2, hi=MAX_WIDTH)
    hop: int = ranged(320, lo=1, hi=MAX_WIDTH)
    n_mels: int = ranged(64, lo=2, hi=MAX_WIDTH)
    #: dynamic range kept per channel below its maximum (librosa ``power_to_db``'s top_db)
    top_db: float = ranged(80.0, lo=0.0, lo_open=True, hi=1000.0)

    def __post_init__(self) -> None:
        if self.n_fft < 2 * self.hop:
            raise ConfigError(f"{self.n_fft} is shorter than the window 2 * hop = {2 * self.hop}", field="n_fft")
        if self.n_mels % 2:
            raise ConfigError(f"{self.n_mels} must be even (the GCC lags are cut to -n_mels/2 .. n_mels/2 - 1)",
                              field="n_mels")
        if self.n_mels > self.n_fft:
            raise ConfigError(f"{self.n_mels} GCC lags need n_fft >= n_mels (n_fft {self.n_fft})", field="n_mels")


@dataclass
class SELDnetConfig(ConfigBase):
    """Every SELDnet hyper-parameter; defaults are the DCASE 2023 baseline (``paper`` preset).

    Pool sizes are ``(time, frequency)`` per conv block; the time pools' product is the
    number of STFT frames per label frame.
    """

    sample_rate: int = ranged(16000, lo=1000, hi=384000)
    n_mics: int = ranged(4, lo=2, hi=64)
    n_classes: int = ranged(13, lo=1, hi=MAX_WIDTH)
    n_tracks: int = ranged(3, lo=3, hi=3)
    stft: SELDFeatureConfig = field(default_factory=SELDFeatureConfig)
    conv_channels: int = ranged(64, lo=1, hi=MAX_WIDTH)
    pools: tuple[tuple[int, int], ...] = ranged(((5, 4), (1, 4), (1, 2)), lo=1, hi=MAX_COUNT)
    dropout: float = ranged(0.05, lo=0.0, hi=1.0, hi_open=True)
    rnn_hidden: int = ranged(128, lo=1, hi=MAX_WIDTH)
    rnn_layers: int = ranged(2, lo=1, hi=MAX_COUNT)
    attn_layers: int = ranged(2, lo=0, hi=MAX_COUNT)
    attn_heads: int = ranged(4, lo=1, hi=MAX_COUNT)
    fnn_layers: int = ranged(1, lo=0, hi=MAX_COUNT)
    fnn_size: int = ranged(128, lo=1, hi=MAX_WIDTH)

    def __post_init__(self) -> None:
        if not self.pools:
            raise ConfigError("at least one conv block", field="pools")
        if any(len(p) != 2 for p in self.pools):
            raise ConfigError("each pool is [time, frequency]", field="pools")
        f = self.stft.n_mels
        for p in self.pools:
            if f % p[1]:
                raise ConfigError(f"the frequency pools must divide n_mels = {self.stft.n_mels} step by step",
                                  field="pools")
            f //= p[1]
        if self.rnn_hidden % self.attn_heads:
            raise ConfigError(f"rnn_hidden {self.rnn_hidden} is not a multiple of attn_heads {self.attn_heads}",
                              field="attn_heads")

    @property
    def label_hop_frames(self) -> int:
        """STFT frames per label frame (product of the time pools, 5)."""
        return math.prod(p[0] for p in self.pools)

    @property
    def label_hop_s(self) -> float:
        """Label frame step in seconds (0.1 s for the paper configuration)."""
        return self.label_hop_frames * self.stft.hop / self.sample_rate

    @property
    def min_samples(self) -> int:
        """Shortest accepted input: one label frame."""
        return self.label_hop_frames * self.stft.hop

    @property
    def n_pairs(self) -> int:
        return self.n_mics * (self.n_mics - 1) // 2


# ----------------------------------------------------------------------------- features


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 mel per 200 Hz), logarithmic above."""
    f = np.asarray(f, np.float64)
    lin = f / (200.0 / 3)
    logstep = math.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) / logstep, lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    logstep = math.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3))


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Slaney-normalised triangular mel filters ``[n_fft // 2 + 1, n_mels]`` (librosa's default).

    Band ``m`` rises from ``f[m]`` to ``f[m+1]`` and falls to ``f[m+2]`` (``n_mels + 2`` edges
    equally spaced on the Slaney mel scale from ``fmin`` to ``fmax``, default Nyquist); its
    height is ``2 / (f[m+2] - f[m])`` so that every band has unit area in Hz.
    """
    fmax = sample_rate / 2 if fmax is None else fmax
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (bins[None] - lo) / (mid - lo)
    fall = (hi - bins[None]) / (hi - mid)
    tri = np.maximum(0.0, np.minimum(rise, fall))
    return (tri * (2.0 / (hi - lo))).T


class MicFeatures(nn.Module):
    """Log-mel spectrograms of each channel + truncated GCC-PHAT of each pair.

    ``[B, M, N]`` waveform -> ``[B, M + P, T, n_mels]`` (``P = M(M-1)/2`` pairs in
    ``itertools.combinations`` order, ``T = N // hop + 1`` centred frames).

    * STFT: periodic Hann window of ``2 * hop`` samples centred in ``n_fft``; centred,
      zero-padded frames (:func:`~asabench.models.blocks.stft.frame_signal`);
    * log-mel: ``10 log10(max(|X|^2 W, 1e-10))`` floored at ``top_db`` below the channel's
      maximum (librosa ``power_to_db``, reference 1);
    * GCC-PHAT of pair ``(i, j)``: ``irfft(exp(i angle(conj(X_i) X_j)))`` over ``n_fft`` lags,
      lags ``-n_mels/2 .. n_mels/2 - 1`` kept (negative lags first), as the baseline.
    """

    def __init__(self, sample_rate: int, n_mics: int, n_fft: int, hop: int, n_mels: int,
                 top_db: float = 80.0) -> None:
        super().__init__()
        self.n_fft, self.hop, self.n_mels, self.top_db = n_fft, hop, n_mels, float(top_db)
        win = 2 * hop
        window = torch.zeros(n_fft, dtype=torch.float64)
        start = (n_fft - win) // 2
        window[start:start + win] = torch.hann_window(win, periodic=True, dtype=torch.float64)
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("mel", torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels)).float(),
                             persistent=False)
        pairs = list(itertools.combinations(range(n_mics), 2))
        self.register_buffer("pair_i", torch.tensor([p[0] for p in pairs]), persistent=False)
        self.register_buffer("pair_j", torch.tensor([p[1] for p in pairs]), persistent=False)

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``[B, M, T, F]``."""
        return torch.fft.rfft(frame_signal(x, self.n_fft, self.hop) * self.window, n=self.n_fft, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.spectrum(x)
        power = spec.real.pow(2) + spec.imag.pow(2)
        logmel = 10.0 * torch.log10((power @ self.mel).clamp_min(1e-10))
        peak = logmel.amax(dim=(-2, -1), keepdim=True)
        logmel = torch.maximum(logmel, peak - self.top_db)
        cross = spec[:, self.pair_i].conj() * spec[:, self.pair_j]
        phat = torch.polar(torch.ones_like(cross.real), torch.angle(cross))
        cc = torch.fft.irfft(phat, n=self.n_fft, dim=-1)
        half = self.n_mels // 2
        gcc = torch.cat([cc[..., -half:], cc[..., :half]], dim=-1)
        return torch.cat([logmel, gcc], dim=1)


# ----------------------------------------------------------------------------- network


class _ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int, pool: tuple[int, int], dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn = nn.BatchNorm2d(cout)
        self.pool = nn.MaxPool2d(tuple(pool))
        self.drop = nn.Dropout2d(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.pool(F.relu(self.bn(self.conv(x)))))


class SELDnet(nn.Module):
    """SELDnet (DCASE 2023 baseline, MIC format) on a :class:`SELDnetConfig`."""

    def __init__(self, config: SELDnetConfig | None = None) -> None:
        super().__init__()
        cfg = config or SELDnetConfig()
        self.config = cfg
        s = cfg.stft
        in_ch = cfg.n_mics + cfg.n_pairs
        self.features = MicFeatures(cfg.sample_rate, cfg.n_mics, s.n_fft, s.hop, s.n_mels, s.top_db)
        self.norm = nn.BatchNorm1d(in_ch * s.n_mels, affine=False)
        chans = [in_ch] + [cfg.conv_channels] * len(cfg.pools)
        self.convs = nn.Sequential(*(_ConvBlock(chans[i], chans[i + 1], cfg.pools[i], cfg.dropout)
                                     for i in range(len(cfg.pools))))
        f_out = s.n_mels // math.prod(p[1] for p in cfg.pools)
        self.gru = nn.GRU(cfg.conv_channels * f_out, cfg.rnn_hidden, num_layers=cfg.rnn_layers, batch_first=True,
                          dropout=cfg.dropout if cfg.rnn_layers > 1 else 0.0, bidirectional=True)
        h = cfg.rnn_hidden
        self.attn = nn.ModuleList(nn.MultiheadAttention(h, cfg.attn_heads, dropout=cfg.dropout, batch_first=True)
                                  for _ in range(cfg.attn_layers))
        self.attn_norm = nn.ModuleList(nn.LayerNorm(h) for _ in range(cfg.attn_layers))
        widths = [h] + [cfg.fnn_size] * cfg.fnn_layers
        self.fnn = nn.ModuleList(nn.Linear(widths[i], widths[i + 1]) for i in range(cfg.fnn_layers))
        self.head = nn.Linear(widths[-1], cfg.n_tracks * 3 * cfg.n_classes)

    def forward(self, x: torch.Tensor, sample_rate: int | None = None) -> dict[str, torch.Tensor]:
        """``x: [B, M, N]`` -> ``{"accdoa": [B, T', 3, 3, C]}`` (track, xyz, class), ``T' = T // 5``."""
        cfg = self.config
        _check_input(x, cfg, sample_rate)
        feats = self.features(x)                                 # [B, K, T, F]
        b, k, t, f = feats.shape
        feats = self.norm(feats.permute(0, 1, 3, 2).reshape(b, k * f, t)).reshape(b, k, f, t).transpose(2, 3)
        y = self.convs(feats)                                    # [B, D, T', F']
        y = y.transpose(1, 2).flatten(2)                         # [B, T', D * F'] channel-major
        y, _ = self.gru(y)
        y = torch.tanh(y)
        y = y[..., cfg.rnn_hidden:] * y[..., :cfg.rnn_hidden]
        for attn, norm in zip(self.attn, self.attn_norm):
            a, _ = attn(y, y, y, need_weights=False)
            y = norm(a + y)
        for lin in self.fnn:
            y = lin(y)                                           # no nonlinearity here (baseline)
        out = torch.tanh(self.head(y))
        return {"accdoa": out.reshape(b, out.shape[1], cfg.n_tracks, 3, cfg.n_classes)}


def _check_input(x: torch.Tensor, cfg: SELDnetConfig, sample_rate: int | None) -> None:
    if sample_rate is not None and int(sample_rate) != cfg.sample_rate:
        raise ValueError(f"SELDnet: sample_rate {sample_rate} Hz given, the model is configured for "
                         f"{cfg.sample_rate} Hz (config field sample_rate)")
    if not torch.is_tensor(x) or x.dim() != 3 or not torch.is_floating_point(x):
        raise ValueError(f"SELDnet: expected a floating-point [batch, channels, samples] tensor, got "
                         f"{tuple(x.shape) if torch.is_tensor(x) else type(x).__name__}")
    if x.shape[1] != cfg.n_mics:
        raise ValueError(f"SELDnet: expected {cfg.n_mics} channels (config field n_mics), got {x.shape[1]}")
    if x.shape[2] < cfg.min_samples:
        raise ValueError(f"SELDnet: input has {x.shape[2]} samples; at least {cfg.min_samples} (one label frame)")


# ----------------------------------------------------------------------------- inference


@torch.no_grad()
def decode_multi_accdoa(accdoa: torch.Tensor, threshold: float = 0.5,
                        unify_deg: float = 15.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The DCASE baseline's multi-ACCDOA inference.

    Parameters
    ----------
    accdoa : ``[B, T, 3, 3, C]`` output (track, xyz, class).
    threshold : a track holds an event of a class where its vector's norm exceeds this.
    unify_deg : two active tracks of one class closer than this (degrees) are one event.

    Returns
    -------
    ``(active [B, T, 3, C] bool, vectors [B, T, 3, 3, C])``: after merging, one pair of
    similar tracks leaves its mean vector on the lower track index (pairs (0, 1) and
    (2, 0) on track 0, (1, 2) on track 1) and the third track as it was; two or more similar
    pairs leave the mean of all three on track 0.
    """
    vec = accdoa.detach().to(torch.float64)
    active = vec.norm(dim=3) > threshold                      # [B, T, 3, C]
    if accdoa.shape[2] != 3:
        raise ValueError(f"decode_multi_accdoa: expected 3 tracks, got {accdoa.shape[2]}")
    unit = vec / vec.norm(dim=3, keepdim=True).clamp_min(1e-12)

    def similar(i: int, j: int) -> torch.Tensor:
        cos = (unit[:, :, i] * unit[:, :, j]).sum(dim=2).clamp(-1.0, 1.0)
        return active[:, :, i] & active[:, :, j] & (torch.rad2deg(torch.acos(cos)) < unify_deg)

    s01, s12, s20 = similar(0, 1), similar(1, 2), similar(2, 0)
    n = s01.long() + s12.long() + s20.long()                 # [B, T, C]
    out_v, out_a = vec.clone(), active.clone()
    one = n == 1
    all3 = n >= 2
    for (i, j), flag in (((0, 1), s01), ((1, 2), s12), ((0, 2), s20)):
        m = one & flag
        out_v[:, :, i] = torch.where(m[:, :, None], (vec[:, :, i] + vec[:, :, j]) / 2, out_v[:, :, i])
        out_a[:, :, j] &= ~m
    out_v[:, :, 0] = torch.where(all3[:, :, None], vec.sum(dim=2) / 3, out_v[:, :, 0])
    out_a[:, :, 1] &= ~all3
    out_a[:, :, 2] &= ~all3
    return out_a, out_v * out_a[:, :, :, None].to(out_v.dtype)


register("seldnet", config_cls=SELDnetConfig,
         description="SELDnet, DCASE 2023 Task 3 baseline (MIC: log-mel + GCC-PHAT, CRNN + MHSA, multi-ACCDOA)")(SELDnet)
