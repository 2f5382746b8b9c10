"""Energy-ratio separation metrics: SNR (= BSS-Eval-images SDR), SI-SDR, SI-SNR and their improvements.

All functions are batch-first and broadcast over leading axes: ``est`` and ``ref`` are
``[..., C, T]`` (typically ``[batch, sources, channels, time]``), torch tensors on any
device or NumPy arrays. Channel handling is chosen with ``channels``:

* ``"pooled"`` (default, the headline; the SoundCompass authors' M2M-TSE convention):
  energies summed over all channels and samples, one SI-SDR scale for all channels,
  result ``[...]``.
* ``"mean"``: the metric per channel, then averaged in dB over channels (binaural-paper
  convention), result ``[...]``. Silent reference channels are left out of the average.
* ``"each"``: the metric per channel, result ``[..., C]``.
* an ``int`` ``c``: the metric at reference channel ``c`` only, result ``[...]``.

The two conventions differ whenever channel energies differ. Computation runs in
``precision`` (float64 by default) from inner products, so a ``[B, J, 1, C, T]`` by
``[B, 1, J, C, T]`` broadcast (the pairwise matrix of PIT) never materialises the product.
Guards (silent reference, all-zero estimate, clamping to [-100, 100] dB, NaN input, length
mismatch) follow :mod:`asabench.benchmark.metrics.guards` and are counted in ``report``.

This module holds the definitions and :func:`separation_family_reference` (every USS value
of a scene, metric by metric); the fused engine that scoring runs,
:func:`~asabench.benchmark.metrics.separation_engine.separation_family`, is tested against it
and re-exported here.

References
----------
J. Le Roux, S. Wisdom, H. Erdogan, J. R. Hershey, "SDR - half-baked or well done?",
ICASSP 2019.
E. Vincent, H. Sawada, P. Bofill, S. Makino, J. Rosca, "First stereo audio source
separation evaluation campaign", ICA 2007 (BSS-Eval images: SDR of an image estimate).
"""

from __future__ import annotations

from typing import Callable, Literal, Union

import torch

from asabench.benchmark.metrics.guards import (
    SILENCE_POWER,
    GuardReport,
    LengthPolicy,
    NonFinitePolicy,
    TensorLike,
    as_tensor,
    check_pair,
    masked_mean,
    ratio_db,
)

__all__ = [
    "ChannelMode",
    "SEPARATION_CONVENTIONS",
    "sa_sdr",
    "separation_deepasa",
    "separation_definitions",
    "sdr_improvement",
    "separation_family",
    "separation_family_reference",
    "si_sdr",
    "si_sdr_improvement",
    "si_snr",
    "si_snr_improvement",
    "snr",
    "snr_improvement",
]

ChannelMode = Union[Literal["pooled", "mean", "each"], int]


def _inner(x: torch.Tensor, y: torch.Tensor, pooled: bool) -> torch.Tensor:
    """Inner product over time (and channels when ``pooled``) of broadcastable tensors."""
    if pooled:
        if x.shape[-2] != y.shape[-2]:  # a broadcast channel axis must be real to flatten
            c = max(x.shape[-2], y.shape[-2])
            x = x.expand(*x.shape[:-2], c, x.shape[-1])
            y = y.expand(*y.shape[:-2], c, y.shape[-1])
        x, y = x.flatten(-2), y.flatten(-2)
    # einsum contracts broadcast operands through bmm without forming the full product.
    return torch.einsum("...t,...t->...", x, y)


