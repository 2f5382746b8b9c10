"""Spatial-cue definitions over microphone pairs (ΔILD, ΔIPD, ΔITD by GCC-PHAT) and their plain computations.

Definitions follow the SoundCompass authors' M2M-TSE evaluation (reference notes,
section 3), averaged over all microphone pairs ``i < j`` (6 for 4 microphones). Two named
definitions (:data:`SPATIAL_DEFINITIONS`) differ in the ILD and in the GCC-PHAT FFT length:

``"m2m"`` (default, the M2M-TSE evaluation code)
    * ``ILD_ij(x) = 10 log10(||x_i||² / (||x_j||² + eps))`` over the whole clip (dB), ``eps``
      the machine epsilon of the signals' dtype; ``ΔILD`` is the mean of the ``(i, j)`` and
      ``(j, i)`` differences ``(|ILD_ij(ŝ) - ILD_ij(s)| + |ILD_ji(ŝ) - ILD_ji(s)|) / 2``.
    * GCC-PHAT FFT length: the next power of two ``>= T_i + T_j``.
``"exact-length"`` (asabench's earlier definition)
    * ``ILD_ij(x) = 10 log10(||x_i||² / ||x_j||²)``, ``ΔILD = |ILD_ij(ŝ) - ILD_ij(s)|``.
    * GCC-PHAT FFT length exactly ``T_i + T_j`` (the shortest linear correlation).

The two ΔILDs differ only for near-silent channels (energies comparable to ``eps``); the
FFT lengths whiten the cross-spectrum on different frequency grids, which moves a few
integer peaks on noisy estimates.

Shared by both:

* Energies in float64; each ILD clamped to [-100, 100] dB, 0 dB when both channels are
  all-zero.
* ``C_ij = X_i X_j*`` from an STFT (n_fft 256, hop 128, rectangular window, torch.stft
  framing with ``center=True`` and reflect padding, one-sided); ``ΔIPD`` is the mean over
  all time-frequency bins of ``|angle(C_ij(ŝ) C_ij(s)*)|`` in [0, π] rad (no mask, silent
  bins count; a bin where the product is exactly zero, e.g. digital silence in the
  reference, has no phase and counts as 0, where atan2 would return 0 or ±π by the signs
  of the zeros). The energy-masked variant averages only over bins where the reference's
  ``|C_ij(s)|`` is within ``mask_db`` dB of its maximum over the clip.
* ``τ_ij`` = lag of the maximum of the GCC-PHAT cross-correlation
  ``irfft(R / (|R| + eps), n)``, ``R = X_i X_j*`` (``n`` the FFT length above, at least
  ``T_i + T_j``, so linear correlation), searched at integer lags within ±``max_tau``
  (1 ms, ``round(fs · max_tau)`` samples at the dataset's rate ``fs``); ``τ_ij > 0`` means
  the sound reaches microphone ``i`` later than ``j``. ``ΔITD = |τ_ij(ŝ) - τ_ij(s)|`` in
  µs. The sub-sample variant upsamples the correlation ``interp`` times (zero-padded
  whitened spectrum) and/or refines the peak by a parabola through the peak and its
  neighbours. A parabola alone is biased on the sinc-shaped PHAT peak (up to ~0.15
  sample); 16x upsampling plus the parabola (the default of
  :func:`~asabench.benchmark.metrics.spatial.cues.spatial_cue_errors`)
  is within ~0.01 sample on white noise.

At 16 kHz one sample is 62.5 µs while a 4.2 cm-radius tetrahedron allows at most ~200 µs,
which is why the sub-sample variant is offered.

This module holds the definitions' parameters (:data:`SPATIAL_DEFAULTS`,
:func:`spatial_parameters`), the pair and guard handling shared by every cue, ILD, and the
plain computations the fast engines are tested against: :func:`_peak_reference` (GCC-PHAT
peak from the full ``interp``-times upsampled irfft) and :func:`_ipd_reference` (ΔIPD pair
by pair from ``torch.stft``). The engines are :mod:`.gcc` (chirp-z narrow-window search)
and :mod:`.kernels` (NumPy/torch kernels, float32 margin); :mod:`.cues` has the functions
to call.
"""

