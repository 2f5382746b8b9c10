"""Pure-PyTorch Mamba2: chunked SSD scan against the step-by-step recurrence, layout, gradients."""

from __future__ import annotations

import pytest
import torch

from asabench.models.blocks.mamba2 import BiMamba2, Mamba2, ssd_scan_chunked, ssd_scan_naive


def _inputs(b: int, l: int, h: int, p: int, n: int, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, l, h, p, generator=g, dtype=dtype)
    dt = torch.nn.functional.softplus(torch.randn(b, l, h, generator=g, dtype=dtype) - 1.0)
    A = -torch.rand(h, generator=g, dtype=dtype) * 3 - 0.1
    B = torch.randn(b, l, h, n, generator=g, dtype=dtype)
    C = torch.randn(b, l, h, n, generator=g, dtype=dtype)
    return x, dt, A, B, C


@pytest.mark.parametrize("length,chunk", [(1, 4), (7, 4), (33, 8), (101, 16), (57, 64), (129, 32)])
def test_chunked_scan_equals_naive_recurrence(length: int, chunk: int) -> None:
    args = _inputs(2, length, 3, 5, 4, seed=length)
    ref = ssd_scan_naive(*args)
    out = ssd_scan_chunked(*args, chunk_size=chunk)
    assert out.shape == (2, length, 3, 5)
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=1e-10)


def test_chunked_scan_float32_within_1e5() -> None:
    x, dt, A, B, C = _inputs(2, 77, 4, 8, 16, seed=5, dtype=torch.float32)
    ref = ssd_scan_naive(*(t.double() for t in (x, dt, A, B, C)))
    out = ssd_scan_chunked(x, dt, A, B, C, chunk_size=16)
    assert (out.double() - ref).abs().max() / ref.abs().max() < 1e-5


def test_scan_closed_form_single_step_decay() -> None:
    """One impulse at t=0 decays as exp(A * sum dt): y_t = C.B dt_0 x_0 exp(A sum_{1..t} dt)."""
    x, dt, A, B, C = _inputs(1, 9, 1, 1, 1, seed=2)
    x = torch.zeros_like(x)
    x[0, 0] = 1.0
    out = ssd_scan_chunked(x, dt, A, B, C, chunk_size=4)[0, :, 0, 0]
    cum = torch.cat([torch.zeros(1, dtype=dt.dtype), dt[0, 1:, 0].cumsum(0)])
    expect = C[0, :, 0, 0] * B[0, 0, 0, 0] * dt[0, 0, 0] * torch.exp(A[0] * cum)
    torch.testing.assert_close(out, expect)


def test_module_chunked_equals_naive_and_is_causal() -> None:
    torch.manual_seed(0)
    m = Mamba2(16, d_state=8, d_conv=4, expand=2, headdim=8, ngroups=2, scan_chunk=8).double()
    u = torch.randn(3, 45, 16, dtype=torch.float64)
    y = m(u)
    m.scan = "naive"
    torch.testing.assert_close(y, m(u), atol=1e-10, rtol=1e-10)
    m.scan = "chunked"
    u2 = u.clone()
    u2[:, 30:] += 1.0  # changing the future must not change the past
    y2 = m(u2)
    torch.testing.assert_close(y2[:, :30], y[:, :30], atol=1e-12, rtol=0)
    assert (y2[:, 30:] - y[:, 30:]).abs().max() > 1e-3


