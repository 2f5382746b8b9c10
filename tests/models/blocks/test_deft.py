"""DeFT-Mamba block: parameter count (closed form), attention against the formula, axis roles."""

from __future__ import annotations

import torch

from asabench.models.blocks.deft import DeFTMambaBlock, MambaSpec, MultiHeadSelfAttention


def _n(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_paper_block_parameter_count_closed_form() -> None:
    d, inner = 64, 256
    ln = 2 * d
    gcb = ln + 2 * (d * d * 3 + d)
    mhsa = ln + 3 * d * inner + inner * d + d
    f_ffn = ln + (d * 4 * d + 4 * d) + (4 * d * d + d)
    d_in, heads, ds = 4 * d, 4 * d // 16, 16
    mamba = d * (2 * d_in + 2 * ds + heads) + (d_in + 2 * ds) * 5 + 3 * heads + d_in + d_in * d
    t_ffn = ln + 2 * mamba + (2 * d * 2 * d + 2 * d) + (2 * d * d + d)
    expect = 2 * (gcb + mhsa) + f_ffn + t_ffn
    assert _n(DeFTMambaBlock(64, 4, 64, mamba=MambaSpec())) == expect == 347_168


def test_attention_matches_softmax_formula() -> None:
    torch.manual_seed(0)
    att = MultiHeadSelfAttention(8, n_heads=2, head_dim=4).double()
    x = torch.randn(3, 7, 8, dtype=torch.float64)
    h = att.norm(x)
    q, k, v = (m(h).reshape(3, 7, 2, 4).transpose(1, 2) for m in (att.q, att.k, att.v))
    w = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)  # sqrt(head_dim) = 2
    ref = x + att.out((w @ v).transpose(1, 2).reshape(3, 7, 8))
    torch.testing.assert_close(att(x), ref)


def test_block_shape_gradients_and_batch_independence() -> None:
    torch.manual_seed(1)
    blk = DeFTMambaBlock(8, n_heads=2, head_dim=4, mamba=MambaSpec(d_state=4, expand=2, headdim=4)).double()
    x = torch.randn(2, 8, 9, 5, dtype=torch.float64, requires_grad=True)
    y = blk(x)
    assert y.shape == x.shape
    y.pow(2).mean().backward()
    for name, p in blk.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # batch items never mix (reshapes keep them apart)
    x2 = x.detach().clone()
    x2[1] += torch.randn(8, 9, 5, dtype=torch.float64)
    torch.testing.assert_close(blk(x2)[0], y[0].detach(), atol=1e-12, rtol=0)
    # the time path mixes frames: changing frame 0 changes frame 8
    x3 = x.detach().clone()
    x3[0, :, 0] += torch.randn(8, 5, dtype=torch.float64)  # not constant over D: LN would remove it
    assert (blk(x3)[0, :, 8] - y[0, :, 8].detach()).abs().max() > 1e-6
