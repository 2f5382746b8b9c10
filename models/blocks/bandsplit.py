"""Overlapping 12-TET band split of STFT bins, band-wise linear layers and overlap-add merge.

Band layout (``tet_band_layout``)
---------------------------------
Band edges lie on the twelve-tone equal-temperament pitch grid ``f(p) = 440 Hz 2^(p/12)``
(p in semitones from A4). The K bands are spaced by ``step`` semitones (3, a minor third,
i.e. 4 bands per octave, by default) and each spans two steps, so neighbours overlap by
half a band (50 %, the overlapping musical band split of Watcharasupat et al.). The grid
is anchored at the highest 12-TET pitch not above Nyquist; for 16 kHz and K = 31 this is
B8 (7902 Hz, p = 50), the lowest edge is B0 (30.9 Hz, p = -46) and band k (k = 1..K) is
centred at ``p_k = p_0 + k step`` and spans ``(p_{k-1}, p_{k+1})``.

Each band owns the contiguous STFT bins whose frequency lies strictly inside its span; the
first band also owns every bin below its centre (down to DC) and the last every bin above
its centre (up to Nyquist), so every bin belongs to at least one band. A band too narrow to
contain a bin (low frequencies at coarse resolution) takes the bin nearest its centre.

Overlap-add weights: band k weights its bins with a triangle on the semitone axis,
``1 - |p - p_k| / step`` (flat at 1 below p_1 for the first band and above p_K for the
last; 1 for a fallback bin), and the weights of each bin are divided by their sum over the
bands that own it. The triangles form a partition of unity, so the normalisation only
matters at fallback bins; either way ``merge(split(x)) == x`` for every x.

References
----------
D. Choi and J.-W. Choi, "SoundCompass", Sec. 2.2 (K = 31 overlapping 12-TET subbands).
K. N. Watcharasupat et al., "A generalized bandsplit neural network for cinematic audio
source separation", IEEE OJSP 2023 (overlapping musical band split).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["BandLayout", "tet_band_layout", "full_band_layout", "BandSplit", "BandLinear"]


@dataclass(frozen=True)
class BandLayout:
    """Which STFT bins each band owns, and their merge weights.

    Attributes
    ----------
    num_bins : int
        F, number of STFT bins.
    starts, stops : tuple of int
        Band k owns bins ``starts[k] .. stops[k] - 1`` (contiguous), k = 0..K-1.
    weights : tuple of tuple of float
        Merge weight of each owned bin, normalised so that they sum to 1 per bin.
    centres_hz : tuple of float
        Nominal centre frequency of each band (NaN for the single full band).
    """

    num_bins: int
    starts: tuple[int, ...]
    stops: tuple[int, ...]
    weights: tuple[tuple[float, ...], ...]
    centres_hz: tuple[float, ...]

    @property
    def num_bands(self) -> int:
        """K."""
        return len(self.starts)

    @property
    def widths(self) -> tuple[int, ...]:
        """Number of bins of each band."""
        return tuple(b - a for a, b in zip(self.starts, self.stops))


def _normalise(num_bins: int, starts: list[int], stops: list[int], raw: list[np.ndarray]) -> tuple[tuple[float, ...], ...]:
    total = np.zeros(num_bins)
    for a, b, w in zip(starts, stops, raw):
        total[a:b] += w
    if np.any(total <= 0):
        missing = np.flatnonzero(total <= 0)
        raise ValueError(f"band layout leaves STFT bins uncovered: {missing.tolist()}")
    return tuple(tuple((w / total[a:b]).tolist()) for a, b, w in zip(starts, stops, raw))


def tet_band_layout(
    num_bins: int,
    sample_rate: int,
    num_bands: int = 31,
    step_semitones: int = 3,
    ref_hz: float = 440.0,
) -> BandLayout:
    """Overlapping 12-TET band layout (see the module docstring for the construction).

    Parameters
    ----------
    num_bins : int
        F = n_fft / 2 + 1 (321 for the paper's n_fft 640).
    sample_rate : int
        Hz.
    num_bands : int
        K (31 in the paper).
    step_semitones : int
        Spacing of band centres in semitones; each band spans two steps.
    ref_hz : float
        Tuning reference of the 12-TET grid (A4).

    Returns
    -------
    BandLayout
    """
    if num_bins < 2 or num_bands < 1 or step_semitones < 1:
        raise ValueError(
            f"tet_band_layout: need num_bins >= 2, num_bands >= 1, step_semitones >= 1; got "
            f"{num_bins}, {num_bands}, {step_semitones}"
        )
    nyquist = sample_rate / 2.0
    top = math.floor(12.0 * math.log2(nyquist / ref_hz))
    low = top - (num_bands + 1) * step_semitones
    freqs = np.arange(num_bins) * nyquist / (num_bins - 1)
    with np.errstate(divide="ignore"):
        pitch = 12.0 * np.log2(freqs / ref_hz)  # -inf at DC
    starts: list[int] = []
    stops: list[int] = []
    raw: list[np.ndarray] = []
    centres: list[float] = []
    for k in range(1, num_bands + 1):
        centre = low + k * step_semitones
        lo_p, hi_p = centre - step_semitones, centre + step_semitones
        inside = (pitch > lo_p) & (pitch < hi_p)
        if k == 1:
            inside |= pitch <= centre
        if k == num_bands:
            inside |= pitch >= centre
        idx = np.flatnonzero(inside)
        if idx.size == 0:
            nearest = int(np.argmin(np.abs(freqs - ref_hz * 2.0 ** (centre / 12.0))))
            idx = np.array([nearest])
            w = np.ones(1)
        else:
            w = 1.0 - np.abs(pitch[idx] - centre) / step_semitones
            if k == 1:
                w = np.where(pitch[idx] <= centre, 1.0, w)
            if k == num_bands:
                w = np.where(pitch[idx] >= centre, 1.0, w)
        starts.append(int(idx[0]))
        stops.append(int(idx[-1]) + 1)
        raw.append(w)
        centres.append(ref_hz * 2.0 ** (centre / 12.0))
    return BandLayout(num_bins, tuple(starts), tuple(stops), _normalise(num_bins, starts, stops, raw), tuple(centres))


def full_band_layout(num_bins: int) -> BandLayout:
    """A single band over all bins with unit weights ("no band split" ablation)."""
    return BandLayout(num_bins, (0,), (num_bins,), (tuple([1.0] * num_bins),), (float("nan"),))


class BandSplit(nn.Module):
    """Split the frequency axis into (overlapping) bands and merge them back.

    Bands are concatenated along one "position" axis of length P = sum of band widths, so
    band-wise layers run as one batched operation (:class:`BandLinear`).

    Parameters
    ----------
    layout : BandLayout
        From :func:`tet_band_layout` or :func:`full_band_layout`.
    """

    bin_index: Tensor
    band_index: Tensor
    merge_weight: Tensor

    def __init__(self, layout: BandLayout):
        super().__init__()
        self.layout = layout
        bins = [torch.arange(a, b) for a, b in zip(layout.starts, layout.stops)]
        self.register_buffer("bin_index", torch.cat(bins), persistent=False)
        self.register_buffer(
            "band_index",
            torch.cat([torch.full((len(b),), k, dtype=torch.long) for k, b in enumerate(bins)]),
            persistent=False,
        )
        self.register_buffer(
            "merge_weight", torch.tensor([w for ws in layout.weights for w in ws], dtype=torch.float32), persistent=False
        )

    @property
    def num_bands(self) -> int:
        """K."""
        return self.layout.num_bands

    @property
    def num_positions(self) -> int:
        """P, total number of (band, bin) positions."""
        return int(self.bin_index.numel())

    def split(self, x: Tensor, dim: int = -1) -> Tensor:
        """Gather the bins of every band along ``dim``: [..., F, ...] -> [..., P, ...]."""
        if x.shape[dim] != self.layout.num_bins:
            raise ValueError(f"BandSplit.split: expected {self.layout.num_bins} bins along dim {dim}, got {tuple(x.shape)}")
        return x.index_select(dim, self.bin_index)

    def merge(self, y: Tensor, dim: int = -1) -> Tensor:
        """Weighted overlap-add of band positions back to bins: [..., P, ...] -> [..., F, ...]."""
        dim = dim % y.dim()
        if y.shape[dim] != self.num_positions:
            raise ValueError(f"BandSplit.merge: expected {self.num_positions} positions along dim {dim}, got {tuple(y.shape)}")
        shape = [1] * y.dim()
        shape[dim] = -1
        weighted = y * self.merge_weight.to(y.dtype).view(shape)
        out_shape = list(y.shape)
        out_shape[dim] = self.layout.num_bins
        out = y.new_zeros(out_shape)
        return out.index_add(dim, self.bin_index, weighted)


class BandLinear(nn.Module):
    """One linear layer per band, applied to the last (feature) axis of each band position.

    Parameters
    ----------
    band_index : Tensor
        [P] long, band of each position (``BandSplit.band_index``).
    num_bands : int
        K.
    in_features, out_features : int
        Feature sizes.
    """

    band_index: Tensor

    def __init__(self, band_index: Tensor, num_bands: int, in_features: int, out_features: int):
        super().__init__()
        self.register_buffer("band_index", band_index.clone(), persistent=False)
        self.weight = nn.Parameter(torch.empty(num_bands, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(num_bands, out_features))
        bound = 1.0 / math.sqrt(in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        """[..., P, in_features] -> [..., P, out_features]."""
        w = self.weight.index_select(0, self.band_index)  # [P, in, out]
        b = self.bias.index_select(0, self.band_index)  # [P, out]
        return torch.einsum("...pi,pio->...po", x, w) + b
