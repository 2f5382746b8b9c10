"""DeFT-Mamba block: parameter count (closed form), released residual structure, dropout,
attention against the formula, axis roles."""

from __future__ import annotations

import torch

from asabench.models.blocks.deft import DeFTMambaBlock, HybridPath, MambaSpec, MultiHeadSelfAttention


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
    rms = d  # pre-norm RMSNorm of each Mamba direction (mamba-ssm Block)
    t_ffn = ln + 2 * (rms + mamba) + (2 * d * 2 * d + 2 * d) + (2 * d * d + d)
    expect = 2 * (gcb + mhsa) + f_ffn + t_ffn
    # 347_296: the released DeFTANblock's count (its model.txt layer list)
    assert _n(DeFTMambaBlock(64, 4, 64, mamba=MambaSpec())) == expect == 347_296


def _silence_sublayers(path: HybridPath) -> None:
    """Zero the last layer of the gated conv, the attention and the FFN of one path."""
    with torch.no_grad():
        for mod in (path.gcb.value, path.mhsa.out, path.ffn[3]):
            mod.weight.zero_()
            mod.bias.zero_()


def test_path_residuals_are_the_released_ones() -> None:
    """With every sub-block silenced a path returns ``x + LN(x)``: the gated-conv residual
    goes to the normalised input and an outer residual to the path's input."""
    torch.manual_seed(3)
    for ffn in ("mlp", "mamba"):
        path = HybridPath(8, ffn, n_heads=2, head_dim=4, mamba=MambaSpec(d_state=4, expand=2, headdim=4)).double()
        _silence_sublayers(path)
        x = torch.randn(3, 7, 8, dtype=torch.float64)
        torch.testing.assert_close(path(x), x + path.norm(x))
    # one sub-block at a time: only the gated conv active -> x + n + gcb(n), n = LN(x)
    path = HybridPath(8, "mlp", n_heads=2, head_dim=4).double()
    with torch.no_grad():
        for mod in (path.mhsa.out, path.ffn[3]):
            mod.weight.zero_()
            mod.bias.zero_()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    n = path.norm(x)
    torch.testing.assert_close(path(x), x + n + path.gcb(n))


def test_dropout_acts_in_training_mode_only() -> None:
    torch.manual_seed(4)
    spec = MambaSpec(d_state=4, expand=2, headdim=4)
    blk = DeFTMambaBlock(8, n_heads=2, head_dim=4, mamba=spec, dropout=0.1).double()
    ref = DeFTMambaBlock(8, n_heads=2, head_dim=4, mamba=spec, dropout=0.0).double()
    ref.load_state_dict(blk.state_dict())
    drops = [m for m in blk.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(drops) == 6 and all(m.p == 0.1 for m in drops)  # attention output + 2 in the FFN, per path
    assert all(m.dropout == 0.1 for m in blk.modules() if isinstance(m, MultiHeadSelfAttention))
    x = torch.randn(2, 8, 6, 5, dtype=torch.float64)
    blk.train()
    a, b = blk(x), blk(x)
    assert (a - b).abs().max() > 1e-3  # a fresh mask per call
    blk.eval()
    with torch.no_grad():
        torch.testing.assert_close(blk(x), ref.eval()(x), atol=0, rtol=0)
        torch.testing.assert_close(blk(x), blk(x), atol=0, rtol=0)
    # the fused attention call drops attention weights in training (not only the output)
    att = MultiHeadSelfAttention(8, n_heads=2, head_dim=4, dropout=0.5).double().train()
    att.out_dropout.p = 0.0
    h = torch.randn(1, 6, 8, dtype=torch.float64)
    assert (att(h) - att(h)).abs().max() > 1e-6


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
