"""Learnable Gaussian-window STFT ("dynamic STFT") and its fixed-Hann inverse.

The analysis window of every frame is a Gaussian whose centre ``mu`` and width ``sigma``
are predicted from that frame's waveform by a strided convolution (DeepASA, "time-varying
learnable window"). Two ablation variants share the interface: a fixed window (Gaussian or
Hann) and a time-invariant learnable Gaussian (one ``mu``/``sigma`` for all frames).

Shapes: waveform ``[B, C, N]`` (samples) -> complex spectrum ``[B, C, T, F]`` with
``T = N // hop + 1`` frames (centred frames, zero padding of ``n_fft // 2`` on both sides)
and ``F = n_fft // 2 + 1`` bins. The parameters are shared across channels.

References
----------
D. Lee, Y. Kwon, J.-W. Choi, "DeepASA: An object-oriented one-for-all network for auditory
scene analysis", NeurIPS 2025 (dynamic STFT, Figs. 11-12, Table 1 ablation).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

WindowMode = Literal["dynamic", "invariant", "fixed", "hann"]

__all__ = ["DynamicSTFT", "inverse_stft", "frame_signal", "WindowMode"]


def _inv_softplus(y: float) -> float:
    """Inverse of ``softplus`` for a positive scalar (stable for large ``y``)."""
    return y + math.log(-math.expm1(-y))


def frame_signal(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Cut a waveform into centred, zero-padded frames.

    Parameters
    ----------
    x : [..., N] waveform.

    Returns
    -------
    [..., T, n_fft] frames, ``T = N // hop + 1``; frame ``t`` is centred on sample ``t * hop``.
    """
    pad = n_fft // 2
    xp = F.pad(x, (pad, pad))
    return xp.unfold(-1, n_fft, hop)


def inverse_stft(spec: torch.Tensor, n_fft: int, hop: int, length: int) -> torch.Tensor:
    """Inverse STFT with a fixed periodic Hann window (weighted overlap-add).

    Parameters
    ----------
    spec : complex [..., T, F] spectrum, ``F = n_fft // 2 + 1``.
    length : number of output samples ``N``.

    Returns
    -------
    [..., N] real waveform. Exact inverse of :class:`DynamicSTFT` in ``"hann"`` mode; for the
    other windows it is the least-squares synthesis used by DeepASA's decoders, which learn
    spectra directly (spectral mapping), so no analysis/synthesis pairing is needed.
    """
    lead = spec.shape[:-2]
    t = spec.shape[-2]
    flat = spec.reshape(-1, t, spec.shape[-1])
    window = torch.hann_window(n_fft, periodic=True, dtype=flat.real.dtype, device=flat.device)
    frames = torch.fft.irfft(flat, n=n_fft, dim=-1) * window  # [B', T, n_fft]
    total = n_fft + hop * (t - 1)
    # overlap-add by fold (same result as torch.istft, also traceable with fake tensors)
    ola = F.fold(frames.transpose(1, 2), (1, total), (1, n_fft), stride=(1, hop))[:, 0, 0]
    norm = F.fold(window.pow(2)[None, :, None].expand(1, n_fft, t), (1, total), (1, n_fft),
                  stride=(1, hop))[0, 0, 0]
    start = n_fft // 2
    ola = ola[:, start:start + length]
    norm = norm[start:start + length]
    wav = ola / torch.where(norm > 1e-11, norm, torch.ones_like(norm))
    if wav.shape[-1] < length:
        wav = F.pad(wav, (0, length - wav.shape[-1]))
    return wav.reshape(*lead, length)


