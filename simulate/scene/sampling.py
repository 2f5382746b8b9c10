"""Sample scene specs from a manifest, one independent random stream per scene.

Scene ``index`` of split ``split`` draws everything from
``np.random.default_rng(SeedSequence([manifest.seed, split_key(split), index]))``, in a fixed
order (room, RT60, number of sources, classes, trajectories, SNR, engine seeds, then files and
clip placements), so scene k is identical whatever the number of workers, shards or the order
they run in.

Files are validated while sampling when ``load_clips`` is set: an unreadable, silent,
non-finite or too-short clip is reported with its path and, per the manifest's
``bad_files`` policy, either redrawn from the same class (``"skip"``, recorded in the spec's
``rejected`` list) or raised (``"error"``). The clips loaded for the check are returned so
that rendering does not read them again.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from asabench.simulate.dataset.format import scene_id
from asabench.simulate.geometry import tetra_array
from asabench.simulate.manifest import Manifest
from asabench.simulate.rir.sabine import betas_from_rt60
from asabench.simulate.sources.base import NoiseBank, SourceBank, SourceError, SourceRef
from asabench.simulate.scene.spec import NoiseSpec, SceneSpec, SourceSpec
from asabench.simulate.scene.diffuse_noise import noise_span, repeated_length
from asabench.simulate.scene.trajectory import Trajectory, sample_trajectory

__all__ = [
    "SPLIT_KEYS",
    "BadSourceError",
    "SceneLayout",
    "split_key",
    "scene_rng",
    "sample_layout",
    "sample_scene",
    "check_clip",
]

#: Fixed stream keys of the usual splits; other split names hash to a key.
SPLIT_KEYS: dict[str, int] = {"train": 0, "validation": 1, "test": 2}

#: Loads a ref at a sample rate: ``loader(ref, fs) -> [n] float32``.
Loader = Callable[[SourceRef, int], np.ndarray]


class BadSourceError(RuntimeError):
    """A scene cannot get a usable clip under the manifest's bad-file policy (names the paths)."""


def split_key(split: str) -> int:
    """Integer stream key of a split name (0 train, 1 validation, 2 test, else a name hash)."""
    if split in SPLIT_KEYS:
        return SPLIT_KEYS[split]
    # 32 bits of the name's SHA-256, offset past the fixed keys: stable across machines.
    return 16 + int.from_bytes(hashlib.sha256(split.encode("utf-8")).digest()[:4], "big")


def scene_rng(manifest_seed: int, split: str, index: int,
              secret: Any = None) -> tuple[list[int], np.random.Generator]:
    """Entropy ``[seed, split_key, index]`` of a scene and its generator.

    ``secret``: a :class:`~asabench.simulate.secret_seed.SecretSeed` for a hidden split; the
    entropy is then its four HMAC words of ``(seed, split, index)`` (:mod:`~asabench.simulate.secret_seed`).
    """
    if secret is not None:
        entropy = secret.entropy(manifest_seed, split, index)
        return entropy, np.random.default_rng(np.random.SeedSequence(entropy))
    entropy = [int(manifest_seed), split_key(split), int(index)]
    return entropy, np.random.default_rng(np.random.SeedSequence(entropy))


@dataclass
class SceneLayout:
    """The file-independent part of a scene draw (no bank, no audio needed).

    ``rng`` is left positioned after these draws; :func:`sample_scene` continues with it.
    """

    entropy: list[int]
    rng: np.random.Generator
    room_dim: np.ndarray
    rt60_s: float
    betas: np.ndarray
    classes: list[int]
    trajectories: list[Trajectory]
    snr_db: float
    rir_seed: int
    noise_seed: int


def _choice(rng: np.random.Generator, values: Sequence[Any], weights: Sequence[float] | None) -> Any:
    # Inverse-CDF on one uniform: exactly one draw whatever the weights (stream stays aligned).
    u = float(rng.random())
    if weights is None:
        return values[min(int(u * len(values)), len(values) - 1)]
    cdf = np.cumsum(np.asarray(weights, dtype=np.float64))
    cdf /= cdf[-1]
    return values[min(int(np.searchsorted(cdf, u, side="right")), len(values) - 1)]


