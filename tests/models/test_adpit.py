"""ADPIT: hand-worked cases, the six-slot targets, and the DCASE baseline's formulation written out."""

from __future__ import annotations

import itertools

import pytest
import torch

from asabench.models.losses.adpit import ADPIT_CASES, adpit_case_losses, adpit_loss, adpit_targets

C = 13


def _unit(*v: float) -> torch.Tensor:
    t = torch.tensor(v, dtype=torch.float64)
    return t / t.norm()


def _labels(events: list[tuple[int, int, int, torch.Tensor]], j: int = 4, t: int = 2):
    """sed [1, J, T, C] and doa [1, J, T, 3] from (slot, frame, class, direction) events."""
    sed = torch.zeros(1, j, t, C, dtype=torch.float64)
    doa = torch.zeros(1, j, t, 3, dtype=torch.float64)
    for slot, frame, cls, d in events:
        sed[0, slot, frame, cls] = 1.0
        doa[0, slot, frame] = d
    return sed, doa


def test_targets_fill_the_slots_of_each_polyphony_group():
    d0, d1, d2 = _unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1)
    sed, doa = _labels([(0, 0, 2, d0), (1, 0, 2, d1), (2, 0, 5, d2), (3, 1, 2, d2)])
    tgt = adpit_targets(sed, doa)
    assert tgt.shape == (1, 2, 6, 4, C)
    # frame 0: class 2 has two events (B0 = slot 0, B1 = slot 1), class 5 one (A0)
    assert torch.equal(tgt[0, 0, 1, :, 2], torch.cat([torch.ones(1, dtype=torch.float64), d0]))
    assert torch.equal(tgt[0, 0, 2, :, 2], torch.cat([torch.ones(1, dtype=torch.float64), d1]))
    assert torch.equal(tgt[0, 0, 0, :, 5], torch.cat([torch.ones(1, dtype=torch.float64), d2]))
    # frame 1: class 2 has one event (slot 3) -> A0
    assert torch.equal(tgt[0, 1, 0, :, 2], torch.cat([torch.ones(1, dtype=torch.float64), d2]))
    assert float(tgt.abs().sum()) == pytest.approx(4 * 2.0)  # four events, each activity 1 + a unit vector (|.|_1 = 1)


def test_more_than_three_events_of_a_class_keep_the_first_three():
    ds = [_unit(1, 0, 0), _unit(0, 1, 0), _unit(0, 0, 1), _unit(1, 1, 0)]
    sed, doa = _labels([(k, 0, 7, ds[k]) for k in range(4)], t=1)
    tgt = adpit_targets(sed, doa)
    for slot, k in zip((3, 4, 5), range(3)):
        assert torch.equal(tgt[0, 0, slot, 1:, 7], ds[k])
    assert float(tgt[0, 0, :3].abs().sum()) == 0.0


def test_one_event_duplicated_into_every_track_gives_zero_loss():
    d = _unit(0.3, -0.5, 0.8)
    sed, doa = _labels([(1, 0, 4, d)], t=3)
    pred = torch.zeros(1, 3, 3, 3, C, dtype=torch.float64)
    pred[0, 0, :, :, 4] = d          # every track carries the event
    assert float(adpit_loss(pred, adpit_targets(sed, doa))) == 0.0
    # only one track: the two others miss a unit vector each -> 2/9 for that (frame, class)
    pred[0, 0, 1:, :, 4] = 0.0
    assert float(adpit_loss(pred, adpit_targets(sed, doa))) == pytest.approx(2 / 9 / (3 * C))


