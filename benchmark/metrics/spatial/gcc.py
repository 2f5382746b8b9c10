"""GCC-PHAT and the chirp-z narrow-window ΔITD engine.

Both ΔITD variants (integer-sample and sub-sample) come from one Bluestein chirp-z
evaluation of the upsampled correlation inside the search window
(:func:`_correlation_window`; equal to the full upsampled irfft of the definition,
:func:`~asabench.benchmark.metrics.spatial.definitions._peak_reference`, to rounding; a row
whose maximum is within rounding of another lag is recomputed exactly, so the lags are the
definition's). ``method="reference"`` runs the definition itself. On CPU the pair products,
PHAT weighting and chirp are fused into one buffer (:func:`_pair_windows_cpu`).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch

from asabench.benchmark.metrics.guards import TensorLike, as_tensor
from asabench.benchmark.metrics.spatial.definitions import (FftLength, Method, Refine, _pair_index, _parabola,
                                                            _peak_reference, gcc_fft_length)
from asabench.benchmark.metrics.spatial.kernels import (
    _float32_phat_bound,
    _numpy_ok,
    _pair_products,
    _pair_products_np,
    _phat_inplace,
    _phat_normalise,
    _times_conj,
)


def _phat_spectrum(a: torch.Tensor, b: torch.Tensor, n: int, eps: float) -> torch.Tensor:
    """PHAT-weighted cross-spectrum ``R / (|R| + eps)``, ``R = A B*`` (``n``-point rfft), ``[..., n//2 + 1]``."""
    return _phat_normalise(_times_conj(torch.fft.rfft(a, n=n), torch.fft.rfft(b, n=n)), eps)


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


@lru_cache(maxsize=64)
def _smooth_length(size: int) -> int:
    """A fast FFT length ``>= size``: the next power of two, or the smallest ``2^a 3^b 5^c``
    when the power of two is more than 10 % longer.

    A power of two alone nearly doubles the chirp-z buffer when ``size`` lies just above one,
    as it does for the M2M FFT length (``n / 2 + 1`` bins plus the window); close below one
    it stays the fastest here.
    """
    pow2 = 1 << max(0, (size - 1).bit_length())
    best = pow2
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            v = p35
            while v < size:
                v *= 2
            best = min(best, v)
            p35 *= 3
        p5 *= 5
    return pow2 if pow2 <= 1.1 * best else best


@lru_cache(maxsize=16)
def _czt_plan(nb: int, n: int, interp: int, j0: int, count: int, dtype: torch.dtype,
              device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Chirps of the Bluestein evaluation of ``Re Σ_{k<nb} w_k R_k e^{2πi k j / m}``, ``j = j0 .. j0 + count - 1``, ``m = n · interp``.

    ``k j = (k² + j'² - (j' - k)²) / 2 + k j0`` with ``j' = j - j0``, so the sum is a chirp
    times the linear convolution of ``w_k R_k e^{iπ (k² + 2 k j0) / m}`` with ``e^{-iπ d² / m}``
    (one FFT pair of length ``L >= nb + count - 1``, the next 5-smooth length). Every phase is reduced modulo ``2m``
    in integers first, so it is exact before the one rounding of cos/sin; the weights
    :func:`_trig_weights` are folded into the first chirp.
    """
    m = n * interp
    size = nb + count - 1
    length = _smooth_length(size)
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
    fft_length: FftLength = "pow2",
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
    fft_length : ``"pow2"`` (default, the M2M definition): the next power of two
        ``>= T_i + T_j``; ``"exact"``: ``T_i + T_j``
        (:func:`~asabench.benchmark.metrics.spatial.definitions.gcc_fft_length`).

    Returns
    -------
    ``[...]`` seconds, positive when ``x_i`` lags ``x_j`` (``x_i(t) = x_j(t - τ)``).
    """
    a = as_tensor(x_i, "x_i").to(torch.float64)
    b = as_tensor(x_j, "x_j").to(torch.float64).to(a.device)
    n = gcc_fft_length(a.shape[-1], b.shape[-1], fft_length)
    return _gcc_peak(_phat_spectrum(a, b, n, eps), n, fs, max_tau, interp, refine, method)


def _tdoa_variants(x, ii: torch.Tensor, jj: torch.Tensor, fs: float, max_tau: float, interp: int,
                   refine: Refine, eps: float, method: Method, precision: torch.dtype,
                   want_integer: bool, xp: torch.Tensor | None = None,
                   norms: torch.Tensor | None = None,
                   fft_length: FftLength = "pow2") -> tuple[torch.Tensor, torch.Tensor | None]:
    """TDOA of every pair of ``x [..., C, T]`` (float64): ``(tau [..., P], integer-sample tau or None)``.

    ``xp`` is ``x`` cast to ``precision``; when given, ``x`` may be a callable
    ``(lead, channel) -> [k, T]`` that gives single float64 channels only when a row needs
    its exact recomputation (:func:`_exact_rows_fn`). ``norms [..., C]`` are the channels'
    2-norms when the caller has them (for the float32 margin). ``fft_length`` as :func:`gcc_phat`.
    """
    if precision not in (torch.float32, torch.float64):
        raise ValueError(f"precision must be torch.float32 or torch.float64, got {precision}")
    interp = _check_peak_args(interp, refine, method)
    if xp is None:
        xp = x.to(precision)
    n = gcc_fft_length(xp.shape[-1], xp.shape[-1], fft_length)
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
    fft_length: FftLength = "pow2",
) -> torch.Tensor:
    """GCC-PHAT TDOA of every microphone pair: ``[..., C, T]`` -> ``[..., P]`` seconds (see :func:`gcc_phat`).

    One rfft per channel (not per pair), then the same PHAT spectrum as :func:`gcc_phat`.
    ``precision=torch.float32`` runs the FFTs in float32 (about 2x faster on CPU end to end) and
    recomputes in float64 every pair whose peak is within a rounding margin of another lag
    (:func:`_float32_phat_bound`, a 6-sigma statistical margin), so the lags equal the
    float64 ones unless rounding exceeds it; a parabola vertex moves by rounding.
    ``fft_length``: ``"pow2"`` (default, M2M) or ``"exact"`` (:func:`gcc_phat`).
    """
    x = as_tensor(x, "x").to(torch.float64)
    ii, jj = _pair_index(x.shape[-2], pairs, x.device)
    return _tdoa_variants(x, ii, jj, fs, max_tau, interp, refine, eps, method, precision, False,
                          fft_length=fft_length)[0]
