"""Spatial-cue preservation errors over microphone pairs: ΔILD, ΔIPD and ΔITD (GCC-PHAT).

Definitions follow the SoundCompass authors' M2M-TSE evaluation (reference notes,
section 3), averaged over all microphone pairs ``i < j`` (6 for 4 microphones):

* ``ILD_ij(x) = 10 log10(||x_i||² / ||x_j||²)`` over the whole clip (dB);
  ``ΔILD = |ILD_ij(ŝ) - ILD_ij(s)|``.
* ``C_ij = X_i X_j*`` from an STFT (n_fft 256, hop 128, rectangular window, torch.stft
  framing with ``center=True`` and reflect padding, one-sided); ``ΔIPD`` is the mean over
  all time-frequency bins of ``|angle(C_ij(ŝ) C_ij(s)*)|`` in [0, π] rad (no mask, silent
  bins count; a bin where the product is exactly zero, e.g. digital silence in the
  reference, has no phase and counts as 0, where atan2 would return 0 or ±π by the signs
  of the zeros). The energy-masked variant averages only over bins where the reference's
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

Computation: both ΔITD variants come from one Bluestein chirp-z evaluation of the
upsampled correlation inside the search window (:func:`_correlation_window`; equal to the
full upsampled irfft to rounding, which ``method="reference"`` still runs). Float64 is the
default; ``precision=torch.float32`` runs the FFTs in float32 and recomputes in float64
every peak that is not clear of another lag by a rounding margin
(:func:`_float32_phat_bound`). On CPU, NumPy kernels replace torch's for the elementwise
work (:data:`NUMPY_KERNELS`). Measured speed: ``docs/metrics-speed.md``.

Guards: a pair with a silent reference channel is NaN for all cues (counted as
``silent_reference``, left out of averages). An all-zero estimate channel is counted as
``zero_estimate`` and scored by the definitions above: its level is clamped to ±100 dB
(0 dB ILD when both channels are zero), its cross-spectrum is 0 (angle 0) and its
GCC-PHAT correlation is 0 (the search returns the first lag, -``max_tau``), so the
values are finite but meaningless, and the count says so.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations
from typing import Literal, Sequence

import numpy as np
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
        "zero_bins": "a bin whose product C_ij(est) C_ij(ref)* is exactly 0 counts as error 0",
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


def _channel_energy(x: torch.Tensor) -> torch.Tensor:
    """``||x_c||²`` per channel in float64 without a float64 copy of ``x``: ``[..., C, T]`` -> ``[..., C]``."""
    return torch.linalg.vector_norm(x, dim=-1, dtype=torch.float64).square()


def _prep(
    est: TensorLike, ref: TensorLike, report: GuardReport | None, length: LengthPolicy, pairs,
    energies: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate and compute the channel energies and the silent-pair mask ``[..., P]`` (counted).

    Returns ``(est, ref, ii, jj, silent, energy_est, energy_ref)``; ``est`` and ``ref`` keep
    their dtype, the energies ``[..., C]`` are float64. A reference channel is silent when
    its mean power is at most ``SILENCE_POWER``; an estimate channel is all-zero when its
    energy is 0. ``energies`` passes ``(energy_est, energy_ref)`` already computed (e.g. the
    diagonal of :func:`~asabench.benchmark.metrics.separation.separation_family`'s Gram matrix).
    """
    est, ref, _ = check_pair(est, ref, report=report, length=length, nonfinite="raise", min_ndim=2)
    if est.shape[-2] != ref.shape[-2]:
        raise ValueError(f"est {tuple(est.shape)} and ref {tuple(ref.shape)}: channel counts differ")
    ii, jj = _pair_index(ref.shape[-2], pairs, ref.device)
    e_est, e_ref = energies if energies is not None else (_channel_energy(est), _channel_energy(ref))
    silent_ch = e_ref / ref.shape[-1] <= SILENCE_POWER
    zero_ch = e_est == 0
    shape = np.broadcast_shapes(tuple(est.shape[:-1]), tuple(ref.shape[:-1]))[:-1] + (ii.numel(),)
    silent = (silent_ch[..., ii] | silent_ch[..., jj]).broadcast_to(shape)
    zero = (zero_ch[..., ii] | zero_ch[..., jj]).broadcast_to(shape) & ~silent
    if report is not None:
        report.add("silent_reference", silent.sum())
        report.add("zero_estimate", zero.sum())
    return est, ref, ii, jj, silent, e_est, e_ref


def _nan_where(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, torch.full_like(values, float("nan")), values)


def _ild_from_energy(energy: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor) -> torch.Tensor:
    ei, ej = energy[..., ii], energy[..., jj]
    both_zero = (ei == 0) & (ej == 0)
    tiny = torch.finfo(torch.float64).tiny
    val = 10.0 * (torch.log10(ei.clamp_min(tiny)) - torch.log10(ej.clamp_min(tiny)))
    val = torch.where(both_zero, torch.zeros_like(val), val)
    return val.clamp(DB_FLOOR, DB_CEIL)


