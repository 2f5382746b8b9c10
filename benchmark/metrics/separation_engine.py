"""The fused separation engine: every USS/TSE value of a scene from one Gram matrix per channel.

:func:`separation_family` gives SI-SDR, SDR (= SNR), SI-SNR, their per-channel values and
improvements, and the permutation, from the inner products of all estimates, references
and the mixture at once, with the closed-form expressions of the definitions in
:mod:`asabench.benchmark.metrics.separation` (:func:`~asabench.benchmark.metrics.separation.snr`,
:func:`~asabench.benchmark.metrics.separation.si_sdr`,
:func:`~asabench.benchmark.metrics.separation.si_snr`). It is tested against
:func:`~asabench.benchmark.metrics.separation.separation_family_reference`, which computes
the same values metric by metric; ``asabench.benchmark.perf.separation`` times both.
"""

from __future__ import annotations

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
from asabench.benchmark.metrics.permutation import pit_from_pairwise

__all__ = ["separation_family"]


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
    permute: bool = False,
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
    if est_t.shape[-3] not in (1, n_src) and not (permute and est_t.shape[-3] > n_src):
        raise ValueError(
            f"est: {est_t.shape[-3]} estimates (axis -3 of {tuple(est_t.shape)}) for {n_src} references; "
            f"expected {n_src}, 1 for one estimate scored against every source, or more with permute=True"
        )
    if est_t.shape[-2] != n_ch:
        raise ValueError(f"est: {est_t.shape[-2]} channels (axis -2 of {tuple(est_t.shape)}), ref has {n_ch}")
    # The report sees exactly what si_sdr(permuted est, ref, report=report) would: the trim
    # of the estimates (the mixture's own trim is not an event of that call).
    extra = est_t.shape[-3] > n_src  # more estimates than references (permute): check against one
    est_t, ref_c, bad_est = check_pair(
        est_t, ref_t[..., :1, :, :] if extra else ref_t, report=None if check_finite else report, length=length,
        nonfinite=nonfinite, min_ndim=3, check_finite=check_finite,
    )
    if extra:
        ref_t = ref_t[..., : ref_c.shape[-1]].to(ref_c.device)
        if check_finite and not bool(torch.isfinite(ref_t.sum())) and not bool(torch.isfinite(ref_t).all()):
            raise ValueError(f"ref: contains NaN or inf ({int((~torch.isfinite(ref_t)).sum())} samples)")
    else:
        ref_t = ref_c
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
    est : ``[..., J_e, C, T]`` estimates, ``J_e = J``, ``J_e = 1`` for one estimate scored
        against every source (e.g. the mixture oracle), or ``J_e > J`` with ``permute``
        (the best ``J`` of them are matched, the others left out). float32 or float64,
        NumPy or torch.
    ref : ``[..., J, C, T]`` reference images. Leading axes broadcast with ``est`` and ``mix``.
    mix : ``[..., C, T]`` mixture for the improvements, or None.
    permute : match estimates to references by the permutation maximising the mean
        channel-pooled SI-SDR (pairwise matrix of all pairs from the same Gram matrix, NaN
        counted as 0, :func:`~asabench.benchmark.metrics.permutation.pit_from_pairwise`); all values are
        then those of the permuted estimates. With ``J_e > J`` the search runs over every
        injective map of the ``J`` references to the estimates (the best ``J``-subset and its
        order, ``J_e!/(J_e - J)!`` candidates exhaustively up to ``exhaustive_max`` estimates);
        with ``J_e = 1``, or ``J_e = J = 1``, there is nothing to match and ``perm`` is the identity.
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
            est0, ref0, mix0, report, length, nonfinite, check_finite=check, permute=permute
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

    if permute and n_est >= n_src and (n_src > 1 or n_est > n_src):
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
        out["perm"] = idx if n_est >= n_src else torch.arange(n_src, device=ref_t.device).expand(*lead, n_src)
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
