"""Auxiliary duplicating permutation invariant training (ADPIT) for multi-ACCDOA outputs.

Multi-ACCDOA (Shimada et al., ICASSP 2022) gives every class ``N = 3`` tracks, each a
Cartesian vector whose length is the activity and whose direction is the DoA. Within one
class the tracks are interchangeable, so the loss is permutation invariant per (frame,
class); ADPIT fills the tracks a class does not need by *duplicating* its own events, so
that every track has a target and a network never learns to output "zero" for a track
that merely happened to be unused.

Targets come in the DCASE baseline's six-slot layout ``[B, T, 6, 4, C]`` (activity and x, y,
z per slot): ``A0`` one event of the class in the frame, ``B0, B1`` two, ``C0, C1, C2``
three (in-class polyphony above three is cut to the first three). The thirteen
track assignments are::

    A0 A0 A0                                      (one event, duplicated into every track)
    B0 B0 B1, B0 B1 B0, B0 B1 B1, B1 B0 B0, B1 B0 B1, B1 B1 B0   (two events, one duplicated)
    C0 C1 C2 and its five other orders            (three events)

For each (frame, class) the loss is the smallest mean squared error over the 9 values
(3 tracks x xyz) among these 13 cases, and the batch loss is the mean over batch, frames
and classes. As in the DCASE 2022/2023 baseline (``MSELoss_ADPIT``), each case's target
is padded with the targets of the two other polyphony groups; a class sits in one group
per frame, so the pads are zero wherever that group is the true one and only tie-break the
cases of a frame where the class is silent (all cases then equal the all-zero target).

References
----------
K. Shimada, Y. Koyama, S. Takahashi, N. Takahashi, E. Tsunoo, Y. Mitsufuji, "Multi-ACCDOA:
localizing and detecting overlapping sounds from the same class with auxiliary duplicating
permutation invariant training", ICASSP 2022; the DCASE 2022/2023 Task 3 baseline.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["ADPIT_CASES", "adpit_targets", "adpit_loss", "adpit_case_losses"]

#: The 13 track assignments as slot indices (A0 = 0, B0 = 1, B1 = 2, C0 = 3, C1 = 4, C2 = 5),
#: in the DCASE baseline's order.
ADPIT_CASES: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (1, 1, 2), (1, 2, 1), (1, 2, 2), (2, 1, 1), (2, 1, 2), (2, 2, 1),
    (3, 4, 5), (3, 5, 4), (4, 3, 5), (4, 5, 3), (5, 3, 4), (5, 4, 3),
)
# the padding each case's group receives: the other two groups' canonical orders
_PAD_A = ((1, 1, 2), (3, 4, 5))
_PAD_B = ((0, 0, 0), (3, 4, 5))
_PAD_C = ((0, 0, 0), (1, 1, 2))
_PADS = (_PAD_A,) + (_PAD_B,) * 6 + (_PAD_C,) * 6
#: First slot of the group of ``count`` events (index = count, 1..3).
_GROUP_START = (0, 0, 1, 3)


def adpit_targets(sed: torch.Tensor, doa: torch.Tensor) -> torch.Tensor:
    """The six-slot ADPIT targets of per-source labels.

    Parameters
    ----------
    sed : ``[B, J, T, C]`` activity of source slot ``j`` in class ``c`` at label frame ``t``
        (0/1; :class:`~asabench.simulate.SceneDataset`'s ``sed``).
    doa : ``[B, J, T, 3]`` unit DoA vectors of each source slot (zero where inactive).

    Returns
    -------
    ``[B, T, 6, 4, C]``: per slot (A0, B0, B1, C0, C1, C2) the activity and x, y, z. The
    events of one (frame, class) take the slots of their count's group in source-slot order;
    beyond three, the first three are kept.
    """
    if sed.dim() != 4 or doa.dim() != 4 or doa.shape[:3] != sed.shape[:3] or doa.shape[-1] != 3:
        raise ValueError(f"adpit_targets: expected sed [B, J, T, C] and doa [B, J, T, 3], "
                         f"got {tuple(sed.shape)} and {tuple(doa.shape)}")
    active = sed > 0.5                                        # [B, J, T, C]
    rank = active.long().cumsum(dim=1) - 1                    # order of the event among its class's
    count = active.long().sum(dim=1, keepdim=True).clamp(max=3)  # [B, 1, T, C]
    start = torch.tensor(_GROUP_START, device=sed.device)[count]
    keep = active & (rank < 3)
    slot = torch.where(keep, start + rank, torch.zeros_like(rank))
    onehot = F.one_hot(slot, 6).to(doa.dtype) * keep[..., None].to(doa.dtype)  # [B, J, T, C, 6]
    values = torch.cat([torch.ones_like(doa[..., :1]), doa], dim=-1)           # [B, J, T, 4]
    return torch.einsum("bjtcs,bjtk->btskc", onehot, values)


def adpit_case_losses(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of every ADPIT case, ``[B, T, 13, C]``.

    ``pred``: ``[B, T, 3, 3, C]`` multi-ACCDOA output (track, xyz, class); ``target``:
    ``[B, T, 6, 4, C]`` from :func:`adpit_targets`.
    """
    if pred.dim() != 5 or pred.shape[2:4] != (3, 3):
        raise ValueError(f"adpit: expected a [B, T, 3 tracks, 3, C] multi-ACCDOA output, got {tuple(pred.shape)}")
    if target.shape[:2] != pred.shape[:2] or target.shape[2:4] != (6, 4) or target.shape[-1] != pred.shape[-1]:
        raise ValueError(f"adpit: targets {tuple(target.shape)} do not fit the output {tuple(pred.shape)} "
                         "(expected [B, T, 6, 4, C] with the output's B, T and C)")
    vec = target[:, :, :, :1] * target[:, :, :, 1:]          # [B, T, 6, 3, C] activity-coupled vectors
    cases = torch.tensor(ADPIT_CASES, device=pred.device)    # [13, 3]
    pads = torch.tensor(_PADS, device=pred.device)           # [13, 2, 3]
    case_t = vec[:, :, cases] + vec[:, :, pads[:, 0]] + vec[:, :, pads[:, 1]]  # [B, T, 13, 3, 3, C]
    return (pred[:, :, None] - case_t).pow(2).mean(dim=(3, 4))


def adpit_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """ADPIT loss: per (frame, class) the smallest of the 13 case MSEs, averaged (a scalar)."""
    return adpit_case_losses(pred, target).min(dim=2).values.mean()
