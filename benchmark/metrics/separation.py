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

References
----------
J. Le Roux, S. Wisdom, H. Erdogan, J. R. Hershey, "SDR - half-baked or well done?",
ICASSP 2019.
E. Vincent, H. Sawada, P. Bofill, S. Makino, J. Rosca, "First stereo audio source
separation evaluation campaign", ICA 2007 (BSS-Eval images: SDR of an image estimate).
"""

from __future__ import annotations

from typing import Callable, Literal, Union

import numpy as np
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
from asabench.benchmark.metrics.pit import pit_from_pairwise

__all__ = [
    "ChannelMode",
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


def _snr_from_terms(
    cross: torch.Tensor, ref_e: torch.Tensor, est_e: torch.Tensor, silent: torch.Tensor,
    floor: torch.Tensor, report: GuardReport | None = None,
) -> torch.Tensor:
    """SNR in dB from ``<ŝ,s>``, ``|s|^2``, ``|ŝ|^2`` (the expression of :func:`snr`)."""
    err = (ref_e - 2.0 * cross + est_e).clamp_min(0.0)
    return ratio_db(ref_e, err, silent=silent, floor=floor, report=report)


def _si_sdr_from_terms(
    cross: torch.Tensor, ref_e: torch.Tensor, est_e: torch.Tensor, silent: torch.Tensor,
    floor: torch.Tensor, report: GuardReport | None = None,
) -> torch.Tensor:
    """SI-SDR in dB from ``<ŝ,s>``, ``|s|^2``, ``|ŝ|^2`` (the expression of :func:`si_sdr`)."""
    safe_ref = torch.where(silent, torch.ones_like(ref_e), ref_e)
    target = cross * cross / safe_ref
    noise = (est_e - target).clamp_min(0.0)
    return ratio_db(target, noise, silent=silent, floor=floor, report=report)


def _family_inputs(
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike | None,
    report: GuardReport | None,
    length: LengthPolicy,
    nonfinite: NonFinitePolicy,
    check_finite: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
    """Validate ``est [..., J_e, C, T]``, ``ref [..., J, C, T]``, ``mix [..., C, T]``; apply the policies.

    Returns est, ref, mix (trimmed, non-finite estimate samples zeroed under
    ``nonfinite="floor"``) and the bad-row masks ``[..., J_e, C]`` and ``[..., C]``.
    """
    est_t, ref_t = as_tensor(est, "est"), as_tensor(ref, "ref")
    for x, name in ((est_t, "est"), (ref_t, "ref")):
        if x.ndim < 3:
            raise ValueError(f"{name}: expected [..., sources, channels, time], got shape {tuple(x.shape)}")
    n_src, n_ch = ref_t.shape[-3], ref_t.shape[-2]
    if est_t.shape[-3] not in (1, n_src):
        raise ValueError(
            f"est: {est_t.shape[-3]} estimates (axis -3 of {tuple(est_t.shape)}) for {n_src} references; "
            f"expected {n_src}, or 1 for one estimate scored against every source"
        )
    if est_t.shape[-2] != n_ch:
        raise ValueError(f"est: {est_t.shape[-2]} channels (axis -2 of {tuple(est_t.shape)}), ref has {n_ch}")
    # The report sees exactly what si_sdr(permuted est, ref, report=report) would: the trim
    # of the estimates (the mixture's own trim is not an event of that call).
    est_t, ref_t, bad_est = check_pair(
        est_t, ref_t, report=None if check_finite else report, length=length, nonfinite=nonfinite,
        min_ndim=3, check_finite=check_finite,
    )
    mix_t, bad_mix = None, None
    if mix is not None:
        mix_t = as_tensor(mix, "mix")
        if mix_t.ndim < 2:
            raise ValueError(f"mix: expected [..., channels, time], got shape {tuple(mix_t.shape)}")
        if mix_t.shape[-2] != n_ch:
            raise ValueError(f"mix: {mix_t.shape[-2]} channels (axis -2 of {tuple(mix_t.shape)}), ref has {n_ch}")
        mix_t, ref_t, bad_mix = check_pair(
            mix_t.unsqueeze(-3), ref_t, length=length, nonfinite=nonfinite, min_ndim=3,
            check_finite=check_finite, est_name="mix",
        )
        mix_t, bad_mix = mix_t.squeeze(-3), bad_mix.squeeze(-2)
        est_t = est_t[..., : ref_t.shape[-1]]
    return est_t, ref_t, mix_t, bad_est, bad_mix


#: Largest DC share ``T x̄² / |x|²`` of any stacked vector for which the centred products
#: are taken as ``<x, y> - T x̄ ȳ``: the subtraction then at most doubles the rounding error
#: of a direct centred product. Beyond it the vectors are centred and multiplied again.
_DC_SHARE_MAX: float = 0.5


def _gram(
    est: torch.Tensor, ref: torch.Tensor, mix: torch.Tensor | None, lead: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-channel Gram matrices of the stacked signals, raw and mean-removed, and their means.

    The stack is ``[est_0..est_{J_e-1}, ref_0..ref_{J-1}, mix]`` (``V`` vectors) plus a row
    of ones whose products are the sums. Returns ``gram [*lead, C, V, V]`` = ``<x, y>``,
    ``gram_c`` = ``<x - x̄, y - ȳ>`` and ``mean [*lead, C, V]``, float64.
    """
    n_est, n_src, n_ch, n = est.shape[-3], ref.shape[-3], ref.shape[-2], ref.shape[-1]
    n_vec = n_est + n_src + (mix is not None)
    x = torch.empty(*lead, n_ch, n_vec + 1, n, dtype=torch.float64, device=ref.device)
    # One float64 copy of everything (the cast the per-metric functions do anyway).
    x[..., :n_est, :].copy_(est.transpose(-3, -2))
    x[..., n_est:n_est + n_src, :].copy_(ref.transpose(-3, -2))
    if mix is not None:
        x[..., n_vec - 1, :].copy_(mix)
    x[..., n_vec, :] = 1.0
    full = x @ x.mT
    gram, mean = full[..., :n_vec, :n_vec], full[..., :n_vec, n_vec] / n
    outer = n * mean.unsqueeze(-1) * mean.unsqueeze(-2)
    if bool((n * mean * mean <= _DC_SHARE_MAX * gram.diagonal(dim1=-2, dim2=-1)).all()):
        return gram, gram - outer, mean
    # A large DC offset: <x,y> - T x̄ ȳ would cancel most digits of SI-SNR's products, so
    # the vectors are centred and multiplied again. The raw products are rebuilt from these
    # too: with a 1e4 offset (test data) raw SI-SDR then lay within 1e-8 dB of an
    # extended-precision value, 2.5x closer than from the direct product (si_sdr: 3e-7 dB).
    xc = x[..., :n_vec, :]
    xc.sub_(mean.unsqueeze(-1))
    gram_c = xc @ xc.mT
    return gram_c + outer, gram_c, mean