def sample_layout(manifest: Manifest, split: str, index: int, secret: Any = None) -> SceneLayout:
    """Draw room, RT60, wall coefficients, number/classes/trajectories of sources, SNR and seeds.

    Parameters
    ----------
    manifest : the recipe.
    split : split name (need not be declared, for ad-hoc sampling).
    index : scene index within the split.
    secret : secret seed of a hidden split (:func:`scene_rng`), else None.

    Returns
    -------
    SceneLayout
        ``room_dim`` ``[3]`` m, ``betas`` ``[6]``, one class and ``[n_points, 3]`` trajectory
        per source, SNR in dB, engine seeds.
    """
    entropy, rng = scene_rng(manifest.seed, split, index, secret)
    room = manifest.room
    room_dim = np.array([room.width_m.sample(rng), room.length_m.sample(rng), room.height_m.sample(rng)])
    rt60 = manifest.acoustics.rt60_s.sample(rng)
    betas = betas_from_rt60(room_dim, rt60, manifest.acoustics.abs_weights)
    src = manifest.sources
    num = int(_choice(rng, src.num_sources, src.num_sources_weights))
    classes = [int(_choice(rng, src.classes, src.class_weights)) for _ in range(num)]
    mo = manifest.motion
    trajectories = [
        sample_trajectory(rng, room_dim, n_points=mo.n_points, static_prob=mo.static_prob,
                          amplitude_max_m=mo.amplitude_max_m, max_oscillations=mo.max_oscillations,
                          margin_m=mo.wall_margin_m, force_static=mo.model == "static",
                          draw_power=mo.draw_power)
        for _ in range(num)
    ]
    snr_db = manifest.noise.snr_db.sample(rng)
    rir_seed, noise_seed = (int(x) for x in rng.integers(0, 2**31 - 1, size=2))
    return SceneLayout(entropy, rng, room_dim, rt60, betas, classes, trajectories, snr_db,
                       rir_seed, noise_seed)


def render_options(manifest: Manifest, backend: str, crossfade: bool) -> dict[str, Any]:
    """The spec's ``render`` record: backend, crossfade, and the recipe options that are not
    at their pre-2.0 values (so that specs of older recipes stay byte-identical)."""
    out: dict[str, Any] = {"backend": backend, "crossfade": bool(crossfade)}
    if manifest.noise.field != "frame_offsets":
        out["noise_field"] = manifest.noise.field
    if manifest.acoustics.image_set != "sphere":
        out["image_set"] = manifest.acoustics.image_set
    if manifest.motion.static_tails != "one":
        out["static_tails"] = manifest.motion.static_tails
    return out


def check_clip(ref: SourceRef, clip: np.ndarray, fs: int, min_samples: int) -> str | None:
    """Why a loaded clip is unusable (``None`` when it is fine): non-finite, silent or too short."""
    if clip.ndim != 1:
        return f"expected mono audio, got shape {list(clip.shape)}"
    if clip.shape[0] < max(min_samples, 1):
        return f"too short: {clip.shape[0]} samples at {fs} Hz, the manifest needs {min_samples}"
    if not np.all(np.isfinite(clip)):
        return "contains NaN or Inf samples"
    if not np.any(clip):
        return "silent (all samples are zero)"
    return None


def _pick_clip(
    rng: np.random.Generator,
    refs: Sequence[SourceRef],
    what: str,
    manifest: Manifest,
    loader: Loader | None,
    bank_name: str,
) -> tuple[SourceRef, float, np.ndarray | None, list[dict[str, Any]]]:
    """Draw a ref and a placement uniform, redrawing bad files per the policy."""
    if not refs:
        raise BadSourceError(f"{bank_name}: no clips for {what}")
    fs = manifest.fs
    min_samples = int(round(manifest.sources.min_clip_s * fs))
    rejected: list[dict[str, Any]] = []
    for _ in range(manifest.sources.max_redraws + 1):
        ref = refs[int(rng.integers(len(refs)))]
        u = float(rng.random())
        if loader is None:
            return ref, u, None, rejected
        where = f"{bank_name}/{ref.id}" if ref.bank == "folder" else f"{ref.bank}:{ref.id}"
        try:
            clip = np.asarray(loader(ref, fs))
            reason = check_clip(ref, clip, fs, min_samples)
        except SourceError as exc:
            clip, reason, where = None, exc.reason, exc.path
        except Exception as exc:  # a decoder error deep inside a reader
            clip, reason = None, f"unreadable: {type(exc).__name__}: {exc}"
        if reason is None:
            return ref, u, clip, rejected
        if manifest.sources.bad_files == "error":
            raise BadSourceError(f"{where}: {reason} ({what}; manifest policy bad_files = 'error')")
        print(f"asabench: skipping {where}: {reason}", file=sys.stderr)
        rejected.append({"ref": ref.to_dict(), "path": str(where), "reason": reason})
    raise BadSourceError(
        f"{bank_name}: no usable clip for {what} after {manifest.sources.max_redraws + 1} draws; "
        f"rejected: " + "; ".join(f"{r['path']} ({r['reason']})" for r in rejected))


def _placement(u: float, clip_len: int, n: int) -> tuple[int, int, int]:
    """(clip_start, onset, length): random crop of a long clip or random onset of a short one."""
    if clip_len >= n:
        return min(int(u * (clip_len - n + 1)), clip_len - n), 0, n
    return 0, min(int(u * (n - clip_len + 1)), n - clip_len), clip_len