from __future__ import annotations

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
)

#: The named spatial-cue definitions (module docstring); the first is the default.
SPATIAL_DEFINITIONS: tuple[str, ...] = ("m2m", "exact-length")
SpatialDefinition = Literal["m2m", "exact-length"]
#: GCC-PHAT FFT lengths: ``"pow2"`` next power of two >= T_i + T_j (M2M), ``"exact"`` T_i + T_j.
FftLength = Literal["pow2", "exact"]
#: ILD definitions: ``"m2m"`` (eps denominator, mean of both orders), ``"plain"`` (one order, no eps).
IldDefinition = Literal["m2m", "plain"]


def definition_parts(definition: str) -> tuple[str, str]:
    """``(fft_length, ild)`` of a named spatial definition (:data:`SPATIAL_DEFINITIONS`)."""
    if definition == "m2m":
        return "pow2", "m2m"
    if definition == "exact-length":
        return "exact", "plain"
    raise ValueError(f"unknown spatial definition {definition!r}; expected one of {SPATIAL_DEFINITIONS}")


def gcc_fft_length(t_i: int, t_j: int, fft_length: str = "pow2") -> int:
    """GCC-PHAT FFT length for signals of ``t_i`` and ``t_j`` samples.

    >>> gcc_fft_length(64000, 64000), gcc_fft_length(64000, 64000, "exact")
    (131072, 128000)
    """
    n = int(t_i) + int(t_j)
    if fft_length == "exact":
        return n
    if fft_length == "pow2":
        return 1 << max(0, (n - 1).bit_length())
    raise ValueError(f"fft_length must be 'pow2' or 'exact', got {fft_length!r}")


#: Parameters of the default (``"m2m"``) definitions, stored in result files.
SPATIAL_DEFAULTS: dict[str, object] = {
    "definition": "m2m",
    "pairs": "all i<j",
    "ild": {"domain": "broadband, whole clip", "unit": "dB",
            "formula": "10 log10(E_i / (E_j + eps)), eps = machine epsilon of the signals' dtype; "
                       "error = mean of the (i, j) and (j, i) absolute differences"},
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
    "itd": {"method": "GCC-PHAT", "max_tau_s": 1e-3, "eps": 1e-8, "resolution": "integer sample", "unit": "us",
            "fft_length": "next power of two >= T_i + T_j"},
}


def spatial_parameters(definition: str = "m2m", ild_eps: float | None = None) -> dict[str, object]:
    """A JSON-ready copy of the parameters of a named definition (:data:`SPATIAL_DEFAULTS` for ``"m2m"``)."""
    fft_length, ild_kind = definition_parts(definition)
    params = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SPATIAL_DEFAULTS.items()}
    params["definition"] = definition
    if ild_kind == "plain":
        params["ild"]["formula"] = "10 log10(E_i / E_j); error = |ILD_ij(est) - ILD_ij(ref)|"
    elif ild_eps is not None:
        params["ild"]["eps"] = ild_eps
    params["itd"]["fft_length"] = ("next power of two >= T_i + T_j" if fft_length == "pow2"
                                   else "exactly T_i + T_j")
    return params


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