def separation_family_reference(
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike,
    *,
    permute: bool = False,
    report: GuardReport | None = None,
) -> dict[str, torch.Tensor]:
    """The values of :func:`separation_family` computed metric by metric (the readable reference).

    ``est [J_e, C, T]`` (``J_e = J`` or 1), ``ref [J, C, T]``, ``mix [C, T]`` (one scene).
    The permutation from the pairwise pooled SI-SDR matrix (NaN as 0), then :func:`si_sdr`,
    :func:`snr` and :func:`si_snr` pooled and per channel, once for the estimates and once
    for the mixture; improvements are their differences, the ``_chmean`` values the
    difference of the channel means, ``_ref0`` channel 0's. ``report`` counts the pooled
    SI-SDR of the estimates only. About 8x slower than :func:`separation_family`, which the
    tests and ``asabench.benchmark.perf.separation`` compare against it.
    """
    from asabench.benchmark.metrics.pit import apply_permutation, pairwise_matrix, pit_from_pairwise

    e = as_tensor(est, "est").to(torch.float64)[None]
    r = as_tensor(ref, "ref").to(torch.float64)[None]
    m = as_tensor(mix, "mix").to(torch.float64)[None]
    j = r.shape[1]
    perm = torch.arange(j)[None]
    if permute and j > 1 and e.shape[1] == j:
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


