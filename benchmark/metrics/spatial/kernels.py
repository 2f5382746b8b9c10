"""Fast spatial-cue kernels: NumPy on CPU, torch elsewhere, and the float32 rounding margin.

On CPU, NumPy kernels replace torch's for the elementwise work (``|z|``, angles, pair
products, in-place PHAT weighting, the per-pair ΔIPD loop with reused buffers) and for the
STFT framing (:data:`NUMPY_KERNELS`, read from here only: set it to False to run the torch
path, what CUDA and autograd use, on CPU). Both paths give the values of the definitions
(:mod:`.definitions`). ``precision=torch.float32`` runs the FFTs in float32 and recomputes
in float64 every GCC-PHAT peak that is not clear of another lag by the margin of
:func:`_float32_phat_bound`. Measured speed: ``docs/metrics-speed.md``.
"""

from __future__ import annotations

import math

import numpy as np
import torch


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
