"""Former name of :mod:`asabench.benchmark.metrics.permutation`, kept so existing imports work."""

from asabench.benchmark.metrics.permutation import PitResult, apply_permutation, pairwise_matrix, pit, pit_from_pairwise

__all__ = ["PitResult", "apply_permutation", "pairwise_matrix", "pit", "pit_from_pairwise"]
