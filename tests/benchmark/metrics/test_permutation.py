"""Permutation-invariant wrapper: planted permutations, invariance, brute force, gradients."""

from __future__ import annotations

import itertools

import pytest
import torch

from asabench.benchmark.metrics.permutation import apply_permutation, pairwise_matrix, pit, pit_from_pairwise
from asabench.benchmark.metrics.separation import si_sdr, snr


def _planted(seed: int, b: int, j: int, t: int = 400) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ref = torch.randn(b, j, 2, t, generator=g, dtype=torch.float64)
    order = torch.stack([torch.randperm(j, generator=g) for _ in range(b)])  # est k = ref order[k]
    est = apply_permutation(ref, order) + 0.4 * torch.randn(b, j, 2, t, generator=g, dtype=torch.float64)
    return est, ref, order


@pytest.mark.parametrize("j", [2, 4, 7])  # 7 uses the Hungarian fallback
def test_finds_the_planted_permutation(j: int) -> None:
    est, ref, order = _planted(j, 5, j)
    res = pit(si_sdr, est, ref)
    # est[order^-1[r]] is the estimate of reference r.
    torch.testing.assert_close(res.perm, torch.argsort(order, dim=1))
    reordered = apply_permutation(est, res.perm)
    for b in range(5):
        torch.testing.assert_close(reordered[b], est[b, res.perm[b]])
    torch.testing.assert_close(res.per_source, si_sdr(apply_permutation(est, res.perm), ref))


def test_value_equals_brute_force_maximum_and_minimum() -> None:
    g = torch.Generator().manual_seed(1)
    pair = torch.randn(6, 4, 4, generator=g, dtype=torch.float64)
    best_max = torch.stack(
        [max(pair[b, list(p), range(4)].mean() for p in itertools.permutations(range(4))) for b in range(6)]
    )
    best_min = torch.stack(
        [min(pair[b, list(p), range(4)].mean() for p in itertools.permutations(range(4))) for b in range(6)]
    )
    torch.testing.assert_close(pit_from_pairwise(pair).value, best_max)
    torch.testing.assert_close(pit_from_pairwise(pair, maximize=False).value, best_min)
    torch.testing.assert_close(pit_from_pairwise(pair, exhaustive_max=0).value, best_max)


def test_loss_is_invariant_to_permuting_targets() -> None:
    est, ref, _ = _planted(2, 3, 3)
    base = pit(snr, est, ref)
    for p in itertools.permutations(range(3)):
        res = pit(snr, est, ref[:, list(p)])
        torch.testing.assert_close(res.value, base.value)
        torch.testing.assert_close(res.per_source, base.per_source[:, list(p)])


def test_more_estimates_than_references() -> None:
    est, ref, order = _planted(3, 4, 4)
    res = pit(si_sdr, est, ref[:, :2])  # two references, four candidate estimates
    torch.testing.assert_close(res.perm, torch.argsort(order, dim=1)[:, :2])


def test_gradients_flow_through_the_selected_pairs() -> None:
    est, ref, _ = _planted(4, 2, 3)
    est = est.float().requires_grad_(True)
    ref = ref.float()
    res = pit(si_sdr, est, ref, precision=None)
    (-res.value.mean()).backward()
    grad_pit = est.grad.clone()
    assert torch.isfinite(grad_pit).all() and grad_pit.abs().sum() > 0
    est2 = est.detach().clone().requires_grad_(True)
    (-si_sdr(apply_permutation(est2, res.perm), ref, precision=None).mean()).backward()
    torch.testing.assert_close(grad_pit, est2.grad)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="J_est"):
        pit_from_pairwise(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="equal rank"):
        pairwise_matrix(snr, torch.zeros(1, 2, 2, 10), torch.zeros(1, 2, 10))
    with pytest.raises(ValueError, match="at least as many estimates"):
        pit_from_pairwise(torch.zeros(1, 2, 3))
