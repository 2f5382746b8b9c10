"""Bounds of every number a recipe or a scene spec may hold.

One place for them: :mod:`asabench.simulate.manifest` validates a recipe and
:mod:`asabench.simulate.scene.spec` a scene with the same limits, so any spec a valid
manifest can produce passes and a hand-edited one cannot ask for more than a recipe could
(a ``tmax_db`` of 1e6 or 10^12 samples would allocate gigabytes).
"""

from __future__ import annotations

import math

#: Sample rate, Hz (scene rate and a clip's native rate).
FS_RANGE_HZ: tuple[int, int] = (1000, 384000)
#: Longest scene, seconds.
MAX_DURATION_S: float = 3600.0
#: Largest room side, metres.
MAX_ROOM_DIM_M: float = 1000.0
#: Longest RT60, seconds.
MAX_RT60_S: float = 10.0
#: Largest RIR attenuation (``tdiff_db``, ``tmax_db``), dB.
MAX_ATTENUATION_DB: float = 200.0
#: SNR range, dB.
SNR_DB_RANGE: tuple[float, float] = (-100.0, 200.0)
#: Longest active-power window, samples.
MAX_NOISE_WINDOW: int = 10**7
#: Most foreground sources in a scene.
MAX_SOURCES: int = 64
#: Most trajectory points of a source.
MAX_TRAJECTORY_POINTS: int = 100000
#: Largest sine amplitude of a trajectory, metres.
MAX_AMPLITUDE_M: float = 100.0
#: Largest array radius, metres.
MAX_ARRAY_RADIUS_M: float = 1.0
#: Most scenes in a split.
MAX_SCENES_PER_SPLIT: int = 10**9
#: Not manifest fields: largest trajectory step (rad per point; 1000 oscillations over
#: one point), most capsules/channels of a clip, longest clip (a day of audio).
MAX_OMEGA_RAD: float = 2 * math.pi * 1000.0
MAX_CHANNELS: int = 64
MAX_CLIP_S: float = 86400.0
