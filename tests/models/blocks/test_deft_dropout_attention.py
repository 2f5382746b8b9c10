"""Blocked dropout attention (CPU training path of the DeFT-Mamba MHSA) against direct formulas."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from asabench.models.blocks import deft
from asabench.models.blocks.deft import MultiHeadSelfAttention, dropout_attention


def _qkv(seed: int, n: int = 3, h: int = 2, l: int = 37, e: int = 5):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, h, l, e, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]


def test_without_dropout_equals_sdpa_values_and_gradients() -> None:
    q, k, v = _qkv(0)
    w = torch.randn(3, 2, 37, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = dropout_attention(q, k, v, 0.0, block_elements=3 * 2 * 37 * 4)  # blocks of 4 queries
    (out * w).sum().backward()
    got = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    ref = F.scaled_dot_product_attention(q, k, v)
    (ref * w).sum().backward()
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-12)
    for a, b in zip(got, (q.grad, k.grad, v.grad)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_dropout_masks_are_the_weights_masks_and_backward_reuses_them() -> None:
    """With the global generator seeded alike, the blocked output equals softmax weights
    dropped out block by block (zero with probability p, others x 1/(1-p)) times v, and its
    gradients (blocks recomputed in backward) equal those of that explicit graph."""
    p, block = 0.3, 8
    q, k, v = _qkv(2)
    w = torch.randn(3, 2, 37, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    torch.manual_seed(11)
    out = dropout_attention(q, k, v, p, block_elements=3 * 2 * 37 * block)
    (out * w).sum().backward()
    got = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    torch.manual_seed(11)
    parts = []
    for s in range(0, 37, block):
        wts = torch.softmax(q[:, :, s:s + block] @ k.transpose(-1, -2) / 5 ** 0.5, dim=-1)
        keep = (F.dropout(torch.ones_like(wts), p, training=True) != 0).to(wts.dtype)
        parts.append((wts * keep / (1 - p)) @ v)
    ref = torch.cat(parts, dim=2)
    (ref * w).sum().backward()
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-12)
    dropped = (out - F.scaled_dot_product_attention(q, k, v)).abs().max()
    assert dropped > 1e-3  # dropout did act
    for a, b in zip(got, (q.grad, k.grad, v.grad)):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


def test_module_uses_blocks_in_cpu_training_and_sdpa_in_eval(monkeypatch) -> None:
    torch.manual_seed(0)
    m = MultiHeadSelfAttention(8, n_heads=2, head_dim=4, dropout=0.1).double()
    x = torch.randn(2, 30, 8, dtype=torch.float64)
    calls = []
    real = deft.dropout_attention
    monkeypatch.setattr(deft, "dropout_attention", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    m.eval()
    y_eval = m(x)
    assert calls == []
    m.train()
    torch.manual_seed(5)
    y_a = m(x)
    assert calls == [1]
    monkeypatch.setattr(deft, "DROPOUT_BLOCK_ELEMENTS", 0)  # SDPA's own dropout path
    y_b = m(x)
    assert calls == [1]
    # both training paths drop weights out: neither equals eval; eval has no randomness
    assert (y_a - y_eval).abs().max() > 1e-4 and (y_b - y_eval).abs().max() > 1e-4
    m.eval()
    torch.testing.assert_close(m(x), y_eval, atol=0, rtol=0)
