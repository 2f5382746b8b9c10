"""Mamba2 in pure PyTorch (chunked state-space-duality scan), checkpoint-compatible with mamba-ssm.

:class:`Mamba2` has the parameter names and shapes of ``mamba_ssm.modules.mamba2.Mamba2``
(``in_proj``, ``conv1d``, ``dt_bias``, ``A_log``, ``D``, ``norm.weight``, ``out_proj``), so a
state dict moves between the two unchanged. The selective scan runs as the chunked SSD
algorithm written with ordinary tensor ops (any device, any length, differentiable); when
``mamba_ssm`` imports and the input is on CUDA, its fused Triton scan is used instead.

Recurrence per head ``h`` (``p`` head channels, ``n`` state size), for time step ``t``::

    dt_t    = softplus(dt_raw_t + dt_bias_h)
    S_t     = exp(dt_t * A_h) * S_{t-1} + dt_t * x_t B_t^T        # [p, n]
    y_t     = S_t C_t + D_h * x_t

with ``A_h = -exp(A_log_h)``. :func:`ssd_scan_naive` runs it step by step (reference);
:func:`ssd_scan_chunked` computes the same outputs block-wise: quadratic attention-like
form inside chunks of at most ``chunk_size`` steps (one ``C B^T`` per group of heads,
decays factorised about each chunk's mid value), linear recurrence of states between chunks.

References
----------
T. Dao, A. Gu, "Transformers are SSMs: generalized models and efficient algorithms through
structured state space duality", ICML 2024.
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Mamba2",
    "MambaBlock",
    "BiMamba2",
    "RMSNormGated",
    "ssd_scan_chunked",
    "ssd_scan_naive",
    "chunk_length",
    "fused_available",
]

_log = logging.getLogger(__name__)

try:  # optional CUDA kernels; everything works without them
    from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined as _fused_scan
except Exception:  # noqa: BLE001 - any import failure (missing package, no CUDA, ABI) means no fused path
    _fused_scan = None

_warned_fallback = False


def fused_available() -> bool:
    """Whether mamba-ssm's fused SSD scan imported (it is used only for CUDA tensors)."""
    return _fused_scan is not None


def _decay_matrix(a_cum: torch.Tensor) -> torch.Tensor:
    """Lower-triangular decays ``L[..., i, j] = exp(a_cum[i] - a_cum[j])`` for ``j <= i``, else 0.

    Parameters
    ----------
    a_cum : [..., Q] cumulative log decays (``a_cum[i] = a_0 + ... + a_i``).

    Returns
    -------
    [..., Q, Q]. The upper triangle is masked to ``-inf`` before ``exp`` (it holds positive
    sums that could overflow, and a masked ``exp`` passes zero gradient there).
    """
    q = a_cum.shape[-1]
    upper = torch.ones(q, q, dtype=torch.bool, device=a_cum.device).triu(1)
    diff = a_cum[..., :, None] - a_cum[..., None, :]
    return torch.exp(diff.masked_fill(upper, -math.inf))


def chunk_length(length: int, chunk_size: int) -> int:
    """Block length the chunked scan uses for a sequence of ``length`` steps.

    The fewest blocks of at most ``chunk_size`` steps, made as even as possible:
    ``ceil(length / ceil(length / chunk_size))`` (201 steps with ``chunk_size`` 32 gives 7
    blocks of 29 and 2 padded steps instead of 7 of 32 and 23).
    """
    blocks = max(1, math.ceil(length / max(1, chunk_size)))
    return max(1, math.ceil(length / blocks))


def _span_limit(dtype: torch.dtype) -> float:
    """Largest log-decay span of one block for the factorised form (2/3 of log(max float)).

    The factorised block product scales inputs by ``exp(ref - a_cum[j])`` and outputs by
    ``exp(a_cum[i] - ref)`` with ``ref`` the mid value of the block's log decays; each
    factor is at most ``exp(span / 2)``: ``exp(29.6)`` in float32, ``exp(236)`` in float64.
    """
    return 2.0 * math.log(torch.finfo(dtype).max) / 3.0


