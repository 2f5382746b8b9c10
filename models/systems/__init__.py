"""Full systems assembled from blocks."""

from typing import Any

import torch


def tse_example_inputs(n_mics: int, n_samples: int) -> tuple[tuple[torch.Tensor, ...], dict[str, Any]]:
    """The representative call of a directional TSE system for complexity counting.

    One seeded mixture ``[1, n_mics, n_samples]`` (0.1 x standard normal, generator seed 0) and
    one clue direction (azimuth 30, elevation 10 degrees); used by SoundCompass, DSENet and SSDQ.
    """
    g = torch.Generator().manual_seed(0)
    mixture = 0.1 * torch.randn(1, n_mics, n_samples, generator=g)
    return (mixture, torch.tensor([[30.0, 10.0]])), {}
