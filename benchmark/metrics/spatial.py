"""Spatial-cue preservation errors over microphone pairs: ΔILD, ΔIPD and ΔITD (GCC-PHAT).

Definitions follow the SoundCompass authors' M2M-TSE evaluation (reference notes,
section 3), averaged over all microphone pairs ``i < j`` (6 for 4 microphones):

* ``ILD_ij(x) = 10 log10(||x_i||² / ||x_j||²)`` over the whole clip (dB);
  ``ΔILD = |ILD_ij(ŝ) - ILD_ij(s)|``.
* ``C_ij = X_i X_j*`` from an STFT (n_fft 256, hop 128, rectangular window, torch.stft
  framing with ``center=True`` and reflect padding, one-sided); ``ΔIPD`` is the mean over
  all time-frequency bins of ``|angle(C_ij(ŝ) C_ij(s)*)|`` in [0, π] rad (no mask, silent
  bins count). The energy-masked variant averages only over bins where the reference's
  ``|C_ij(s)|`` is within ``mask_db`` dB of its maximum over the clip.
* ``τ_ij`` = lag of the maximum of the GCC-PHAT cross-correlation
  ``irfft(R / (|R| + eps))``, ``R = X_i X_j*`` (FFT length ``T_i + T_j``, so linear
  correlation), searched at integer lags within ±``max_tau`` (1 ms); ``τ_ij > 0`` means
  the sound reaches microphone ``i`` later than ``j``. ``ΔITD = |τ_ij(ŝ) - τ_ij(s)|`` in
  µs. The sub-sample variant upsamples the correlation ``interp`` times (zero-padded
  whitened spectrum) and/or refines the peak by a parabola through the peak and its
  neighbours. A parabola alone is biased on the sinc-shaped PHAT peak (up to ~0.15
  sample); 16x upsampling plus the parabola (the default of :func:`spatial_cue_errors`)
  is within ~0.01 sample on white noise.

At 16 kHz one sample is 62.5 µs while a 4.2 cm-radius tetrahedron allows at most ~200 µs,
which is why the sub-sample variant is offered. Every function returns per-pair values
``[..., P]``; :func:`spatial_cue_errors` averages them and records its parameters.

Guards: a pair with a silent reference channel is NaN for all cues (counted as
``silent_reference``, left out of averages). An all-zero estimate channel is counted as
``zero_estimate`` and scored by the definitions above: its level is clamped to ±100 dB
(0 dB ILD when both channels are zero), its cross-spectrum is 0 (angle 0) and its
GCC-PHAT correlation is 0 (the search returns the first lag, -``max_tau``), so the
values are finite but meaningless, and the count says so.
"""

from __future__ import annotations

from itertools import combinations
from typing import Literal, Sequence

import torch

from asabench.benchmark.metrics.guards import (
    DB_CEIL,
    DB_FLOOR,
    SILENCE_POWER,
    GuardReport,
    LengthPolicy,
    TensorLike,
    as_tensor,
    check_pair,
    masked_mean,
)

__all__ = [
    "SPATIAL_DEFAULTS",
    "delta_ild",
    "delta_ipd",
    "delta_itd",
    "gcc_phat",
    "ild",
    "mic_pairs",
    "spatial_cue_errors",
    "tdoa",
]

#: Parameters of the reference definitions, stored in result files.
SPATIAL_DEFAULTS: dict[str, object] = {
    "pairs": "all i<j",
    "ild": {"domain": "broadband, whole clip", "unit": "dB"},
    "ipd": {
        "n_fft": 256,
        "hop": 128,
        "window": "rectangular",
        "center": True,
        "pad_mode": "reflect",
        "mask": None,
        "unit": "rad",
        "wrapped": "[0, pi]",
    },
    "itd": {"method": "GCC-PHAT", "max_tau_s": 1e-3, "eps": 1e-8, "resolution": "integer sample", "unit": "us"},
}

Refine = Literal["parabolic"] | None


def mic_pairs(n_mics: int) -> list[tuple[int, int]]:
    """All microphone pairs ``(i, j)``, ``i < j``, in lexicographic order (6 for 4 mics)."""
    return list(combinations(range(n_mics), 2))


