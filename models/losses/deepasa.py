"""DeepASA training loss: object-oriented PIT over every decoder.

One exhaustive permutation search per example on the reference-channel full-image
(direct + reverb) separation error fixes the object assignment (it minimises the summed
error energy, i.e. maximises the source-aggregated SDR), and the same permutation aligns the
direct, reverb, class, SED, on/off and DoA outputs with their targets. Terms:

* separation: ``-SA-SDR`` on full, direct and reverb images, reference channel weight 1,
  other channels ``other_channel_weight`` (0.1);
* noise: ``-0.01 * SI-SDR`` of the noise estimate (mean over channels);
* class: cross-entropy for filled slots, ``KL(uniform || softmax)`` for empty slots;
* SED: MSE between frame class probabilities and the one-hot class on active frames;
* DoA: MSE to the target (unit vector when active, 0 when not);
* on/off: binary cross-entropy with the frame activity.

Target dict (``J`` slots, empty slots have zero audio, ``class_index = -1`` and no activity):
``direct``, ``reverb`` ``[B, J, M, N]``; ``noise`` ``[B, M, N]``; ``class_index`` ``[B, J]``
long; ``active`` ``[B, J, T']`` {0, 1}; ``doa`` ``[B, J, T', 3]``.

References
----------
DeepASA (NeurIPS 2025), Section 3.4; SA-SDR: T. von Neumann et al., "SA-SDR: a novel loss
function for separation of meeting style data", ICASSP 2022.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from asabench.simulate.io.config import ConfigBase, ranged

__all__ = [
    "DeepASALossWeights",
    "deepasa_loss",
    "pit_permutation",
    "apply_permutation",
    "sa_sdr",
    "si_sdr",
]

_EPS = 1e-8


@dataclass
class DeepASALossWeights(ConfigBase):
    """Weights of the DeepASA loss terms (all summed)."""

    full: float = ranged(1.0, lo=0.0)
    direct: float = ranged(1.0, lo=0.0)
    reverb: float = ranged(1.0, lo=0.0)
    noise: float = ranged(0.01, lo=0.0)
    cls: float = ranged(1.0, lo=0.0)
    sed: float = ranged(1.0, lo=0.0)
    doa: float = ranged(1.0, lo=0.0)
    onoff: float = ranged(1.0, lo=0.0)
    other_channel_weight: float = ranged(0.1, lo=0.0)


def sa_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Source-aggregated SDR in dB over the source axis.

    ``est, ref: [B, J, N]`` -> ``[B]``: ``10 log10(sum_j ||s_j||^2 / sum_j ||s_j - s^_j||^2)``.
    """
    num = ref.pow(2).sum(dim=(1, 2))
    den = (ref - est).pow(2).sum(dim=(1, 2))
    return 10 * torch.log10((num + _EPS) / (den + _EPS))


def si_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SDR in dB, ``[..., N] -> [...]`` (zero-mean signals).

    ``alpha = <s^, s> / ||s||^2``; ``SI-SDR = 10 log10(||alpha s||^2 / ||alpha s - s^||^2)``.
    """
    est = est - est.mean(dim=-1, keepdim=True)
    ref = ref - ref.mean(dim=-1, keepdim=True)
    alpha = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + _EPS)
    target = alpha * ref
    return 10 * torch.log10((target.pow(2).sum(-1) + _EPS) / ((target - est).pow(2).sum(-1) + _EPS))


def pit_permutation(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Best assignment by exhaustive search on the summed squared error.

    Parameters
    ----------
    est, ref : [B, J, N] estimates and targets (reference channel).

    Returns
    -------
    perm : [B, J] long; target ``j`` is matched with estimate ``perm[b, j]``.
    """
    b, j, _ = est.shape
    # ||s_j - e_k||^2 for every pair; the permutation cost is a sum of pair costs
    err = (ref.pow(2).sum(-1)[:, :, None] + est.pow(2).sum(-1)[:, None, :]
           - 2 * torch.einsum("bjn,bkn->bjk", ref, est))
    perms = torch.tensor(list(itertools.permutations(range(j))), device=est.device)  # [P, J]
    cost = err[:, torch.arange(j, device=est.device)[None, :], perms].sum(-1)  # [B, P]
    return perms[cost.argmin(dim=1)]