class DynamicSTFT(nn.Module):
    """STFT whose per-frame Gaussian analysis window is learned (or fixed for ablations).

    Parameters
    ----------
    n_fft : frame length and FFT size in samples (640 at 16 kHz in the paper).
    hop : frame step in samples (320 in the paper).
    mode : ``"dynamic"`` (window predicted per frame), ``"invariant"`` (one learnable
        Gaussian for all frames), ``"fixed"`` (Gaussian with the initial width, not learned)
        or ``"hann"`` (periodic Hann, not learned; exact round trip with :meth:`inverse`).
    feat_channels : channels of the window-predicting strided convolution (64).
    init_sigma_frac : initial Gaussian width as a fraction of ``n_fft`` (1/6).
    frozen : start with the learnable window parameters frozen (DeepASA trains the window
        once the rest has converged); see :meth:`freeze`.

    Notes
    -----
    For ``"dynamic"``: features ``h = Conv1d(1 -> feat_channels, k=n_fft, s=hop, p=n_fft/2)``
    per channel; ``mu = sigmoid(Linear(h)) * n_fft - n_fft/2`` and
    ``sigma = softplus(Linear(h))`` (samples); window
    ``w_t(tau) = exp(-(tau - mu_t)^2 / (2 sigma_t^2))`` for ``tau`` in ``[-n_fft/2, n_fft/2)``,
    L2-normalised. The heads start with near-zero weights and biases giving ``mu = 0`` and
    ``sigma = init_sigma_frac * n_fft``, i.e. close to the fixed Gaussian.
    """

    def __init__(
        self,
        n_fft: int = 640,
        hop: int = 320,
        mode: WindowMode = "dynamic",
        feat_channels: int = 64,
        init_sigma_frac: float = 1.0 / 6.0,
        frozen: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if n_fft % 2 or n_fft <= 0:
            raise ValueError(f"DynamicSTFT: n_fft must be a positive even integer, got {n_fft}")
        if not 0 < hop <= n_fft:
            raise ValueError(f"DynamicSTFT: hop must be in (0, n_fft], got {hop}")
        if mode not in ("dynamic", "invariant", "fixed", "hann"):
            raise ValueError(f"DynamicSTFT: unknown window mode {mode!r}")
        self.n_fft = n_fft
        self.hop = hop
        self.mode: WindowMode = mode
        sigma0 = init_sigma_frac * n_fft
        self.sigma0 = sigma0
        if mode == "dynamic":
            self.features = nn.Conv1d(1, feat_channels, n_fft, stride=hop, padding=n_fft // 2)
            self.mu_head = nn.Linear(feat_channels, 1)
            self.sigma_head = nn.Linear(feat_channels, 1)
            with torch.no_grad():
                # small weights keep the initial window within a fraction of a sample of
                # the fixed Gaussian while still letting gradients reach the convolution
                for head in (self.mu_head, self.sigma_head):
                    head.weight.normal_(0.0, 1e-4, generator=generator)
                self.mu_head.bias.zero_()
                self.sigma_head.bias.fill_(_inv_softplus(sigma0))
        elif mode == "invariant":
            self.mu_logit = nn.Parameter(torch.zeros(()))
            self.sigma_raw = nn.Parameter(torch.tensor(_inv_softplus(sigma0)))
        if frozen:
            self.freeze()

    @property
    def n_bins(self) -> int:
        """Number of frequency bins ``F = n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        """Number of frames ``T`` for ``n_samples`` input samples."""
        return n_samples // self.hop + 1

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or restart) learning the window parameters."""
        for p in self.parameters():
            p.requires_grad_(not frozen)

    def _gaussian(self, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Gaussian windows ``[..., n_fft]`` from centres/widths ``[...]``, L2-normalised."""
        tau = torch.arange(-(self.n_fft // 2), self.n_fft // 2, dtype=mu.dtype, device=mu.device)
        w = torch.exp(-((tau - mu[..., None]) ** 2) / (2.0 * sigma[..., None] ** 2))
        return w / w.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def window_params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame window centre and width in samples.

        Parameters
        ----------
        x : [B, C, N] waveform.

        Returns
        -------
        (mu, sigma), each [B, C, T] (broadcast for the non-dynamic modes).
        """
        b, c, n = x.shape
        t = self.n_frames(n)
        half = self.n_fft / 2
        if self.mode == "dynamic":
            h = self.features(x.reshape(b * c, 1, n)).transpose(1, 2)  # [BC, T, feat]
            mu = torch.sigmoid(self.mu_head(h)[..., 0]) * self.n_fft - half
            sigma = F.softplus(self.sigma_head(h)[..., 0])
            return mu.reshape(b, c, t), sigma.reshape(b, c, t)
        if self.mode == "invariant":
            mu = torch.sigmoid(self.mu_logit) * self.n_fft - half
            sigma = F.softplus(self.sigma_raw)
            return mu.expand(b, c, t), sigma.expand(b, c, t)
        raise ValueError(f"DynamicSTFT: mode {self.mode!r} has no Gaussian parameters")

    def fixed_window(self, dtype: torch.dtype = torch.float32,
                     device: torch.device | None = None) -> torch.Tensor:
        """The window ``[n_fft]`` of the ``"fixed"`` (Gaussian) or ``"hann"`` mode."""
        if self.mode == "hann":
            return torch.hann_window(self.n_fft, periodic=True, dtype=dtype, device=device)
        zero = torch.zeros((), dtype=dtype, device=device)
        return self._gaussian(zero, zero + self.sigma0)

    def windows(self, x: torch.Tensor) -> torch.Tensor:
        """Analysis windows ``[B, C, T, n_fft]`` (or ``[n_fft]`` for fixed modes)."""
        if self.mode in ("fixed", "hann"):
            # built in the input's dtype on the fly so float64 round trips stay exact
            return self.fixed_window(x.dtype, x.device)
        mu, sigma = self.window_params(x)
        return self._gaussian(mu, sigma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Complex spectrum ``[B, C, T, F]`` of the waveform ``x: [B, C, N]``."""
        if x.dim() != 3:
            raise ValueError(f"DynamicSTFT: expected a [B, C, N] waveform, got shape {tuple(x.shape)}")
        frames = frame_signal(x, self.n_fft, self.hop)  # [B, C, T, n_fft]
        frames = frames * self.windows(x)
        # same phase convention as torch.stft(center=True): FFT index 0 is the frame's
        # first sample, so the fixed-Hann mode equals torch.stft exactly
        return torch.fft.rfft(frames, n=self.n_fft, dim=-1)

    def inverse(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Waveform ``[..., N]`` from a complex spectrum ``[..., T, F]`` (fixed Hann synthesis)."""
        return inverse_stft(spec, self.n_fft, self.hop, length)
