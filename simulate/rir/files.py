"""Render the RIRs of one room to files: the job behind ``asabench rir``.

:func:`render_rirs_to_files` renders every source-to-microphone response of a shoebox room
with :func:`~asabench.simulate.rir.engine.simulate_rirs` and writes, atomically,

* ``.npz``: ``rirs [S, M, L]`` float32 plus the request (``fs``, ``room_dim``, ``betas``,
  ``rt60``, ``sources``, ``mics``, ``seed``, ``backend``), or
* ``.wav``: one M-channel float32 file per source, ``name.wav`` for one source and
  ``name_src<k>.wav`` otherwise.

It returns what the command prints: the expected direct-path arrival ``d / c`` at each
microphone, the sample where the rendered direct peak lies, and the RT60 measured on the
result by Schroeder integration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from asabench.simulate.geometry import SPEED_OF_SOUND, MicArray, dcase_to_cartesian
from asabench.simulate.io.files import Pathlike, atomic_write_with
from asabench.simulate.rir.engine import simulate_rirs
from asabench.simulate.rir.measure import measure_rt60
from asabench.simulate.rir.sabine import betas_from_rt60

__all__ = ["RIR_FILE_SUFFIXES", "RirFiles", "rir_file_paths", "sources_from_dcase", "render_rirs_to_files"]

#: Formats :func:`render_rirs_to_files` writes, chosen by the output's suffix.
RIR_FILE_SUFFIXES = (".npz", ".wav")


@dataclass
class RirFiles:
    """What :func:`render_rirs_to_files` rendered and wrote.

    Attributes
    ----------
    paths : files written, in source order for ``.wav``.
    rirs : ``[S, M, L]`` float32 responses.
    sources, mics : ``[S, 3]`` and ``[M, 3]`` positions, metres.
    fs : sample rate, Hz.
    expected_arrival : ``[S, M]`` direct-path delay ``d / c``, samples.
    direct_peak : ``[S, M]`` sample of the largest magnitude within 2 samples of it.
    measured_rt60_s : ``[S]`` RT60 measured on the result (mean over microphones,
        Schroeder, -15..-35 dB); ``None`` for direct-path-only responses.
    """

    paths: list[Path]
    rirs: np.ndarray
    sources: np.ndarray
    mics: np.ndarray
    fs: float
    expected_arrival: np.ndarray
    direct_peak: np.ndarray
    measured_rt60_s: np.ndarray | None


def rir_file_paths(out: Pathlike, num_sources: int) -> list[Path]:
    """Files :func:`render_rirs_to_files` writes for ``num_sources`` sources to ``out``."""
    out = Path(out)
    if out.suffix.lower() not in RIR_FILE_SUFFIXES:
        raise ValueError(f"{out}: out: expected a .npz or .wav path")
    if out.suffix.lower() == ".npz" or num_sources == 1:
        return [out]
    return [out.with_name(f"{out.stem}_src{k}{out.suffix}") for k in range(num_sources)]


def sources_from_dcase(directions: Sequence[Sequence[float]], mics: np.ndarray) -> np.ndarray:
    """``[S, 3]`` positions of sources given as DCASE (azimuth deg, elevation deg, distance m)
    rows seen from the centre of the ``[M, 3]`` array."""
    centre = np.asarray(mics, dtype=np.float64).mean(axis=0)
    return np.stack([centre + dcase_to_cartesian(az, el, dist) for az, el, dist in directions])


def render_rirs_to_files(
    out: Pathlike,
    sources: np.ndarray | Sequence[Sequence[float]],
    *,
    room_dim: Sequence[float] | np.ndarray = (6.0, 5.0, 3.0),
    rt60: float | None = 0.4,
    mics: np.ndarray | Sequence[Sequence[float]] | None = None,
    fs: float = 16000.0,
    tdiff_db: float = 12.0,
    tmax_db: float = 40.0,
    direct_only: bool = False,
    max_order: int | None = None,
    reflection_sign: str = "negative",
    backend: str = "torch",
    device: str = "cpu",
    seed: int = 0,
) -> RirFiles:
    """Render the RIRs from ``sources`` to ``mics`` in one room and write them to ``out``.

    Parameters
    ----------
    out : ``.npz`` or ``.wav`` path (see the module docstring for the layouts).
    sources : ``[S, 3]`` source positions, metres.
    room_dim : ``[3]`` room size, metres.
    rt60 : reverberation time, s (Sabine fit with the ASA2 wall weights).
    mics : ``[M, 3]`` microphone positions, metres; default: the tetrahedral array at the
        room centre.
    fs, tdiff_db, tmax_db, direct_only, max_order, reflection_sign, backend, device, seed :
        as for :func:`~asabench.simulate.rir.engine.simulate_rirs`.

    Nothing is written unless the whole request renders; each file appears atomically.
    """
    room = np.asarray(room_dim, dtype=np.float64)
    mic_pos = (MicArray.tetrahedral(room / 2) if mics is None else MicArray.from_positions(mics)).positions
    src = np.atleast_2d(np.asarray(sources, dtype=np.float64))
    if src.size == 0:
        raise ValueError("sources: give at least one source position")
    paths = rir_file_paths(out, len(src))
    rirs = simulate_rirs(room, rt60, src, mic_pos, fs, tdiff_db=tdiff_db, tmax_db=tmax_db, direct_only=direct_only,
                         backend=backend, device=device, seed=seed, reflection_sign=reflection_sign,
                         max_order=max_order)
    if paths[0].suffix.lower() == ".npz":
        betas = betas_from_rt60(room, rt60) if rt60 is not None else np.full(6, np.nan)

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, rirs=rirs, fs=fs, room_dim=room, betas=betas, rt60=np.nan if rt60 is None else rt60,
                         sources=src, mics=mic_pos, seed=seed, backend=backend)

        atomic_write_with(paths[0], save)
    else:
        import soundfile as sf

        for k, path in enumerate(paths):
            atomic_write_with(path, lambda tmp, k=k: sf.write(tmp, rirs[k].T, int(fs), subtype="FLOAT", format="WAV"))

    expected = np.linalg.norm(src[:, None] - mic_pos[None], axis=-1) / SPEED_OF_SOUND * fs
    peaks = np.zeros(expected.shape, dtype=np.int64)
    for s in range(rirs.shape[0]):
        for m, tau in enumerate(expected[s]):
            lo = max(0, int(tau) - 2)
            peaks[s, m] = lo + int(np.argmax(np.abs(rirs[s, m, lo : int(tau) + 4])))
    rt60_measured = None if direct_only else np.nanmean(measure_rt60(rirs, fs), axis=-1)
    return RirFiles(paths, rirs, src, mic_pos, fs, expected, peaks, rt60_measured)
