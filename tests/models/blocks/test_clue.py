"""Directional clue embeddings against SciPy's special functions and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import torch

from asabench.models.blocks.clue import (
    ClueEmbedding,
    cyclic_positional_embedding,
    cycpos_embedding,
    sh_dim,
    sh_embedding,
    sh_index,
    time_varying_clue,
)


def _scipy_sph_harm(n: int, m: int, colatitude: np.ndarray, azimuth: np.ndarray) -> np.ndarray:
    """SciPy's complex Y_n^m(colatitude, azimuth) on any SciPy version."""
    azimuth = np.mod(azimuth, 2 * np.pi)
    if hasattr(scipy.special, "sph_harm_y"):
        return scipy.special.sph_harm_y(n, m, colatitude, azimuth)
    # SciPy < 1.15: sph_harm(m, n, azimuth, colatitude)
    return scipy.special.sph_harm(m, n, azimuth, colatitude)  # pragma: no cover


def test_sh_embedding_matches_scipy_for_all_36_harmonics() -> None:
    rng = np.random.default_rng(1234)
    az = rng.uniform(-180.0, 180.0, 64)
    el = rng.uniform(-90.0, 90.0, 64)
    az[:3] = [0.0, 90.0, -180.0]
    el[:3] = [90.0, -90.0, 0.0]  # poles and the horizon
    emb = sh_embedding(torch.from_numpy(az), torch.from_numpy(el), order=5).numpy()
    pairs = sh_index(5)
    assert len(pairs) == 36 and emb.shape == (64, 72) and sh_dim(5) == 72
    colat = np.deg2rad(90.0 - el)
    for k, (n, m) in enumerate(pairs):
        ref = _scipy_sph_harm(n, m, colat, np.deg2rad(az))
        np.testing.assert_allclose(emb[:, k], ref.real, atol=1e-12, err_msg=f"Re Y_{n}^{m}")
        np.testing.assert_allclose(emb[:, 36 + k], ref.imag, atol=1e-12, err_msg=f"Im Y_{n}^{m}")


def test_sh_angle_convention_is_dcase() -> None:
    # Y_1^0 = sqrt(3/4pi) z and Re Y_1^1 = -sqrt(3/8pi) x with x, y, z the DCASE unit vector.
    az = torch.tensor([30.0, -120.0, 75.0], dtype=torch.float64)
    el = torch.tensor([10.0, -45.0, 60.0], dtype=torch.float64)
    emb = sh_embedding(az, el, order=1)  # pairs (0,0), (1,-1), (1,0), (1,1)
    x = torch.cos(torch.deg2rad(el)) * torch.cos(torch.deg2rad(az))
    y = torch.cos(torch.deg2rad(el)) * torch.sin(torch.deg2rad(az))
    z = torch.sin(torch.deg2rad(el))
    torch.testing.assert_close(emb[:, 2], np.sqrt(3 / (4 * np.pi)) * z)
    torch.testing.assert_close(emb[:, 3], -np.sqrt(3 / (8 * np.pi)) * x)
    torch.testing.assert_close(emb[:, 4 + 3], -np.sqrt(3 / (8 * np.pi)) * y)


def test_cyclic_positional_embedding_closed_form_and_unit_norm() -> None:
    phi = torch.tensor([0.3, -2.0, 3.1], dtype=torch.float64)
    pe = cyclic_positional_embedding(phi, dim=40, alpha=20.0)
    assert pe.shape == (3, 40)
    ref = np.zeros((3, 40))
    for i in range(20):
        w = 10000.0 ** (-2 * i / 40)
        ref[:, 2 * i] = np.sin(np.sin(phi.numpy()) * 20 * w)
        ref[:, 2 * i + 1] = np.sin(np.cos(phi.numpy()) * 20 * w)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(pe.numpy(), ref, atol=1e-12)
    np.testing.assert_allclose(pe.norm(dim=-1).numpy(), 1.0, atol=1e-12)
    # periodic: phi and phi + 2 pi embed identically
    torch.testing.assert_close(cyclic_positional_embedding(phi + 2 * np.pi), pe)
    both = cycpos_embedding(torch.tensor([30.0]), torch.tensor([-20.0]))
    assert both.shape == (1, 80)
    torch.testing.assert_close(both[0, :40], cyclic_positional_embedding(torch.deg2rad(torch.tensor(30.0))))


def test_cyclic_embedding_rejects_odd_dim() -> None:
    with pytest.raises(ValueError, match="even"):
        cyclic_positional_embedding(torch.zeros(1), dim=39)


def test_time_varying_clue_interpolates_in_time() -> None:
    act = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    emb = torch.tensor([[2.0, -1.0]])
    # activity hop 0.1 s (centres 0.05, 0.15, ...), STFT hop 0.02 s, 21 frames over 0.4 s
    clue = time_varying_clue(act, emb, num_frames=21, activity_hop_s=0.1, frame_hop_s=0.02)
    assert clue.shape == (1, 21, 2)
    t = np.arange(21) * 0.02
    ref = np.interp(t, [0.05, 0.15, 0.25, 0.35], [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(clue[0, :, 0].numpy(), 2.0 * ref, atol=1e-6)
    np.testing.assert_allclose(clue[0, :, 1].numpy(), -ref, atol=1e-6)


def test_clue_embedding_module_dims() -> None:
    d = torch.tensor([[10.0, 20.0], [-170.0, -5.0]])
    assert ClueEmbedding("sh").dim == 72 and ClueEmbedding("sh")(d).shape == (2, 72)
    assert ClueEmbedding("cycpos").dim == 80 and ClueEmbedding("cycpos")(d).shape == (2, 80)
    with pytest.raises(ValueError, match="kind"):
        ClueEmbedding("onehot")


def test_time_varying_clue_with_a_direction_trajectory() -> None:
    gen = torch.Generator().manual_seed(7)
    act = torch.rand(2, 5, generator=gen)
    emb = torch.randn(2, 5, 3, generator=gen)
    clue = time_varying_clue(act, emb, num_frames=26, activity_hop_s=0.1, frame_hop_s=0.02)
    t = np.arange(26) * 0.02
    centres = (np.arange(5) + 0.5) * 0.1
    for b in range(2):
        for e in range(3):
            ref = np.interp(t, centres, (act[b] * emb[b, :, e]).numpy())
            np.testing.assert_allclose(clue[b, :, e].numpy(), ref, atol=1e-6)
    with pytest.raises(ValueError, match="activity"):
        time_varying_clue(act, torch.randn(2, 4, 3), 26, 0.1, 0.02)
