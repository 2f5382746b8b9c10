"""Spatial-cue preservation errors over microphone pairs: ΔILD, ΔIPD and ΔITD (GCC-PHAT).

* :mod:`.definitions`: what each cue is (parameters, pairs, guards, ILD) and the plain
  reference computations the engines are tested against;
* :mod:`.gcc`: GCC-PHAT and the chirp-z narrow-window ΔITD engine;
* :mod:`.kernels`: NumPy (CPU) and torch kernels, the ``NUMPY_KERNELS`` switch, the float32
  rounding margin;
* :mod:`.cues`: the functions to call (per pair, or all cues averaged with their parameters).
"""

from asabench.benchmark.metrics.spatial.cues import delta_ild, delta_ipd, delta_itd, spatial_cue_errors
from asabench.benchmark.metrics.spatial.definitions import (SPATIAL_DEFAULTS, SPATIAL_DEFINITIONS, gcc_fft_length, ild,
                                                            mic_pairs, spatial_parameters)
from asabench.benchmark.metrics.spatial.gcc import gcc_phat, tdoa

__all__ = [
    "SPATIAL_DEFAULTS",
    "SPATIAL_DEFINITIONS",
    "delta_ild",
    "delta_ipd",
    "delta_itd",
    "gcc_fft_length",
    "gcc_phat",
    "ild",
    "mic_pairs",
    "spatial_cue_errors",
    "spatial_parameters",
    "tdoa",
]