def test_parameter_layout_matches_mamba_ssm() -> None:
    d_model, d_state, d_conv, expand, headdim, ngroups = 64, 16, 4, 4, 16, 1
    m = Mamba2(d_model, d_state=d_state, d_conv=d_conv, expand=expand, headdim=headdim, ngroups=ngroups)
    d_inner = expand * d_model
    nheads = d_inner // headdim
    conv_dim = d_inner + 2 * ngroups * d_state
    expect = {
        "in_proj.weight": (2 * d_inner + 2 * ngroups * d_state + nheads, d_model),
        "conv1d.weight": (conv_dim, 1, d_conv),
        "conv1d.bias": (conv_dim,),
        "dt_bias": (nheads,),
        "A_log": (nheads,),
        "D": (nheads,),
        "norm.weight": (d_inner,),
        "out_proj.weight": (d_model, d_inner),
    }
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == expect
    assert sum(p.numel() for p in m.parameters()) == 35840 + 1440 + 48 + 256 + 16384
    # initial A in [1, 16], initial dt in [dt_min, dt_max]
    A = torch.exp(m.A_log)
    assert A.min() >= 1 and A.max() <= 16
    dt = torch.nn.functional.softplus(m.dt_bias)
    assert dt.min() >= 1e-3 - 1e-9 and dt.max() <= 0.1 + 1e-9


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(1)
    m = BiMamba2(8, d_state=4, d_conv=3, expand=2, headdim=4, scan_chunk=4)
    u = torch.randn(2, 11, 8, requires_grad=True)
    out = m(u)
    assert out.shape == (2, 11, 16)
    out.pow(2).mean().backward()
    assert u.grad is not None and u.grad.abs().sum() > 0
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bimamba_backward_half_is_anticausal() -> None:
    torch.manual_seed(2)
    m = BiMamba2(8, d_state=4, expand=2, headdim=4).double()
    u = torch.randn(1, 20, 8, dtype=torch.float64)
    y = m.directions(u)
    u2 = u.clone()
    u2[:, :5] += 1.0  # the past must not reach the backward half beyond step 5
    y2 = m.directions(u2)
    torch.testing.assert_close(y2[:, 5:, 8:], y[:, 5:, 8:], atol=1e-12, rtol=0)
    torch.testing.assert_close(y2[:, :5, :8].sub(y[:, :5, :8]).abs().gt(0).any(), torch.tensor(True))


def test_bimamba_is_two_prenorm_residual_blocks_then_a_linear() -> None:
    """Released layout: per direction a mamba-ssm ``Block`` (RMSNorm eps 1e-5 -> Mamba2, plus the
    residual), the two concatenated, then Linear(2d, 2d); names as in mamba-ssm."""
    torch.manual_seed(3)
    m = BiMamba2(8, d_state=4, expand=2, headdim=4).double()
    names = {k for k in m.state_dict() if k.startswith("fwd.")}
    assert names == {"fwd.norm.weight", "fwd.mixer.in_proj.weight", "fwd.mixer.conv1d.weight",
                     "fwd.mixer.conv1d.bias", "fwd.mixer.dt_bias", "fwd.mixer.A_log", "fwd.mixer.D",
                     "fwd.mixer.norm.weight", "fwd.mixer.out_proj.weight"}
    assert m.fwd.norm.eps == 1e-5 and m.fc.in_features == m.fc.out_features == 16
    u = torch.randn(2, 9, 8, dtype=torch.float64)
    # each direction: u + mixer(RMSNorm(u)), RMSNorm(u) = u / sqrt(mean(u^2) + eps) * weight
    with torch.no_grad():
        m.fwd.norm.weight.uniform_(0.5, 1.5)
    rms = u * torch.rsqrt(u.pow(2).mean(-1, keepdim=True) + 1e-5) * m.fwd.norm.weight
    torch.testing.assert_close(m.fwd(u), u + m.fwd.mixer(rms))
    # silenced mixers: both halves are the input itself, and fc mixes them
    with torch.no_grad():
        m.fwd.mixer.out_proj.weight.zero_()
        m.bwd.mixer.out_proj.weight.zero_()
    torch.testing.assert_close(m.directions(u), torch.cat([u, u], dim=-1))
    torch.testing.assert_close(m(u), m.fc(torch.cat([u, u], dim=-1)))


# --- factorised chunked scan (groups, uneven blocks, the stable fallback, gradients) --------