def _energy_terms(
    est: TensorLike,
    ref: TensorLike,
    channels: ChannelMode,
    zero_mean: bool,
    precision: torch.dtype | None,
    report: GuardReport | None,
    length: LengthPolicy,
    nonfinite: NonFinitePolicy,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shared front end: validation, channel selection and the three inner products.

    Returns ``<est, ref>``, ``||ref||^2``, ``||est||^2``, the silent-reference mask, the
    floor mask (all-zero or non-finite estimate), all broadcast to the output shape (before
    any channel averaging).
    """
    if isinstance(channels, bool) or not (isinstance(channels, int) or channels in ("pooled", "mean", "each")):
        raise ValueError(f"channels: expected 'pooled', 'mean', 'each' or a channel index, got {channels!r}")
    pooled = channels != "each" and channels != "mean"
    # Fast path: NaN/inf show up in the float64 energies, so the per-sample finiteness scan
    # runs only when an energy is not finite (then it raises, or cleans and recomputes).
    est0, ref0 = est, ref
    for check in (False, True):
        est, ref, bad = check_pair(
            est0, ref0, report=None if check else report, length=length, nonfinite=nonfinite,
            min_ndim=2, check_finite=check,
        )
        if isinstance(channels, int):
            n_ch = ref.shape[-2]
            if not -n_ch <= channels < n_ch:
                raise ValueError(f"channels: reference channel {channels} out of range for {n_ch} channels")
            sl = slice(channels, channels + 1 if channels != -1 else None)
            est, ref, bad = est[..., sl, :], ref[..., sl, :], bad[..., sl]
        if precision is not None:
            est, ref = est.to(precision), ref.to(precision)
        else:
            dt = torch.promote_types(est.dtype, ref.dtype)
            est, ref = est.to(dt), ref.to(dt)
        if zero_mean:
            est = est - est.mean(dim=-1, keepdim=True)
            ref = ref - ref.mean(dim=-1, keepdim=True)
        cross = _inner(est, ref, pooled)
        ref_e = _inner(ref, ref, pooled)
        est_e = _inner(est, est, pooled)
        if check or bool(torch.isfinite(cross).all() & torch.isfinite(ref_e).all() & torch.isfinite(est_e).all()):
            break
    n = ref.shape[-1] * (ref.shape[-2] if pooled else 1)
    shape = cross.shape
    silent = (ref_e <= SILENCE_POWER * n).broadcast_to(shape)
    bad_red = bad.any(dim=-1) if pooled else bad
    zero = (est_e == 0).broadcast_to(shape)
    floor = (zero | bad_red.broadcast_to(shape)) & ~silent
    if report is not None:
        report.add("zero_estimate", (zero & ~bad_red.broadcast_to(shape) & ~silent).sum())
        report.add("nonfinite_estimate", (bad_red.broadcast_to(shape) & ~silent).sum())
    return cross, ref_e.broadcast_to(shape), est_e.broadcast_to(shape), silent, floor


def _finish(val: torch.Tensor, channels: ChannelMode) -> torch.Tensor:
    """Average per-channel values in dB for ``channels="mean"``; otherwise pass through."""
    return masked_mean(val, dim=-1) if channels == "mean" else val


def snr(
    est: TensorLike,
    ref: TensorLike,
    *,
    channels: ChannelMode = "pooled",
    zero_mean: bool = False,
    precision: torch.dtype | None = torch.float64,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    nonfinite: NonFinitePolicy = "raise",
) -> torch.Tensor:
    """Signal-to-noise ratio in dB (the BSS-Eval-images SDR; "SDR" in the M2M convention).

    .. math:: \\mathrm{SNR} = 10 \\log_{10} \\frac{\\sum s^2}{\\sum (s - \\hat s)^2}

    with sums over samples, and over channels too when ``channels="pooled"``. This is
    exactly ``mir_eval.separation.bss_eval_images`` SDR (its spatial, interference and
    artefact terms sum to ``est - ref``).

    Parameters
    ----------
    est, ref : ``[..., C, T]`` estimate and reference, broadcastable leading axes.
    channels : ``"pooled"``, ``"mean"``, ``"each"`` or a reference channel index (module doc).
    zero_mean : remove each channel's temporal mean from both signals first.
    precision : computation dtype (float64 default); ``None`` keeps the input dtype.
    report : :class:`GuardReport` that counts guard events.
    length, nonfinite : policies for length mismatch and NaN/inf estimates (see guards).

    Returns
    -------
    dB, ``[...]`` (``[..., C]`` for ``"each"``), in [-100, 100]; NaN only for silent
    references (counted).

    Examples
    --------
    >>> import torch
    >>> ref = torch.ones(1, 2, 8)
    >>> round(float(snr(ref * 1.1, ref)), 4)  # error energy 1% of the signal: 20 dB
    20.0
    """
    cross, ref_e, est_e, silent, floor = _energy_terms(
        est, ref, channels, zero_mean, precision, report, length, nonfinite
    )
    # ||s - ŝ||^2 = ||s||^2 - 2<ŝ,s> + ||ŝ||^2: float64 keeps the cancellation error below
    # 1e-6 dB up to the 100 dB clamp.
    err = (ref_e - 2.0 * cross + est_e).clamp_min(0.0)
    return _finish(ratio_db(ref_e, err, silent=silent, floor=floor, report=report), channels)


def si_sdr(
    est: TensorLike,
    ref: TensorLike,
    *,
    channels: ChannelMode = "pooled",
    zero_mean: bool = False,
    precision: torch.dtype | None = torch.float64,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    nonfinite: NonFinitePolicy = "raise",
) -> torch.Tensor:
    """Scale-invariant SDR in dB (Le Roux et al. 2019), no mean removal by default.

    .. math::
        \\alpha = \\frac{\\langle \\hat s, s\\rangle}{\\lVert s\\rVert^2},\\quad
        \\mathrm{SI\\text{-}SDR} = 10 \\log_{10}
        \\frac{\\lVert \\alpha s\\rVert^2}{\\lVert \\alpha s - \\hat s\\rVert^2}
        = 10 \\log_{10} \\frac{\\rho^2}{1 - \\rho^2}

    where ρ is the cosine between ``est`` and ``ref``. With ``channels="pooled"`` the
    inner products run over all channels and samples, so one α serves all channels (the
    M2M-TSE convention); with ``"mean"``/``"each"`` every channel has its own α.

    Parameters and returns as :func:`snr`; ``zero_mean=True`` gives SI-SNR.
    """
    cross, ref_e, est_e, silent, floor = _energy_terms(
        est, ref, channels, zero_mean, precision, report, length, nonfinite
    )
    safe_ref = torch.where(silent, torch.ones_like(ref_e), ref_e)
    target = cross * cross / safe_ref  # ||α s||^2 = <ŝ,s>^2 / ||s||^2
    noise = (est_e - target).clamp_min(0.0)  # ||α s - ŝ||^2 = ||ŝ||^2 - ||α s||^2
    return _finish(ratio_db(target, noise, silent=silent, floor=floor, report=report), channels)


def si_snr(
    est: TensorLike,
    ref: TensorLike,
    *,
    channels: ChannelMode = "pooled",
    precision: torch.dtype | None = torch.float64,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    nonfinite: NonFinitePolicy = "raise",
) -> torch.Tensor:
    """Scale-invariant SNR in dB: :func:`si_sdr` after removing each channel's temporal mean.

    Shapes, parameters and guards as :func:`si_sdr`.
    """
    return si_sdr(
        est, ref, channels=channels, zero_mean=True, precision=precision, report=report,
        length=length, nonfinite=nonfinite,
    )


def separation_definitions() -> dict[str, str]:
    """Unambiguous definitions of the metric names used in result files."""
    return {
        "snr": "10 log10(sum s^2 / sum (s - est)^2), energies pooled over channels (= BSS-Eval-images SDR)",
        "sdr": "same as snr (M2M-TSE convention; not BSS-Eval v3)",
        "si_sdr": "Le Roux 2019, one scale alpha over all channels (pooled), no mean removal",
        "si_snr": "si_sdr after removing each channel's temporal mean",
        "*_mean": "per-channel metric (own alpha per channel), averaged in dB over channels",
        "*_ch<c>": "metric at reference channel c only",
        "*i": "metric(estimate, ref) - metric(mixture, ref), per source, mixture = full multichannel mixture",
        "bss_sdr": "BSS-Eval v3 sources SDR, 512-tap distortion filter, per channel as single-channel sources",
    }


def _with_source_axis(mix: TensorLike, ref: torch.Tensor) -> torch.Tensor:
    """Broadcast a mixture ``[..., C, T]`` against references ``[..., J, C, T]``."""
    mix = as_tensor(mix, "mix")
    if mix.ndim == ref.ndim - 1:
        mix = mix.unsqueeze(-3)
    return mix


def _improvement(
    metric: Callable[..., torch.Tensor],
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike,
    report: GuardReport | None,
    kwargs: dict,
) -> torch.Tensor:
    ref_t = as_tensor(ref, "ref")
    mix_t = _with_source_axis(mix, ref_t)
    value = metric(est, ref_t, report=report, **kwargs)
    # The mixture's silent references are the same ones already counted above.
    mix_report = GuardReport()
    base = metric(mix_t, ref_t, report=mix_report, **kwargs)
    if report is not None:
        report.merge_repeat(mix_report)
    return value - base


def snr_improvement(
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike,
    *,
    report: GuardReport | None = None,
    **kwargs,
) -> torch.Tensor:
    """SNRi in dB: ``snr(est, ref) - snr(mix, ref)``, per source.

    ``mix`` is ``[..., C, T]`` (one mixture per example, broadcast over the source axis -3
    of ``ref``) or already broadcastable to ``ref``. Keyword arguments go to :func:`snr`.
    """
    return _improvement(snr, est, ref, mix, report, kwargs)


def sdr_improvement(
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike,
    *,
    report: GuardReport | None = None,
    **kwargs,
) -> torch.Tensor:
    """SDRi in dB in the M2M convention: identical to :func:`snr_improvement`.

    "SDR" here is the plain (BSS-Eval-images) SDR, i.e. SNR. For the BSS-Eval-v3
    (512-tap) SDR improvement use
    :func:`asabench.benchmark.metrics.bss_eval.bss_sdr_improvement`.
    """
    return _improvement(snr, est, ref, mix, report, kwargs)


def si_sdr_improvement(
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike,
    *,
    report: GuardReport | None = None,
    **kwargs,
) -> torch.Tensor:
    """SI-SDRi in dB: ``si_sdr(est, ref) - si_sdr(mix, ref)``, per source; ``mix`` as in :func:`snr_improvement`."""
    return _improvement(si_sdr, est, ref, mix, report, kwargs)


def si_snr_improvement(
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike,
    *,
    report: GuardReport | None = None,
    **kwargs,
) -> torch.Tensor:
    """SI-SNRi in dB: ``si_snr(est, ref) - si_snr(mix, ref)``, per source; ``mix`` as in :func:`snr_improvement`."""
    return _improvement(si_snr, est, ref, mix, report, kwargs)


def separation_family_reference(
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike,
    *,
    permute: bool = False,
    report: GuardReport | None = None,
) -> dict[str, torch.Tensor]:
    """The values of :func:`separation_family` computed metric by metric (the readable reference).

    ``est [J_e, C, T]`` (``J_e = J``, 1, or ``J_e > J`` with ``permute``), ``ref [J, C, T]``, ``mix [C, T]`` (one scene).
    The permutation from the pairwise pooled SI-SDR matrix (NaN as 0), then :func:`si_sdr`,
    :func:`snr` and :func:`si_snr` pooled and per channel, once for the estimates and once
    for the mixture; improvements are their differences, the ``_chmean`` values the
    difference of the channel means, ``_ref0`` channel 0's. ``report`` counts the pooled
    SI-SDR of the estimates only. About 8x slower than :func:`separation_family`, which the
    tests and ``asabench.benchmark.perf.separation`` compare against it.
    """
    from asabench.benchmark.metrics.permutation import apply_permutation, pairwise_matrix, pit_from_pairwise

    e = as_tensor(est, "est").to(torch.float64)[None]
    r = as_tensor(ref, "ref").to(torch.float64)[None]
    m = as_tensor(mix, "mix").to(torch.float64)[None]
    j = r.shape[1]
    perm = torch.arange(j)[None]
    if permute and e.shape[1] >= j and (j > 1 or e.shape[1] > j):
        pair = pairwise_matrix(si_sdr, e, r, report=GuardReport())
        perm = pit_from_pairwise(torch.nan_to_num(pair, nan=0.0)).perm
        e = apply_permutation(e, perm)
    base = m[:, None]

    def family(x: torch.Tensor, rep: GuardReport | None) -> dict[str, torch.Tensor]:
        return {"si_sdr": si_sdr(x, r, report=rep),
                "si_sdr_each": si_sdr(x, r, channels="each"),
                "sdr": snr(x, r),
                "sdr_each": snr(x, r, channels="each"),
                "si_snr": si_snr(x, r)}

    val = family(e, report)
    same = e.shape == base.shape and torch.equal(e, base)
    ref_val = val if same else family(base, None)
    out = {"perm": perm[0]}
    for k in ("si_sdr", "sdr", "si_snr"):
        out[k] = val[k][0]
        out[f"{k}_i"] = (val[k] - ref_val[k])[0]
    for k in ("si_sdr", "sdr"):
        out[f"{k}_each"] = val[f"{k}_each"][0]
        out[f"{k}_i_chmean"] = (masked_mean(val[f"{k}_each"], dim=-1) - masked_mean(ref_val[f"{k}_each"], dim=-1))[0]
        out[f"{k}_i_ref0"] = (val[f"{k}_each"] - ref_val[f"{k}_each"])[0, ..., 0]
    return out


#: Separation conventions of result files: ``"pooled"`` (the headline: channel-pooled
#: metrics, permutation by pooled SI-SDR) and ``"deepasa"`` (:func:`separation_deepasa`).
SEPARATION_CONVENTIONS: tuple[str, ...] = ("pooled", "deepasa")


def sa_sdr(
    est: TensorLike,
    ref: TensorLike,
    *,
    channels: ChannelMode = "pooled",
    precision: torch.dtype | None = torch.float64,
    report: GuardReport | None = None,
) -> torch.Tensor:
    """Source-aggregated SDR in dB: ``10 log10(Σ_j ||s_j||² / Σ_j ||s_j - ŝ_j||²)`` over sources ``j``.

    ``est``, ``ref`` ``[..., J, C, T]`` (estimate ``j`` for reference ``j``); ``channels``
    ``"pooled"`` or a reference channel index (the DeepASA training loss uses channel 0).
    Returns ``[...]``, clamped to [-100, 100] dB; NaN when every reference is silent.
    """
    if channels not in ("pooled",) and not (isinstance(channels, int) and not isinstance(channels, bool)):
        raise ValueError(f"channels: expected 'pooled' or a channel index, got {channels!r}")
    e, r, _ = check_pair(est, ref, report=report, min_ndim=3)
    if isinstance(channels, int):
        e, r = e[..., channels:channels + 1, :], r[..., channels:channels + 1, :]
    dt = precision or torch.promote_types(e.dtype, r.dtype)
    e, r = e.to(dt), r.to(dt)
    num = r.square().sum(dim=(-3, -2, -1))
    den = (r - e).square().sum(dim=(-3, -2, -1))
    silent = num <= SILENCE_POWER * r.shape[-1] * r.shape[-2] * r.shape[-3]
    return ratio_db(num, den, silent=silent, floor=torch.zeros_like(silent), report=report)


def separation_deepasa(
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike,
    *,
    permute: bool = True,
    report: GuardReport | None = None,
    exhaustive_max: int = 5,
) -> dict[str, torch.Tensor]:
    """The separation values of the DeepASA authors' evaluation (reference notes, section 1).

    One scene: ``est [J_e, C, T]`` (``J_e >= J`` with ``permute``; ``J_e = J`` or 1
    otherwise), ``ref [J, C, T]``, ``mix [C, T]``. At reference channel 0 only:

    * permutation: the estimates assigned to the references maximising the SA-SDR at
      channel 0, i.e. minimising ``Σ_j ||s_j,0 - ŝ_π(j),0||²`` (exhaustive up to
      ``exhaustive_max`` estimates, Hungarian beyond; with ``J_e > J`` the best
      ``J``-subset);
    * ``si_snr_ref0``: zero-mean SI-SNR (torchmetrics' ``si_snr`` definition) and
      ``snr_ref0``: plain SNR (``snr``, no mean removal), per source ``[J]``;
    * ``si_snr_i_ref0``, ``snr_i_ref0``: their improvements over channel 0 of the mixture.

    Guards as :func:`snr` (the eps-regularised torchmetrics forms agree to ~1e-7 dB except
    for silent or all-zero signals, which are guarded and counted here). Returns float64
    tensors ``[J]`` and ``perm [J]`` (estimate index per reference).
    """
    e = as_tensor(est, "est").to(torch.float64)
    r = as_tensor(ref, "ref").to(torch.float64)
    m = as_tensor(mix, "mix").to(torch.float64)
    if e.ndim != 3 or r.ndim != 3 or m.ndim != 2:
        raise ValueError(f"est [J_e, C, T], ref [J, C, T], mix [C, T] expected; got {tuple(e.shape)}, "
                         f"{tuple(r.shape)}, {tuple(m.shape)}")
    j, n_est = r.shape[0], e.shape[0]
    if n_est not in (1, j) and not (permute and n_est > j):
        raise ValueError(f"est: {n_est} estimates for {j} references; expected {j}, 1, or more with permute=True")
    perm = torch.arange(j) if n_est == j else torch.zeros(j, dtype=torch.long)
    if permute and n_est >= j and (j > 1 or n_est > j):
        from asabench.benchmark.metrics.bss_eval import best_permutation

        e0, r0 = e[:, 0, :], r[:, 0, :]
        if e0.shape[-1] != r0.shape[-1]:
            raise ValueError(f"est and ref lengths differ ({e0.shape[-1]} vs {r0.shape[-1]} samples)")
        err = r0.square().sum(-1)[None, :] - 2.0 * (e0 @ r0.T) + e0.square().sum(-1)[:, None]  # [J_e, J]
        perm = best_permutation(-err, exhaustive_max=exhaustive_max)
    # one estimate is scored against every source (broadcast, as the mixture below)
    chosen = e if n_est == 1 else e[perm]
    base = m[None]
    out: dict[str, torch.Tensor] = {"perm": perm}
    value = {"si_snr_ref0": si_snr(chosen, r, channels=0, report=report), "snr_ref0": snr(chosen, r, channels=0)}
    same = chosen.shape == base.shape and torch.equal(chosen, base)
    baseline = value if same else {"si_snr_ref0": si_snr(base, r, channels=0), "snr_ref0": snr(base, r, channels=0)}
    for k in ("si_snr_ref0", "snr_ref0"):
        out[k] = value[k]
        out[k.replace("_ref0", "_i_ref0")] = value[k] - baseline[k]
    return out


# The fused engine (one Gram matrix per channel), tested against separation_family_reference.
from asabench.benchmark.metrics.separation_engine import separation_family  # noqa: E402
