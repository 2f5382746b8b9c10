"""Signal-to-distortion ratios for training losses, one name per definition.

All values are in dB and differentiable; ``eps = 1e-8`` keeps silent signals finite. Each
function reduces the last axis (samples) unless stated otherwise. The names follow the
definitions used by :mod:`asabench.benchmark.metrics.separation`:

* :func:`snr`: ``10 log10(||s||^2 / ||s - s^||^2)`` (no scaling, no mean removal);
* :func:`si_sdr`: scale-invariant SDR, **no** mean removal (torchmetrics'
  ``scale_invariant_signal_distortion_ratio`` with its default ``zero_mean=False``);
* :func:`si_snr`: the same after removing each signal's mean (SI-SNR);
* :func:`sa_sdr`: source-aggregated SDR, energies summed over the source axis before the ratio.

References
----------
J. Le Roux, S. Wisdom, H. Erdogan, J. R. Hershey, "SDR - half-baked or well done?", ICASSP 2019;
T. von Neumann et al., "SA-SDR: a novel loss function for separation of meeting style data",
ICASSP 2022.
"""

from __future__ import annotations

import torch

__all__ = ["EPS", "snr", "si_sdr", "si_snr", "sa_sdr"]

#: Added to numerator and denominator energies (and to the projection's denominator).
EPS = 1e-8


def _ratio_db(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10((num + EPS) / (den + EPS))


def snr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio ``[..., N] -> [...]``: ``10 log10(||s||^2 / ||s - s^||^2)``."""
    return _ratio_db(ref.pow(2).sum(-1), (ref - est).pow(2).sum(-1))


def si_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SDR without mean removal, ``[..., N] -> [...]``.

    ``alpha = <s^, s> / ||s||^2``, ``SI-SDR = 10 log10(||alpha s||^2 / ||alpha s - s^||^2)``.
    """
    alpha = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + EPS)
    target = alpha * ref
    return _ratio_db(target.pow(2).sum(-1), (target - est).pow(2).sum(-1))


def si_snr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SNR: :func:`si_sdr` of the zero-mean signals, ``[..., N] -> [...]``."""
    return si_sdr(est - est.mean(-1, keepdim=True), ref - ref.mean(-1, keepdim=True))


def sa_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Source-aggregated SDR ``[B, J, N] -> [B]``.

    ``10 log10(sum_j ||s_j||^2 / sum_j ||s_j - s^_j||^2)`` (no scaling, no mean removal;
    torchmetrics' ``source_aggregated_signal_distortion_ratio`` with ``scale_invariant=False``).
    """
    return _ratio_db(ref.pow(2).sum(dim=(-2, -1)), (ref - est).pow(2).sum(dim=(-2, -1)))