def apply_permutation(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Reorder the object axis (dim 1) of ``x: [B, J, ...]`` by ``perm: [B, J]``."""
    idx = perm.reshape(*perm.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return torch.gather(x, 1, idx)


def _image_loss(est: torch.Tensor, ref: torch.Tensor, ref_channel: int, other_w: float) -> torch.Tensor:
    """``-sum_m w_m SA-SDR_m`` over channels of ``[B, J, M, N]``, mean over the batch."""
    m = est.shape[2]
    w = torch.full((m,), other_w, dtype=est.dtype, device=est.device)
    w[ref_channel] = 1.0
    per_ch = torch.stack([sa_sdr(est[:, :, c], ref[:, :, c]) for c in range(m)], dim=-1)  # [B, M]
    return -(per_ch * w).sum(-1).mean()


def deepasa_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
                 ref_channel: int = 0,
                 weights: DeepASALossWeights | None = None) -> dict[str, torch.Tensor]:
    """Object-oriented PIT loss of DeepASA.

    Parameters
    ----------
    outputs : the dict returned by :class:`~asabench.models.systems.deepasa.DeepASA`.
    targets : see the module docstring.
    ref_channel : microphone whose full image fixes the permutation.

    Returns
    -------
    dict with ``loss`` (scalar to minimise), each term (``full``, ``direct``, ``reverb``,
    ``noise``, ``cls``, ``sed``, ``doa``, ``onoff``) and ``perm`` ``[B, J]``.
    """
    w = weights or DeepASALossWeights()
    full_ref = targets["direct"] + targets["reverb"]
    with torch.no_grad():
        perm = pit_permutation(outputs["separated"][:, :, ref_channel].float(),
                               full_ref[:, :, ref_channel].float())
    o = {k: apply_permutation(outputs[k], perm)
         for k in ("separated", "direct", "reverb", "class_logits", "sed", "onoff", "doa")}
    terms: dict[str, torch.Tensor] = {
        "full": _image_loss(o["separated"], full_ref, ref_channel, w.other_channel_weight),
        "direct": _image_loss(o["direct"], targets["direct"], ref_channel, w.other_channel_weight),
        "reverb": _image_loss(o["reverb"], targets["reverb"], ref_channel, w.other_channel_weight),
        "noise": -si_sdr(outputs["noise"], targets["noise"]).mean(),
    }
    cls_t = targets["class_index"]
    logp = F.log_softmax(o["class_logits"].float(), dim=-1)
    filled = cls_t >= 0
    ce = -logp.gather(-1, cls_t.clamp_min(0)[..., None])[..., 0]
    kl_uniform = -math.log(logp.shape[-1]) - logp.mean(-1)  # KL(u || p)
    terms["cls"] = torch.where(filled, ce, kl_uniform).mean()
    active = targets["active"].to(logp.dtype)
    onehot = F.one_hot(cls_t.clamp_min(0), logp.shape[-1]).to(logp.dtype)[:, :, None, :]
    sq = (torch.softmax(o["sed"].float(), -1) - onehot).pow(2).mean(-1)  # [B, J, T']
    terms["sed"] = (sq * active).sum() / active.sum().clamp_min(1.0)
    terms["doa"] = F.mse_loss(o["doa"].float(), targets["doa"].float())
    terms["onoff"] = F.binary_cross_entropy_with_logits(o["onoff"].float(), active)
    total = sum(getattr(w, k) * v for k, v in terms.items())
    return {"loss": total, **terms, "perm": perm}
