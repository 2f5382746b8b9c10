"""Permutation search for training losses: best object assignment by summed squared error.

For a fixed set of targets the source-aggregated SDR (:func:`~asabench.models.losses.sdr.sa_sdr`)
of an assignment grows as its summed error energy falls, so the exhaustive search below
returns the permutation that maximises SA-SDR (torchmetrics' permutation-wise PIT over
``-SA-SDR``) without evaluating a logarithm per permutation.
"""

from __future__ import annotations

import itertools

import torch

__all__ = ["pit_permutation", "apply_permutation"]


def pit_permutation(est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Best assignment by exhaustive search on the summed squared error.

    Parameters
    ----------
    est, ref : [B, J, N] estimates and targets (one channel).

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
