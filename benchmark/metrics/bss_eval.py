"""BSS-Eval v3 "sources" SDR, SIR and SAR with a 512-tap distortion filter, batched.

Equal (to float64 rounding) to ``mir_eval.separation.bss_eval_sources``: the estimate
``ŝ_e`` is decomposed by least-squares projection onto ``L`` delayed copies of the target
``s_j`` (``P_j``) and onto ``L`` delayed copies of every reference (``P``). With
``E = ||ŝ_e||²``, ``p_j = ||P_j ŝ_e||²`` and ``p = ||P ŝ_e||²`` (orthogonal projections,
so the energies of the BSS-Eval terms follow by Pythagoras)::

    SDR = 10 log10( p_j / (E - p_j) )  = 10 log10( ρ² / (1 - ρ²) ),  ρ² = p_j / E
    SIR = 10 log10( p_j / (p - p_j) )
    SAR = 10 log10( p / (E - p) )

``p_j = D_jᵀ G_jj⁻¹ D_j`` where ``G_jj`` (``L x L``, Toeplitz) holds the autocorrelation of
``s_j`` and ``D_j`` the cross-correlation of ``s_j`` with ``ŝ_e`` at lags ``0..L-1``; ``p``
uses the ``JL x JL`` block-Toeplitz Gram matrix of all references. All correlations come
from one zero-padded FFT per signal. Each system is solved by one batched Cholesky
factorisation of the Gram matrix bordered by the estimates (``_bordered_energies``): the
factor holds both the projection and the residual energies, for every estimate at once,
without triangular solves. Singular systems fall back to a pseudo-inverse where mir_eval
falls back to ``lstsq``.

The permutation maximises the mean SIR over sources like mir_eval: by exhaustive search
in mir_eval's order (ties go to the first permutation) for ``J <= 5``, by the Hungarian
method beyond. :func:`bss_eval_sdr` computes SDR alone (only the ``L x L`` systems) and
picks the permutation maximising mean SDR, like ``fast_bss_eval.sdr``.

Shapes: ``est`` and ``ref`` are ``[..., J, T]``, single-channel sources. For multichannel
sources ``[..., J, C, T]`` use :func:`bss_eval_sources_per_channel`, which scores every
channel as its own single-channel problem (what mir_eval's ``bss_eval_sources`` does when
called once per channel), with its own permutation per channel.

Guards: a silent reference makes its SDR/SIR NaN (counted, excluded from averages) where
mir_eval raises; an all-zero estimate scores the -100 dB floor (counted); values are
clamped to [-100, 100] dB (counted).

References
----------
E. Vincent, R. Gribonval, C. Févotte, "Performance measurement in blind audio source
separation", IEEE TASLP 14(4), 2006.
R. Scheibler, "SDR - medium rare with fast computations", ICASSP 2022 (the closed form).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

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
    ratio_db,
)

__all__ = [
    "BssEvalResult",
    "bss_eval_sdr",
    "bss_eval_sources",
    "bss_eval_sources_per_channel",
    "bss_sdr_improvement",
    "bss_sdr_pairwise",
    "best_permutation",
]

#: Default distortion-filter length in taps (mir_eval, fast_bss_eval, torchmetrics).
FILTER_LENGTH: int = 512


@dataclass
class BssEvalResult:
    """Per-source BSS-Eval values ordered by reference, and the matching permutation.

    ``sdr``, ``sir``, ``sar``: dB ``[..., J]``; ``perm``: ``[..., J]`` int64 where
    ``perm[..., j]`` is the estimate matched to reference ``j`` (mir_eval's ``popt``).
    """

    sdr: torch.Tensor
    sir: torch.Tensor
    sar: torch.Tensor
    perm: torch.Tensor


@lru_cache(maxsize=16)
def _permutations(n_est: int, n_ref: int) -> np.ndarray:
    """All injective maps reference -> estimate, ``[P, n_ref]``, in itertools order."""
    return np.array(list(itertools.permutations(range(n_est), n_ref)), dtype=np.int64).reshape(-1, n_ref)


def best_permutation(score: torch.Tensor, exhaustive_max: int = 5) -> torch.Tensor:
    """Assignment maximising the mean of ``score[..., perm[j], j]`` over references ``j``.

    Parameters
    ----------
    score : ``[..., J_est, J_ref]`` pairwise scores (estimate by reference), ``J_est >= J_ref``.
        NaN entries count as 0 (a silent reference is worth the same for every estimate).
    exhaustive_max : exhaustive search (first maximum in ``itertools.permutations`` order,
        as mir_eval) when ``J_est <= exhaustive_max``, otherwise the Hungarian method
        (``scipy.optimize.linear_sum_assignment``).

    Returns
    -------
    perm : ``[..., J_ref]`` int64, estimate index for each reference, on ``score``'s device.
    """
    n_est, n_ref = score.shape[-2], score.shape[-1]
    if n_est < n_ref:
        raise ValueError(f"score: need at least as many estimates ({n_est}) as references ({n_ref})")
    lead = score.shape[:-2]
    flat = torch.nan_to_num(score.detach().reshape(-1, n_est, n_ref), nan=0.0)
    if n_est <= exhaustive_max:
        perms = torch.from_numpy(_permutations(n_est, n_ref)).to(score.device)  # [P, J_ref]
        cols = torch.arange(n_ref, device=score.device)
        total = flat[:, perms, cols].sum(-1)  # [N, P]; the sum ranks like the mean
        best = perms[total.argmax(dim=-1)]
    else:
        from scipy.optimize import linear_sum_assignment

        mats = flat.cpu().double().numpy()
        out = np.empty((mats.shape[0], n_ref), dtype=np.int64)
        for i, m in enumerate(mats):
            # inf entries (perfect estimates) would break the solver; their order is kept.
            m = np.clip(m, -1e300, 1e300)
            rows, cols_ = linear_sum_assignment(m.T, maximize=True)
            out[i, rows] = cols_
        best = torch.from_numpy(out).to(score.device)
    return best.reshape(*lead, n_ref)


def _next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def _prepare(
    est: TensorLike,
    ref: TensorLike,
    report: GuardReport | None,
    length: LengthPolicy,
    nonfinite: NonFinitePolicy,
    filter_length: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[int, ...]]:
    est, ref, bad = check_pair(est, ref, report=report, length=length, nonfinite=nonfinite, min_ndim=2)
    if est.shape[:-1] != ref.shape[:-1]:
        raise ValueError(
            f"est {tuple(est.shape)} and ref {tuple(ref.shape)}: BSS-Eval needs the same batch and "
            "source axes [..., J, T]"
        )
    if filter_length < 1 or filter_length > ref.shape[-1]:
        raise ValueError(f"filter_length {filter_length} must be in [1, T={ref.shape[-1]}]")
    lead = tuple(ref.shape[:-2])
    j, t = ref.shape[-2:]
    return (
        est.reshape(-1, j, t).to(torch.float64),
        ref.reshape(-1, j, t).to(torch.float64),
        bad.reshape(-1, j),
        lead,
    )


def _spectra(est: torch.Tensor, ref: torch.Tensor, filter_length: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    n_fft = _next_pow2(ref.shape[-1] + filter_length - 1)
    return torch.fft.rfft(est, n=n_fft), torch.fft.rfft(ref, n=n_fft), n_fft


def _lags(filter_length: int, n_fft: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Circular indices: Toeplitz ``[a, b] -> b - a`` and delays ``m -> -m``."""
    a = torch.arange(filter_length, device=device)
    return (a[None, :] - a[:, None]) % n_fft, (-a) % n_fft


def _solve_energy_float64(gram: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """``diag(rhsᵀ gram⁻¹ rhs)`` for SPD ``gram [..., n, n]``, ``rhs [..., n, k]`` -> ``[..., k]``."""
    chol, info = torch.linalg.cholesky_ex(gram)
    y = torch.linalg.solve_triangular(chol, rhs, upper=False)
    energy = (y * y).sum(-2)
    failed = info != 0
    if bool(failed.any()):
        # Singular Gram matrix (a rank-deficient reference): minimum-norm least squares,
        # as mir_eval's lstsq fallback.
        g, r = gram[failed], rhs[failed]
        coef = torch.linalg.pinv(g, hermitian=True) @ r
        energy[failed] = (r * coef).sum(-2)
    return energy


def _bordered_energies(
    gram: torch.Tensor, rhs: torch.Tensor, est_gram: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Projection and residual energies of the estimates from one Cholesky factorisation.

    The Gram matrix of ``[delayed references, estimates]``,
    ``M = [[G, D], [Dᵀ, S]]`` (``S = <ŝ_e, ŝ_f>``), has the Cholesky factor
    ``[[L, 0], [Yᵀ, L₂]]`` with ``Y = L⁻¹ D`` and ``L₂ L₂ᵀ = S - Yᵀ Y``, the Gram matrix of
    the residuals ``ŝ - P ŝ``. So the factorisation alone yields
    ``||P ŝ_e||² = ||Y[:, e]||²`` and ``||ŝ_e - P ŝ_e||² = ||L₂[e, :]||²`` (no triangular
    solves, and the residual energy without cancellation). Items whose bordered matrix is
    not positive definite (an estimate inside the reference span, e.g. a perfect one) are
    solved by the plain route.

    ``gram [B, n, n]``, ``rhs [B, n, k]``, ``est_gram [B, k, k]`` -> ``[B, k]``, ``[B, k]``.
    """
    n = gram.shape[-1]
    bordered = torch.cat([torch.cat([gram, rhs], -1), torch.cat([rhs.mT, est_gram], -1)], -2)
    chol, info = torch.linalg.cholesky_ex(bordered)
    y = chol[..., n:, :n]
    l2 = chol[..., n:, n:]
    proj = (y * y).sum(-1)
    resid = (l2 * l2).sum(-1)
    failed = info != 0
    if bool(failed.any()):
        p = _solve_energy_float64(gram[failed], rhs[failed])
        proj[failed] = p
        resid[failed] = (torch.diagonal(est_gram[failed], dim1=-2, dim2=-1) - p).clamp_min(0.0)
    return proj, resid


def _drop_silent(gram: torch.Tensor, rhs: torch.Tensor, silent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove silent references from the systems: their Gram blocks become identity and
    their right-hand sides zero, so Cholesky still applies and the projection is onto the
    other references only (a silent reference spans nothing).

    ``gram [N, Ji, Jk, L, L]`` (``Ji = Jk``, or ``[N, J, L, L]`` diagonal blocks with
    ``silent`` indexing ``J``), ``rhs [N, J, Je, L]``, ``silent [N, J]``.
    """
    if not bool(silent.any()):
        return gram, rhs
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    if gram.ndim == 5:
        pair = silent[:, :, None] | silent[:, None, :]
        gram = torch.where(pair[..., None, None], torch.zeros((), dtype=gram.dtype, device=gram.device), gram)
        diag = torch.diagonal(gram, dim1=1, dim2=2)  # view [N, L, L, J]
        diag += (silent[:, None, None, :] * eye[..., None]).to(gram.dtype)
    else:
        gram = torch.where(silent[..., None, None], eye, gram)
    rhs = torch.where(silent[:, :, None, None], torch.zeros((), dtype=rhs.dtype, device=rhs.device), rhs)
    return gram, rhs


def _pairwise_sdr_energy(
    est: torch.Tensor, ref: torch.Tensor, filter_length: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``p_j`` and ``E - p_j`` ``[N, J_est, J_ref]``, est energies ``[N, J]``, ref energies."""
    ef, sf, n_fft = _spectra(est, ref, filter_length)
    toe, delay = _lags(filter_length, n_fft, est.device)
    e_ref = (ref * ref).sum(-1)
    auto = torch.fft.irfft(sf * sf.conj(), n=n_fft)[..., toe]  # [N, Jr, L, L]
    # cross[n, i, e, m] = sum_t s_i(t - m) ŝ_e(t)
    cross = torch.fft.irfft(sf[:, :, None] * ef[:, None].conj(), n=n_fft)[..., delay]
    auto, cross = _drop_silent(auto, cross, e_ref <= SILENCE_POWER * ref.shape[-1])
    n, j = auto.shape[:2]
    est_gram = (est @ est.mT)[:, None].expand(n, j, -1, -1)
    pj, rj = _bordered_energies(
        auto.reshape(n * j, *auto.shape[-2:]),
        cross.transpose(-1, -2).reshape(n * j, filter_length, -1),
        est_gram.reshape(n * j, *est_gram.shape[-2:]),
    )
    return pj.reshape(n, j, -1).transpose(-1, -2), rj.reshape(n, j, -1).transpose(-1, -2), (est * est).sum(-1), e_ref


def _block_toeplitz(corr: torch.Tensor, filter_length: int) -> torch.Tensor:
    """Gram matrix of all delayed references from their correlations, in one copy.

    ``corr [N, J, J, n_fft]`` with ``corr[n, i, k, l] = Σ_t s_i(t + l) s_k(t)`` -> ``[N, J L, J L]``
    with entry ``((i, a), (k, b)) = <s_i delayed a, s_k delayed b> = corr[i, k, b - a]``.
    """
    n, j = corr.shape[:2]
    ln = filter_length
    # w[m] = corr(L-1-m) for m in 0..2L-2, so block[a, L-1-b] = w[a + (L-1-b)] is a Hankel
    # view with unit strides; flipping its last axis gives the Toeplitz block.
    lags = torch.cat([corr[..., : ln].flip(-1), corr[..., corr.shape[-1] - ln + 1 :].flip(-1)], dim=-1)
    lags = lags.contiguous()  # [N, i, k, 2L-1]
    w = 2 * ln - 1
    hankel = lags.as_strided((n, j, ln, j, ln), (j * j * w, j * w, 1, w, 1))
    return hankel.flip(-1).reshape(n, j * ln, j * ln)


def _sources_energy(
    est: torch.Tensor, ref: torch.Tensor, filter_length: int
) -> tuple[torch.Tensor, ...]:
    """``p_j``, ``E - p_j`` ``[N, Je, Jr]``; ``p``, ``E - p`` ``[N, Je]``; est and ref energies ``[N, J]``."""
    n, j, _ = ref.shape
    ln = filter_length
    ef, sf, n_fft = _spectra(est, ref, filter_length)
    _, delay = _lags(filter_length, n_fft, est.device)
    corr = torch.fft.irfft(sf[:, :, None] * sf[:, None].conj(), n=n_fft)  # [N, Jr, Jr, n_fft]
    full = _block_toeplitz(corr, ln)  # [N, (i, a), (k, b)]
    del corr
    cross = torch.fft.irfft(sf[:, :, None] * ef[:, None].conj(), n=n_fft)[..., delay]  # [N, Jr, Je, L]
    e_ref = (ref * ref).sum(-1)
    silent = e_ref <= SILENCE_POWER * ref.shape[-1]
    blocks = full.view(n, j, ln, j, ln).permute(0, 1, 3, 2, 4)  # [N, i, k, a, b] view
    blocks, cross = _drop_silent(blocks, cross, silent)
    if bool(silent.any()):
        full = blocks.permute(0, 1, 3, 2, 4).reshape(n, j * ln, j * ln)
    idx = torch.arange(j, device=ref.device)
    diag = blocks[:, idx, idx].reshape(n * j, ln, ln)  # [N * Jr, L, L]
    est_gram = est @ est.mT  # [N, Je, Je]
    pj, rj = _bordered_energies(
        diag,
        cross.transpose(-1, -2).reshape(n * j, ln, -1),
        est_gram[:, None].expand(n, j, -1, -1).reshape(n * j, j, j),
    )
    rhs = cross.permute(0, 1, 3, 2).reshape(n, j * ln, -1)
    p_all, r_all = _bordered_energies(full, rhs, est_gram)
    pj = pj.reshape(n, j, j).transpose(-1, -2)
    rj = rj.reshape(n, j, j).transpose(-1, -2)
    return pj, rj, p_all, r_all, (est * est).sum(-1), e_ref


def _raw_db(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """Unguarded dB for ranking permutations (inf allowed, like mir_eval)."""
    return 10.0 * torch.log10(num.clamp_min(0.0) / den.clamp_min(0.0))


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def bss_eval_sources(
    est: TensorLike,
    ref: TensorLike,
    *,
    filter_length: int = FILTER_LENGTH,
    compute_permutation: bool = True,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    nonfinite: NonFinitePolicy = "raise",
    batch_size: int = 8,
) -> BssEvalResult:
    """BSS-Eval v3 SDR, SIR and SAR of single-channel sources, as mir_eval's ``bss_eval_sources``.

    Parameters
    ----------
    est, ref : ``[..., J, T]`` estimated and reference sources (same shape).
    filter_length : distortion filter taps ``L`` (512 as mir_eval).
    compute_permutation : pick the assignment maximising mean SIR; otherwise estimate
        ``j`` is scored against reference ``j``.
    report, length, nonfinite : guard counter and policies (see ``guards``).
    batch_size : examples solved at once; memory is about
        ``batch_size * (J L)² * 8`` bytes for the Gram matrices (52 MB per example at J=5).

    Returns
    -------
    :class:`BssEvalResult` with ``sdr``, ``sir``, ``sar`` ``[..., J]`` (dB, float64,
    ordered by reference) and ``perm`` ``[..., J]``.
    """
    e, r, bad, lead = _prepare(est, ref, report, length, nonfinite, filter_length)
    n, j, t = r.shape
    f64 = dict(dtype=torch.float64, device=r.device)
    pj, rj = torch.empty(n, j, j, **f64), torch.empty(n, j, j, **f64)
    p_all, r_all = torch.empty(n, j, **f64), torch.empty(n, j, **f64)
    e_est, e_ref = torch.empty(n, j, **f64), torch.empty(n, j, **f64)
    for sl in _chunks(n, max(1, batch_size)):
        pj[sl], rj[sl], p_all[sl], r_all[sl], e_est[sl], e_ref[sl] = _sources_energy(e[sl], r[sl], filter_length)
    interf = (p_all[:, :, None] - pj).clamp_min(0.0)  # ||P ŝ - P_j ŝ||², orthogonal parts
    if compute_permutation:
        perm = best_permutation(_raw_db(pj, interf))
    else:
        perm = torch.arange(j, device=r.device).expand(n, j)
    cols = torch.arange(j, device=r.device)
    rows = torch.arange(n, device=r.device)[:, None]
    pj_sel, rj_sel, interf_sel = pj[rows, perm, cols], rj[rows, perm, cols], interf[rows, perm, cols]  # [N, Jr]
    e_sel = e_est[rows, perm]
    pall_sel, rall_sel = p_all[rows, perm], r_all[rows, perm]
    silent = e_ref <= SILENCE_POWER * t
    floor = ((e_sel == 0) | bad[rows, perm]) & ~silent
    if report is not None:
        report.add("zero_estimate", ((e_sel == 0) & ~bad[rows, perm] & ~silent).sum())
        report.add("nonfinite_estimate", (bad[rows, perm] & ~silent).sum())
    sdr = ratio_db(pj_sel, rj_sel, silent=silent, floor=floor, report=report)
    sir = ratio_db(pj_sel, interf_sel, silent=silent, floor=floor, report=None)
    sar = ratio_db(pall_sel, rall_sel, floor=floor, report=None)
    if report is not None:
        # Silent references were counted once (with SDR); count the other two's clamps.
        scratch = GuardReport()
        ratio_db(pj_sel, interf_sel, silent=silent, floor=floor, report=scratch)
        ratio_db(pall_sel, rall_sel, floor=floor, report=scratch)
        report.merge_repeat(scratch)
    return BssEvalResult(
        sdr=sdr.reshape(*lead, j), sir=sir.reshape(*lead, j), sar=sar.reshape(*lead, j), perm=perm.reshape(*lead, j)
    )


def bss_sdr_pairwise(
    est: TensorLike,
    ref: TensorLike,
    *,
    filter_length: int = FILTER_LENGTH,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    nonfinite: NonFinitePolicy = "raise",
    batch_size: int = 64,
) -> torch.Tensor:
    """BSS-Eval v3 SDR of every estimate against every reference, ``[..., J_est, J_ref]`` dB.

    Only the ``L x L`` Toeplitz systems of the single references are solved (SDR does not
    need the joint projection), so this is much cheaper than :func:`bss_eval_sources`.
    ``est`` and ``ref`` are ``[..., J, T]``.
    """
    e, r, bad, lead = _prepare(est, ref, report, length, nonfinite, filter_length)
    n, j, t = r.shape
    f64 = dict(dtype=torch.float64, device=r.device)
    pj, rj = torch.empty(n, j, j, **f64), torch.empty(n, j, j, **f64)
    e_est, e_ref = torch.empty(n, j, **f64), torch.empty(n, j, **f64)
    for sl in _chunks(n, max(1, batch_size)):
        pj[sl], rj[sl], e_est[sl], e_ref[sl] = _pairwise_sdr_energy(e[sl], r[sl], filter_length)
    silent = (e_ref <= SILENCE_POWER * t)[:, None, :].expand(n, j, j)
    floor = ((e_est == 0) | bad)[:, :, None].expand(n, j, j) & ~silent
    if report is not None:
        report.add("zero_estimate", ((e_est == 0) & ~bad)[:, :, None].expand(n, j, j)[~silent].sum())
        report.add("nonfinite_estimate", bad[:, :, None].expand(n, j, j)[~silent].sum())
    out = ratio_db(pj, rj, silent=silent, floor=floor, report=report)
    return out.reshape(*lead, j, j)


def bss_eval_sdr(
    est: TensorLike,
    ref: TensorLike,
    *,
    filter_length: int = FILTER_LENGTH,
    compute_permutation: bool = False,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    nonfinite: NonFinitePolicy = "raise",
    batch_size: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BSS-Eval v3 SDR only, ``[..., J]`` dB ordered by reference, and the permutation ``[..., J]``.

    Values equal the SDR of :func:`bss_eval_sources` for the same assignment. With
    ``compute_permutation`` the assignment maximises mean SDR (as ``fast_bss_eval.sdr``),
    which can differ from mir_eval's SIR-based choice on poorly separated inputs.
    """
    pair = bss_sdr_pairwise(
        est, ref, filter_length=filter_length, report=report, length=length, nonfinite=nonfinite,
        batch_size=batch_size,
    )
    j = pair.shape[-1]
    if compute_permutation:
        perm = best_permutation(pair)
    else:
        perm = torch.arange(j, device=pair.device).expand(*pair.shape[:-2], j)
    sel = torch.gather(pair, -2, perm.unsqueeze(-2)).squeeze(-2)
    return sel, perm


def bss_sdr_improvement(
    est: TensorLike,
    ref: TensorLike,
    mix: TensorLike,
    *,
    filter_length: int = FILTER_LENGTH,
    report: GuardReport | None = None,
    **kwargs,
) -> torch.Tensor:
    """BSS-Eval v3 SDRi in dB: ``SDR(est_j, ref_j) - SDR(mix, ref_j)`` per source, in given order.

    ``est``, ``ref`` ``[..., J, T]``; ``mix`` ``[..., T]`` (broadcast over sources) or
    ``[..., J, T]``. Permute ``est`` first (e.g. with the ``perm`` of
    :func:`bss_eval_sources`) if its order is arbitrary.
    """
    ref_t = as_tensor(ref, "ref")
    mix_t = as_tensor(mix, "mix")
    if mix_t.ndim == ref_t.ndim - 1:
        mix_t = mix_t.unsqueeze(-2)
    mix_t = mix_t.to(ref_t.device).expand_as(ref_t)
    value, _ = bss_eval_sdr(est, ref_t, filter_length=filter_length, report=report, **kwargs)
    scratch = GuardReport()
    base, _ = bss_eval_sdr(mix_t, ref_t, filter_length=filter_length, report=scratch, **kwargs)
    if report is not None:
        report.merge_repeat(scratch)
    return value - base


def bss_eval_sources_per_channel(
    est: TensorLike,
    ref: TensorLike,
    **kwargs,
) -> BssEvalResult:
    """:func:`bss_eval_sources` of multichannel sources, each channel on its own.

    ``est``, ``ref`` ``[..., J, C, T]`` -> ``sdr``/``sir``/``sar``/``perm`` ``[..., C, J]``:
    channel ``c`` is the single-channel problem ``[J, T]`` that mir_eval's
    ``bss_eval_sources(ref[..., c, :], est[..., c, :])`` solves, with its own permutation.
    """
    est_t = as_tensor(est, "est").transpose(-3, -2)
    ref_t = as_tensor(ref, "ref").transpose(-3, -2)
    return bss_eval_sources(est_t, ref_t, **kwargs)