def _group_inputs(b: int, l: int, h: int, p: int, n: int, g: int, seed: int, dt_shift: float = -1.0,
                  dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(b, l, h, p, generator=gen, dtype=dtype)
    dt = torch.nn.functional.softplus(torch.randn(b, l, h, generator=gen, dtype=dtype) + dt_shift)
    A = -torch.rand(h, generator=gen, dtype=dtype) * 8 - 0.5
    B = torch.randn(b, l, g, n, generator=gen, dtype=dtype)
    C = torch.randn(b, l, g, n, generator=gen, dtype=dtype)
    return x, dt, A, B, C


@pytest.mark.parametrize("length,chunk,groups", [(1, 32, 1), (29, 32, 1), (30, 29, 2), (64, 32, 4),
                                                 (201, 32, 1), (203, 32, 4), (1001, 32, 1), (97, 8, 2)])
def test_grouped_scan_equals_recurrence_on_expanded_heads(length: int, chunk: int, groups: int) -> None:
    """B/C per group (mamba-ssm's ngroups) give the recurrence with each head reading its group."""
    x, dt, A, B, C = _group_inputs(2 if length < 500 else 1, length, 4, 3, 5, groups, seed=length)
    rep = 4 // groups
    ref = ssd_scan_naive(x, dt, A, B.repeat_interleave(rep, dim=2), C.repeat_interleave(rep, dim=2))
    out = ssd_scan_chunked(x, dt, A, B, C, chunk_size=chunk)
    assert out.shape == x.shape
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(ssd_scan_naive(x, dt, A, B, C), ref, atol=0, rtol=0)


def test_chunk_length_evens_out_blocks() -> None:
    from asabench.models.blocks.mamba2 import chunk_length

    assert [chunk_length(n, 32) for n in (1, 29, 32, 33, 64, 201, 1001)] == [1, 29, 32, 17, 32, 29, 32]
    assert chunk_length(201, 1) == 1


def test_large_decays_fall_back_to_the_stable_form_with_the_same_outputs(monkeypatch) -> None:
    """dt ~ 30 per step: block spans exceed the factorisation limit even in float64 blocks of 6,
    so the masked-segsum form runs; the outputs still equal the recurrence (and are finite)."""
    from asabench.models.blocks import mamba2 as m2

    x, dt, A, B, C = _group_inputs(2, 70, 3, 4, 5, 1, seed=3, dt_shift=30.0)
    calls = []
    real = m2._ssd_scan_segsum
    monkeypatch.setattr(m2, "_ssd_scan_segsum", lambda *a: calls.append(a[-1]) or real(*a))
    out = ssd_scan_chunked(x, dt, A, B, C, chunk_size=32)
    assert calls == [6]  # 70 steps: blocks of 24, halved to 12, then 6 (<= 8), then the stable form
    assert torch.isfinite(out).all()
    ref = ssd_scan_naive(x, dt, A, B.expand(-1, -1, 3, -1), C.expand(-1, -1, 3, -1))
    torch.testing.assert_close(out, ref, atol=1e-10, rtol=1e-10)


def test_moderate_decays_halve_the_block_and_stay_factorised(monkeypatch) -> None:
    """float32, spans over the limit at 32 steps but not at 16: no fallback, recurrence matched."""
    from asabench.models.blocks import mamba2 as m2

    x, dt, A, B, C = _group_inputs(2, 96, 2, 4, 4, 1, seed=4, dt_shift=0.0, dtype=torch.float32)
    A = torch.tensor([-3.0, -1.0])
    dt = torch.full_like(dt, 1.0)  # head 0 spans 3 * 31 = 93 > 59.2 at 32 steps, 45 at 16
    monkeypatch.setattr(m2, "_ssd_scan_segsum", lambda *a: pytest.fail("fallback ran"))
    out = ssd_scan_chunked(x, dt, A, B, C, chunk_size=32)
    ref = ssd_scan_naive(*(t.double() for t in (x, dt, A, B.expand(-1, -1, 2, -1), C.expand(-1, -1, 2, -1))))
    assert (out.double() - ref).abs().max() / ref.abs().max() < 1e-5


def test_scan_gradients_equal_the_recurrence_gradients() -> None:
    """Backward through the factorised scan (every input) equals backward through the recurrence."""
    x, dt, A, B, C = _group_inputs(2, 45, 4, 3, 5, 2, seed=9)
    w = torch.randn(2, 45, 4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    grads = []
    for scan in (lambda *a: ssd_scan_chunked(*a, chunk_size=16), ssd_scan_naive):
        leaves = [t.clone().requires_grad_(True) for t in (x, dt, A, B, C)]
        (scan(*leaves) * w).sum().backward()
        grads.append([t.grad for t in leaves])
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-9)


def test_module_segsum_option_equals_chunked_and_naive() -> None:
    """scan='segsum' (the earlier chunked form, kept for speed comparisons) gives the same outputs."""
    torch.manual_seed(1)
    m = Mamba2(16, d_state=8, d_conv=4, expand=2, headdim=8, ngroups=2, scan_chunk=8).double()
    u = torch.randn(2, 37, 16, dtype=torch.float64)
    outs = {}
    for scan in ("chunked", "segsum", "naive"):
        m.scan = scan
        outs[scan] = m(u)
    torch.testing.assert_close(outs["segsum"], outs["naive"], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(outs["chunked"], outs["naive"], atol=1e-10, rtol=1e-10)
    with pytest.raises(ValueError, match="segsum"):
        Mamba2(16, headdim=8, scan="other")