def _has_values(t: torch.Tensor) -> bool:
    """Whether ``t`` holds data that can be read (not a meta or fake tensor, not being traced)."""
    if t.device.type == "meta" or torch.compiler.is_compiling():
        return False
    try:
        from torch._subclasses.fake_tensor import is_fake
    except ImportError:  # pragma: no cover - older torch
        return True
    return not is_fake(t)


def _expand_groups(t: torch.Tensor, heads: int) -> torch.Tensor:
    """``[b, l, g, n]`` -> ``[b, l, heads, n]`` (head ``k`` reads group ``k // (heads // g)``)."""
    g = t.shape[2]
    if heads % g:
        raise ValueError(f"ssd scan: {g} groups of B/C do not divide {heads} heads")
    return t if g == heads else t.repeat_interleave(heads // g, dim=2)


def ssd_scan_chunked(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int = 64,
) -> torch.Tensor:
    """Selective scan by the chunked state-space-duality algorithm (no ``D`` skip term).

    Parameters
    ----------
    x : [b, l, h, p] inputs per head.
    dt : [b, l, h] positive step sizes (after softplus).
    A : [h] negative continuous-time decay rates.
    B, C : [b, l, g, n] input and output projections, per head (``g = h``) or per group of
        heads (``g`` divides ``h``; head ``k`` reads group ``k // (h // g)``, mamba-ssm's
        ``ngroups``). Shared groups are cheaper: the block products are computed per group.
    chunk_size : largest block length; blocks are made even by :func:`chunk_length` and the
        end is zero-padded (causal: padding never reaches earlier outputs). Results do not
        depend on it beyond rounding.

    Returns
    -------
    y : [b, l, h, p].

    Notes
    -----
    Inside a block the decay from step ``j`` to ``i`` is ``exp(a_i - a_j)`` (``a``: the
    block's cumulative ``dt * A``). It is factorised as ``exp(a_i - ref) * exp(ref - a_j)``
    about the block's mid value ``ref``, so the block product is one lower-triangular
    ``C B^T`` per group applied to all its heads' scaled inputs in one batched matmul, and
    no ``[l, l]`` decay matrix is built per head. The factors stay finite while a block's
    log-decay span ``a_0 - a_last`` is at most :func:`_span_limit`; blocks are halved
    (down to 8 steps) until it holds, and past that the stable masked-segsum form
    (:func:`_ssd_scan_segsum`, the same outputs) runs instead. Block states are carried
    across blocks by a loop over blocks (``ceil(l / chunk)`` steps).
    """
    b, l, h, p = x.shape
    if B.shape[2] != C.shape[2] or h % B.shape[2]:
        raise ValueError(f"ssd scan: B has {B.shape[2]} groups and C {C.shape[2]}; both must divide {h} heads")
    a = dt * A
    q = chunk_length(l, chunk_size)
    limit = _span_limit(x.dtype)
    with torch.no_grad():  # pick the block length: the longest whose decay spans are safe
        while _has_values(a):
            c = math.ceil(l / q)
            ap = F.pad(a, (0, 0, 0, c * q - l)).reshape(b, c, q, h)
            span = float((ap[:, :, 1:].sum(dim=2)).neg().max()) if q > 1 else 0.0
            if span <= limit or q <= 8:
                break
            q = chunk_length(l, q // 2)
        else:  # shapes only (meta / fake tensors, tracing): no values to check
            span = 0.0
    if span > limit:
        return _ssd_scan_segsum(x, dt, A, _expand_groups(B, h), _expand_groups(C, h), q)
    return _ssd_scan_factorised(x, dt, a, B, C, q)


def _ssd_scan_factorised(x: torch.Tensor, dt: torch.Tensor, a: torch.Tensor, B: torch.Tensor,
                         C: torch.Tensor, q: int) -> torch.Tensor:
    """:func:`ssd_scan_chunked` with blocks of ``q`` steps, factorised decays (see its notes)."""
    b, l, h, p = x.shape
    g, n = B.shape[2], B.shape[3]
    r = h // g
    c = math.ceil(l / q)
    pad = c * q - l
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in (x, dt, a, B, C))
    if pad:
        a, dt = F.pad(a, (0, 0, 0, pad)), F.pad(dt, (0, 0, 0, pad))
        x = F.pad(x, (0, 0, 0, 0, 0, pad))
        B, C = F.pad(B, (0, 0, 0, 0, 0, pad)), F.pad(C, (0, 0, 0, 0, 0, pad))
    a_cum = a.reshape(b, c, q, h).cumsum(dim=2)  # [b, c, q, h] log decay from the block start
    last = a_cum[:, :, -1]  # [b, c, h]
    ref = 0.5 * (a_cum[:, :, 0] + last)  # mid value: both factors below are <= exp(span / 2)
    e_out = torch.exp(a_cum - ref[:, :, None])
    xs = x.reshape(b, c, q, h, p) * (dt.reshape(b, c, q, h) * torch.exp(ref[:, :, None] - a_cum))[..., None]

    # batches of one (sequence, block, group): [b*c*g, q, r*p] (a view when g == 1)
    def grouped(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(b, c, q, g, -1).transpose(2, 3).reshape(b * c * g, q, -1)

    xs, Bc, Cc = grouped(xs), grouped(B), grouped(C)
    scores = torch.bmm(Cc, Bc.transpose(1, 2))  # C_i . B_j per group
    scores = scores.tril() if grad else scores.tril_()
    if c > 1:
        # state each block leaves at its end, [n, p] per head: exp(last - a_j) B_j (dt_j x_j)^T
        st = torch.bmm(Bc.transpose(1, 2), xs).reshape(b, c, g, n, r, p)
        st = st * torch.exp(last - ref).reshape(b, c, g, 1, r, 1)
        keep = torch.exp(last).reshape(b, c, g, 1, r, 1)  # a block's total decay
        to_ref = torch.exp(ref).reshape(b, c, g, 1, r, 1)  # state entering a block, seen from ref
        # unbind once (one backward stack), not st[:, k] per step (a full-size zero grad each)
        st, keep, to_ref = st.unbind(1), keep.unbind(1), to_ref.unbind(1)
        state = st[0]
        entering = [torch.zeros_like(state)]
        for k in range(1, c):
            entering.append(state * to_ref[k])
            if k + 1 < c:
                state = state * keep[k] + st[k]
        s_in = torch.stack(entering, dim=1).reshape(b * c * g, n, r * p)
        y = torch.baddbmm(torch.bmm(Cc, s_in), scores, xs)
    else:
        y = torch.bmm(scores, xs)
    y = y.reshape(b, c, g, q, r * p).transpose(2, 3).reshape(b, c, q, h, p)
    y = y * e_out[..., None] if grad else y.mul_(e_out[..., None])
    return y.reshape(b, c * q, h, p)[:, :l]


def _ssd_scan_segsum(x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor,
                     C: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """Chunked scan with per-head masked decay matrices (stable for any decay; ``B, C`` per head).

    The algorithm :func:`ssd_scan_chunked` used before the factorised form; it builds an
    ``[q, q]`` decay matrix per head and block, and is kept for blocks whose decay span is
    too large to factorise.
    """
    b, l, h, p = x.shape
    n = B.shape[-1]
    q = max(1, min(chunk_size, l))
    pad = (-l) % q
    c = (l + pad) // q

    def blocks(t: torch.Tensor) -> torch.Tensor:
        """[b, l, h, k] -> head-major blocks [b, h, c, q, k] (one copy, then plain matmuls)."""
        if pad:
            t = F.pad(t, (0, 0, 0, 0, 0, pad))
        return t.reshape(b, c, q, h, -1).permute(0, 3, 1, 2, 4).contiguous()

    xs = blocks(x * dt[..., None])  # [b, h, c, q, p]
    Bc, Cc = blocks(B), blocks(C)  # [b, h, c, q, n]
    a = blocks((dt * A)[..., None])[..., 0]  # [b, h, c, q]
    a_cum = a.cumsum(dim=-1)

    # within blocks: y_i = sum_{j<=i} (C_i . B_j) exp(a_{j+1..i}) dt_j x_j
    y = ((Cc @ Bc.transpose(-1, -2)) * _decay_matrix(a_cum)) @ xs  # [b, h, c, q, p]

    # state each block leaves at its end ([n, p] per head), then carried across blocks
    to_end = torch.exp(a_cum[..., -1:] - a_cum)[..., None]  # [b, h, c, q, 1]
    states = (Bc * to_end).transpose(-1, -2) @ xs  # [b, h, c, n, p]
    states = torch.cat([states.new_zeros(b, h, 1, n, p), states], dim=2).reshape(b, h, c + 1, n * p)
    carry = _decay_matrix(F.pad(a_cum[..., -1], (1, 0)).cumsum(dim=-1))  # [b, h, c+1, c+1]
    states_in = (carry @ states)[:, :, :-1].reshape(b, h, c, n, p)

    # contribution of the state entering each block, decayed to each step
    y = y + (Cc @ states_in) * torch.exp(a_cum)[..., None]
    return y.reshape(b, h, c * q, p)[:, :, :l].permute(0, 2, 1, 3)


def ssd_scan_naive(
    x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> torch.Tensor:
    """Step-by-step reference recurrence; same arguments and output as :func:`ssd_scan_chunked`."""
    b, l, h, p = x.shape
    B, C = _expand_groups(B, h), _expand_groups(C, h)
    state = x.new_zeros(b, h, p, B.shape[-1])
    ys = []
    for t in range(l):
        decay = torch.exp(dt[:, t] * A)  # [b, h]
        state = state * decay[..., None, None] + (dt[:, t, :, None] * x[:, t])[..., None] * B[:, t, :, None, :]
        ys.append(torch.einsum("bhpn,bhn->bhp", state, C[:, t]))
    return torch.stack(ys, dim=1)


class RMSNormGated(nn.Module):
    """Gated RMS normalisation ``rmsnorm(x * silu(z)) * weight`` per group of channels.

    Same parameter (``weight: [hidden]``) and semantics as mamba-ssm's ``RMSNormGated`` with
    ``norm_before_gate=False`` (the Mamba2 default); ``norm_before_gate=True`` gates after.
    """

    def __init__(self, hidden: int, eps: float = 1e-5, norm_before_gate: bool = False,
                 group_size: int | None = None) -> None:
        super().__init__()
        self.eps = eps
        self.norm_before_gate = norm_before_gate
        self.group_size = group_size or hidden
        if hidden % self.group_size:
            raise ValueError(f"RMSNormGated: group_size {self.group_size} does not divide {hidden}")
        self.weight = nn.Parameter(torch.ones(hidden))

    def _rms(self, x: torch.Tensor) -> torch.Tensor:
        g = x.reshape(*x.shape[:-1], -1, self.group_size)
        g = g * torch.rsqrt(g.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return g.reshape(x.shape)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """``x, z: [..., hidden]`` -> ``[..., hidden]``."""
        if z is not None and not self.norm_before_gate:
            x = x * F.silu(z)
        y = self._rms(x) * self.weight
        if z is not None and self.norm_before_gate:
            y = y * F.silu(z)
        return y


class Mamba2(nn.Module):
    """Mamba2 mixer on ``[B, L, d_model]`` sequences (causal along ``L``).

    Parameters mirror ``mamba_ssm.modules.mamba2.Mamba2``: ``d_model``, ``d_state``,
    ``d_conv``, ``expand``, ``headdim``, ``ngroups``, ``A_init_range``, ``dt_min``, ``dt_max``,
    ``dt_init_floor``, ``dt_limit``, ``bias``, ``conv_bias``, ``chunk_size`` (used by the fused
    kernel), ``rmsnorm``, ``norm_before_gate``. Extra: ``scan_chunk`` is the largest block length
    of the pure-PyTorch scan (blocks are evened out over the sequence by
    :func:`chunk_length`; results do not depend on it beyond rounding), ``use_fused`` (``"auto"``, ``True`` or ``False``) selects mamba-ssm's kernel on CUDA,
    ``scan`` (``"chunked"``, ``"naive"`` or ``"segsum"``) picks the pure-PyTorch algorithm (the
    naive step-by-step recurrence is the reference, slow; ``"segsum"`` is the earlier chunked
    form with per-head decay matrices, kept for speed comparisons).

    Shapes: ``d_inner = expand * d_model``, ``nheads = d_inner // headdim``; ``in_proj``
    produces ``[z (d_inner), x (d_inner), B (ngroups*d_state), C (ngroups*d_state),
    dt (nheads)]``; ``conv1d`` is a depthwise causal convolution over ``x, B, C``.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 128,
        d_conv: int = 4,
        expand: int = 2,
        headdim: int = 64,
        ngroups: int = 1,
        A_init_range: tuple[float, float] = (1.0, 16.0),
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        dt_limit: tuple[float, float] = (0.0, float("inf")),
        bias: bool = False,
        conv_bias: bool = True,
        chunk_size: int = 256,
        rmsnorm: bool = True,
        norm_before_gate: bool = False,
        scan_chunk: int = 32,
        use_fused: bool | str = "auto",
        scan: str = "chunked",
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.expand = expand
        self.headdim = headdim
        self.ngroups = ngroups
        self.d_inner = expand * d_model
        if self.d_inner % headdim:
            raise ValueError(f"Mamba2: headdim {headdim} does not divide d_inner {self.d_inner}")
        self.nheads = self.d_inner // headdim
        if self.nheads % ngroups:
            raise ValueError(f"Mamba2: ngroups {ngroups} does not divide nheads {self.nheads}")
        self.dt_limit = dt_limit
        self.chunk_size = chunk_size
        self.scan_chunk = scan_chunk
        self.rmsnorm = rmsnorm
        self.use_fused = use_fused
        if scan not in ("chunked", "naive", "segsum"):
            raise ValueError(f"Mamba2: scan must be 'chunked', 'naive' or 'segsum', got {scan!r}")
        self.scan = scan
        if use_fused is True and _fused_scan is None:
            raise ImportError("Mamba2(use_fused=True): mamba_ssm's fused scan could not be imported; "
                              "install asabench[cuda] or use use_fused='auto'")

        d_in_proj = 2 * self.d_inner + 2 * ngroups * d_state + self.nheads
        self.in_proj = nn.Linear(d_model, d_in_proj, bias=bias)
        conv_dim = self.d_inner + 2 * ngroups * d_state
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, d_conv, groups=conv_dim,
                                padding=d_conv - 1, bias=conv_bias)
        self.act = nn.SiLU()

        dt = torch.exp(torch.rand(self.nheads) * (math.log(dt_max) - math.log(dt_min))
                       + math.log(dt_min)).clamp(min=dt_init_floor)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        lo, hi = A_init_range
        self.A_log = nn.Parameter(torch.log(torch.empty(self.nheads).uniform_(lo, hi)))
        self.D = nn.Parameter(torch.ones(self.nheads))
        for p in (self.dt_bias, self.A_log, self.D):
            p._no_weight_decay = True  # same convention as mamba-ssm's optimiser grouping
        if rmsnorm:
            self.norm = RMSNormGated(self.d_inner, eps=1e-5, norm_before_gate=norm_before_gate,
                                     group_size=self.d_inner // ngroups)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def backend(self, u: torch.Tensor) -> str:
        """Which scan runs for input ``u``: ``"mamba_ssm"`` or ``"torch"``."""
        global _warned_fallback
        if self.use_fused is not False and u.is_cuda:
            if _fused_scan is not None:
                return "mamba_ssm"
            if not _warned_fallback:
                _log.info("mamba_ssm is not importable: Mamba2 runs the pure-PyTorch SSD scan on CUDA")
                _warned_fallback = True
        return "torch"

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``u: [B, L, d_model]`` -> ``[B, L, d_model]``."""
        bsz, seqlen, _ = u.shape
        zxbcdt = self.in_proj(u)
        z, xbc, dt_raw = torch.split(
            zxbcdt, [self.d_inner, self.d_inner + 2 * self.ngroups * self.d_state, self.nheads], dim=-1)
        xbc = self.act(self.conv1d(xbc.transpose(1, 2))[..., :seqlen].transpose(1, 2))
        x, B, C = torch.split(
            xbc, [self.d_inner, self.ngroups * self.d_state, self.ngroups * self.d_state], dim=-1)
        x = x.reshape(bsz, seqlen, self.nheads, self.headdim)
        B = B.reshape(bsz, seqlen, self.ngroups, self.d_state)
        C = C.reshape(bsz, seqlen, self.ngroups, self.d_state)
        A = -torch.exp(self.A_log.float())
        if self.backend(u) == "mamba_ssm":
            y = _fused_scan(x, dt_raw, A, B, C, chunk_size=self.chunk_size, D=self.D,
                            dt_bias=self.dt_bias, dt_softplus=True, dt_limit=self.dt_limit)
        else:
            dt = F.softplus(dt_raw + self.dt_bias)
            if self.dt_limit != (0.0, float("inf")):
                dt = dt.clamp(*self.dt_limit)
            # heads share their group's B and C: both scans take them per group
            if self.scan == "naive":
                y = ssd_scan_naive(x, dt, A.to(x.dtype), B, C)
            elif self.scan == "segsum":  # the earlier chunked algorithm (speed comparisons)
                y = _ssd_scan_segsum(x, dt, A.to(x.dtype), _expand_groups(B, self.nheads),
                                     _expand_groups(C, self.nheads), self.scan_chunk)
            else:
                y = ssd_scan_chunked(x, dt, A.to(x.dtype), B, C, self.scan_chunk)
            y = y + x * self.D.to(x.dtype)[:, None]
        y = y.reshape(bsz, seqlen, self.d_inner)
        y = self.norm(y, z) if self.rmsnorm else y * F.silu(z)
        return self.out_proj(y)


class MambaBlock(nn.Module):
    """Pre-norm residual Mamba2: ``u + Mamba2(RMSNorm(u))`` on ``[B, L, d_model]``.

    The layout of mamba-ssm's ``Block`` with ``norm_cls = RMSNorm(eps=1e-5)``, no MLP and
    ``fused_add_norm=False`` (parameter names ``norm.weight`` and ``mixer.*``), so its state
    dict moves to and from mamba-ssm unchanged. mamba-ssm returns the mixer output and the
    residual separately; the DeepASA code adds them right away, as here.
    """

    def __init__(self, d_model: int, eps: float = 1e-5, **kwargs: object) -> None:
        super().__init__()
        self.norm = nn.RMSNorm(d_model, eps=eps)
        self.mixer = Mamba2(d_model, **kwargs)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``u: [B, L, d_model]`` -> ``[B, L, d_model]``."""
        return u + self.mixer(self.norm(u))


class BiMamba2(nn.Module):
    """Bidirectional Mamba2 as in DeepASA's released code.

    A forward and a time-reversed :class:`MambaBlock` (each a pre-norm residual Mamba2),
    outputs concatenated (forward half first) and mixed by ``Linear(2 d_model, 2 d_model)``:
    ``[B, L, d_model] -> [B, L, 2 d_model]``. Keyword arguments go to both :class:`Mamba2`
    mixers (``fwd.mixer``, ``bwd.mixer``); ``fc`` is the output Linear.
    """

    def __init__(self, d_model: int, **kwargs: object) -> None:
        super().__init__()
        self.fwd = MambaBlock(d_model, **kwargs)
        self.bwd = MambaBlock(d_model, **kwargs)
        self.fc = nn.Linear(2 * d_model, 2 * d_model)

    def directions(self, u: torch.Tensor) -> torch.Tensor:
        """The two directions' outputs before ``fc``: ``[B, L, 2 d_model]`` (causal half, then
        anticausal half)."""
        return torch.cat([self.fwd(u), self.bwd(u.flip(1)).flip(1)], dim=-1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``u: [B, L, d_model]`` -> ``[B, L, 2 * d_model]``."""
        return self.fc(self.directions(u))
