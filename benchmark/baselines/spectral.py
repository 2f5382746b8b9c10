"""The one STFT of the signal-processing baselines (oracle masks and beamformers).

Periodic Hann analysis window of ``n_fft`` samples, hop ``n_fft // 4`` (75 % overlap),
``center=True`` with zero padding, one-sided spectrum (``n_fft // 2 + 1`` bins), and its
least-squares (weighted overlap-add) inverse :func:`torch.istft`, which reconstructs an
unmodified spectrum exactly (Hann at 75 % overlap satisfies the NOLA condition).
``n_fft`` is 32 ms of the sample rate: 512 samples at 16 kHz, 256 at 8 kHz.

The sign convention is :func:`torch.stft`'s, ``X[f, t] = sum_n x[n] w[n - tH] e^{-j 2 pi f n / n_fft}``:
a signal delayed by ``tau`` seconds has its bins multiplied by ``e^{-j 2 pi f_hz tau}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["STFTSpec", "stft_spec", "stft", "istft", "WINDOW_S"]

#: Analysis window length in seconds.
WINDOW_S: float = 0.032


@dataclass(frozen=True)
class STFTSpec:
    """``n_fft`` and ``hop`` in samples at sample rate ``fs`` (Hz)."""

    n_fft: int
    hop: int
    fs: int

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def freqs_hz(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``[F]`` centre frequency of each bin, Hz."""
        return torch.arange(self.n_bins, dtype=dtype) * (self.fs / self.n_fft)

    def to_dict(self) -> dict[str, object]:
        return {"window": "hann (periodic)", "n_fft": self.n_fft, "hop": self.hop, "fs": self.fs,
                "center": True, "inverse": "weighted overlap-add (torch.istft)"}


def stft_spec(fs: int) -> STFTSpec:
    """The baselines' STFT at ``fs`` Hz: 32-ms Hann window (rounded to an even length), hop 1/4."""
    if fs <= 0:
        raise ValueError(f"sample rate must be positive, got {fs}")
    n_fft = max(8, 2 * int(round(WINDOW_S * fs / 2)))
    return STFTSpec(n_fft=n_fft, hop=n_fft // 4, fs=int(fs))


def stft(x: torch.Tensor, spec: STFTSpec) -> torch.Tensor:
    """``[..., N]`` real signals -> ``[..., F, T]`` complex spectra (dtype follows ``x``: complex64/128)."""
    lead, n = x.shape[:-1], x.shape[-1]
    window = torch.hann_window(spec.n_fft, periodic=True, dtype=x.dtype, device=x.device)
    X = torch.stft(x.reshape(-1, n), spec.n_fft, spec.hop, window=window, center=True,
                   pad_mode="constant", return_complex=True)
    return X.reshape(*lead, *X.shape[-2:])


def istft(X: torch.Tensor, spec: STFTSpec, length: int) -> torch.Tensor:
    """``[..., F, T]`` complex spectra -> ``[..., length]`` real signals."""
    lead = X.shape[:-2]
    window = torch.hann_window(spec.n_fft, periodic=True, dtype=X.real.dtype, device=X.device)
    x = torch.istft(X.reshape(-1, *X.shape[-2:]), spec.n_fft, spec.hop, window=window, center=True,
                    length=length)
    return x.reshape(*lead, length)