def ild(x: TensorLike, pairs: Sequence[tuple[int, int]] | None = None) -> torch.Tensor:
    """Broadband interchannel level difference ``10 log10(||x_i||²/||x_j||²)`` in dB.

    ``x`` is ``[..., C, T]``; returns ``[..., P]`` clamped to [-100, 100] dB (0 dB when
    both channels are all-zero). Energies in float64.
    """
    x = as_tensor(x, "x")
    ii, jj = _pair_index(x.shape[-2], pairs, x.device)
    return _ild_from_energy(_channel_energy(x), ii, jj)


def delta_ild(
    est: TensorLike,
    ref: TensorLike,
    *,
    pairs: Sequence[tuple[int, int]] | None = None,
    report: GuardReport | None = None,
    length: LengthPolicy = "error",
) -> torch.Tensor:
    """ΔILD in dB per pair: ``|ILD_ij(est) - ILD_ij(ref)|``; ``[..., C, T]`` -> ``[..., P]``."""
    _, _, ii, jj, silent, e_est, e_ref = _prep(est, ref, report, length, pairs)
    return _nan_where((_ild_from_energy(e_est, ii, jj) - _ild_from_energy(e_ref, ii, jj)).abs(), silent)


#: Use NumPy kernels for CPU tensors (|z|, angle, products, buffers): several times faster
#: than torch's here. The torch path (CUDA, autograd) computes the same values; tests turn
#: this off to run that path on CPU.
NUMPY_KERNELS: bool = True


def _numpy_ok(*tensors: torch.Tensor) -> bool:
    return NUMPY_KERNELS and all(t.device.type == "cpu" and not t.requires_grad for t in tensors)


