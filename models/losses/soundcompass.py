"""SoundCompass training loss: 0.9 SNR + 0.1 SI-SNR on direct, reverb and their sum, + BCE.

Multichannel pooled convention: one SNR per example over all channels and samples jointly,
``SNR(s_hat, s) = 10 log10(sum_{m,n} s^2 / sum_{m,n} (s - s_hat)^2)``, so louder
channels weigh more and inter-channel level differences are preserved. For SI-SNR each
channel is made zero-mean and one scale ``alpha = <s_hat, s> / <s, s>`` (inner products
pooled over channels and samples) is fitted for the whole multichannel signal, so the
inter-channel level ratios are not rescaled per channel.

References
----------
D. Choi and J.-W. Choi, "SoundCompass", Sec. 2.3.
J. Le Roux, S. Wisdom, H. Erdogan and J. R. Hershey, "SDR - half-baked or well done?",
ICASSP 2019 (SI-SNR).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from asabench.models.losses.sdr import sa_sdr, si_sdr

__all__ = ["pooled_snr", "pooled_si_snr", "snr_mix_loss", "soundcompass_loss"]


def _check_pair(est: Tensor, ref: Tensor, name: str) -> None:
    if est.shape != ref.shape or est.dim() < 2:
        raise ValueError(f"{name}: expected estimate and reference of equal shape [B, ..., N], got {tuple(est.shape)} and {tuple(ref.shape)}")


def pooled_snr(est: Tensor, ref: Tensor) -> Tensor:
    """SNR in dB pooled over every axis but the first.

    Parameters
    ----------
    est, ref : Tensor
        [B, M, N] (or [B, N]) estimate and reference.

    Returns
    -------
    Tensor
        [B] dB (energies floored by a small epsilon, so silent references stay finite).
    """
    _check_pair(est, ref, "pooled_snr")
    # source-aggregated SDR over [B, J, N] is exactly the channel-pooled SNR over [B, M, N]
    return sa_sdr(est.reshape(est.shape[0], 1, -1), ref.reshape(ref.shape[0], 1, -1))


def pooled_si_snr(est: Tensor, ref: Tensor) -> Tensor:
    """Scale-invariant SNR in dB with one scale for all channels (zero-mean per channel).

    Parameters
    ----------
    est, ref : Tensor
        [B, M, N] (or [B, N]).

    Returns
    -------
    Tensor
        [B] dB.
    """
    _check_pair(est, ref, "pooled_si_snr")
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    # channels made zero-mean one by one, then one SI-SDR (no further mean removal) over the
    # concatenation: one scale for all channels
    return si_sdr(est.flatten(1), ref.flatten(1))


def snr_mix_loss(est: Tensor, ref: Tensor, snr_weight: float = 0.9, si_snr_weight: float = 0.1) -> Tensor:
    """``-(0.9 SNR + 0.1 SI-SNR)`` averaged over the batch (scalar, dB)."""
    return -(snr_weight * pooled_snr(est, ref) + si_snr_weight * pooled_si_snr(est, ref)).mean()


def soundcompass_loss(
    outputs: dict[str, Tensor],
    direct: Tensor,
    reverb: Tensor,
    activity: Tensor | None = None,
    snr_weight: float = 0.9,
    si_snr_weight: float = 0.1,
) -> dict[str, Tensor]:
    """Total SoundCompass loss and its terms (all summed with weight 1, as in the paper).

    Parameters
    ----------
    outputs : dict
        Model outputs with ``"direct"`` and ``"reverb"`` [B, M, N] and, when the SED
        decoder is on, ``"activity_logits"`` [B, T'].
    direct, reverb : Tensor
        Target direct-path and reverberant images [B, M, N]; the target output is their sum.
    activity : Tensor, optional
        Target frame activity [B, T'] in {0, 1}; required when the outputs carry activity.

    Returns
    -------
    dict
        ``"loss"`` (scalar to minimise) and the terms ``"direct"``, ``"reverb"``,
        ``"output"`` and, with SED, ``"bce"``.
    """
    for key in ("direct", "reverb"):
        if key not in outputs:
            raise KeyError(f"soundcompass_loss: outputs lack {key!r}")
    terms = {
        "direct": snr_mix_loss(outputs["direct"], direct, snr_weight, si_snr_weight),
        "reverb": snr_mix_loss(outputs["reverb"], reverb, snr_weight, si_snr_weight),
        "output": snr_mix_loss(outputs["direct"] + outputs["reverb"], direct + reverb, snr_weight, si_snr_weight),
    }
    if "activity_logits" in outputs:
        if activity is None:
            raise ValueError("soundcompass_loss: the model predicts activity, so a target activity [B, T'] is required")
        logits = outputs["activity_logits"]
        if activity.shape != logits.shape:
            raise ValueError(f"soundcompass_loss: activity target {tuple(activity.shape)} does not match logits {tuple(logits.shape)}")
        terms["bce"] = F.binary_cross_entropy_with_logits(logits, activity.to(logits.dtype))
    terms["loss"] = sum(terms.values())  # type: ignore[assignment]
    return terms
