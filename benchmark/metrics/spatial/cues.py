"""Spatial-cue errors to call: ΔILD, ΔIPD, ΔITD per pair and all of them averaged, with their parameters.

Definitions: :mod:`.definitions` (``"m2m"``, the default, and ``"exact-length"``); the computations run through :mod:`.kernels` and
:mod:`.gcc`. Every function returns per-pair values ``[..., P]``;
:func:`spatial_cue_errors` averages them and records its parameters.

Guards: a pair with a silent reference channel is NaN for all cues (counted as
``silent_reference``, left out of averages). An all-zero estimate channel is counted as
``zero_estimate`` and scored by the definitions (:mod:`.definitions`): its level is clamped to ±100 dB
(0 dB ILD when both channels are zero), its cross-spectrum is 0 (angle 0) and its
GCC-PHAT correlation is 0 (the search returns the first lag, -``max_tau``), so the
values are finite but meaningless, and the count says so.
"""

from __future__ import annotations

from typing import Sequence

import torch

from asabench.benchmark.metrics.guards import GuardReport, LengthPolicy, TensorLike, as_tensor, masked_mean
from asabench.benchmark.metrics.spatial.definitions import (
    FftLength,
    IldDefinition,
    Method,
    Refine,
    SpatialDefinition,
    _ild_error,
    _nan_where,
    _prep,
    definition_parts,
    ild_eps,
    mic_pairs,
    spatial_parameters,
)
from asabench.benchmark.metrics.spatial.gcc import _tdoa_variants, tdoa
from asabench.benchmark.metrics.spatial.kernels import _ipd_errors, _stft


_eps_of = ild_eps  # the parameter of spatial_cue_errors shadows the function's name


def delta_ild(
    est: TensorLike,
    ref: TensorLike,
    *,
    pairs: Sequence[tuple[int, int]] | None = None,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    definition: IldDefinition = "m2m",
    eps: float | None = None,
) -> torch.Tensor:
    """ΔILD in dB per pair; ``[..., C, T]`` -> ``[..., P]``.

    ``definition="m2m"`` (default): ``ILD_ij = 10 log10(E_i / (E_j + eps))`` with ``eps``
    the machine epsilon of the signals' dtype (``eps=None``) and the error the mean of the
    ``(i, j)`` and ``(j, i)`` differences; ``"plain"``: ``|ILD_ij(est) - ILD_ij(ref)|`` with
    ``ILD_ij = 10 log10(E_i / E_j)``. Energies in float64.
    """
    est_t, ref_t, ii, jj, silent, e_est, e_ref = _prep(est, ref, report, length, pairs)
    eps = ild_eps(est_t, ref_t) if eps is None else float(eps)
    return _nan_where(_ild_error(e_est, e_ref, ii, jj, definition, eps), silent)


def delta_ipd(
    est: TensorLike,
    ref: TensorLike,
    *,
    n_fft: int = 256,
    hop: int = 128,
    mask_db: float | None = None,
    pairs: Sequence[tuple[int, int]] | None = None,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
) -> torch.Tensor:
    """ΔIPD in rad per pair, mean over time-frequency bins of the wrapped phase error.

    Parameters
    ----------
    est, ref : ``[..., C, T]`` (broadcastable leading axes).
    n_fft, hop : STFT size and hop (rectangular window, torch.stft centre framing).
    mask_db : ``None`` for the reference definition (all bins); a number for the
        energy-masked variant (bins where ``|C_ij(ref)| >= max |C_ij(ref)| · 10^(-mask_db/10)``).

    Returns
    -------
    ``[..., P]`` in [0, π] rad; NaN for pairs with a silent reference channel (counted).
    """
    est, ref, ii, jj, silent, _, _ = _prep(est, ref, report, length, pairs)
    ipd, masked = _ipd_errors(est.to(torch.float64), ref.to(torch.float64), ii, jj, n_fft, hop, mask_db)
    out = ipd if masked is None else masked
    return _nan_where(out, silent.broadcast_to(out.shape))


def delta_itd(
    est: TensorLike,
    ref: TensorLike,
    fs: float,
    *,
    max_tau: float = 1e-3,
    interp: int = 1,
    refine: Refine = None,
    eps: float = 1e-8,
    pairs: Sequence[tuple[int, int]] | None = None,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    method: Method = "fast",
    precision: torch.dtype = torch.float64,
    fft_length: FftLength = "pow2",
) -> torch.Tensor:
    """ΔITD in µs per pair: ``|τ_ij(est) - τ_ij(ref)|``; ``[..., C, T]`` -> ``[..., P]``.

    Defaults are the M2M reference (integer-sample GCC-PHAT within ±1 ms at ``fs``, FFT
    length the next power of two >= 2T); ``fft_length="exact"`` is the exact-length
    (``2T``) variant; pass ``refine="parabolic"`` and/or ``interp > 1`` for the sub-sample variant.
    """
    est, ref, _, _, silent, _, _ = _prep(est, ref, report, length, pairs)
    kw = dict(pairs=pairs, max_tau=max_tau, interp=interp, refine=refine, eps=eps, method=method,
              precision=precision, fft_length=fft_length)
    diff = (tdoa(est, fs, **kw) - tdoa(ref, fs, **kw)).abs() * 1e6
    return _nan_where(diff, silent.broadcast_to(diff.shape))