def _ild_from_energy(energy: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """``10 log10(E_i / (E_j + eps))`` per pair, clamped to [-100, 100] dB, 0 where both are zero."""
    ei, ej = energy[..., ii], energy[..., jj]
    both_zero = (ei == 0) & (ej == 0)
    tiny = torch.finfo(torch.float64).tiny
    val = 10.0 * (torch.log10(ei.clamp_min(tiny)) - torch.log10((ej + eps).clamp_min(tiny)))
    val = torch.where(both_zero, torch.zeros_like(val), val)
    return val.clamp(DB_FLOOR, DB_CEIL)


def _ild_error(e_est: torch.Tensor, e_ref: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor,
               ild: str = "m2m", eps: float = 0.0) -> torch.Tensor:
    """ΔILD per pair from channel energies ``[..., C]``: ``"m2m"`` (mean of both orders, ``eps``) or ``"plain"``."""
    if ild == "plain":
        return (_ild_from_energy(e_est, ii, jj) - _ild_from_energy(e_ref, ii, jj)).abs()
    if ild != "m2m":
        raise ValueError(f"ild must be 'm2m' or 'plain', got {ild!r}")
    forward = (_ild_from_energy(e_est, ii, jj, eps) - _ild_from_energy(e_ref, ii, jj, eps)).abs()
    backward = (_ild_from_energy(e_est, jj, ii, eps) - _ild_from_energy(e_ref, jj, ii, eps)).abs()
    return 0.5 * (forward + backward)


def ild_eps(*tensors: torch.Tensor) -> float:
    """Machine epsilon of the signals' (promoted floating) dtype: the M2M ILD's ``eps``."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float32
    return float(torch.finfo(dtype).eps)


def ild(x: TensorLike, pairs: Sequence[tuple[int, int]] | None = None) -> torch.Tensor:
    """Broadband interchannel level difference ``10 log10(||x_i||²/||x_j||²)`` in dB.

    ``x`` is ``[..., C, T]``; returns ``[..., P]`` clamped to [-100, 100] dB (0 dB when
    both channels are all-zero). Energies in float64.
    """
    x = as_tensor(x, "x")
    ii, jj = _pair_index(x.shape[-2], pairs, x.device)
    return _ild_from_energy(_channel_energy(x), ii, jj)


Method = Literal["fast", "reference"]


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



def _ipd_reference(est: torch.Tensor, ref: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor, n_fft: int, hop: int,
                   mask_db: float | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """ΔIPD per pair exactly as defined, for checking only: ``[..., C, T]`` -> ``([..., P], masked [..., P] or None)``.

    ``C_ij = X_i X_j*`` from ``torch.stft`` (rectangular window, centre framing, reflect
    padding) of each pair, error ``|angle(C_ij(est) C_ij(ref)*)|`` per bin (0 where the
    product is exactly 0), the mean over all bins and, with ``mask_db``, over the bins where
    ``|C_ij(ref)| >= max |C_ij(ref)| · 10^(-mask_db/10)``. The engine
    (:func:`~asabench.benchmark.metrics.spatial.kernels._ipd_errors`) regroups these
    products and is tested against this.
    """
    def stft(x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        spec = torch.stft(flat, n_fft=n_fft, hop_length=hop, window=torch.ones(n_fft, dtype=x.dtype, device=x.device),
                          center=True, pad_mode="reflect", return_complex=True)
        return spec.reshape(*x.shape[:-1], *spec.shape[-2:])  # [..., C, F, frames]

    x_est, x_ref = torch.broadcast_tensors(stft(est), stft(ref))
    plain, masked = [], []
    for i, j in zip(ii.tolist(), jj.tolist()):
        c_est = x_est[..., i, :, :] * x_est[..., j, :, :].conj()
        c_ref = x_ref[..., i, :, :] * x_ref[..., j, :, :].conj()
        z = c_est * c_ref.conj()
        err = torch.where(z == 0, torch.zeros_like(z.real), torch.angle(z).abs())
        plain.append(err.mean(dim=(-2, -1)))
        if mask_db is not None:
            mag = c_ref.abs()
            keep = mag >= mag.amax(dim=(-2, -1), keepdim=True) * 10.0 ** (-float(mask_db) / 10.0)
            masked.append((err * keep).sum(dim=(-2, -1)) / keep.sum(dim=(-2, -1)).clamp_min(1))
    return torch.stack(plain, -1), (torch.stack(masked, -1) if mask_db is not None else None)
