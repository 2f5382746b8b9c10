"""Spatial-cue errors (being split into definitions, GCC-PHAT engine and kernels; see the next commit)."""

import sys

from asabench.benchmark.metrics.spatial import kernels as _kernels

sys.modules[__name__] = _kernels
