"""Room impulse responses: the image-source engine, its diffuse tail, Sabine's law, backends.

``simulate_rirs`` (in :mod:`.engine`) is the entry point; :mod:`.request` validates a room
and its positions once for every backend, :mod:`.image_source` holds the image loop,
:mod:`.diffuse_tail` gpuRIR's seeded diffuse tail, :mod:`.sabine` the attenuation and
time conversions, :mod:`.backends` the pyroomacoustics and gpuRIR renderers and
:mod:`.measure` RT60 from a decay curve.
"""
from asabench.simulate.rir.engine import BACKENDS, simulate_rirs, simulate_rirs_torch

__all__ = ["BACKENDS", "simulate_rirs", "simulate_rirs_torch"]
