"""Chain-of-inference with temporal coherence matching (DeepASA CoI/TCM), as released.

Inputs are stage-1 estimates over the ``T'`` label frames: the hard SED
``[B, T', C*J]`` (active x one-hot class) and the DoA ``[B, T', 3*J]``, both laid out
class- (axis-) major, object-minor (index ``c*J + j``), as the released code reshapes them.
Two cross-attentions (:class:`ChannelCrossAttention`) treat every SED or DoA **channel** as a
token and its trajectory over the ``T'`` frames as the token's feature (so the feature width
is the number of label frames, 40 for a 4-s clip): SED queries DoA and DoA queries SED. Each
output is multiplied element-wise by its own input (a gate: inactive SED channels contribute
nothing), projected ``Linear(C*J -> D)`` / ``Linear(3*J -> D)`` per frame, and the two are
multiplied (``fusion="product"``, released code; ``"sum"`` is the paper figure). A transposed
convolution ``ConvTranspose1d(D, D, kernel s+1, stride s)`` (kernel 6, stride 5 for
``s = 5`` STFT frames per label frame) takes ``T'`` to ``s*T' + 1`` frames (40 -> 201); the
result conditions the aggregated feature by FiLM
(:class:`~asabench.models.blocks.film.FrameFiLM`).

References
----------
DeepASA (NeurIPS 2025), Fig. 4 and Table 2; the authors' ``ChainOfInference`` /
``Triple_Attention`` modules.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ChannelCrossAttention", "TemporalCoherenceMatching"]


class ChannelCrossAttention(nn.Module):
    """Multi-head cross-attention between channel tokens whose features are frames.

    ``query [B, Nq, L], context [B, Nk, L] -> [B, Nq, L]`` with ``L`` the frame count:
    ``q, k, v = Linear(L, H*L, no bias)`` (head width ``L``), softmax attention scaled by
    ``1/sqrt(L)`` with attention dropout, ``Linear(H*L, L)``, dropout (dropout in training only).
    """

    def __init__(self, frames: int, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.frames, self.heads, self.dropout = frames, heads, dropout
        inner = heads * frames
        self.q = nn.Linear(frames, inner, bias=False)
        self.k = nn.Linear(frames, inner, bias=False)
        self.v = nn.Linear(frames, inner, bias=False)
        self.out = nn.Linear(inner, frames)
        self.out_dropout = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b = query.shape[0]

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(b, t.shape[1], self.heads, self.frames).transpose(1, 2)

        y = F.scaled_dot_product_attention(heads(self.q(query)), heads(self.k(context)), heads(self.v(context)),
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out_dropout(self.out(y.transpose(1, 2).reshape(b, query.shape[1], -1)))


class TemporalCoherenceMatching(nn.Module):
    """Fuse stage-1 SED and DoA into a frame-rate conditioning ``[B, T, D]``.

    Parameters
    ----------
    n_objects, n_classes : J and C.
    dim : D.
    label_hop_frames : STFT frames per label frame ``s`` (upsampling factor, 5 in the paper).
    frames : label frames ``T'`` the attentions are built for (40 for 4 s), fixed by the
        layer sizes; other lengths are taken in windows of this many (see :meth:`forward`).
    heads : attention heads (4).
    fusion : ``"product"`` (released code) or ``"sum"`` (paper figure).
    dropout : dropout of both attentions (0.1 released).
    """

    def __init__(self, n_objects: int, n_classes: int, dim: int, label_hop_frames: int,
                 frames: int = 40, heads: int = 4, fusion: str = "product", dropout: float = 0.0) -> None:
        super().__init__()
        if fusion not in ("product", "sum"):
            raise ValueError(f"TemporalCoherenceMatching: fusion must be 'product' or 'sum', got {fusion!r}")
        self.fusion = fusion
        self.frames = frames
        self.sed_query = ChannelCrossAttention(frames, heads, dropout)
        self.doa_query = ChannelCrossAttention(frames, heads, dropout)
        self.sed_proj = nn.Linear(n_objects * n_classes, dim)
        self.doa_proj = nn.Linear(n_objects * 3, dim)
        s = label_hop_frames
        self.up = nn.ConvTranspose1d(dim, dim, kernel_size=s + 1, stride=s)

    def forward(self, sed: torch.Tensor, doa: torch.Tensor, n_frames: int) -> torch.Tensor:
        """``sed [B, T', C*J], doa [B, T', 3*J] -> [B, n_frames, D]``, any ``T'``.

        The attentions' feature width is fixed to ``frames`` label frames (as released), so
        the label frames are taken in consecutive windows of ``frames`` (the last one
        zero-padded: frames without events and with zero DoA); each window is attended,
        projected, fused and upsampled to ``s*frames + 1`` frames on its own, and the
        windows are joined (``s*frames`` frames each, the last window's extra frame at the
        end). With exactly ``frames`` label frames this is the released computation, one
        window. The upsampled conditioning is cut to ``n_frames``, or extended by repeating
        its last frame when the STFT has up to ``s - 2`` more frames (clip lengths the
        released code, built for exactly 201 frames, never sees).
        """
        if sed.shape[1] != doa.shape[1]:
            raise ValueError(f"TemporalCoherenceMatching: SED has {sed.shape[1]} label frames, DoA {doa.shape[1]}")
        b, tp = sed.shape[:2]
        w = self.frames
        k = max(1, -(-tp // w))  # windows
        if k * w != tp:
            sed, doa = F.pad(sed, (0, 0, 0, k * w - tp)), F.pad(doa, (0, 0, 0, k * w - tp))
        sed, doa = sed.reshape(b * k, w, -1), doa.reshape(b * k, w, -1)
        s_att = self.sed_query(sed.transpose(1, 2), doa.transpose(1, 2)).transpose(1, 2)  # [Bk, w, CJ]
        d_att = self.doa_query(doa.transpose(1, 2), sed.transpose(1, 2)).transpose(1, 2)  # [Bk, w, 3J]
        a, c = self.sed_proj(s_att * sed), self.doa_proj(d_att * doa)  # [Bk, w, D]
        fused = a * c if self.fusion == "product" else a + c
        up = self.up(fused.transpose(1, 2))  # [Bk, D, s w + 1]
        if k > 1:
            up = up.reshape(b, k, *up.shape[1:])
            up = torch.cat([up[:, :, :, :-1].permute(0, 2, 1, 3).reshape(b, up.shape[2], -1), up[:, -1, :, -1:]], -1)
        if up.shape[-1] < n_frames:
            up = F.pad(up, (0, n_frames - up.shape[-1]), mode="replicate")
        return up[..., :n_frames].transpose(1, 2)
