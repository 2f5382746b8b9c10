"""Render a scene spec into audio and labels (the ASA2 recipe).

For every foreground source the dry clip is placed in the scene (crop or zero-padded onset),
then rendered along its trajectory twice: with the full RIRs (image sources up to Tdiff plus
the diffuse tail up to Tmax) and with the direct image only. The direct-path target is the
second, the reverberant target is full minus direct. Both use the segment-wise overlap-add of
gpuRIR's ``simulateTrajectory`` (optionally crossfaded). A static source uses one RIR, or,
with the spec's ``render.static_tails = "per_point"`` (the published generator), one RIR per
trajectory point of the same position, each with its own diffuse tail; its direct path is
the same at every point and is rendered once. ``render.image_set`` selects the image set of
the RIR engine (``"sphere"`` or gpuRIR's ``"box"``).

Background: one mono noise clip turned into a spherically diffuse field for the array
geometry (``render.noise_field``: ``"frame_offsets"`` or the published ``"asa2"`` field, see
:mod:`asabench.simulate.scene.diffuse_noise`), scaled to the spec's SNR by the recipe's rule: noise power relative to the power of
the sum of the direct-path images, averaged over channels, each measured only on
``window``-sample frames (hop ``hop``) whose power exceeds ``threshold`` of the loudest
frame's (:func:`active_power`).

Output: every signal is multiplied by one common gain so that ``max |mixture| =
output_peak`` (headroom below full scale; the 16-bit ASA2 export never clips). The spec
gets ``noise.gain`` and ``output_gain``. Labels follow :mod:`asabench.simulate.scene.labels`.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from asabench.simulate.scene.convolution import convolve_trajectory
from asabench.simulate.scene.labels import label_rows
from asabench.simulate.rir.engine import simulate_rirs
from asabench.simulate.sources.base import NoiseBank, SourceBank, SourceRef
from asabench.simulate.scene.spec import SceneSpec

__all__ = ["RenderedScene", "active_power", "noise_field", "place_clip", "place_noise", "render_scene"]


@dataclass
class RenderedScene:
    """Audio and labels of one scene, at the common output scale.

    Attributes
    ----------
    spec : the spec with ``noise.gain`` and ``output_gain`` filled in.
    mixture : ``[M, N]`` float32.
    direct, reverb : ``[J, M, N]`` float32 direct-path and reverberant targets.
    noise : ``[M, N]`` float32 diffuse noise as mixed.
    labels : ``[n_rows, 6]`` int64 DCASE rows (frame, class, track, azimuth, elevation, cm).
    timings : seconds spent in ``rirs``, ``convolution``, ``noise``, ``labels``.
    """

    spec: SceneSpec
    mixture: np.ndarray
    direct: np.ndarray
    reverb: np.ndarray
    noise: np.ndarray
    labels: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)


def active_power(x: np.ndarray, window: int, hop: int, threshold: float) -> float:
    """Mean power over the active frames of a multichannel signal (the recipe's SNR rule).

    Parameters
    ----------
    x : ``[M, N]`` (or ``[N]``) signal.
    window, hop : frame length and hop in samples (640 and 320 at 16 kHz in ASA2).
    threshold : a frame is active when its power exceeds this fraction of the loudest
        frame's power (0.01).

    Returns
    -------
    float
        Mean over active frames of the per-frame power (mean square over samples and
        channels). 0 for a silent signal.
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x.shape[-1]
    if n < window:
        raise ValueError(f"signal of {n} samples is shorter than one {window}-sample window")
    count = 1 + (n - window) // hop
    sq = np.concatenate([np.zeros(1), np.cumsum(np.mean(x * x, axis=0))])
    starts = np.arange(count) * hop
    power = (sq[starts + window] - sq[starts]) / window
    top = power.max()
    if top <= 0:
        return 0.0
    return float(power[power > threshold * top].mean())


def place_clip(clip: np.ndarray, clip_start: int, onset: int, length: int, num_samples: int) -> np.ndarray:
    """Scene-length dry signal ``[num_samples]``: ``clip[clip_start : clip_start + length]`` at ``onset``."""
    if clip_start + length > clip.shape[0]:
        raise ValueError(f"clip of {clip.shape[0]} samples has no samples {clip_start}..{clip_start + length}")
    out = np.zeros(num_samples, dtype=np.float32)
    out[onset:onset + length] = clip[clip_start:clip_start + length]
    return out


def place_noise(clip: np.ndarray, clip_start: int, num_samples: int) -> np.ndarray:
    """Scene-length noise ``[num_samples]`` from ``clip_start``, looping a clip that is too short."""
    reps = math.ceil((clip_start + num_samples) / clip.shape[0])
    return np.tile(clip, reps)[clip_start:clip_start + num_samples].astype(np.float32)


def _diffuse(mono: np.ndarray, mics: np.ndarray, fs: int, seed: int) -> np.ndarray:
    from asabench.simulate.scene.diffuse_noise import diffuse_noise

    return np.asarray(diffuse_noise(mono, mics, fs, rng=np.random.default_rng(seed)), dtype=np.float64)


def noise_field(spec: SceneSpec, noise_clip: np.ndarray) -> np.ndarray:
    """The diffuse noise field of a spec before its SNR gain: ``[M, N]`` float64.

    ``render.noise_field`` ``"frame_offsets"`` (default): a scene-length crop from
    ``noise.clip_start`` (looped when short), channels from frame offsets drawn with
    ``noise.seed``. ``"asa2"``: ``M`` consecutive segments of the repeated clip from
    ``noise.clip_start`` as the inputs, Cholesky mixing (no random draw).
    """
    from asabench.simulate.scene.diffuse_noise import diffuse_noise, segment_inputs

    mics, fs, n = spec.mics, spec.fs, spec.num_samples
    if spec.render.get("noise_field", "frame_offsets") == "asa2":
        inputs = segment_inputs(np.asarray(noise_clip, dtype=np.float32), spec.noise.clip_start, n, mics.shape[0])
        return diffuse_noise(inputs, mics, fs, factorisation="cholesky")
    mono = place_noise(np.asarray(noise_clip, dtype=np.float32), spec.noise.clip_start, n)
    return _diffuse(mono, mics, fs, spec.noise.seed)


def render_scene(
    spec: SceneSpec,
    source_bank: SourceBank | None = None,
    noise_bank: NoiseBank | None = None,
    *,
    clips: Sequence[np.ndarray] | None = None,
    noise_clip: np.ndarray | None = None,
    device: str = "cpu",
) -> RenderedScene:
    """Render a spec (see the module docstring).

    Parameters
    ----------
    spec : the scene; not modified (the returned spec is a copy with gains set).
    source_bank, noise_bank : banks that load the spec's refs (unless ``clips`` /
        ``noise_clip`` are given, as :func:`~asabench.simulate.scene.sampling.sample_scene` returns).
    clips : J mono float32 clips at ``spec.fs``, in source order.
    noise_clip : mono float32 noise clip at ``spec.fs``.
    device : torch device of the RIR engine (``torch`` backend).

    Torch runs on one CPU thread during the call (restored after), so the output is
    bit-identical across processes and worker counts.

    Returns
    -------
    RenderedScene
    """
    # One torch thread: multithreaded reductions may round differently, and a scene must be
    # bit-identical whoever renders it (throughput comes from worker processes).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _render(spec, source_bank, noise_bank, clips, noise_clip, device)
    finally:
        torch.set_num_threads(threads)


def _render(
    spec: SceneSpec,
    source_bank: SourceBank | None,
    noise_bank: NoiseBank | None,
    clips: Sequence[np.ndarray] | None,
    noise_clip: np.ndarray | None,
    device: str,
) -> RenderedScene:
    t0 = time.perf_counter()
    fs, n = spec.fs, spec.num_samples
    if clips is None:
        if source_bank is None:
            raise ValueError("render_scene needs a source bank or the loaded clips")
        clips = [source_bank.load(SourceRef.from_dict(s.file), fs) for s in spec.sources]
    if noise_clip is None:
        if noise_bank is None:
            raise ValueError("render_scene needs a noise bank or the loaded noise clip")
        noise_clip = noise_bank.load(SourceRef.from_dict(spec.noise.file), fs)
    dry = [place_clip(np.asarray(c, dtype=np.float32), s.clip_start, s.onset, s.length, n)
           for c, s in zip(clips, spec.sources)]
    # A static source is rendered with one RIR (one segment), or with one RIR per point when
    # each point is to get its own tail; its direct path is one RIR either way (no tail, and
    # P equal RIRs give the same signal).
    per_point = spec.render.get("static_tails", "one") == "per_point"
    traj = [s.points[:1] if s.static and not per_point else s.points for s in spec.sources]
    traj_direct = [s.points[:1] if s.static else s.points for s in spec.sources]
    counts = [p.shape[0] for p in traj]
    counts_direct = [p.shape[0] for p in traj_direct]
    mics = spec.mics
    backend = spec.render.get("backend", "torch")
    # gpuRIR (and ASA2) negate each reflection; pyroomacoustics cannot, so its scenes keep
    # positive reflections (the sign changes the phase of the reverb, not its energy).
    reflection_sign = "positive" if backend == "pyroomacoustics" else "negative"
    crossfade = "hann" if spec.render.get("crossfade") else False
    t_load = time.perf_counter() - t0

    t0 = time.perf_counter()
    j = len(spec.sources)
    if j:
        common = dict(betas=spec.betas, mics=mics, fs=fs, tdiff_db=spec.tdiff_db,
                      tmax_db=spec.tmax_db, backend=backend, device=device, seed=spec.rir_seed,
                      abs_weights=spec.abs_weights, reflection_sign=reflection_sign)
        image_set = spec.render.get("image_set", "sphere")
        full = simulate_rirs(spec.room_dim, spec.rt60_s, sources=np.concatenate(traj, axis=0),
                             **common, **({"image_set": image_set} if image_set != "sphere" else {}))
        direct_rirs = simulate_rirs(spec.room_dim, spec.rt60_s, sources=np.concatenate(traj_direct, axis=0),
                                    direct_only=True, **common)
    t_rir = time.perf_counter() - t0

    t0 = time.perf_counter()
    m = mics.shape[0]
    direct = np.zeros((j, m, n), dtype=np.float64)
    image = np.zeros((j, m, n), dtype=np.float64)
    offset = offset_direct = 0
    with torch.inference_mode():
        for k in range(j):
            sl = slice(offset, offset + counts[k])
            sl_direct = slice(offset_direct, offset_direct + counts_direct[k])
            offset += counts[k]
            offset_direct += counts_direct[k]
            x = torch.from_numpy(dry[k])
            image[k] = convolve_trajectory(x, torch.from_numpy(full[sl]), crossfade=crossfade)[..., :n].numpy()
            direct[k] = convolve_trajectory(x, torch.from_numpy(direct_rirs[sl_direct]), crossfade=crossfade)[..., :n].numpy()
    reverb = image - direct
    t_conv = time.perf_counter() - t0

    t0 = time.perf_counter()
    field_ = noise_field(spec, noise_clip)
    rule = spec.snr_rule
    p_sig = active_power(direct.sum(axis=0), rule["window"], rule["hop"], rule["threshold"])
    p_noise = active_power(field_, rule["window"], rule["hop"], rule["threshold"])
    if p_noise <= 0:
        raise ValueError(f"scene {spec.id}: noise clip {spec.noise.file.get('id')} renders silent")
    noise_gain = math.sqrt(p_sig / (p_noise * 10.0 ** (spec.noise.snr_db / 10.0))) if p_sig > 0 else 0.0
    noise = field_ * noise_gain
    mixture = image.sum(axis=0) + noise
    peak = float(np.max(np.abs(mixture)))
    output_gain = spec.output_peak / peak if peak > 0 else 1.0
    t_noise = time.perf_counter() - t0

    t0 = time.perf_counter()
    frame_len = int(round(spec.label_hop_s * fs))
    labels = label_rows(image[:, 0, :], [s.class_idx for s in spec.sources], [s.points for s in spec.sources],
                        spec.array_center, frame_len, spec.num_frames)
    t_labels = time.perf_counter() - t0

    out_spec = copy.deepcopy(spec)
    out_spec.noise.gain = float(noise_gain)
    out_spec.output_gain = float(output_gain)
    g = output_gain
    return RenderedScene(
        spec=out_spec,
        mixture=(mixture * g).astype(np.float32),
        direct=(direct * g).astype(np.float32),
        reverb=(reverb * g).astype(np.float32),
        noise=(noise * g).astype(np.float32),
        labels=labels,
        timings={"load": t_load, "rirs": t_rir, "convolution": t_conv, "noise": t_noise, "labels": t_labels},
    )
