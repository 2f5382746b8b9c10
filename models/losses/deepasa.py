"""DeepASA training loss as in the authors' released training code.

Separation terms (negative SA-SDR, each with its own exhaustive permutation search):

* at the reference channel: the full image (direct + reverb) term, whose permutation is the
  object assignment that also aligns the class, SED, DoA and on/off outputs; the direct term
  and the reverb term, each searching its own permutation;
* ``other_channel_weight`` (0.1) times the same three terms, again each with its own search,
  at channels ``0 .. M-2``. This is the released loop (``range(0, M - 1)``): it includes
  channel 0 (the reference) and leaves out the last channel;
* noise: ``-0.01 * SI-SDR`` (no mean removal), averaged over batch and channels.

Event terms, aligned by the full-image permutation: class cross-entropy for filled slots and
``KL(uniform || softmax)`` for empty ones (mean over the ``B*J`` slots); SED MSE between the
frame class probabilities (``outputs["sed"]``) and ``active x one-hot(class)``, averaged over
all ``B*J*T'*C`` elements (inactive frames and empty slots included); DoA MSE over all
elements; on/off binary cross-entropy. All weights 1.

Target dict (``J`` slots, empty slots have zero audio, ``class_index = -1`` and no activity):
``direct``, ``reverb`` ``[B, J, M, N]``; ``noise`` ``[B, M, N]``; ``class_index`` ``[B, J]``
long; ``active`` ``[B, J, T']`` {0, 1}; ``doa`` ``[B, J, T', 3]``.

References
----------
DeepASA (NeurIPS 2025), Section 3.4, and the released training step (``SharedTrainer.py``,
``models/io/loss.py``); SA-SDR: T. von Neumann et al., ICASSP 2022.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from asabench.models.losses.pit import apply_permutation, pit_permutation
from asabench.models.losses.sdr import sa_sdr, si_sdr
from asabench.simulate.io.config import ConfigBase, ranged

__all__ = ["DeepASALossWeights", "deepasa_loss", "separation_term", "other_channels"]


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


def other_channels(n_mics: int) -> range:
    """Channels of the weight-0.1 terms: ``0 .. n_mics - 2``, as the released loop runs."""
    return range(max(n_mics - 1, 1))


def separation_term(est: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``-SA-SDR`` of one channel under its own best permutation, mean over the batch.

    ``est, ref: [B, J, N]`` -> (scalar loss, permutation ``[B, J]``).
    """
    with torch.no_grad():
        perm = pit_permutation(est.detach().float(), ref.float())
    return -sa_sdr(apply_permutation(est, perm).float(), ref.float()).mean(), perm


def deepasa_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
                 ref_channel: int = 0,
                 weights: DeepASALossWeights | None = None,
                 permutations: bool = False) -> dict[str, torch.Tensor]:
    """DeepASA's multi-task loss (see the module docstring).

    Parameters
    ----------
    outputs : the dict returned by :class:`~asabench.models.systems.deepasa.DeepASA`
        (``sed`` holds frame class probabilities).
    targets : see the module docstring.
    ref_channel : microphone of the reference-channel terms.
    permutations : also return the direct and reverb terms' own permutations.

    Returns
    -------
    dict with ``loss`` (scalar to minimise); the separation terms ``full``, ``direct``,
    ``reverb`` (reference channel) and ``other_channels`` (sum of the full/direct/reverb
    terms over :func:`other_channels`, before its 0.1 weight); ``noise`` (``-SI-SDR``, before
    its 0.01 weight), ``cls``, ``sed``, ``doa``, ``onoff`` (all scalars); ``perm`` ``[B, J]``
    (the full-image permutation, used for the event terms) and, with ``permutations=True``,
    ``perm_direct`` and ``perm_reverb`` ``[B, J]``.
    """
    w = weights or DeepASALossWeights()
    r = ref_channel
    images = {"full": (outputs["separated"], targets["direct"] + targets["reverb"], w.full),
              "direct": (outputs["direct"], targets["direct"], w.direct),
              "reverb": (outputs["reverb"], targets["reverb"], w.reverb)}
    terms: dict[str, torch.Tensor] = {}
    perms: dict[str, torch.Tensor] = {}
    for name, (est, ref, _) in images.items():
        terms[name], perms[name] = separation_term(est[:, :, r], ref[:, :, r])
    n_mics = outputs["separated"].shape[2]
    terms["other_channels"] = sum(weight * separation_term(est[:, :, c], ref[:, :, c])[0]
                                  for est, ref, weight in images.values() for c in other_channels(n_mics))
    terms["noise"] = -si_sdr(outputs["noise"].float(), targets["noise"].float()).mean()

    perm = perms["full"]
    o = {k: apply_permutation(outputs[k], perm) for k in ("class_logits", "sed", "onoff", "doa")}
    cls_t = targets["class_index"]
    logp = F.log_softmax(o["class_logits"].float(), dim=-1)
    ce = -logp.gather(-1, cls_t.clamp_min(0)[..., None])[..., 0]
    kl_uniform = -math.log(logp.shape[-1]) - logp.mean(-1)  # KL(u || p)
    terms["cls"] = torch.where(cls_t >= 0, ce, kl_uniform).mean()
    active = targets["active"].to(logp.dtype)
    onehot = F.one_hot(cls_t.clamp_min(0), logp.shape[-1]).to(logp.dtype)[:, :, None, :]
    terms["sed"] = F.mse_loss(o["sed"].float(), active[..., None] * onehot)
    terms["doa"] = F.mse_loss(o["doa"].float(), targets["doa"].float())
    terms["onoff"] = F.binary_cross_entropy_with_logits(o["onoff"].float(), active)
    weight_of = {"full": w.full, "direct": w.direct, "reverb": w.reverb,
                 "other_channels": w.other_channel_weight, "noise": w.noise, "cls": w.cls,
                 "sed": w.sed, "doa": w.doa, "onoff": w.onoff}
    total = sum(weight_of[k] * v for k, v in terms.items())
    res = {"loss": total, **terms, "perm": perm}
    if permutations:
        res.update(perm_direct=perms["direct"], perm_reverb=perms["reverb"])
    return res
