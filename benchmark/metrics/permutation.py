"""Permutation-invariant evaluation and training loss around any pairwise metric.

The ``[B, J_est, J_ref]`` matrix of ``metric(est_i, ref_j)`` is computed once (by
broadcasting ``est[:, :, None]`` against ``ref[:, None]``; the metrics of
:mod:`~asabench.benchmark.metrics.separation` contract such broadcasts without forming
the product), then the assignment maximising (or minimising) the mean over references is
found: exhaustively for ``J_est <= 5`` (at most 120 assignments, a single gather) and by
the Hungarian method (``scipy.optimize.linear_sum_assignment``) beyond. The selected value
is gathered from the matrix, so gradients flow through the selected pairs and the result
can be used directly as a training loss (``-pit(...).value.mean()``).

Metrics that produce the pairwise matrix themselves plug in through
:func:`pit_from_pairwise`, e.g. ``pit_from_pairwise(bss_sdr_pairwise(est, ref))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from asabench.benchmark.metrics.bss_eval import best_permutation
from asabench.benchmark.metrics.guards import TensorLike, as_tensor

__all__ = ["PitResult", "apply_permutation", "pairwise_matrix", "pit", "pit_from_pairwise"]


@dataclass
class PitResult:
    """Best assignment: ``value [B]`` (mean over references, differentiable),
    ``per_source [B, J_ref]`` and ``perm [B, J_ref]`` (estimate index for each reference)."""

    value: torch.Tensor
    per_source: torch.Tensor
    perm: torch.Tensor


def pairwise_matrix(
    metric: Callable[..., torch.Tensor],
    est: TensorLike,
    ref: TensorLike,
    **kwargs,
) -> torch.Tensor:
    """``metric(est_i, ref_j)`` for all pairs, ``[B, J_est, J_ref]`` (plus any trailing metric axes).

    ``est`` is ``[B, J_est, ...]`` and ``ref`` ``[B, J_ref, ...]``; ``metric`` must
    broadcast over leading axes and reduce the trailing per-source axes (e.g. ``[C, T]``).
    """
    est_t, ref_t = as_tensor(est, "est"), as_tensor(ref, "ref")
    if est_t.ndim != ref_t.ndim or est_t.ndim < 3:
        raise ValueError(
            f"est {tuple(est_t.shape)} and ref {tuple(ref_t.shape)}: expected [B, J, ...] of equal rank"
        )
    return metric(est_t.unsqueeze(2), ref_t.unsqueeze(1), **kwargs)


def pit_from_pairwise(pair: torch.Tensor, *, maximize: bool = True, exhaustive_max: int = 5) -> PitResult:
    """Best assignment from a pairwise matrix ``[B, J_est, J_ref]`` (``J_est >= J_ref``).

    NaN entries (silent references) count as 0 when ranking and are left out of ``value``.
    """
    if pair.ndim != 3:
        raise ValueError(f"pair: expected [B, J_est, J_ref], got shape {tuple(pair.shape)}")
    perm = best_permutation(pair if maximize else -pair, exhaustive_max=exhaustive_max)
    per_source = torch.gather(pair, 1, perm.unsqueeze(1)).squeeze(1)  # [B, J_ref]
    return PitResult(value=torch.nanmean(per_source, dim=-1), per_source=per_source, perm=perm)


def pit(
    metric: Callable[..., torch.Tensor],
    est: TensorLike,
    ref: TensorLike,
    *,
    maximize: bool = True,
    exhaustive_max: int = 5,
    **kwargs,
) -> PitResult:
    """Permutation-invariant ``metric`` of estimates ``[B, J_est, ...]`` against references ``[B, J_ref, ...]``.

    Parameters
    ----------
    metric : pairwise metric, e.g. :func:`~asabench.benchmark.metrics.separation.si_sdr`.
    est, ref : batch-first sources; ``J_est >= J_ref`` (extra estimates stay unmatched).
    maximize : True for metrics where larger is better (SDR family), False for losses.
    exhaustive_max : largest ``J_est`` searched exhaustively; Hungarian beyond.
    kwargs : passed to ``metric``.

    Examples
    --------
    >>> import torch
    >>> from asabench.benchmark.metrics.separation import si_sdr
    >>> g = torch.Generator().manual_seed(0)
    >>> ref = torch.randn(1, 3, 2, 400, generator=g)
    >>> pit(si_sdr, ref[:, [2, 0, 1]], ref).perm.tolist()
    [[1, 2, 0]]
    """
    return pit_from_pairwise(pairwise_matrix(metric, est, ref, **kwargs), maximize=maximize, exhaustive_max=exhaustive_max)


def apply_permutation(est: TensorLike, perm: torch.Tensor) -> torch.Tensor:
    """Reorder estimates ``[B, J_est, ...]`` by ``perm [B, J_ref]`` -> ``[B, J_ref, ...]``."""
    est_t = as_tensor(est, "est")
    idx = perm.to(est_t.device).reshape(*perm.shape, *([1] * (est_t.ndim - 2)))
    return torch.gather(est_t, 1, idx.expand(*perm.shape, *est_t.shape[2:]))
