"""Guarded numerics shared by the separation and spatial metrics.

Every metric in this package turns energy ratios into decibels through :func:`ratio_db`
and checks its inputs with :func:`check_pair`. The decisions (reference notes, section 1)
are applied here and nowhere else, so that one place documents them:

* **Silent reference** (mean power below :data:`SILENCE_POWER`): the value is undefined.
  It is returned as NaN, counted as ``silent_reference``, and excluded from averages by
  :func:`masked_mean` (the only reductions this package uses). A NaN never reaches a
  table without its count.
* **All-zero estimate** (every sample exactly 0): scored :data:`DB_FLOOR` (-100 dB) for
  every decibel metric, counted as ``zero_estimate``. Plain SNR would give an exact 0 dB
  here, and eps-regularised SI-SDR a meaningless 0 dB; both reward a system for
  outputting silence, so the floor is used uniformly instead.
* **Out-of-range values** (a perfect estimate gives +inf): clamped to
  [:data:`DB_FLOOR`, :data:`DB_CEIL`] = [-100, +100] dB and counted as ``clamped_high`` /
  ``clamped_low``.
* **NaN/inf input**: in a reference always a :class:`ValueError` (the dataset is broken);
  in an estimate a :class:`ValueError` by default (``nonfinite="raise"``), or with
  ``nonfinite="floor"`` the affected item scores the floor and is counted as
  ``nonfinite_estimate``.
* **Length mismatch**: a :class:`ValueError` naming both shapes by default
  (``length="error"``); ``length="trim"`` cuts both to the shorter length and counts the
  pairs as ``length_trimmed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

import numpy as np
import torch

__all__ = [
    "DB_CEIL",
    "DB_FLOOR",
    "GUARD_EVENTS",
    "SILENCE_POWER",
    "GuardReport",
    "LengthPolicy",
    "NonFinitePolicy",
    "TensorLike",
    "as_tensor",
    "check_pair",
    "guard_definitions",
    "masked_mean",
    "ratio_db",
]

#: Lowest decibel value any metric reports; also the score of an all-zero estimate.
DB_FLOOR: float = -100.0
#: Highest decibel value any metric reports (a perfect estimate is clamped to it).
DB_CEIL: float = 100.0
#: Mean power (per sample) at or below which a reference is silent: RMS 1e-8, -160 dBFS.
SILENCE_POWER: float = 1e-16

#: Names of the events a :class:`GuardReport` counts, in the order result files list them.
GUARD_EVENTS: tuple[str, ...] = (
    "silent_reference",
    "zero_estimate",
    "clamped_high",
    "clamped_low",
    "nonfinite_estimate",
    "length_trimmed",
)

TensorLike = Union[torch.Tensor, np.ndarray]
LengthPolicy = Literal["error", "trim"]
NonFinitePolicy = Literal["raise", "floor"]


@dataclass
class GuardReport:
    """Counter of guarded numerical events, one integer per name in :data:`GUARD_EVENTS`.

    Pass one instance as ``report=`` to any number of metric calls; it accumulates. Result
    files store :meth:`as_dict`.
    """

    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in GUARD_EVENTS})

    def add(self, event: str, n: int | torch.Tensor = 1) -> None:
        """Add ``n`` occurrences of ``event`` (a tensor is summed)."""
        if event not in self.counts:
            raise KeyError(f"unknown guard event {event!r}; known: {', '.join(GUARD_EVENTS)}")
        if isinstance(n, torch.Tensor):
            n = int(n.sum().item())
        self.counts[event] += int(n)

    def merge(self, other: "GuardReport") -> "GuardReport":
        """Add the counts of ``other`` into this report and return it."""
        for k, v in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + v
        return self

    def merge_repeat(self, other: "GuardReport") -> "GuardReport":
        """Merge the events of a second pass over the same references (e.g. the mixture baseline).

        Its silent references are the ones this report already counted, so they are not
        counted twice; every other event is added.
        """
        for k, v in other.counts.items():
            if k != "silent_reference":
                self.counts[k] = self.counts.get(k, 0) + v
        return self

    def total(self) -> int:
        """Total number of events of all kinds."""
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        """Counts as a plain dict for JSON result files."""
        return dict(self.counts)


def guard_definitions() -> dict[str, object]:
    """The guard constants and policies, for the ``definitions`` block of a result file."""
    return {
        "db_floor": DB_FLOOR,
        "db_ceil": DB_CEIL,
        "silence_power": SILENCE_POWER,
        "silent_reference": "value NaN, excluded from averages, counted",
        "zero_estimate": f"scored {DB_FLOOR} dB, counted",
        "clamping": f"values clamped to [{DB_FLOOR}, {DB_CEIL}] dB, counted",
        "nonfinite": "reference: error; estimate: error or floor (nonfinite='floor'), counted",
        "length_mismatch": "error, or trim to the shorter (length='trim'), counted",
    }


def as_tensor(x: TensorLike, name: str) -> torch.Tensor:
    """Convert a NumPy array or tensor to a floating tensor, naming ``name`` on failure."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if not (x.is_floating_point() or x.is_complex()):
        x = x.to(torch.get_default_dtype())
    return x


