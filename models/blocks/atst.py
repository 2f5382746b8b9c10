"""Optional frozen ATST-Frame branch of DeepASA's SED decoder (user-supplied weights).

The object feature ``[N, D, T, F]`` is averaged over channels, mapped per frame to
``n_mels`` bins by a trainable linear layer, cut into patches of ``patch_frames`` frames,
and fed to a frozen ATST-Frame-shaped transformer (patch embedding, learned positions, 12
pre-norm layers of width 768, final norm); a trainable linear layer maps its output to
``out_dim`` and it is resampled to the label frames. asabench cannot download ATST-Frame:
the transformer's weights must come from a file the user provides (a ``torch.save`` state
dict with the keys of :class:`ATSTFrameEncoder`); enabling the branch without one is an
error. Inside :func:`deferred_pretrained` (used when rebuilding from a checkpoint, whose
state dict already holds the frozen weights) the file is not needed.

References
----------
X. Li, N. Shao, X. Li, "Self-supervised audio teacher-student transformer for both clip-level
and frame-level tasks" (ATST-Frame), IEEE/ACM TASLP 2024; DeepASA Fig. 3(b).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from pathlib import Path
from typing import Iterator, Union

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ATSTFrameEncoder", "ATSTBranch", "deferred_pretrained", "pretrained_deferred"]

_DEFER = contextvars.ContextVar("asabench_defer_pretrained", default=False)


@contextlib.contextmanager
def deferred_pretrained() -> Iterator[None]:
    """Build modules without reading external pretrained weights (a checkpoint supplies them)."""
    token = _DEFER.set(True)
    try:
        yield
    finally:
        _DEFER.reset(token)


def pretrained_deferred() -> bool:
    """Whether :func:`deferred_pretrained` is active."""
    return _DEFER.get()


class ATSTFrameEncoder(nn.Module):
    """ATST-Frame-shaped transformer: ``[N, P, patch_dim] -> [N, P, dim]``."""

    def __init__(self, patch_dim: int = 256, dim: int = 768, layers: int = 12, heads: int = 12,
                 ffn_dim: int = 3072, max_patches: int = 256) -> None:
        super().__init__()
        self.patch_embed = nn.Linear(patch_dim, dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, max_patches, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, ffn_dim, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        p = patches.shape[1]
        if p > self.pos_embed.shape[1]:
            raise ValueError(f"ATSTFrameEncoder: {p} patches exceed max_patches={self.pos_embed.shape[1]}")
        return self.norm(self.blocks(self.patch_embed(patches) + self.pos_embed[:, :p]))


class ATSTBranch(nn.Module):
    """Trainable adapters around a frozen :class:`ATSTFrameEncoder`.

    Parameters
    ----------
    dim_in : object feature channels D (averaged away).
    n_freq : frequency bins F of the object feature.
    weights : path of the user-supplied encoder state dict (required unless deferred).
    dim, layers, heads, ffn_dim, n_mels, patch_frames, max_patches : encoder sizes.
    out_dim : width of the features handed to the T-GRU.

    Shapes: ``forward(feat [N, D, T, F], n_frames) -> [N, n_frames, out_dim]``.
    """

    def __init__(self, n_freq: int, weights: Union[str, os.PathLike, None], dim: int = 768,
                 layers: int = 12, heads: int = 12, ffn_dim: int = 3072, n_mels: int = 64,
                 patch_frames: int = 4, max_patches: int = 256, out_dim: int = 128) -> None:
        super().__init__()
        self.patch_frames = patch_frames
        self.in_fc = nn.Linear(n_freq, n_mels)
        self.encoder = ATSTFrameEncoder(n_mels * patch_frames, dim, layers, heads, ffn_dim, max_patches)
        self.out_fc = nn.Linear(dim, out_dim)
        if weights is None:
            if not pretrained_deferred():
                raise ValueError(
                    "ATST branch enabled (atst.enabled = true) but atst.weights is not set: "
                    "asabench cannot download ATST-Frame; set atst.weights to a torch.save state "
                    "dict of ATSTFrameEncoder, or disable the branch")
        elif not pretrained_deferred():
            self.load_weights(weights)
        self.encoder.requires_grad_(False)

    def load_weights(self, path: Union[str, os.PathLike]) -> None:
        """Load the frozen encoder's weights from a state-dict file (strict key/shape check)."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"{p}: ATST-Frame weights file (atst.weights) does not exist")
        try:
            state = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported the same way
            raise ValueError(f"{p}: cannot read ATST-Frame weights: {exc}") from exc
        if not isinstance(state, dict):
            raise ValueError(f"{p}: ATST-Frame weights must be a state dict, got {type(state).__name__}")
        try:
            self.encoder.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"{p}: ATST-Frame weights do not match the configured encoder: {exc}") from exc

    def train(self, mode: bool = True) -> "ATSTBranch":
        super().train(mode)
        self.encoder.eval()  # frozen: no dropout/statistics updates even while fine-tuning
        return self

    def forward(self, feat: torch.Tensor, n_frames: int) -> torch.Tensor:
        n, _, t, _ = feat.shape
        x = self.in_fc(feat.mean(dim=1))  # [N, T, n_mels]
        pad = (-t) % self.patch_frames
        x = F.pad(x, (0, 0, 0, pad))
        patches = x.reshape(n, (t + pad) // self.patch_frames, -1)
        h = self.out_fc(self.encoder(patches))  # [N, P, out_dim]
        return F.interpolate(h.transpose(1, 2), size=n_frames, mode="linear",
                             align_corners=False).transpose(1, 2)