def _pair_index(n_mics: int, pairs: Sequence[tuple[int, int]] | None, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = mic_pairs(n_mics) if pairs is None else list(pairs)
    if not pairs:
        raise ValueError(f"pairs: need at least one microphone pair (got {n_mics} channels)")
    for i, j in pairs:
        if not (0 <= i < n_mics and 0 <= j < n_mics) or i == j:
            raise ValueError(f"pairs: invalid pair ({i}, {j}) for {n_mics} channels")
    idx = torch.tensor(pairs, dtype=torch.long, device=device)
    return idx[:, 0], idx[:, 1]


def _prep(
    est: TensorLike, ref: TensorLike, report: GuardReport | None, length: LengthPolicy, pairs
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate, cast to float64 and compute the silent-pair mask ``[..., P]`` (counted)."""
    est, ref, _ = check_pair(est, ref, report=report, length=length, nonfinite="raise", min_ndim=2)
    if est.shape[-2] != ref.shape[-2]:
        raise ValueError(f"est {tuple(est.shape)} and ref {tuple(ref.shape)}: channel counts differ")
    est, ref = est.to(torch.float64), ref.to(torch.float64)
    ii, jj = _pair_index(ref.shape[-2], pairs, ref.device)
    silent_ch = (ref * ref).mean(-1) <= SILENCE_POWER
    zero_ch = (est == 0).all(-1)
    shape = torch.broadcast_shapes(est.shape[:-1], ref.shape[:-1])[:-1] + (ii.numel(),)
    silent = (silent_ch[..., ii] | silent_ch[..., jj]).broadcast_to(shape)
    zero = (zero_ch[..., ii] | zero_ch[..., jj]).broadcast_to(shape) & ~silent
    if report is not None:
        report.add("silent_reference", silent.sum())
        report.add("zero_estimate", zero.sum())
    return est, ref, ii, jj, silent


def _nan_where(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, torch.full_like(values, float("nan")), values)


def ild(x: TensorLike, pairs: Sequence[tuple[int, int]] | None = None) -> torch.Tensor:
    """Broadband interchannel level difference ``10 log10(||x_i||²/||x_j||²)`` in dB.

    ``x`` is ``[..., C, T]``; returns ``[..., P]`` clamped to [-100, 100] dB (0 dB when
    both channels are all-zero).
    """
    x = as_tensor(x, "x").to(torch.float64)
    ii, jj = _pair_index(x.shape[-2], pairs, x.device)
    energy = (x * x).sum(-1)
    ei, ej = energy[..., ii], energy[..., jj]
    both_zero = (ei == 0) & (ej == 0)
    tiny = torch.finfo(torch.float64).tiny
    val = 10.0 * (torch.log10(ei.clamp_min(tiny)) - torch.log10(ej.clamp_min(tiny)))
    val = torch.where(both_zero, torch.zeros_like(val), val)
    return val.clamp(DB_FLOOR, DB_CEIL)


def delta_ild(
    est: TensorLike,
    ref: TensorLike,
    *,
    pairs: Sequence[tuple[int, int]] | None = None,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
) -> torch.Tensor:
    """ΔILD in dB per pair: ``|ILD_ij(est) - ILD_ij(ref)|``; ``[..., C, T]`` -> ``[..., P]``."""
    est, ref, _, _, silent = _prep(est, ref, report, length, pairs)
    return _nan_where((ild(est, pairs) - ild(ref, pairs)).abs(), silent)


def _cross_spectra(x: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """``X_i X_j*`` for each pair: ``[..., C, T]`` -> ``[..., P, F, frames]`` complex."""
    lead, (c, t) = x.shape[:-2], x.shape[-2:]
    spec = torch.stft(
        x.reshape(-1, t),
        n_fft=n_fft,
        hop_length=hop,
        window=torch.ones(n_fft, dtype=x.dtype, device=x.device),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    spec = spec.reshape(*lead, c, *spec.shape[-2:])
    return spec[..., ii, :, :] * spec[..., jj, :, :].conj()


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
    est, ref, ii, jj, silent = _prep(est, ref, report, length, pairs)
    c_est = _cross_spectra(est, ii, jj, n_fft, hop)
    c_ref = _cross_spectra(ref, ii, jj, n_fft, hop)
    err = torch.angle(c_est * c_ref.conj()).abs()  # angle() already wraps to [-π, π]
    out = err.mean(dim=(-2, -1)) if mask_db is None else _masked_ipd(err, c_ref, mask_db)
    return _nan_where(out, silent.broadcast_to(out.shape))


Method = Literal["fast", "reference"]


def _phat_spectrum(a: torch.Tensor, b: torch.Tensor, n: int, eps: float) -> torch.Tensor:
    """PHAT-weighted cross-spectrum ``R / (|R| + eps)``, ``R = A B*`` (``n``-point rfft), ``[..., n//2 + 1]``."""
    spec = torch.fft.rfft(a, n=n) * torch.fft.rfft(b, n=n).conj()
    return spec / (spec.abs() + eps)


def _peak_reference(spec: torch.Tensor, n: int, fs: float, max_tau: float, interp: int, refine: Refine) -> torch.Tensor:
    """GCC-PHAT peak lag in seconds from one ``n · interp``-point irfft of the whole correlation."""
    m = n * int(interp)
    cc = torch.fft.irfft(spec, n=m)  # cc[k] = Σ_t x_i(t + k) x_j(t), k modulo m
    k_max = min(int(round(fs * max_tau * interp)), m // 2 - 1)
    lags = torch.arange(-k_max, k_max + 1, device=spec.device)
    window = cc[..., lags % m]
    best = window.argmax(dim=-1)
    shift = lags[best].to(torch.float64)
    if refine == "parabolic":
        lag = lags[best]
        y0 = window.gather(-1, best.unsqueeze(-1)).squeeze(-1)
        ym = cc.gather(-1, ((lag - 1) % m).unsqueeze(-1)).squeeze(-1)
        yp = cc.gather(-1, ((lag + 1) % m).unsqueeze(-1)).squeeze(-1)
        shift = shift + _parabola(ym, y0, yp)
    return shift / (fs * interp)


def _parabola(ym: torch.Tensor, y0: torch.Tensor, yp: torch.Tensor) -> torch.Tensor:
    """Vertex offset in [-0.5, 0.5] of the parabola through ``(-1, ym), (0, y0), (1, yp)`` (0 unless concave)."""
    den = ym - 2.0 * y0 + yp
    delta = torch.where(den < 0, 0.5 * (ym - yp) / torch.where(den < 0, den, -torch.ones_like(den)), torch.zeros_like(den))
    return delta.clamp(-0.5, 0.5)


def _peak_fast(spec: torch.Tensor, n: int, fs: float, max_tau: float, interp: int, refine: Refine,
               chunk: int = 64, max_candidates: int = 6) -> torch.Tensor:
    """Same result as :func:`_peak_reference` for even ``interp`` without the ``n · interp``-point irfft.

    The ``interp``-times upsampled correlation is the trigonometric sum
    ``f(l) = (1/m) [Re R_0 + 2 Σ_{k=1}^{K} Re(R_k e^{2πi k l / m})]``, ``m = n · interp``,
    ``K = n // 2`` (every bin is a regular bin of the m-point inverse). It is evaluated
    exactly (one ``2n``-point irfft) on the half-sample grid; on each half-sample interval
    ``f`` exceeds the larger end value by at most ``M2 / 32`` with
    ``M2 = (2/m) Σ k² (2π/n)² |R_k|`` (bound on ``|f''|`` in samples⁻², linear-interpolation
    error ``M2 h² / 8``, ``h = 1/2`` sample). Only intervals whose bound reaches the best
    half-grid value can hold the fine maximum; their fine lags are evaluated directly as a
    small matrix product, all others are provably lower, so the argmax (first index on
    ties, as torch) and the parabola use the same values as the full upsampling. Rows with
    more than ``max_candidates`` intervals (weak, noise-like peaks) use
    :func:`_peak_reference`, so no row is slower than the full upsampling by more than the
    half-grid irfft.
    """
    lead = spec.shape[:-1]
    r = spec.reshape(-1, spec.shape[-1])
    s_count, nb = r.shape
    kk = nb - 1
    m = n * interp
    h = interp // 2  # fine lags per half-sample
    k_max = min(int(round(fs * max_tau * interp)), m // 2 - 1)
    coarse = torch.fft.irfft(r, n=2 * n) * (2.0 * n / m)  # f at fine lags j·h (j modulo 2n)
    j_lo, j_hi = -((k_max + h - 1) // h), (k_max + h - 1) // h  # half-grid points covering the window
    js = torch.arange(j_lo, j_hi + 1, device=r.device)
    fc = coarse[:, js % (2 * n)]  # [S, J]
    in_win = (js * h).abs() <= k_max
    v_low = fc[:, in_win].amax(dim=-1, keepdim=True)
    k = torch.arange(1, kk + 1, device=r.device, dtype=torch.float64)
    m2 = (2.0 / m) * ((2.0 * torch.pi * k / n) ** 2 * r[:, 1:].abs()).sum(-1, keepdim=True)
    upper = torch.maximum(fc[:, :-1], fc[:, 1:]) + m2 / 32.0
    tol = 1e-9 * (v_low.abs() + m2 + 1e-300)  # rounding margin: keep borderline intervals
    cand = upper >= v_low - tol  # [S, J-1], interval [js[i]·h, js[i+1]·h]
    # A weak (incoherent) peak leaves many candidates; evaluating each costs about a
    # (2 + h/8)/interp share of the full irfft, so such rows take the reference path.
    heavy = cand.sum(-1) > max_candidates
    cand &= ~heavy.unsqueeze(-1)
    s_idx, i_idx = cand.nonzero(as_tuple=True)
    starts = js[i_idx]  # half-grid start j of each candidate interval
    d = torch.arange(-1, h + 2, device=r.device)  # fine offsets incl. parabola neighbours
    ang_d = (2.0 * torch.pi / m) * torch.outer(k, d.to(torch.float64))
    w_re, w_im = torch.cos(ang_d), torch.sin(ang_d)  # [K, D]
    vals = torch.empty(s_idx.numel(), d.numel(), dtype=torch.float64, device=r.device)
    for c0 in range(0, s_idx.numel(), chunk):
        si, jj = s_idx[c0:c0 + chunk], starts[c0:c0 + chunk]
        # e^{2πi k j h / m} = e^{2πi (k j mod 2n) / 2n}: integer phase keeps it exact
        ph = (torch.outer(jj, k.to(torch.long)) % (2 * n)).to(torch.float64) * (torch.pi / n)
        y = r[si, 1:] * torch.polar(torch.ones_like(ph), ph)
        vals[c0:c0 + chunk] = (r[si, :1].real + 2.0 * (y.real @ w_re - y.imag @ w_im)) / m
    # scatter into a fine-lag buffer over [-k_max - 1, k_max + 1]; unevaluated lags stay -inf
    width = 2 * k_max + 3
    buf = torch.full((s_count, width), float("-inf"), dtype=torch.float64, device=r.device)
    lag = starts.unsqueeze(-1) * h + d  # [Cn, D]
    pos = lag + k_max + 1
    ok = (pos >= 0) & (pos < width)
    buf[s_idx.unsqueeze(-1).expand_as(lag)[ok], pos[ok]] = vals[ok]
    buf[heavy] = 0.0  # replaced below by the reference result
    window = buf[:, 1:-1]
    best = window.argmax(dim=-1)
    # A near-tie between separate lags (flat correlation: all-zero channel, impulses) is
    # decided by rounding in the full irfft; such rows take the reference path too.
    rows = torch.arange(s_count, device=r.device)
    top = window[rows, best]
    others = window.clone()
    for off in (-1, 0, 1):
        others[rows, (best + off).clamp(0, window.shape[-1] - 1)] = float("-inf")
    heavy = heavy | (others.amax(dim=-1) >= top - tol.squeeze(-1))
    shift = (best - k_max).to(torch.float64)
    if refine == "parabolic":
        shift = shift + _parabola(buf[rows, best], buf[rows, best + 1], buf[rows, best + 2])
    out = shift / (fs * interp)
    if bool(heavy.any()):
        out[heavy] = _peak_reference(r[heavy], n, fs, max_tau, interp, refine)
    return out.reshape(lead)


def _gcc_peak(spec: torch.Tensor, n: int, fs: float, max_tau: float, interp: int, refine: Refine,
              method: Method) -> torch.Tensor:
    if interp < 1 or int(interp) != interp:
        raise ValueError(f"interp must be a positive integer, got {interp}")
    if refine not in (None, "parabolic"):
        raise ValueError(f"refine must be None or 'parabolic', got {refine!r}")
    if method not in ("fast", "reference"):
        raise ValueError(f"method must be 'fast' or 'reference', got {method!r}")
    interp = int(interp)
    if method == "fast" and interp >= 2 and interp % 2 == 0 and spec.numel() > 0:
        return _peak_fast(spec, n, fs, max_tau, interp, refine)
    return _peak_reference(spec, n, fs, max_tau, interp, refine)


def _masked_ipd(err: torch.Tensor, c_ref: torch.Tensor, mask_db: float) -> torch.Tensor:
    """Mean of ``err`` over bins where ``|C_ij(ref)|`` is within ``mask_db`` dB of its clip maximum."""
    mag = c_ref.abs()
    peak = mag.amax(dim=(-2, -1), keepdim=True)
    mask = mag >= peak * 10.0 ** (-float(mask_db) / 10.0)
    mask = mask.broadcast_to(err.shape)
    return (err * mask).sum(dim=(-2, -1)) / mask.sum(dim=(-2, -1)).clamp_min(1)


def _pair_phat(x: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor, n: int, eps: float) -> torch.Tensor:
    """PHAT cross-spectra of every pair from one rfft per channel: ``[..., C, T]`` -> ``[..., P, n//2 + 1]``."""
    spec = torch.fft.rfft(x.to(torch.float64), n=n)
    cross = spec[..., ii, :] * spec[..., jj, :].conj()
    return cross / (cross.abs() + eps)


def gcc_phat(
    x_i: TensorLike,
    x_j: TensorLike,
    fs: float,
    max_tau: float = 1e-3,
    interp: int = 1,
    *,
    refine: Refine = None,
    eps: float = 1e-8,
    method: Method = "fast",
) -> torch.Tensor:
    """Time difference of arrival ``τ_ij`` in seconds by GCC-PHAT.

    Parameters
    ----------
    x_i, x_j : ``[..., T_i]`` and ``[..., T_j]`` signals (broadcastable leading axes).
    fs : sample rate in Hz.
    max_tau : search half-width in seconds (lags ``|k| <= round(fs · max_tau · interp)``).
    interp : upsampling factor of the correlation (1 = integer-sample resolution, the
        reference); larger values zero-pad the whitened spectrum.
    refine : ``"parabolic"`` to fit a parabola through the peak and its two neighbours
        (sub-sample), ``None`` for the plain argmax.
    eps : regulariser of the PHAT weighting ``R / (|R| + eps)``.
    method : ``"fast"`` (default) evaluates the upsampled correlation only where its
        maximum can be (:func:`_peak_fast`, even ``interp``); ``"reference"`` runs the full
        ``interp``-times zero-padded irfft. Both give the same lag.

    Returns
    -------
    ``[...]`` seconds, positive when ``x_i`` lags ``x_j`` (``x_i(t) = x_j(t - τ)``).
    """
    a = as_tensor(x_i, "x_i").to(torch.float64)
    b = as_tensor(x_j, "x_j").to(torch.float64).to(a.device)
    n = a.shape[-1] + b.shape[-1]
    return _gcc_peak(_phat_spectrum(a, b, n, eps), n, fs, max_tau, interp, refine, method)


def tdoa(
    x: TensorLike,
    fs: float,
    *,
    pairs: Sequence[tuple[int, int]] | None = None,
    max_tau: float = 1e-3,
    interp: int = 1,
    refine: Refine = None,
    eps: float = 1e-8,
    method: Method = "fast",
) -> torch.Tensor:
    """GCC-PHAT TDOA of every microphone pair: ``[..., C, T]`` -> ``[..., P]`` seconds (see :func:`gcc_phat`).

    One rfft per channel (not per pair), then the same PHAT spectrum as :func:`gcc_phat`.
    """
    x = as_tensor(x, "x").to(torch.float64)
    ii, jj = _pair_index(x.shape[-2], pairs, x.device)
    n = 2 * x.shape[-1]
    return _gcc_peak(_pair_phat(x, ii, jj, n, eps), n, fs, max_tau, interp, refine, method)


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
) -> torch.Tensor:
    """ΔITD in µs per pair: ``|τ_ij(est) - τ_ij(ref)|``; ``[..., C, T]`` -> ``[..., P]``.

    Defaults are the reference (integer-sample GCC-PHAT within ±1 ms); pass
    ``refine="parabolic"`` and/or ``interp > 1`` for the sub-sample variant.
    """
    est, ref, _, _, silent = _prep(est, ref, report, length, pairs)
    kw = dict(pairs=pairs, max_tau=max_tau, interp=interp, refine=refine, eps=eps, method=method)
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
) -> dict[str, object]:
    """All spatial-cue errors averaged over microphone pairs, with their parameters.

    ``est``, ``ref`` ``[..., C, T]``. Returns ``{"delta_ild_db", "delta_ipd_rad",
    "delta_ipd_masked_rad", "delta_itd_us", "delta_itd_subsample_us"}`` each ``[...]``
    (mean over pairs, silent pairs left out) and ``"parameters"``, a JSON-ready record of
    every setting used. Guard events are counted once (by the ΔILD pass).
    """
    # Validate once and share the STFT cross-spectra between the two ΔIPD variants and the
    # channel spectra between the two ΔITD variants (same numbers as the single-cue functions).
    est_t, ref_t, ii, jj, silent = _prep(est, ref, report, length, pairs)
    c_est = _cross_spectra(est_t, ii, jj, 256, 128)
    c_ref = _cross_spectra(ref_t, ii, jj, 256, 128)
    err = torch.angle(c_est * c_ref.conj()).abs()
    ipd = err.mean(dim=(-2, -1))
    ipd_masked = _masked_ipd(err, c_ref, mask_db)
    del c_est, c_ref, err
    n = 2 * ref_t.shape[-1]
    itd = []
    for interp, refine in ((1, None), (subsample_interp, subsample_refine)):
        tau = [_gcc_peak(_pair_phat(x, ii, jj, n, 1e-8), n, fs, 1e-3, interp, refine, "fast") for x in (est_t, ref_t)]
        itd.append((tau[0] - tau[1]).abs() * 1e6)
    ild_err = (ild(est_t, pairs) - ild(ref_t, pairs)).abs()

    def avg(v: torch.Tensor) -> torch.Tensor:
        return masked_mean(_nan_where(v, silent.broadcast_to(v.shape)), dim=-1)

    out: dict[str, object] = {
        "delta_ild_db": avg(ild_err),
        "delta_ipd_rad": avg(ipd),
        "delta_ipd_masked_rad": avg(ipd_masked),
        "delta_itd_us": avg(itd[0]),
        "delta_itd_subsample_us": avg(itd[1]),
    }
    params = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SPATIAL_DEFAULTS.items()}
    params["fs"] = fs
    params["pairs"] = [list(p) for p in (mic_pairs(as_tensor(ref, "ref").shape[-2]) if pairs is None else pairs)]
    params["ipd_masked"] = {**SPATIAL_DEFAULTS["ipd"], "mask": f"reference |C_ij| within {mask_db} dB of its maximum"}
    params["itd_subsample"] = {
        **SPATIAL_DEFAULTS["itd"],
        "resolution": f"interp={subsample_interp}, refine={subsample_refine}",
    }
    out["parameters"] = params
    return out
