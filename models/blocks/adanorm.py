"""Adaptive layer normalisation (AdaNorm) without learnable affine parameters.

References
----------
J. Xu, X. Sun, Z. Zhang, G. Zhao and J. Lin, "Understanding and improving layer
normalization", NeurIPS 2019, Sec. 5 (AdaNorm).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["adanorm", "AdaNorm"]


def adanorm(x: Tensor, scale: float = 1.0, k: float = 0.1, eps: float = 1e-5) -> Tensor:
    """AdaNorm over the last axis.

    ``y = (x - mean) / sqrt(var + eps)``, ``z = phi(y) * y`` with
    ``phi(y) = scale (1 - k y)``. As in the paper, ``phi(y)`` is treated as a constant in
    the backward pass (gradient stopped), which replaces LayerNorm's learnable gain and
    bias by an input-adaptive gain that keeps the gradient of the mean and variance.

    Parameters
    ----------
    x : Tensor
        [..., D].
    scale : float
        C, the output scale (hyper-parameter).
    k : float
        Slope of phi (1/10 in the paper, which keeps phi positive for |y| < 10).
    eps : float
        Variance floor.

    Returns
    -------
    Tensor
        [..., D].
    """
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    y = (x - mean) * torch.rsqrt(var + eps)
    gain = (scale * (1.0 - k * y)).detach()
    return gain * y


class AdaNorm(nn.Module):
    """Module form of :func:`adanorm` (no parameters).

    Parameters
    ----------
    scale, k, eps : float
        See :func:`adanorm`.
    """

    def __init__(self, scale: float = 1.0, k: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.scale = scale
        self.k = k
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """[..., D] -> [..., D]."""
        return adanorm(x, self.scale, self.k, self.eps)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, k={self.k}, eps={self.eps}"