def check_pair(
    est: TensorLike,
    ref: TensorLike,
    *,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    nonfinite: NonFinitePolicy = "raise",
    min_ndim: int = 1,
    check_finite: bool = True,
    est_name: str = "est",
    ref_name: str = "ref",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate an estimate/reference pair and apply the length and NaN policies.

    Parameters
    ----------
    est, ref : tensors or arrays ``[..., T]`` whose leading shapes broadcast.
    report : counter for ``length_trimmed`` and ``nonfinite_estimate`` events.
    length : ``"error"`` or ``"trim"`` on a time-length mismatch.
    nonfinite : ``"raise"`` or ``"floor"`` for NaN/inf in ``est``.
    min_ndim : minimum number of dimensions each input must have.
    check_finite : scan for NaN/inf (callers that detect them more cheaply, e.g. from
        float64 energies, pass False and call again with True when needed).

    Returns
    -------
    est, ref : tensors on ``ref``'s device, trimmed if allowed; non-finite estimate
        samples are replaced by 0 when ``nonfinite="floor"``.
    bad_est : bool tensor ``est.shape[:-1]``, True where that row of ``est`` (one channel
        of one source) contained NaN/inf; callers reduce it further over channels.
    """
    est = as_tensor(est, est_name)
    ref = as_tensor(ref, ref_name)
    for x, name in ((est, est_name), (ref, ref_name)):
        if x.ndim < min_ndim:
            raise ValueError(f"{name}: expected at least {min_ndim} dimensions, got shape {tuple(x.shape)}")
    if est.device != ref.device:
        est = est.to(ref.device)
    if est.shape[-1] != ref.shape[-1]:
        if length == "trim":
            n = min(est.shape[-1], ref.shape[-1])
            if report is not None:
                report.add("length_trimmed", int(np.prod(np.broadcast_shapes(est.shape[:-1], ref.shape[:-1]))))
            est, ref = est[..., :n], ref[..., :n]
        else:
            raise ValueError(
                f"length mismatch: {est_name} has shape {tuple(est.shape)} and {ref_name} has shape "
                f"{tuple(ref.shape)} (last axis is time); pass length='trim' to cut to the shorter"
            )
    try:
        # NumPy's: torch.broadcast_shapes imports sympy (0.35 s) on its first call
        np.broadcast_shapes(tuple(est.shape), tuple(ref.shape))
    except ValueError:
        raise ValueError(
            f"shape mismatch: {est_name} {tuple(est.shape)} and {ref_name} {tuple(ref.shape)} do not broadcast"
        ) from None
    if not check_finite:
        return est, ref, torch.zeros(est.shape[:-1], dtype=torch.bool, device=est.device)
    # A finite sum implies finite samples (NaN/inf propagate through +), so the full
    # element-wise isfinite runs only when a sum is not finite (NaN/inf, or overflow).
    if not bool(torch.isfinite(ref.sum())) and not bool(torch.isfinite(ref).all()):
        raise ValueError(f"{ref_name}: contains NaN or inf ({int((~torch.isfinite(ref)).sum())} samples)")
    if bool(torch.isfinite(est.sum(-1)).all()):
        return est, ref, torch.zeros(est.shape[:-1], dtype=torch.bool, device=est.device)
    finite = torch.isfinite(est)
    bad_est = ~finite.all(dim=-1)
    if bool(bad_est.any()):
        if nonfinite == "floor":
            est = torch.where(finite, est, torch.zeros((), dtype=est.dtype, device=est.device))
        else:
            raise ValueError(
                f"{est_name}: contains NaN or inf ({int((~finite).sum())} samples); "
                "pass nonfinite='floor' to score such estimates at the floor"
            )
    return est, ref, bad_est


def ratio_db(
    num: torch.Tensor,
    den: torch.Tensor,
    *,
    silent: torch.Tensor | None = None,
    floor: torch.Tensor | None = None,
    report: GuardReport | None = None,
) -> torch.Tensor:
    """``10 log10(num / den)`` with the package's guards, differentiable where finite.

    Parameters
    ----------
    num, den : non-negative energies, same shape ``[...]``.
    silent : bool ``[...]``, True where the reference is silent: result NaN, counted.
    floor : bool ``[...]``, True where the estimate is all-zero (or non-finite and
        floored): result :data:`DB_FLOOR`. Counted by the caller, which knows which.
    report : counter for ``silent_reference``, ``clamped_high`` and ``clamped_low``.

    Returns
    -------
    Decibels ``[...]`` in [:data:`DB_FLOOR`, :data:`DB_CEIL`], NaN only where ``silent``.
    """
    tiny = torch.finfo(num.dtype).tiny
    pos_num = num > 0
    pos_den = den > 0
    # Substitute 1 for zeros before the log so that neither value nor gradient is inf/NaN;
    # the true limits (+inf or -inf dB) are restored by the clamp masks below.
    safe = torch.where(pos_num & pos_den, num, torch.ones_like(num)) / torch.where(
        pos_num & pos_den, den, torch.ones_like(den)
    )
    val = 10.0 * torch.log10(safe.clamp_min(tiny))
    high = (~pos_den & pos_num) | (val > DB_CEIL)
    low = (~pos_num) | (val < DB_FLOOR)
    special = torch.zeros_like(pos_num)
    if floor is not None:
        special = special | floor
    if silent is not None:
        special = special | silent
    val = torch.where(high, torch.full_like(val, DB_CEIL), val)
    val = torch.where(low & ~high, torch.full_like(val, DB_FLOOR), val)
    if floor is not None:
        val = torch.where(floor, torch.full_like(val, DB_FLOOR), val)
    if silent is not None:
        val = torch.where(silent, torch.full_like(val, float("nan")), val)
    if report is not None:
        report.add("clamped_high", (high & ~special).sum())
        report.add("clamped_low", (low & ~high & ~special).sum())
        if silent is not None:
            report.add("silent_reference", silent.sum())
    return val


def masked_mean(values: torch.Tensor, dim: int | tuple[int, ...] | None = None) -> torch.Tensor:
    """Mean over ``dim`` ignoring NaN entries (silent references); NaN only if all are NaN."""
    if dim is None:
        return torch.nanmean(values)
    return torch.nanmean(values, dim=dim)