def sample_scene(
    manifest: Manifest,
    split: str,
    index: int,
    source_bank: SourceBank,
    noise_bank: NoiseBank,
    *,
    load_clips: bool = True,
    backend: str = "torch",
    crossfade: bool = False,
    bank_info: dict[str, dict[str, Any]] | None = None,
    secret: Any = None,
) -> tuple[SceneSpec, list[np.ndarray] | None, np.ndarray | None]:
    """Sample the full spec of one scene.

    Parameters
    ----------
    manifest : the recipe.
    split, index : which scene.
    source_bank, noise_bank : where clips come from.
    load_clips : load every chosen clip to apply the bad-file policy (and return the clips).
    backend, crossfade : rendering choices recorded in the spec.
    bank_info : bank descriptions stored in the spec (default: each bank's ``describe()``).
    secret : secret seed of a hidden split (:func:`scene_rng`), else None.

    Returns
    -------
    spec : SceneSpec
        ``output_gain`` and ``noise.gain`` still ``None`` (set by rendering).
    clips : list of ``[n_k]`` float32 dry clips at ``manifest.fs`` (``None`` without ``load_clips``).
    noise_clip : ``[n]`` float32 mono noise clip (``None`` without ``load_clips``).

    Raises
    ------
    BadSourceError
        Naming the file(s) when no usable clip can be drawn under the policy.
    """
    lay = sample_layout(manifest, split, index, secret)
    rng = lay.rng
    n = manifest.num_samples
    fs = manifest.fs
    load = (lambda bank: bank.load) if load_clips else (lambda bank: None)
    sources: list[SourceSpec] = []
    clips: list[np.ndarray] = []
    for k, (cls, traj) in enumerate(zip(lay.classes, lay.trajectories)):
        refs = source_bank.files(cls)
        ref, u, clip, rejected = _pick_clip(rng, refs, f"source {k} (class {cls}) of {scene_id(split, index)}",
                                            manifest, load(source_bank), source_bank.name)
        clip_len = clip.shape[0] if clip is not None else ref.num_samples(fs)
        start, onset, length = _placement(u, clip_len, n)
        sources.append(SourceSpec(
            class_idx=cls, file=ref.to_dict(), clip_start=start, onset=onset, length=length,
            static=bool(traj.static), trajectory=traj.points.tolist(),
            amplitude_m=traj.amplitude_m.tolist(), omega=traj.omega.tolist(), rejected=rejected))
        if clip is not None:
            clips.append(clip)
    nref, u, nclip, nrejected = _pick_clip(rng, noise_bank.files(), f"the noise of {scene_id(split, index)}",
                                           manifest, load(noise_bank), noise_bank.name)
    nlen = nclip.shape[0] if nclip is not None else nref.num_samples(fs)
    center = lay.room_dim / 2.0
    mics = tetra_array(center, manifest.array.radius_m)
    # The same uniform places the window whatever the field: "frame_offsets" crops one scene
    # length from the clip, "asa2" a window of M scene lengths from the clip repeated.
    span = noise_span(manifest.noise.field, n, len(mics))
    total = repeated_length(nlen, span) if manifest.noise.field == "asa2" else nlen
    nstart = min(int(u * max(total - span + 1, 1)), max(total - span, 0))
    noise = NoiseSpec(file=nref.to_dict(), clip_start=nstart, snr_db=lay.snr_db, seed=lay.noise_seed,
                      rejected=nrejected)

    if bank_info is None:
        bank_info = {"sources": source_bank.describe(), "noise": noise_bank.describe()}
    spec = SceneSpec(
        id=scene_id(split, index), split=split, index=int(index), seed=lay.entropy,
        manifest={"name": manifest.name, "version": manifest.version, "sha256": manifest.sha256},
        fs=fs, num_samples=n, label_hop_s=manifest.label_hop_s,
        room_dim=lay.room_dim.tolist(), rt60_s=lay.rt60_s, betas=lay.betas.tolist(),
        abs_weights=list(manifest.acoustics.abs_weights), tdiff_db=manifest.acoustics.tdiff_db,
        tmax_db=manifest.acoustics.tmax_db,
        array={"type": manifest.array.type, "radius_m": manifest.array.radius_m,
               "center": center.tolist(), "mics": np.asarray(mics).tolist()},
        sources=sources, noise=noise,
        snr_rule={"window": manifest.noise.window, "hop": manifest.noise.hop,
                  "threshold": manifest.noise.threshold},
        output_peak=manifest.output.peak, rir_seed=lay.rir_seed,
        render=render_options(manifest, backend, crossfade),
        banks=bank_info,
    )
    return spec, (clips if load_clips else None), (nclip if load_clips else None)