def _stft(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Rectangular-window centre-framed STFT of ``[..., C, T]`` -> ``[..., C, frames, F]`` complex.

    The framing of ``torch.stft(center=True, pad_mode="reflect")`` with frames before
    frequencies (only reductions over both axes follow, and this order skips a transpose).
    On CPU the reflect padding is NumPy's and the frames are a strided view fed to one
    batched rfft: about 1.4x faster than torch.stft here, same values.
    """
    if _numpy_ok(x) and x.shape[-1] > n_fft // 2:
        half = n_fft // 2
        padded = np.pad(x.resolve_conj().numpy(), [(0, 0)] * (x.ndim - 1) + [(half, half)], mode="reflect")
        return torch.fft.rfft(torch.from_numpy(padded).unfold(-1, n_fft, hop), dim=-1)
    lead, t = x.shape[:-1], x.shape[-1]
    spec = torch.stft(
        x.reshape(-1, t),
        n_fft=n_fft,
        hop_length=hop,
        window=torch.ones(n_fft, dtype=x.dtype, device=x.device),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    return spec.reshape(*lead, *spec.shape[-2:]).transpose(-1, -2)


def _ipd_errors(est: torch.Tensor, ref: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor, n_fft: int, hop: int,
                mask_db: float | None, stft: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean wrapped IPD error per pair over all bins and (``mask_db`` given) over the masked bins, ``[..., P]``.

    ``angle(C_ij(est) C_ij(ref)*)`` equals ``wrap(θ_i - θ_j)`` with ``θ_c = angle(X_c(est) X_c(ref)*)``
    (the same product, regrouped), so one angle per channel and real differences per pair
    replace 3P complex products and P angles; the mask uses ``|C_ij(ref)| = |X_i(ref)| |X_j(ref)|``.
    ``stft`` optionally gives both STFTs stacked ``[2, ..., C, F, frames]`` (one batched call).
    """
    x_est, x_ref = (stft[0], stft[1]) if stft is not None else (_stft(est, n_fft, hop), _stft(ref, n_fft, hop))
    d = _times_conj(x_est, x_ref)
    theta = _abs_angle(d, signed=True)  # [..., C, F, N]
    # A zero product has no phase: atan2 would give 0 or ±π by the signs of its zeros
    # (digital silence in a reference makes such bins common), so those bins count as 0.
    zero = d == 0
    lead = np.broadcast_shapes(tuple(x_est.shape), tuple(x_ref.shape))[:-3]
    mag = _magnitude(x_ref) if mask_db is not None else None
    if _numpy_ok(theta):
        return _pair_ipd_cpu(theta.numpy(), zero.numpy(), None if mag is None else mag.numpy(), ii, jj, mask_db,
                             tuple(lead))
    sums = torch.empty(*lead, ii.numel(), dtype=torch.float64, device=theta.device)
    masked = torch.empty_like(sums) if mask_db is not None else None
    for p, (i, j) in enumerate(zip(ii.tolist(), jj.tolist())):
        err = (theta[..., i, :, :] - theta[..., j, :, :]).abs_()
        err = torch.minimum(err, 2.0 * math.pi - err)  # |wrap(·)| in [0, π]
        err.masked_fill_(zero[..., i, :, :] | zero[..., j, :, :], 0.0)
        sums[..., p] = err.mean(dim=(-2, -1)).to(torch.float64)
        if mag is not None:
            pair_mag = mag[..., i, :, :] * mag[..., j, :, :]
            peak = pair_mag.amax(dim=(-2, -1), keepdim=True)
            mask = (pair_mag >= peak * 10.0 ** (-float(mask_db) / 10.0)).broadcast_to(err.shape)
            total = torch.where(mask, err, torch.zeros_like(err)).sum(dim=(-2, -1), dtype=torch.float64)
            masked[..., p] = total / mask.sum(dim=(-2, -1)).clamp_min(1)
    return sums, masked


def _pair_ipd_cpu(theta: np.ndarray, zero: np.ndarray, mag: np.ndarray | None, ii: torch.Tensor, jj: torch.Tensor,
                  mask_db: float | None, lead: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The per-pair loop of :func:`_ipd_errors` in NumPy with reused buffers (same values; CPU)."""
    theta = np.broadcast_to(theta, (*lead, *theta.shape[-3:]))
    zero = np.broadcast_to(zero, theta.shape)
    if mag is not None:
        mag = np.broadcast_to(mag, theta.shape)
    n_bins = theta.shape[-2] * theta.shape[-1]
    sums = np.empty((*lead, ii.numel()), np.float64)
    masked = np.empty_like(sums) if mag is not None else None
    err = np.empty(theta.shape[:-3] + theta.shape[-2:], theta.dtype)
    other = np.empty_like(err)
    flags = np.empty(err.shape, bool)
    for p, (i, j) in enumerate(zip(ii.tolist(), jj.tolist())):
        np.subtract(theta[..., i, :, :], theta[..., j, :, :], out=err)
        np.abs(err, out=err)
        np.subtract(2.0 * math.pi, err, out=other)
        np.minimum(err, other, out=err)  # |wrap(·)| in [0, π]
        np.logical_or(zero[..., i, :, :], zero[..., j, :, :], out=flags)
        np.copyto(err, 0.0, where=flags)
        sums[..., p] = err.sum(axis=(-2, -1), dtype=np.float64) / n_bins
        if mag is not None:
            np.multiply(mag[..., i, :, :], mag[..., j, :, :], out=other)  # |C_ij(ref)|
            peak = other.max(axis=(-2, -1), keepdims=True)
            np.greater_equal(other, peak * 10.0 ** (-float(mask_db) / 10.0), out=flags)
            np.multiply(err, flags, out=other)  # (a sum with where= is ~10x slower here)
            total = other.sum(axis=(-2, -1), dtype=np.float64)
            masked[..., p] = total / np.maximum(np.count_nonzero(flags, axis=(-2, -1)), 1)
    return torch.from_numpy(sums), (torch.from_numpy(masked) if masked is not None else None)


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


Method = Literal["fast", "reference"]


def _magnitude(z: torch.Tensor) -> torch.Tensor:
    """``|z|`` of a complex tensor (NumPy's vectorised kernel on CPU: several times faster than torch's here)."""
    if _numpy_ok(z):
        return torch.from_numpy(np.abs(z.resolve_conj().numpy()))
    return z.abs()


def _abs_angle(z: torch.Tensor, signed: bool = False) -> torch.Tensor:
    """``|angle(z)|`` in [0, π] (``angle(z)`` in [-π, π] when ``signed``); NumPy on CPU, as :func:`_magnitude`."""
    if _numpy_ok(z):
        a = np.angle(z.resolve_conj().numpy())
        return torch.from_numpy(a if signed else np.abs(a, out=a))
    return torch.angle(z) if signed else torch.angle(z).abs()


def _times_conj(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a · conj(b)`` (broadcasting)."""
    if _numpy_ok(a, b):
        return torch.from_numpy(a.resolve_conj().numpy() * np.conj(b.resolve_conj().numpy()))
    return a * b.conj()


def _pair_products_np(a: np.ndarray, ii: torch.Tensor, jj: torch.Tensor, axis: int, out: np.ndarray) -> np.ndarray:
    """``X_i X_j*`` of every pair along channel axis ``axis`` (negative) of ``a`` into ``out`` (pair axis in its place).

    One conjugate per channel and one product per pair written in place: no gathered copies.
    """
    conj = np.conj(a)
    tail = (slice(None),) * (-axis - 1)
    for p, (i, j) in enumerate(zip(ii.tolist(), jj.tolist())):
        np.multiply(a[(Ellipsis, i) + tail], conj[(Ellipsis, j) + tail], out=out[(Ellipsis, p) + tail])
    return out


def _pair_products(spec: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor, axis: int) -> torch.Tensor:
    """``X_i X_j*`` of every pair along channel axis ``axis`` (negative) of ``spec``, pair axis in its place."""
    if _numpy_ok(spec):
        a = spec.resolve_conj().numpy()
        shape = list(a.shape)
        shape[a.ndim + axis] = ii.numel()
        return torch.from_numpy(_pair_products_np(a, ii, jj, axis, np.empty(shape, dtype=a.dtype)))
    return spec.index_select(spec.ndim + axis, ii) * spec.index_select(spec.ndim + axis, jj).conj()


def _phat_inplace(a: np.ndarray, eps: float) -> np.ndarray:
    """``a <- a / (|a| + eps)`` as a real multiplication by ``1 / (|a| + eps)`` (any strides)."""
    inv = np.abs(a)
    inv += eps
    np.reciprocal(inv, out=inv)
    a *= inv
    return a


def _phat_normalise(cross: torch.Tensor, eps: float) -> torch.Tensor:
    """PHAT weighting ``R / (|R| + eps)`` (in place on CPU, :func:`_phat_inplace`)."""
    if _numpy_ok(cross):
        return torch.from_numpy(_phat_inplace(cross.resolve_conj().numpy(), eps))
    return cross * (1.0 / (cross.abs() + eps))


def _phat_spectrum(a: torch.Tensor, b: torch.Tensor, n: int, eps: float) -> torch.Tensor:
    """PHAT-weighted cross-spectrum ``R / (|R| + eps)``, ``R = A B*`` (``n``-point rfft), ``[..., n//2 + 1]``."""
    return _phat_normalise(_times_conj(torch.fft.rfft(a, n=n), torch.fft.rfft(b, n=n)), eps)


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


def _trig_weights(nb: int, n: int, interp: int) -> torch.Tensor:
    """``w [nb]`` such that the ``n · interp``-point irfft of ``R`` is ``Re Σ_k w_k R_k e^{2πi k l / (n · interp)} / (n · interp)``.

    ``w_0 = 1`` and ``w_k = 2`` for every other bin, except the Nyquist bin of an even
    ``n`` when ``interp == 1`` (weight 1: it is the Nyquist bin of the inverse too). irfft
    ignores the imaginary parts of its DC and Nyquist bins; taking the real part of the
    whole sum does the same for them.
    """
    w = torch.full((nb,), 2.0, dtype=torch.float64)
    w[0] = 1.0
    if interp == 1 and n % 2 == 0 and nb == n // 2 + 1:
        w[-1] = 1.0
    return w


@lru_cache(maxsize=16)
def _czt_plan(nb: int, n: int, interp: int, j0: int, count: int, dtype: torch.dtype,
              device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Chirps of the Bluestein evaluation of ``Re Σ_{k<nb} w_k R_k e^{2πi k j / m}``, ``j = j0 .. j0 + count - 1``, ``m = n · interp``.

    ``k j = (k² + j'² - (j' - k)²) / 2 + k j0`` with ``j' = j - j0``, so the sum is a chirp
    times the linear convolution of ``w_k R_k e^{iπ (k² + 2 k j0) / m}`` with ``e^{-iπ d² / m}``
    (one FFT pair of length ``L >= nb + count - 1``). Every phase is reduced modulo ``2m``
    in integers first, so it is exact before the one rounding of cos/sin; the weights
    :func:`_trig_weights` are folded into the first chirp.
    """
    m = n * interp
    size = nb + count - 1
    length = 1 << (size - 1).bit_length()  # power of two: the fastest FFT length here
    k = torch.arange(nb, dtype=torch.int64)
    pre = torch.polar(_trig_weights(nb, n, interp), ((k * k + 2 * k * j0) % (2 * m)).to(torch.float64) * (math.pi / m))
    d = torch.arange(-(nb - 1), count, dtype=torch.int64)
    kernel = torch.zeros(length, dtype=torch.complex128)
    kernel[d % length] = torch.polar(torch.ones(d.numel(), dtype=torch.float64),
                                     -((d * d) % (2 * m)).to(torch.float64) * (math.pi / m))
    jj = torch.arange(count, dtype=torch.int64)
    post = torch.polar(torch.ones(count, dtype=torch.float64), ((jj * jj) % (2 * m)).to(torch.float64) * (math.pi / m))
    cdt = torch.complex64 if dtype in (torch.float32, torch.complex64) else torch.complex128
    return (pre.to(cdt).to(device), torch.fft.fft(kernel).to(cdt).to(device), post.to(cdt).to(device), length)


def _correlation_window(spec: torch.Tensor, n: int, interp: int, j0: int, count: int) -> torch.Tensor:
    """The ``interp``-times upsampled GCC correlation (unnormalised: ``n · interp`` times the irfft) at fine lags ``j0 .. j0 + count - 1``, ``[..., count]``.

    ``spec`` ``[..., n//2 + 1]`` is the (PHAT) cross-spectrum. Bluestein chirp-z: one FFT
    pair of length about ``n / 2 + count`` per row, against the ``n · interp``-point irfft
    of the whole upsampled correlation.
    """
    pre, kernel, post, length = _czt_plan(spec.shape[-1], n, interp, j0, count, spec.dtype, spec.device)
    if _numpy_ok(spec):
        a = spec.resolve_conj().numpy()
        buf = np.empty((*a.shape[:-1], length), dtype=a.dtype)
        buf[..., a.shape[-1]:] = 0
        np.multiply(a, pre.numpy(), out=buf[..., :a.shape[-1]])
        return _chirp_z_finish(buf, kernel, post, count)
    conv = torch.fft.ifft(torch.fft.fft(spec * pre, n=length) * kernel)
    return (conv[..., :count] * post).real


def _chirp_z_finish(buf: np.ndarray, kernel: torch.Tensor, post: torch.Tensor, count: int) -> torch.Tensor:
    """Convolution and output chirp of the chirp-z transform of the pre-chirped, zero-padded rows ``buf`` (CPU)."""
    f = torch.fft.fft(torch.from_numpy(buf)).numpy()
    f *= kernel.numpy()
    conv = torch.fft.ifft(torch.from_numpy(f)).numpy()[..., :count]
    return torch.from_numpy((conv * post.numpy()).real.copy())


def _pair_windows_cpu(spec: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor, n: int, interp: int, j0: int,
                      count: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``_correlation_window(_pair_phat(...))`` for CPU channel spectra without the intermediate arrays.

    Every pair product is written straight into the zero-padded chirp-z buffer, PHAT-weighted
    and pre-chirped there: the same operations in the same order (identical values), but
    three fewer passes over ``[R, n//2 + 1]`` complex arrays, which bound the time here.
    ``spec [..., C, nb]`` -> ``(values [R, count], Re R_{n/2} [R])``, rows ordered
    (leading index, pair) like ``_pair_phat(...).reshape(-1, nb)``.
    """
    a = spec.resolve_conj().numpy()
    c, nb = a.shape[-2:]
    a = a.reshape(-1, c, nb)
    pre, kernel, post, length = _czt_plan(nb, n, interp, j0, count, spec.dtype, spec.device)
    buf = np.empty((a.shape[0], ii.numel(), length), dtype=a.dtype)
    buf[..., nb:] = 0
    view = _phat_inplace(_pair_products_np(a, ii, jj, -2, buf[..., :nb]), eps)
    nyquist = torch.from_numpy(view[..., -1].real.reshape(-1).copy())
    view *= pre.numpy()
    return _chirp_z_finish(buf.reshape(-1, length), kernel, post, count), nyquist


def _window_argmax(vals: torch.Tensor, tol: torch.Tensor, adjacent_ok: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax over the last axis (first on ties, as torch) and the rows whose maximum is not certain.

    A row is uncertain when another column is within ``tol`` of the maximum (for
    ``adjacent_ok`` not counting the two direct neighbours, whose near-tie only moves a
    parabola vertex continuously).
    """
    sub = vals
    best = sub.argmax(dim=-1)
    top = sub.gather(-1, best.unsqueeze(-1))
    close = sub >= top - tol.unsqueeze(-1)
    idx = torch.arange(sub.shape[-1], device=sub.device)
    dist = (idx - best.unsqueeze(-1)).abs()
    close &= dist > (1 if adjacent_ok else 0)
    return best, close.any(dim=-1)


def _window_geometry(n: int, fs: float, max_tau: float, interp: int, want_integer: bool) -> tuple[int, int, int]:
    """``(half, k_sub, k_int)``: the chirp-z window spans fine lags ``-half .. half``; the
    searches cover ``|j| <= k_sub`` fine lags and ``|l| <= k_int`` integer lags (as the reference)."""
    m = n * interp
    k_sub = min(int(round(fs * max_tau * interp)), m // 2 - 1)
    k_int = min(int(round(fs * max_tau)), n // 2 - 1) if want_integer else 0
    return max(k_sub + 1, interp * k_int), k_sub, k_int


def _peaks_from_window(vals: torch.Tensor, nyquist: torch.Tensor, n: int, fs: float, max_tau: float,
                       interp: int, refine: Refine, want_integer: bool,
                       tol: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Sub-sample (and integer) GCC-PHAT peaks from the chirp-z window ``vals [R, 2 half + 1]``.

    ``nyquist [R]`` is ``Re R_{n/2}`` (the integer correlation counts that bin once, the
    upsampled one twice). Returns ``(tau_sub, tau_int or None, uncertain)`` in seconds;
    ``uncertain`` marks rows where a value within ``tol`` of the maximum at a separate lag
    makes the argmax depend on rounding (the caller recomputes those rows).
    """
    half, k_sub, k_int = _window_geometry(n, fs, max_tau, interp, want_integer)
    lo = half - k_sub
    win = vals[..., lo:lo + 2 * k_sub + 1]
    best, uncertain = _window_argmax(win, tol, adjacent_ok=refine == "parabolic")
    shift = (best - k_sub).to(torch.float64)
    if refine == "parabolic":
        pos = (best + lo).unsqueeze(-1)
        ym, y0, yp = (vals.gather(-1, pos + o).squeeze(-1) for o in (-1, 0, 1))
        shift = shift + _parabola(ym.double(), y0.double(), yp.double())
    tau_sub = shift / (fs * interp)
    tau_int = None
    if want_integer:
        ints = vals[..., half - interp * k_int::interp][..., :2 * k_int + 1]
        if interp > 1 and n % 2 == 0:
            lags = torch.arange(-k_int, k_int + 1, device=vals.device)
            sign = 1.0 - 2.0 * (lags % 2).to(ints.dtype)
            ints = ints - nyquist.to(ints.dtype).unsqueeze(-1) * sign
        best_i, unc_i = _window_argmax(ints, tol, adjacent_ok=False)
        uncertain = uncertain | unc_i
        tau_int = (best_i - k_int).to(torch.float64) / fs
    return tau_sub, tau_int, uncertain


def _window_tolerance(dtype: torch.dtype, nb: int, device: torch.device) -> torch.Tensor:
    """Bound on the rounding error of a window value: ``c eps Σ_k w_k |R_k|`` (``c`` = 64 covers
    the FFTs' log growth; PHAT spectra have ``|R_k| <= 1``, so ``2 nb`` bounds the sum)."""
    real = torch.float32 if dtype in (torch.complex64, torch.float32) else torch.float64
    return torch.tensor(64.0 * torch.finfo(real).eps * 2.0 * nb, device=device)


def _exact_rows_fn(x, ii: torch.Tensor, jj: torch.Tensor, n: int, eps: float):
    """Closure giving float64 PHAT spectra of flat rows (leading index x pair) of ``x [..., C, T]``.

    ``x`` may instead be a callable ``(lead [k], channel [k]) -> [k, T]`` giving single
    channels by flat leading index, so that only the channels of rows that need it are
    ever converted to float64.
    """
    n_pairs = ii.numel()

    def rows(idx: torch.Tensor) -> torch.Tensor:
        lead, pair = idx // n_pairs, idx % n_pairs
        # each channel once, whatever the number of its rows: one batched float64 rfft
        n_ch = int(max(int(ii.max()), int(jj.max()))) + 1
        keys = torch.cat([lead * n_ch + ii[pair], lead * n_ch + jj[pair]])
        uniq, where = torch.unique(keys, return_inverse=True)
        if callable(x):
            signals = x(uniq // n_ch, uniq % n_ch)
        else:
            signals = x.reshape(-1, *x.shape[-2:])[uniq // n_ch, uniq % n_ch]
        spec = torch.fft.rfft(signals.to(torch.float64), n=n)
        return _phat_normalise(_times_conj(spec[where[:idx.numel()]], spec[where[idx.numel():]]), eps)

    return rows


def _check_peak_args(interp: int, refine: Refine, method: Method) -> int:
    if interp < 1 or int(interp) != interp:
        raise ValueError(f"interp must be a positive integer, got {interp}")
    if refine not in (None, "parabolic"):
        raise ValueError(f"refine must be None or 'parabolic', got {refine!r}")
    if method not in ("fast", "reference"):
        raise ValueError(f"method must be 'fast' or 'reference', got {method!r}")
    return int(interp)


def _use_window(n: int, nb: int, fs: float, max_tau: float, interp: int, method: Method,
                want_integer: bool) -> bool:
    """Whether the chirp-z window path applies (else the full-upsampling reference runs)."""
    half = _window_geometry(n, fs, max_tau, interp, want_integer)[0]
    return method == "fast" and interp > 1 and nb == n // 2 + 1 and 2 * half + 1 <= n * interp


def _gcc_peaks(spec: torch.Tensor | None, n: int, fs: float, max_tau: float, interp: int, refine: Refine,
               method: Method, *, want_integer: bool = False, exact_rows=None,
               window: tuple[torch.Tensor, torch.Tensor] | None = None,
               lead: tuple[int, ...] | None = None,
               extra_tol: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """GCC-PHAT peak lags (seconds) of PHAT spectra ``[..., n//2 + 1]``: ``(tau, tau_integer or None)``.

    ``tau`` uses ``interp`` and ``refine``; ``tau_integer`` (when ``want_integer``) is the
    reference integer-sample search. ``method="fast"`` with ``interp >= 2`` evaluates the
    upsampled correlation only inside the search window (:func:`_correlation_window`,
    both variants from one chirp-z transform; or ``window = (values [R, W], Re R_{n/2} [R])``
    computed by the caller, with ``lead`` the shape of the rows); a row whose maximum is
    within rounding of a value at a separate lag is recomputed in float64
    (``exact_rows(flat_index)`` gives its float64 spectrum; needed when ``spec`` is
    complex64 or absent) and, if still that close, by the full-upsampling reference. For a
    float64 ``spec`` every lag thus equals the reference's. ``extra_tol [...]`` widens the
    margin per row (the float32 path's statistical margin for how far its spectrum can be
    from the float64 one, :func:`_float32_phat_bound`).
    """
    interp = _check_peak_args(interp, refine, method)
    if spec is not None:
        lead = tuple(spec.shape[:-1])
        r = spec.reshape(-1, spec.shape[-1])
        nb, dtype, device, rows = r.shape[-1], r.dtype, r.device, r.shape[0]
    else:
        assert window is not None and lead is not None and exact_rows is not None
        r = None
        nb, dtype, device, rows = n // 2 + 1, window[0].dtype, window[0].device, window[0].shape[0]
    if not _use_window(n, nb, fs, max_tau, interp, method, want_integer) or rows == 0:
        r64 = r if r is not None and (r.dtype == torch.complex128 or exact_rows is None) \
            else exact_rows(torch.arange(rows, device=device))
        tau = _peak_reference(r64, n, fs, max_tau, interp, refine)
        tau_int = _peak_reference(r64, n, fs, max_tau, 1, None) if want_integer else None
        return tau.reshape(lead), (tau_int.reshape(lead) if tau_int is not None else None)
    half = _window_geometry(n, fs, max_tau, interp, want_integer)[0]
    if window is None:
        window = (_correlation_window(r, n, interp, -half, 2 * half + 1), r[:, -1].real)
    tol = _window_tolerance(dtype, nb, device)
    if extra_tol is not None:
        tol = tol + extra_tol.reshape(-1).to(tol.dtype)
    tau, tau_int, unc = _peaks_from_window(*window, n, fs, max_tau, interp, refine, want_integer, tol)
    if bool(unc.any()):
        idx = unc.nonzero().squeeze(-1)
        r64 = r[idx] if r is not None and (r.dtype == torch.complex128 or exact_rows is None) else exact_rows(idx)
        if r64.dtype != dtype:
            vals64 = _correlation_window(r64, n, interp, -half, 2 * half + 1)
            t2, i2, unc2 = _peaks_from_window(vals64, r64[:, -1].real, n, fs, max_tau, interp, refine,
                                              want_integer, _window_tolerance(r64.dtype, nb, device))
        else:
            t2, i2 = tau[idx], (tau_int[idx] if tau_int is not None else None)
            unc2 = torch.ones_like(idx, dtype=torch.bool)
        if bool(unc2.any()):
            sub = unc2.nonzero().squeeze(-1)
            t2 = t2.clone()
            t2[sub] = _peak_reference(r64[sub], n, fs, max_tau, interp, refine)
            if i2 is not None:
                i2 = i2.clone()
                i2[sub] = _peak_reference(r64[sub], n, fs, max_tau, 1, None)
        tau = tau.clone()
        tau[idx] = t2
        if tau_int is not None:
            tau_int = tau_int.clone()
            tau_int[idx] = i2
    return tau.reshape(lead), (tau_int.reshape(lead) if tau_int is not None else None)


def _gcc_peak(spec: torch.Tensor, n: int, fs: float, max_tau: float, interp: int, refine: Refine,
              method: Method, exact_rows=None) -> torch.Tensor:
    return _gcc_peaks(spec, n, fs, max_tau, interp, refine, method, exact_rows=exact_rows)[0]


def _pair_phat(x: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor, n: int, eps: float,
               spec: torch.Tensor | None = None) -> torch.Tensor:
    """PHAT cross-spectra of every pair from one rfft per channel: ``[..., C, T]`` -> ``[..., P, n//2 + 1]``.

    Computed in ``x``'s dtype (float64 is the reference; float32 is the fast scoring path);
    ``spec`` is ``rfft(x, n)`` when the caller has it.
    """
    if spec is None:
        spec = torch.fft.rfft(x, n=n)
    return _phat_normalise(_pair_products(spec, ii, jj, -2), eps)


#: Per-bin factor of the float32 spectrum error margin over the usual rms rounding growth.
F32_BOUND_FACTOR: float = 8.0
#: Standard deviations of the float32 window-value margin (:func:`_float32_phat_bound`).
F32_BOUND_SIGMAS: float = 6.0


def _float32_phat_bound(x: torch.Tensor, spec: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor,
                        n: int, norms: torch.Tensor | None = None) -> torch.Tensor:
    """Margin for how far a float32 pair's GCC window can be from the float64 one, ``[..., P]`` (window units).

    A float32 channel spectrum differs from the float64 one by input and FFT rounding,
    about ``δ_c = F · eps · log2(n) · ||x_c||`` per bin (``F`` = :data:`F32_BOUND_FACTOR`
    times the usual rms growth). A bin's PHAT value then moves by at most
    ``2 (a_i + a_j)``, ``a_c = min(1, δ_c/|X_c,k|)``: quiet bins (filter stop-bands,
    near-silence), whose phase float32 cannot resolve, move the most. A window value is
    ``Σ_k w_k`` of these with unrelated phases, so its deviation is bounded in quadrature:
    ``K · 4 sqrt(2 (Q_i + Q_j))`` with ``Q_c = Σ_k a_c,k²`` and ``K`` =
    :data:`F32_BOUND_SIGMAS` standard deviations. This is a statistical margin, not a
    worst case: on rendered ASA2 references the largest deviation seen was under 1 % of it.
    Pairs whose peak is not clear by this margin are recomputed in float64.
    """
    eps32 = torch.finfo(torch.float32).eps
    norm = torch.linalg.vector_norm(x, dim=-1, dtype=torch.float64) if norms is None else norms  # [..., C]
    delta = (F32_BOUND_FACTOR * eps32 * math.log2(n)) * norm
    if _numpy_ok(spec):
        share = np.abs(spec.resolve_conj().numpy())  # float32 is plenty for a margin
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(delta.to(torch.float32).numpy()[..., None], share, out=share)  # a zero bin: inf
        np.minimum(share, 1.0, out=share)
        np.square(share, out=share)
        q = torch.from_numpy(share.sum(axis=-1, dtype=np.float64))
    else:
        q = (delta.unsqueeze(-1) / spec.abs().to(torch.float64)).clamp_(max=1.0).square_().sum(dim=-1)
    # an all-zero channel (0/0 above) has exact zero PHAT values in float32 too
    q = torch.where(delta == 0, torch.zeros_like(q), q)
    return (F32_BOUND_SIGMAS * 4.0 * math.sqrt(2.0)) * (q[..., ii] + q[..., jj]).sqrt()


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
    method : ``"fast"`` (default) evaluates the upsampled correlation only inside the
        search window by a chirp-z transform (:func:`_gcc_peaks`); ``"reference"`` runs
        the full ``interp``-times zero-padded irfft. Both give the same lag.

    Returns
    -------
    ``[...]`` seconds, positive when ``x_i`` lags ``x_j`` (``x_i(t) = x_j(t - τ)``).
    """
    a = as_tensor(x_i, "x_i").to(torch.float64)
    b = as_tensor(x_j, "x_j").to(torch.float64).to(a.device)
    n = a.shape[-1] + b.shape[-1]
    return _gcc_peak(_phat_spectrum(a, b, n, eps), n, fs, max_tau, interp, refine, method)


def _tdoa_variants(x, ii: torch.Tensor, jj: torch.Tensor, fs: float, max_tau: float, interp: int,
                   refine: Refine, eps: float, method: Method, precision: torch.dtype,
                   want_integer: bool, xp: torch.Tensor | None = None,
                   norms: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """TDOA of every pair of ``x [..., C, T]`` (float64): ``(tau [..., P], integer-sample tau or None)``.

    ``xp`` is ``x`` cast to ``precision``; when given, ``x`` may be a callable
    ``(lead, channel) -> [k, T]`` that gives single float64 channels only when a row needs
    its exact recomputation (:func:`_exact_rows_fn`). ``norms [..., C]`` are the channels'
    2-norms when the caller has them (for the float32 margin).
    """
    if precision not in (torch.float32, torch.float64):
        raise ValueError(f"precision must be torch.float32 or torch.float64, got {precision}")
    interp = _check_peak_args(interp, refine, method)
    if xp is None:
        xp = x.to(precision)
    n = 2 * xp.shape[-1]
    exact = _exact_rows_fn(x, ii, jj, n, eps)
    # one batched FFT call over all rows: per-call set-up dominates small batches on CPU
    spec = torch.fft.rfft(xp, n=n)
    extra = _float32_phat_bound(xp, spec, ii, jj, n, norms) if precision != torch.float64 else None
    if _numpy_ok(xp) and _use_window(n, n // 2 + 1, fs, max_tau, interp, method, want_integer):
        half = _window_geometry(n, fs, max_tau, interp, want_integer)[0]
        window = _pair_windows_cpu(spec, ii, jj, n, interp, -half, 2 * half + 1, eps)
        return _gcc_peaks(None, n, fs, max_tau, interp, refine, method, want_integer=want_integer,
                          exact_rows=exact, window=window, lead=(*xp.shape[:-2], ii.numel()), extra_tol=extra)
    pairs = _pair_phat(xp, ii, jj, n, eps, spec=spec)
    return _gcc_peaks(pairs, n, fs, max_tau, interp, refine, method, want_integer=want_integer,
                      exact_rows=exact if precision != torch.float64 else None, extra_tol=extra)


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
    precision: torch.dtype = torch.float64,
) -> torch.Tensor:
    """GCC-PHAT TDOA of every microphone pair: ``[..., C, T]`` -> ``[..., P]`` seconds (see :func:`gcc_phat`).

    One rfft per channel (not per pair), then the same PHAT spectrum as :func:`gcc_phat`.
    ``precision=torch.float32`` runs the FFTs in float32 (about 2x faster on CPU end to end) and
    recomputes in float64 every pair whose peak is within a rounding margin of another lag
    (:func:`_float32_phat_bound`, a 6-sigma statistical margin), so the lags equal the
    float64 ones unless rounding exceeds it; a parabola vertex moves by rounding.
    """
    x = as_tensor(x, "x").to(torch.float64)
    ii, jj = _pair_index(x.shape[-2], pairs, x.device)
    return _tdoa_variants(x, ii, jj, fs, max_tau, interp, refine, eps, method, precision, False)[0]


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
) -> torch.Tensor:
    """ΔITD in µs per pair: ``|τ_ij(est) - τ_ij(ref)|``; ``[..., C, T]`` -> ``[..., P]``.

    Defaults are the reference (integer-sample GCC-PHAT within ±1 ms); pass
    ``refine="parabolic"`` and/or ``interp > 1`` for the sub-sample variant.
    """
    est, ref, _, _, silent, _, _ = _prep(est, ref, report, length, pairs)
    kw = dict(pairs=pairs, max_tau=max_tau, interp=interp, refine=refine, eps=eps, method=method,
              precision=precision)
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
    """
    # Validate once and share the STFT cross-spectra between the two ΔIPD variants and one
    # chirp-z window between the two ΔITD variants (same numbers as the single-cue functions).
    est_t, ref_t, ii, jj, silent, e_est, e_ref = _prep(est, ref, report, length, pairs, energies)
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
                                  norms=norms)
    itd_int = (tau_int[0] - tau_int[1]).abs() * 1e6
    itd_sub = (tau[0] - tau[1]).abs() * 1e6
    ild_err = (_ild_from_energy(e_est, ii, jj) - _ild_from_energy(e_ref, ii, jj)).abs()

    def avg(v: torch.Tensor) -> torch.Tensor:
        return masked_mean(_nan_where(v, silent.broadcast_to(v.shape)), dim=-1)

    out: dict[str, object] = {
        "delta_ild_db": avg(ild_err),
        "delta_ipd_rad": avg(ipd),
        "delta_ipd_masked_rad": avg(ipd_masked),
        "delta_itd_us": avg(itd_int),
        "delta_itd_subsample_us": avg(itd_sub),
    }
    params = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SPATIAL_DEFAULTS.items()}
    params["fs"] = fs
    params["pairs"] = [list(p) for p in (mic_pairs(as_tensor(ref, "ref").shape[-2]) if pairs is None else pairs)]
    params["ipd_masked"] = {**SPATIAL_DEFAULTS["ipd"], "mask": f"reference |C_ij| within {mask_db} dB of its maximum"}
    params["itd_subsample"] = {
        **SPATIAL_DEFAULTS["itd"],
        "resolution": f"interp={subsample_interp}, refine={subsample_refine}",
    }
    params["fft_precision"] = ("float64" if precision == torch.float64 else
                               "float32; ITD peaks within a rounding margin of another lag recomputed in "
                               "float64 (docs/metrics-speed.md)")
    out["parameters"] = params
    return out
