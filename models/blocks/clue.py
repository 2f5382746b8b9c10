"""Directional clue embeddings: spherical harmonics, cyclic positional, time-varying.

Angle convention
----------------
Inputs are DCASE angles in degrees: azimuth counter-clockwise from +x (in the horizontal
plane), elevation up from the horizontal plane, so that a unit vector is
``x = cos(el) cos(az), y = cos(el) sin(az), z = sin(el)``. Spherical harmonics use the
physics convention of SciPy's ``sph_harm_y(n, m, theta, phi)``: ``theta`` the colatitude
(polar angle from +z), ``phi`` the azimuth from +x. The mapping is therefore

    theta = 90 deg - elevation,    phi = azimuth,

which gives the same unit vector ``(sin theta cos phi, sin theta sin phi, cos theta)``.

References
----------
D. Choi and J.-W. Choi, "SoundCompass: navigating target sound extraction with effective
directional clue integration in complex acoustic scenes", eq. (1) and Sec. 2.2.
D. Choi and J.-W. Choi, "Multichannel-to-multichannel target sound extraction using
direction and timestamp clues" (M2M-TSE), ICASSP 2025 (cyclic positional embedding).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = [
    "sh_dim",
    "sh_index",
    "spherical_harmonics",
    "sh_embedding",
    "cyclic_positional_embedding",
    "cycpos_embedding",
    "time_varying_clue",
    "ClueEmbedding",
]


def sh_dim(order: int) -> int:
    """Length of the stacked real/imaginary SH embedding, ``2 (order + 1)^2``."""
    return 2 * (order + 1) ** 2


def sh_index(order: int) -> list[tuple[int, int]]:
    """The (n, m) pairs in embedding order: n = 0..order, m = -n..n ((order + 1)^2 pairs)."""
    return [(n, m) for n in range(order + 1) for m in range(-n, n + 1)]


def _legendre_table(x: Tensor, sin_theta: Tensor, order: int) -> dict[tuple[int, int], Tensor]:
    """Associated Legendre functions P_n^m(x) for 0 <= m <= n <= order.

    Includes the Condon-Shortley phase (-1)^m, as SciPy's ``sph_legendre_p`` and
    ``sph_harm_y`` do. ``sin_theta = sqrt(1 - x^2)`` is passed in rather than recomputed so
    that it stays exact (and differentiable) at the poles.
    """
    table: dict[tuple[int, int], Tensor] = {}
    p_mm = torch.ones_like(x)
    for m in range(order + 1):
        if m > 0:
            # P_m^m = -(2m - 1) sin(theta) P_{m-1}^{m-1}
            p_mm = -(2 * m - 1) * sin_theta * p_mm
        table[(m, m)] = p_mm
        if m + 1 <= order:
            table[(m + 1, m)] = (2 * m + 1) * x * p_mm
        for n in range(m + 2, order + 1):
            table[(n, m)] = ((2 * n - 1) * x * table[(n - 1, m)] - (n + m - 1) * table[(n - 2, m)]) / (
                n - m
            )
    return table


def spherical_harmonics(colatitude_rad: Tensor, azimuth_rad: Tensor, order: int) -> tuple[Tensor, Tensor]:
    """Complex spherical harmonics Y_n^m up to ``order``, as real and imaginary parts.

    ``Y_n^m(theta, phi) = sqrt((2n+1)/(4 pi) (n-m)!/(n+m)!) P_n^m(cos theta) e^{i m phi}``
    (SoundCompass eq. (1); SciPy ``sph_harm_y`` convention, Condon-Shortley phase included;
    for m < 0, ``Y_n^{-m} = (-1)^m conj(Y_n^m)``).

    Parameters
    ----------
    colatitude_rad, azimuth_rad : Tensor
        Polar angle theta in [0, pi] and azimuth phi, radians, any (broadcastable) shape [...].
    order : int
        Maximum degree N >= 0.

    Returns
    -------
    real, imag : Tensor
        Each [..., (N + 1)^2], columns in :func:`sh_index` order.
    """
    if order < 0:
        raise ValueError(f"spherical_harmonics: order must be >= 0, got {order}")
    colatitude_rad, azimuth_rad = torch.broadcast_tensors(colatitude_rad, azimuth_rad)
    x = torch.cos(colatitude_rad)
    sin_theta = torch.sin(colatitude_rad)
    legendre = _legendre_table(x, sin_theta, order)
    real_parts: list[Tensor] = []
    imag_parts: list[Tensor] = []
    for n, m in sh_index(order):
        am = abs(m)
        norm = math.sqrt((2 * n + 1) / (4 * math.pi) * math.factorial(n - am) / math.factorial(n + am))
        radial = norm * legendre[(n, am)]
        if m < 0:
            # Y_n^{-|m|} = (-1)^|m| conj(Y_n^{|m|})
            radial = radial * (-1) ** am
            real_parts.append(radial * torch.cos(am * azimuth_rad))
            imag_parts.append(-radial * torch.sin(am * azimuth_rad))
        else:
            real_parts.append(radial * torch.cos(am * azimuth_rad))
            imag_parts.append(radial * torch.sin(am * azimuth_rad))
    return torch.stack(real_parts, dim=-1), torch.stack(imag_parts, dim=-1)


def sh_embedding(azimuth_deg: Tensor, elevation_deg: Tensor, order: int = 5) -> Tensor:
    """SoundCompass DoA clue: real and imaginary parts of Y_n^m stacked, n <= ``order``.

    Parameters
    ----------
    azimuth_deg, elevation_deg : Tensor
        DCASE angles in degrees, shape [...] (broadcastable).
    order : int
        Maximum SH degree N (5 in the paper).

    Returns
    -------
    Tensor
        [..., 2 (N + 1)^2]: the (N + 1)^2 real parts in :func:`sh_index` order, then the
        (N + 1)^2 imaginary parts in the same order (72 values for N = 5).
    """
    colatitude = torch.deg2rad(90.0 - elevation_deg)
    azimuth = torch.deg2rad(azimuth_deg)
    real, imag = spherical_harmonics(colatitude, azimuth, order)
    return torch.cat([real, imag], dim=-1)


def cyclic_positional_embedding(angle_rad: Tensor, dim: int = 40, alpha: float = 20.0) -> Tensor:
    """Cyclic positional embedding of one angle (M2M-TSE / DSENet), L2-normalised.

    ``pe[2i] = sin(sin(phi) alpha w_i)``, ``pe[2i+1] = sin(cos(phi) alpha w_i)``,
    ``w_i = 10000^(-2i/dim)``, i = 0..dim/2-1, then ``pe / ||pe||``.

    Parameters
    ----------
    angle_rad : Tensor
        Angle phi in radians, shape [...].
    dim : int
        Embedding length d (even; 40 in M2M-TSE).
    alpha : float
        Angle scale (20 in M2M-TSE).

    Returns
    -------
    Tensor
        [..., dim], unit L2 norm.
    """
    if dim <= 0 or dim % 2:
        raise ValueError(f"cyclic_positional_embedding: dim must be a positive even number, got {dim}")
    i = torch.arange(dim // 2, dtype=angle_rad.dtype, device=angle_rad.device)
    omega = torch.pow(torch.tensor(10000.0, dtype=angle_rad.dtype, device=angle_rad.device), -2.0 * i / dim)
    arg = alpha * omega
    pe = torch.stack(
        [torch.sin(torch.sin(angle_rad)[..., None] * arg), torch.sin(torch.cos(angle_rad)[..., None] * arg)],
        dim=-1,
    ).flatten(-2)
    return pe / pe.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(pe.dtype).tiny)


def cycpos_embedding(azimuth_deg: Tensor, elevation_deg: Tensor, dim: int = 40, alpha: float = 20.0) -> Tensor:
    """Cyclic positional DoA clue for the SoundCompass ablation "cyc-pos (theta, phi)".

    Azimuth and elevation are embedded separately (each unit norm) and concatenated, as
    DSENet's embedding extended to elevation in the SoundCompass comparison.

    Returns
    -------
    Tensor
        [..., 2 dim]: azimuth embedding, then elevation embedding.
    """
    return torch.cat(
        [
            cyclic_positional_embedding(torch.deg2rad(azimuth_deg), dim, alpha),
            cyclic_positional_embedding(torch.deg2rad(elevation_deg), dim, alpha),
        ],
        dim=-1,
    )


def time_varying_clue(
    activity: Tensor,
    embedding: Tensor,
    num_frames: int,
    activity_hop_s: float,
    frame_hop_s: float,
) -> Tensor:
    """Combine frame-wise target activity with a DoA embedding and resample to T.

    The clue at activity frame t' is ``activity[t'] * embedding[t']`` (the embedding
    switched on where the target is active, SoundCompass Fig. 2), then linearly
    interpolated in time onto the STFT frames. Activity frame t' covers
    ``[t' hop_a, (t'+1) hop_a)`` and is placed at its centre; STFT frame t is centred at
    ``t hop_s``; outside the first and last activity centres the end values are held.

    Parameters
    ----------
    activity : Tensor
        [B, T'] activity in [0, 1] (probabilities or oracle 0/1).
    embedding : Tensor
        [B, E] static clue embedding (e.g. SH, E = 72), or [B, T', E] per activity frame
        (a direction trajectory).
    num_frames : int
        T, the number of STFT frames.
    activity_hop_s, frame_hop_s : float
        Hop of the activity frames (0.1 s for DCASE labels) and of the STFT frames, seconds.

    Returns
    -------
    Tensor
        [B, T, E].
    """
    if embedding.dim() == 2:
        embedding = embedding[:, None, :]
    if (
        activity.dim() != 2
        or embedding.dim() != 3
        or activity.shape[0] != embedding.shape[0]
        or embedding.shape[1] not in (1, activity.shape[1])
    ):
        raise ValueError(
            "time_varying_clue: expected activity [B, T'] and embedding [B, E] or [B, T', E], "
            f"got {tuple(activity.shape)} and {tuple(embedding.shape)}"
        )
    num_act = activity.shape[1]
    t = torch.arange(num_frames, dtype=embedding.dtype, device=embedding.device)
    # fractional activity-frame coordinate of each STFT frame centre
    u = (t * frame_hop_s / activity_hop_s - 0.5).clamp(0.0, num_act - 1)
    lo = u.floor().long().clamp(max=num_act - 1)
    hi = (lo + 1).clamp(max=num_act - 1)
    frac = (u - lo.to(u.dtype))[None, :, None]
    clue = activity.to(embedding.dtype)[:, :, None] * embedding  # [B, T', E]
    return clue[:, lo] * (1.0 - frac) + clue[:, hi] * frac


class ClueEmbedding(nn.Module):
    """Parameter-free DoA clue encoder: (azimuth_deg, elevation_deg) -> embedding.

    Parameters
    ----------
    kind : {"sh", "cycpos"}
        Spherical harmonics (paper) or cyclic positional embedding (ablation).
    sh_order : int
        Maximum SH degree N (embedding length 2 (N + 1)^2).
    cycpos_dim, cycpos_alpha : int, float
        Per-angle length and scale of the cyclic embedding (length 2 cycpos_dim).
    """

    def __init__(self, kind: str = "sh", sh_order: int = 5, cycpos_dim: int = 40, cycpos_alpha: float = 20.0):
        super().__init__()
        if kind not in ("sh", "cycpos"):
            raise ValueError(f"ClueEmbedding: kind must be 'sh' or 'cycpos', got {kind!r}")
        self.kind = kind
        self.sh_order = sh_order
        self.cycpos_dim = cycpos_dim
        self.cycpos_alpha = cycpos_alpha

    @property
    def dim(self) -> int:
        """Embedding length E."""
        return sh_dim(self.sh_order) if self.kind == "sh" else 2 * self.cycpos_dim

    def forward(self, direction_deg: Tensor) -> Tensor:
        """Embed directions.

        Parameters
        ----------
        direction_deg : Tensor
            [..., 2] (azimuth, elevation) in degrees, DCASE convention.

        Returns
        -------
        Tensor
            [..., E].
        """
        az, el = direction_deg[..., 0], direction_deg[..., 1]
        if self.kind == "sh":
            return sh_embedding(az, el, self.sh_order)
        return cycpos_embedding(az, el, self.cycpos_dim, self.cycpos_alpha)