def test_two_events_of_one_class_in_swapped_tracks():
    d0, d1 = _unit(1, 0, 0), _unit(0, 0.6, 0.8)
    sed, doa = _labels([(0, 1, 9, d0), (2, 1, 9, d1)])
    tgt = adpit_targets(sed, doa)
    pred = torch.zeros(1, 2, 3, 3, C, dtype=torch.float64)
    pred[0, 1, 0, :, 9], pred[0, 1, 1, :, 9], pred[0, 1, 2, :, 9] = d1, d0, d0   # the case B1 B0 B0
    assert float(adpit_loss(pred, tgt)) == 0.0
    pred[0, 1, 2, :, 9] = 0.0        # third track empty: best cases B1 B0 B0 / B1 B0 B1 miss one unit vector
    case = adpit_case_losses(pred, tgt)[0, 1, :, 9]
    assert float(case.min()) == pytest.approx(1 / 9)
    assert int(case.argmin()) in (4, 5)
    assert float(adpit_loss(pred, tgt)) == pytest.approx(1 / 9 / (2 * C))
    # the slots in label order with the second duplicated: the case B0 B1 B1
    pred[0, 1, 0, :, 9], pred[0, 1, 1, :, 9], pred[0, 1, 2, :, 9] = d0, d1, d1
    assert float(adpit_loss(pred, tgt)) == 0.0


def _baseline_reference(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The DCASE 2022/2023 baseline's MSELoss_ADPIT written out: [B, T, 117] and [B, T, 6, 4, 13]."""
    def slot(k: int) -> torch.Tensor:
        return target[:, :, k, 0:1, :] * target[:, :, k, 1:, :]       # [B, T, 3, 13]

    a0, b0, b1, c0, c1, c2 = (slot(k) for k in range(6))
    groups = {"A": [(a0, a0, a0)],
              "B": [(b0, b0, b1), (b0, b1, b0), (b0, b1, b1), (b1, b0, b0), (b1, b0, b1), (b1, b1, b0)],
              "C": [tuple(p) for p in itertools.permutations((c0, c1, c2))]}
    pad = {"A": torch.cat((b0, b0, b1), 2) + torch.cat((c0, c1, c2), 2),
           "B": torch.cat((a0, a0, a0), 2) + torch.cat((c0, c1, c2), 2),
           "C": torch.cat((a0, a0, a0), 2) + torch.cat((b0, b0, b1), 2)}
    out = output.reshape(output.shape[0], output.shape[1], 9, 13)
    losses = []
    for g in "ABC":
        for case in groups[g]:
            losses.append(((out - (torch.cat(case, 2) + pad[g])) ** 2).mean(dim=2))
    stacked = torch.stack(losses, dim=0)                              # [13, B, T, 13]
    best = stacked.argmin(dim=0)
    return sum((stacked[i] * (best == i)) for i in range(13)).mean()


def test_matches_the_baseline_formulation_on_random_scenes():
    g = torch.Generator().manual_seed(3)
    b, j, t = 3, 5, 7
    sed = torch.zeros(b, j, t, C, dtype=torch.float64)
    cls = torch.randint(0, 3, (b, j), generator=g)                    # few classes: in-class polyphony
    on = torch.rand(b, j, t, generator=g) < 0.6
    sed[torch.arange(b)[:, None, None], torch.arange(j)[None, :, None], torch.arange(t)[None, None, :],
        cls[:, :, None].expand(b, j, t)] = on.double()
    doa = torch.randn(b, j, t, 3, generator=g, dtype=torch.float64)
    doa = doa / doa.norm(dim=-1, keepdim=True) * on[..., None]
    pred = torch.tanh(torch.randn(b, t, 3, 3, C, generator=g, dtype=torch.float64))
    tgt = adpit_targets(sed, doa)
    assert len(ADPIT_CASES) == 13
    ours = adpit_loss(pred, tgt)
    ref = _baseline_reference(pred.reshape(b, t, -1), tgt)
    assert float(ours) == pytest.approx(float(ref), rel=1e-12)
    assert float(ours) > 0.05                                         # random output is far from the labels


def test_shape_errors_name_the_expected_layout():
    with pytest.raises(ValueError, match=r"\[B, T, 3 tracks, 3, C\]"):
        adpit_loss(torch.zeros(1, 2, 2, 3, C), torch.zeros(1, 2, 6, 4, C))
    with pytest.raises(ValueError, match=r"sed \[B, J, T, C\]"):
        adpit_targets(torch.zeros(1, 2, C), torch.zeros(1, 2, 3))
