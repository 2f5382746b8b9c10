"""Permutation-invariant SI-SDR loss for universal sound separation (DeFT-Mamba).

``J`` target images (only the scene's first ``n`` slots hold sources; the rest are padding)
against ``K >= J`` object estimates: the loss is the negative mean SI-SDR (no mean removal,
:func:`asabench.models.losses.sdr.si_sdr`, one scale per channel, averaged over channels)
of the assignment of distinct estimates to the real targets that maximises their summed
SI-SDR. Estimates left unassigned are free (the scorer, too, matches the references to the
best of the estimates), and padded target slots are left out of the search and the mean.
"""

from __future__ import annotations

import itertools

import torch

from asabench.models.losses.sdr import si_sdr

__all__ = ["pairwise_si_sdr", "pit_si_sdr"]


def pairwise_si_sdr(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """SI-SDR of every (target, estimate) pair, channel-averaged: ``[B, J, K]``.

    ``est: [B, K, C, N]``, ``ref: [B, J, C, N]`` (the same channels).
    """
    if est.dim() != 4 or ref.dim() != 4 or est.shape[0] != ref.shape[0] or est.shape[2:] != ref.shape[2:]:
        raise ValueError(f"pit_si_sdr: expected est [B, K, C, N] and ref [B, J, C, N] with the same B, C and N, "
                         f"got {tuple(est.shape)} and {tuple(ref.shape)}")
    return si_sdr(est[:, None], ref[:, :, None]).mean(dim=-1)


def pit_si_sdr(est: torch.Tensor, ref: torch.Tensor,
               num_sources: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, perm)``: the negative mean SI-SDR of the best assignment and that assignment.

    Parameters
    ----------
    est : ``[B, K, C, N]`` estimates. ref : ``[B, J, C, N]`` targets, ``J <= K``.
    num_sources : ``[B]`` real targets per item (the first ``n`` slots); ``None``: all ``J``.

    Returns
    -------
    loss : scalar, ``-mean`` over the real targets of their matched SI-SDR (dB).
    perm : ``[B, J]`` long, target ``j`` matched with estimate ``perm[b, j]`` (padded slots
        get the estimates the search left over, in the search's order).
    """
    b, j = ref.shape[:2]
    k = est.shape[1]
    if j > k:
        raise ValueError(f"pit_si_sdr: {j} targets but only {k} estimates")
    pair = pairwise_si_sdr(est, ref)                                      # [B, J, K]
    n = torch.full((b,), j, device=est.device) if num_sources is None else num_sources.to(est.device)
    valid = torch.arange(j, device=est.device)[None, :] < n[:, None]     # [B, J]
    perms = torch.tensor(list(itertools.permutations(range(k), j)), device=est.device)  # [P, J]
    gathered = pair[:, torch.arange(j, device=est.device)[None, :], perms]  # [B, P, J]
    score = (gathered * valid[:, None, :]).sum(-1)                        # [B, P]
    best = score.argmax(dim=1)
    chosen = gathered[torch.arange(b, device=est.device), best]           # [B, J]
    count = valid.sum().clamp_min(1)
    loss = -(chosen * valid).sum() / count
    return loss, perms[best]