def spatial_cue_errors(
    est: TensorLike,
    ref: TensorLike,
    fs: float,
    *,
    mask_db: float = 40.0,
    subsample_interp: int = 16,
    subsample_refine: Refine = "parabolic",
    pairs: Sequence[tuple[int, int]] | None = None,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
    precision: torch.dtype = torch.float64,
    energies: tuple[torch.Tensor, torch.Tensor] | None = None,
    definition: SpatialDefinition = "m2m",
    ild_eps: float | None = None,
) -> dict[str, object]:
    """All spatial-cue errors averaged over microphone pairs, with their parameters.

    ``est``, ``ref`` ``[..., C, T]``. Returns ``{"delta_ild_db", "delta_ipd_rad",
    "delta_ipd_masked_rad", "delta_itd_us", "delta_itd_subsample_us"}`` each ``[...]``
    (mean over pairs, silent pairs left out) and ``"parameters"``, a JSON-ready record of
    every setting used. Guard events are counted once (by the ΔILD pass).

    ``precision`` is the dtype of the STFTs and GCC-PHAT FFTs: float64 (default) is the
    reference; float32 is about 2x faster on CPU, its ΔITD lags equal the float64 ones up
    to a statistical rounding margin (near-ties are recomputed in float64, see :func:`tdoa`),
    and ΔIPD differs by float32
    rounding (recorded in the parameters). ΔILD energies are always float64; ``energies``
    ``([..., C], [..., C])`` float64 channel energies of ``est`` and ``ref`` skip computing them.

    ``definition``: ``"m2m"`` (default; ILD with ``eps`` and both orders, GCC-PHAT FFT length
    the next power of two >= 2T) or ``"exact-length"`` (plain ILD, FFT length 2T); see
    :mod:`.definitions`. ``ild_eps``: the M2M ILD's ``eps`` (``None``: machine epsilon of the
    signals' dtype). Both ΔITD variants use the definition's FFT length.
    """
    # Validate once and share the STFT cross-spectra between the two ΔIPD variants and one
    # chirp-z window between the two ΔITD variants (same numbers as the single-cue functions).
    fft_length, ild_kind = definition_parts(definition)
    est_t, ref_t, ii, jj, silent, e_est, e_ref = _prep(est, ref, report, length, pairs, energies)
    eps_ild = _eps_of(est_t, ref_t) if ild_eps is None else float(ild_eps)
    if precision not in (torch.float32, torch.float64):
        raise ValueError(f"precision must be torch.float32 or torch.float64, got {precision}")
    # est and ref go through every FFT stage together: one batched call per stage; the
    # float64 pair (for rows whose peak must be recomputed exactly) is built only if needed
    both_p = torch.stack(torch.broadcast_tensors(est_t.to(precision), ref_t.to(precision)))
    ipd, ipd_masked = _ipd_errors(both_p[0], both_p[1], ii, jj, 256, 128, mask_db, stft=_stft(both_p, 256, 128))
    ipd, ipd_masked = ipd.to(torch.float64), ipd_masked.to(torch.float64)

    def channels64(lead: torch.Tensor, channel: torch.Tensor) -> torch.Tensor:
        """Channels of [est, ref] by flat leading index, in float64 (for exact recomputation)."""
        sides = [t.reshape(-1, *t.shape[-2:]) for t in torch.broadcast_tensors(est_t, ref_t)]
        per_side = sides[0].shape[0]
        return torch.stack([sides[int(k) // per_side][int(k) % per_side, int(c)]
                            for k, c in zip(lead, channel)]).to(torch.float64)

    norms = torch.stack(torch.broadcast_tensors(e_est, e_ref)).sqrt()
    tau, tau_int = _tdoa_variants(channels64 if precision != torch.float64 else both_p, ii, jj, fs, 1e-3,
                                  subsample_interp, subsample_refine, 1e-8, "fast", precision, True, xp=both_p,
                                  norms=norms, fft_length=fft_length)
    itd_int = (tau_int[0] - tau_int[1]).abs() * 1e6
    itd_sub = (tau[0] - tau[1]).abs() * 1e6
    ild_err = _ild_error(e_est, e_ref, ii, jj, ild_kind, eps_ild)

    def avg(v: torch.Tensor) -> torch.Tensor:
        return masked_mean(_nan_where(v, silent.broadcast_to(v.shape)), dim=-1)

    out: dict[str, object] = {
        "delta_ild_db": avg(ild_err),
        "delta_ipd_rad": avg(ipd),
        "delta_ipd_masked_rad": avg(ipd_masked),
        "delta_itd_us": avg(itd_int),
        "delta_itd_subsample_us": avg(itd_sub),
    }
    params = spatial_parameters(definition, eps_ild if ild_kind == "m2m" else None)
    params["fs"] = fs
    params["pairs"] = [list(p) for p in (mic_pairs(as_tensor(ref, "ref").shape[-2]) if pairs is None else pairs)]
    params["ipd_masked"] = {**params["ipd"], "mask": f"reference |C_ij| within {mask_db} dB of its maximum"}
    params["itd_subsample"] = {
        **params["itd"],
        "resolution": f"interp={subsample_interp}, refine={subsample_refine}",
    }
    params["fft_precision"] = ("float64" if precision == torch.float64 else
                               "float32; ITD peaks within a rounding margin of another lag recomputed in "
                               "float64 (docs/metrics-speed.md)")
    out["parameters"] = params
    return out
