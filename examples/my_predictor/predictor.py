"""A deliberately simple, deterministic predictor: the shape of a submission, not a good system.

* ``separate``: ``K`` objects, each ``mixture / K`` (they sum to the mixture, so every
  object's SI-SDR improvement over the mixture is 0 dB: a floor any real system beats);
* ``detect``: no events (SELD score of an empty prediction);
* ``extract``: the mixture itself (0 dB improvement).

What asabench requires of a submitted predictor, all shown here: the methods of the suite's
tasks, batch-first float tensors ``[B, C, N]`` in, ``[B, K, C, N]`` / ``[B, C, N]`` out (a list
of ``B`` DcaseLabels for ``detect``), the attributes ``sample_rate`` (Hz) and
``num_channels`` declaring what it was built for, and the same output for the same input.
"""

from __future__ import annotations

import torch

from asabench.benchmark.io.dcase_csv import DcaseLabels


class SplitEvenly:
    """Every object slot gets an equal share of the mixture."""

    def __init__(self, sample_rate: int, num_channels: int = 4, num_objects: int = 3) -> None:
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.num_objects = num_objects
        self.name = "split-evenly"

    def separate(self, mixture: torch.Tensor) -> torch.Tensor:
        """``[B, C, N]`` -> ``[B, K, C, N]``: ``K`` copies of ``mixture / K``."""
        share = mixture / self.num_objects
        return share[:, None].expand(-1, self.num_objects, -1, -1).contiguous()

    def detect(self, mixture: torch.Tensor) -> list[DcaseLabels]:
        """No events in any scene."""
        return [DcaseLabels.empty() for _ in range(mixture.shape[0])]

    def extract(self, mixture: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        """``[B, C, N]`` mixtures and ``[B, 2]`` directions -> the mixtures."""
        return mixture.clone()

    def describe(self) -> dict:
        return {"kind": "object", "name": self.name, "parameters": 0,
                "sample_rate": self.sample_rate, "num_objects": self.num_objects}


def demo_predictor() -> SplitEvenly:
    """For the demo suites: 8 kHz, 4 microphones, 3 object slots."""
    return SplitEvenly(8000, 4, 3)


def asa2_predictor() -> SplitEvenly:
    """For the asa2 suites: 16 kHz, 4 microphones, 5 object slots."""
    return SplitEvenly(16000, 4, 5)