def separation_family(
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike | None = None,
    *,
    permute: bool = False,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    nonfinite: NonFinitePolicy = "raise",
    exhaustive_max: int = 5,
) -> dict[str, torch.Tensor]:
    """SI-SDR, SDR (= SNR), SI-SNR, per-channel values and improvements from one Gram matrix per channel.

    The estimates, references and mixture of every channel are stacked into ``V = J_e + J + 1``
    vectors (plus a row of ones for their sums), cast to float64 and multiplied once
    (``[..., C, V, T] @ [..., C, T, V]``). Every value then follows in closed form from these
    inner products: pooled metrics sum them over channels; SI-SNR takes the centred products
    ``<x - x̄, y - ȳ> = <x, y> - T x̄ ȳ``, or, when a vector's DC holds more than half its
    energy (where that subtraction would cancel digits), those of explicitly centred vectors
    from a second product. With ``⟨ŝ,s⟩``, ``|s|²``, ``|ŝ|²``: SNR error
    ``|s|² - 2⟨ŝ,s⟩ + |ŝ|²`` (clamped at 0), SI-SDR target ``⟨ŝ,s⟩²/|s|²`` and noise
    ``|ŝ|² - target``, the expressions of :func:`snr` and :func:`si_sdr`. The values equal those of the per-metric functions (to rounding, about
    1e-12 dB) at a fraction of their cost: the audio is read once instead of once per metric.

    Parameters
    ----------
    est : ``[..., J_e, C, T]`` estimates, ``J_e = J``, or ``J_e = 1`` for one estimate scored
        against every source (e.g. the mixture oracle). float32 or float64, NumPy or torch.
    ref : ``[..., J, C, T]`` reference images. Leading axes broadcast with ``est`` and ``mix``.
    mix : ``[..., C, T]`` mixture for the improvements, or None.
    permute : match estimates to references by the permutation maximising the mean
        channel-pooled SI-SDR (pairwise matrix of all pairs from the same Gram matrix, NaN
        counted as 0, :func:`~asabench.benchmark.metrics.pit.pit_from_pairwise`); all values are
        then those of the permuted estimates. Needs ``J_e = J``; with ``J_e = 1`` or ``J = 1``
        there is nothing to match and ``perm`` is the identity.
    report : counts the guard events of the pooled SI-SDR of the (permuted) estimates only,
        as ``si_sdr(est, ref, report=report)`` would (silent references once, all-zero and
        non-finite estimates, clamps, trims); the other values are guarded identically but
        not counted.
    length, nonfinite : policies for a length mismatch and NaN/inf estimates (and mixture),
        as in :func:`snr` (a trimmed mixture is not counted); a NaN/inf reference always raises.
    exhaustive_max : largest ``J`` searched exhaustively; Hungarian method beyond.

    Returns
    -------
    dict of float64 tensors, dB, the source axis ordered as the references:

    * ``si_sdr``, ``sdr``, ``si_snr``: channel-pooled, ``[..., J]``.
    * ``si_sdr_each``, ``sdr_each``: per channel, ``[..., J, C]``.
    * with ``mix``: ``si_sdr_i``, ``sdr_i``, ``si_snr_i`` (pooled metric of the estimate minus
      that of the mixture as estimate), ``si_sdr_i_chmean``, ``sdr_i_chmean`` (mean over
      non-silent channels of the estimate's per-channel values minus the same mean for the
      mixture), ``si_sdr_i_ref0``, ``sdr_i_ref0`` (per-channel improvement at channel 0),
      all ``[..., J]``. Where an estimate equals the mixture exactly (per channel for the
      per-channel values) its improvement is exactly 0 (NaN for a silent reference).
    * with ``permute``: ``perm [..., J]`` int64, estimate index for each reference.
    * ``energy_est``, ``energy_ref``: per-channel energies ``|ŝ_c|²`` (of the permuted
      estimates) and ``|s_c|²``, ``[..., J, C]`` (not dB; for later metrics of the same signals).

    Guards as :mod:`~asabench.benchmark.metrics.guards`: silent reference NaN, all-zero
    (or floored non-finite) estimate :data:`DB_FLOOR`, values clamped to [-100, 100] dB.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> ref = torch.randn(1, 3, 2, 800, generator=g)
    >>> out = separation_family(ref[:, [2, 0, 1]] + 0.1 * torch.randn(1, 3, 2, 800, generator=g),
    ...                         ref, ref.sum(1), permute=True)
    >>> out["perm"].tolist(), out["si_sdr"].shape, out["sdr_each"].shape
    ([[1, 2, 0]], torch.Size([1, 3]), torch.Size([1, 3, 2]))
    """
    est0, ref0, mix0 = est, ref, mix
    # Fast path as in _energy_terms: NaN/inf show up in the Gram matrix, so the per-sample
    # finiteness scan runs only when it is not finite (then it raises, or cleans and redoes).
    for check in (False, True):
        est_t, ref_t, mix_t, bad_est, bad_mix = _family_inputs(
            est0, ref0, mix0, report, length, nonfinite, check_finite=check
        )
        lead = tuple(np.broadcast_shapes(  # NumPy's: torch's imports sympy on first use
            tuple(est_t.shape[:-3]), tuple(ref_t.shape[:-3]), *(() if mix_t is None else (tuple(mix_t.shape[:-2]),))
        ))
        gram, gram_c, mean = _gram(est_t, ref_t, mix_t, lead)
        if check or bool(torch.isfinite(gram).all() & torch.isfinite(gram_c).all()):
            break
    n_est, n_src, n_ch, n = est_t.shape[-3], ref_t.shape[-3], ref_t.shape[-2], ref_t.shape[-1]
    e_sl, r_sl, m_ix = slice(0, n_est), slice(n_est, n_est + n_src), n_est + n_src
    pool, pool_c = gram.sum(dim=-3), gram_c.sum(dim=-3)  # [*lead, V, V]
    diag, diag_c = gram.diagonal(dim1=-2, dim2=-1), gram_c.diagonal(dim1=-2, dim2=-1)  # [*lead, C, V]
    pdiag, pdiag_c = pool.diagonal(dim1=-2, dim2=-1), pool_c.diagonal(dim1=-2, dim2=-1)  # [*lead, V]
    bad_est = bad_est.broadcast_to(*lead, n_est, n_ch)
    bad_est_pool = bad_est.any(dim=-1)  # [*lead, J_e]
    p_silent = pdiag[..., r_sl] <= SILENCE_POWER * n * n_ch  # [*lead, J]

    if permute and n_est == n_src and n_src > 1:
        p_floor = ((pdiag[..., e_sl] == 0) | bad_est_pool).unsqueeze(-1) & ~p_silent.unsqueeze(-2)
        pair = _si_sdr_from_terms(  # [*lead, J_e, J]
            pool[..., e_sl, r_sl], pdiag[..., r_sl].unsqueeze(-2).expand(*lead, n_est, n_src),
            pdiag[..., e_sl].unsqueeze(-1).expand(*lead, n_est, n_src),
            p_silent.unsqueeze(-2).expand(*lead, n_est, n_src), p_floor,
        )
        flat = torch.nan_to_num(pair, nan=0.0).reshape(-1, n_est, n_src)
        idx = pit_from_pairwise(flat, exhaustive_max=exhaustive_max).perm.reshape(*lead, n_src)
    elif n_est == n_src:
        idx = torch.arange(n_src, device=ref_t.device).expand(*lead, n_src)
    else:
        idx = torch.zeros(*lead, n_src, dtype=torch.long, device=ref_t.device)

    def take_pool(mat: torch.Tensor) -> torch.Tensor:  # [*lead, V, V] -> <est_perm[j], ref_j> [*lead, J]
        return mat[..., e_sl, r_sl].gather(-2, idx.unsqueeze(-2)).squeeze(-2)

    def take_rows(vec: torch.Tensor) -> torch.Tensor:  # [*lead, ..., J_e] -> [*lead, ..., J] by perm
        i = idx.reshape(*lead, *([1] * (vec.ndim - len(lead) - 1)), n_src)
        return vec.gather(-1, i.expand(*vec.shape[:-1], n_src))

    # est (permuted) and mix terms, pooled [*lead, J] and per channel [*lead, J, C].
    est_terms = {
        "cross": take_pool(pool), "est_e": take_rows(pdiag[..., e_sl]),
        "cross_c": take_pool(pool_c), "est_e_c": take_rows(pdiag_c[..., e_sl]),
        "cross_ch": gram[..., e_sl, r_sl].gather(-2, idx[..., None, None, :].expand(*lead, n_ch, 1, n_src))
        .squeeze(-2).transpose(-1, -2),
        "est_e_ch": take_rows(diag[..., e_sl]).transpose(-1, -2),
        "bad_ch": take_rows(bad_est.transpose(-1, -2)).transpose(-1, -2),
    }
    ref_terms = {
        "ref_e": pdiag[..., r_sl], "ref_e_c": pdiag_c[..., r_sl], "ref_e_ch": diag[..., r_sl].transpose(-1, -2),
    }

    def metrics(t: dict[str, torch.Tensor], rep: GuardReport | None) -> dict[str, torch.Tensor]:
        bad_ch = t["bad_ch"].broadcast_to(*lead, n_src, n_ch)
        bad = bad_ch.any(dim=-1)
        silent = p_silent
        zero = t["est_e"] == 0
        floor = (zero | bad) & ~silent
        if rep is not None:
            rep.add("zero_estimate", (zero & ~bad & ~silent).sum())
            rep.add("nonfinite_estimate", (bad & ~silent).sum())
        silent_c = ref_terms["ref_e_c"] <= SILENCE_POWER * n * n_ch
        floor_c = ((t["est_e_c"] == 0) | bad) & ~silent_c
        silent_ch = ref_terms["ref_e_ch"] <= SILENCE_POWER * n
        floor_ch = ((t["est_e_ch"] == 0) | bad_ch) & ~silent_ch
        return {
            "si_sdr": _si_sdr_from_terms(t["cross"], ref_terms["ref_e"], t["est_e"], silent, floor, rep),
            "sdr": _snr_from_terms(t["cross"], ref_terms["ref_e"], t["est_e"], silent, floor),
            "si_snr": _si_sdr_from_terms(t["cross_c"], ref_terms["ref_e_c"], t["est_e_c"], silent_c, floor_c),
            "si_sdr_each": _si_sdr_from_terms(t["cross_ch"], ref_terms["ref_e_ch"], t["est_e_ch"], silent_ch, floor_ch),
            "sdr_each": _snr_from_terms(t["cross_ch"], ref_terms["ref_e_ch"], t["est_e_ch"], silent_ch, floor_ch),
        }

    out = metrics(est_terms, report)
    # per-channel energies (Gram diagonals) for later metrics of the same signals
    out["energy_est"], out["energy_ref"] = est_terms["est_e_ch"], ref_terms["ref_e_ch"]
    if permute:
        out["perm"] = idx if n_est == n_src else torch.arange(n_src, device=ref_t.device).expand(*lead, n_src)
    if mix_t is None:
        return out
    mix_terms = {
        "cross": pool[..., m_ix, r_sl], "est_e": pdiag[..., m_ix, None].expand(*lead, n_src),
        "cross_c": pool_c[..., m_ix, r_sl], "est_e_c": pdiag_c[..., m_ix, None].expand(*lead, n_src),
        "cross_ch": gram[..., m_ix, r_sl].transpose(-1, -2),
        "est_e_ch": diag[..., m_ix].unsqueeze(-2).expand(*lead, n_src, n_ch),
        "bad_ch": bad_mix.broadcast_to(*lead, n_ch).unsqueeze(-2),
    }
    base = metrics(mix_terms, None)
    # An estimate channel equal to the mixture channel must improve by exactly 0, but its
    # Gram entries come from another row of the product and may round differently: such
    # channels take the estimate's own values as baseline. Candidates are found from the
    # Gram matrix (|ŝ - x|² ≈ 0, same mean) and confirmed sample by sample.
    d2 = diag_c[..., e_sl] - 2.0 * gram_c[..., e_sl, m_ix] + diag_c[..., m_ix, None]  # [*lead, C, J_e]
    scale = diag_c[..., e_sl] + diag_c[..., m_ix, None]
    mu_e, mu_m = mean[..., e_sl], mean[..., m_ix, None]
    cand = (d2.abs() <= 1e-9 * scale) & ((mu_e - mu_m).abs() <= 1e-9 * (mu_e.abs() + mu_m.abs()))
    same = torch.zeros_like(cand)
    if bool(cand.any()):
        pos = cand.nonzero(as_tuple=True)  # (*lead indices, channel, estimate)
        est_x = est_t.broadcast_to(*lead, *est_t.shape[-3:])
        mix_x = mix_t.broadcast_to(*lead, *mix_t.shape[-2:])
        rows_e = est_x[(*pos[:-2], pos[-1], pos[-2])]
        rows_m = mix_x[(*pos[:-2], pos[-2])]
        same[pos] = (rows_e == rows_m).all(dim=-1)
    same_ch = take_rows(same).transpose(-1, -2)  # [*lead, J, C]
    same_all = same_ch.all(dim=-1)
    for k in ("si_sdr", "sdr", "si_snr"):
        out[f"{k}_i"] = out[k] - torch.where(same_all, out[k], base[k])
    for k in ("si_sdr", "sdr"):
        each, base_each = out[f"{k}_each"], torch.where(same_ch, out[f"{k}_each"], base[f"{k}_each"])
        mean_est = masked_mean(each, dim=-1)
        mean_base = torch.where(same_all, mean_est, masked_mean(base_each, dim=-1))
        out[f"{k}_i_chmean"] = mean_est - mean_base
        out[f"{k}_i_ref0"] = (each - base_each)[..., 0]
    return out
