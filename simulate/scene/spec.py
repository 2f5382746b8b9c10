"""Scene specs: every sampled value of one scene, stored beside its audio as ``spec.json``.

A :class:`SceneSpec` is enough to re-render its scene bit for bit (``asabench render``): the
room, RT60 and wall reflection coefficients, the array pose, each source's class, file
reference, crop/onset and trajectory, the noise file, SNR and generator seeds, the RIR
backend, and, once rendered, the noise gain and the common output gain. File references are
the JSON objects of the source banks, so a relocated corpus is found again through its bank.

The JSON form round-trips exactly (floats are written with ``repr`` precision).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

Pathlike = Union[str, "os.PathLike[str]"]

#: Version of the spec layout; bump when fields change meaning.
SPEC_VERSION: int = 1

__all__ = ["SPEC_VERSION", "SpecError", "SourceSpec", "NoiseSpec", "SceneSpec", "load_spec"]


class SpecError(ValueError):
    """A scene spec is malformed; the message names the file (if any) and the field."""


@dataclass
class SourceSpec:
    """One foreground source of a scene.

    Attributes
    ----------
    class_idx : DCASE class id (0..12).
    file : the source bank's JSON reference of the dry clip.
    clip_start : first sample of the clip used (crop offset), at the scene rate.
    onset : scene sample at which that clip sample plays (zero-padding before it).
    length : number of clip samples used (``onset + length <= num_samples``).
    static : whether the source stays at its start position.
    trajectory : ``[n_points, 3]`` positions in metres (room coordinates).
    amplitude_m, omega : ``[3]`` sine amplitude (m) and step (rad/point) per axis.
    rejected : references the bad-file policy skipped before this one, with the reason.
    """

    class_idx: int
    file: dict[str, Any]
    clip_start: int
    onset: int
    length: int
    static: bool
    trajectory: list[list[float]]
    amplitude_m: list[float]
    omega: list[float]
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def points(self) -> np.ndarray:
        """Trajectory as a ``[n_points, 3]`` float64 array in metres."""
        return np.asarray(self.trajectory, dtype=np.float64)


@dataclass
class NoiseSpec:
    """The background noise of a scene.

    Attributes
    ----------
    file : the noise bank's JSON reference of the mono ambience clip.
    clip_start : first sample used (the clip is looped if shorter than the scene).
    snr_db : target SNR in dB (recipe rule, see :mod:`asabench.simulate.scene.render`).
    seed : seed of the diffuse-field generator's random phases.
    gain : linear gain applied to the diffuse noise before output scaling (set by rendering).
    rejected : references the bad-file policy skipped before this one, with the reason.
    """

    file: dict[str, Any]
    clip_start: int
    snr_db: float
    seed: int
    gain: float | None = None
    rejected: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SceneSpec:
    """Everything sampled for one scene (see the module docstring).

    Attributes
    ----------
    id, split, index : ``<split>-<index:06d>``, the split name and the scene index.
    seed : entropy ``[manifest_seed, split_key, index]`` of the scene's ``SeedSequence``.
    manifest : ``{"name", "version", "sha256"}`` of the recipe.
    fs, num_samples, label_hop_s : sample rate (Hz), scene length (samples), label hop (s).
    room_dim : ``[3]`` metres. rt60_s : target RT60. betas : ``[6]`` wall reflection
        coefficients (gpuRIR wall order). abs_weights : ``[6]``. tdiff_db, tmax_db : dB.
    array : ``{"type", "radius_m", "center": [3], "mics": [M, 3]}`` metres.
    sources : foreground sources in output order ``k``.
    noise : background noise.
    snr_rule : ``{"window", "hop", "threshold"}`` of the active-power measurement.
    output_peak : target ``max |mixture|`` after output scaling.
    rir_seed : seed of the RIR engine's diffuse tail.
    render : ``{"backend", "crossfade"}``: how the RIRs and trajectories were rendered.
    banks : ``{"sources": {...}, "noise": {...}}`` bank descriptions (kind, seed, path).
    output_gain : common gain of every output file (set by rendering).
    """

    id: str
    split: str
    index: int
    seed: list[int]
    manifest: dict[str, str]
    fs: int
    num_samples: int
    label_hop_s: float
    room_dim: list[float]
    rt60_s: float
    betas: list[float]
    abs_weights: list[float]
    tdiff_db: float
    tmax_db: float
    array: dict[str, Any]
    sources: list[SourceSpec]
    noise: NoiseSpec
    snr_rule: dict[str, Any]
    output_peak: float
    rir_seed: int
    render: dict[str, Any]
    banks: dict[str, dict[str, Any]]
    output_gain: float | None = None
    spec_version: int = SPEC_VERSION

    @property
    def num_sources(self) -> int:
        return len(self.sources)

    @property
    def num_frames(self) -> int:
        """Number of label frames."""
        return int(round(self.num_samples / (self.label_hop_s * self.fs)))

    @property
    def mics(self) -> np.ndarray:
        """``[M, 3]`` capsule positions in metres."""
        return np.asarray(self.array["mics"], dtype=np.float64)

    @property
    def array_center(self) -> np.ndarray:
        """``[3]`` array centre in metres."""
        return np.asarray(self.array["center"], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return _jsonable({
            "spec_version": self.spec_version, "id": self.id, "split": self.split,
            "index": self.index, "seed": self.seed, "manifest": self.manifest, "fs": self.fs,
            "num_samples": self.num_samples, "label_hop_s": self.label_hop_s,
            "room_dim": self.room_dim, "rt60_s": self.rt60_s, "betas": self.betas,
            "abs_weights": self.abs_weights, "tdiff_db": self.tdiff_db, "tmax_db": self.tmax_db,
            "array": self.array,
            "sources": [vars(s) for s in self.sources],
            "noise": vars(self.noise),
            "snr_rule": self.snr_rule, "output_peak": self.output_peak,
            "rir_seed": self.rir_seed, "render": self.render, "banks": self.banks,
            "output_gain": self.output_gain,
        })

    def to_json(self) -> str:
        """Deterministic JSON text (sorted keys, one-space indent, trailing newline)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, obj: Any, where: str = "<spec>") -> "SceneSpec":
        """Validate a parsed spec; errors name ``where`` and the field."""
        def fail(fld: str, msg: str) -> SpecError:
            return SpecError(f"{where}: field '{fld}': {msg}")

        if not isinstance(obj, dict):
            raise fail("<root>", "expected a JSON object")
        version = obj.get("spec_version")
        if version != SPEC_VERSION:
            raise fail("spec_version", f"unsupported version {version!r} (this asabench reads {SPEC_VERSION})")
        top_keys = ("id", "split", "index", "seed", "manifest", "fs", "num_samples", "label_hop_s",
                    "room_dim", "rt60_s", "betas", "abs_weights", "tdiff_db", "tmax_db", "array",
                    "sources", "noise", "snr_rule", "output_peak", "rir_seed", "render", "banks",
                    "output_gain")
        for key in top_keys:
            if key not in obj:
                raise fail(key, "missing")
        unknown = sorted(set(obj) - set(top_keys) - {"spec_version"})
        if unknown:
            raise fail(unknown[0], "unknown key")
        if not isinstance(obj["fs"], int) or obj["fs"] <= 0:
            raise fail("fs", f"expected a positive integer, got {obj['fs']!r}")
        if not isinstance(obj["num_samples"], int) or obj["num_samples"] <= 0:
            raise fail("num_samples", f"expected a positive integer, got {obj['num_samples']!r}")
        for key, n in (("room_dim", 3), ("betas", 6), ("abs_weights", 6)):
            v = obj[key]
            if not isinstance(v, list) or len(v) != n or not all(isinstance(x, (int, float)) for x in v):
                raise fail(key, f"expected {n} numbers, got {v!r}")
        mics = obj["array"].get("mics") if isinstance(obj["array"], dict) else None
        if not isinstance(mics, list) or not mics or not all(isinstance(m, list) and len(m) == 3 for m in mics):
            raise fail("array.mics", "expected a list of [x, y, z] capsule positions")

        source_keys = {"class_idx", "file", "clip_start", "onset", "length", "static",
                       "trajectory", "amplitude_m", "omega", "rejected"}
        sources = []
        if not isinstance(obj["sources"], list):
            raise fail("sources", "expected a list")
        for k, s in enumerate(obj["sources"]):
            if not isinstance(s, dict) or set(s) != source_keys:
                have = set(s) if isinstance(s, dict) else set()
                raise fail(f"sources[{k}]", f"expected keys {sorted(source_keys)}, "
                           f"missing {sorted(source_keys - have)}, unknown {sorted(have - source_keys)}")
            traj = s["trajectory"]
            if not isinstance(traj, list) or not traj or not all(isinstance(p, list) and len(p) == 3 for p in traj):
                raise fail(f"sources[{k}].trajectory", "expected a list of [x, y, z] points")
            for key in ("clip_start", "onset", "length"):
                if not isinstance(s[key], int) or s[key] < 0:
                    raise fail(f"sources[{k}].{key}", f"expected an integer >= 0, got {s[key]!r}")
            if s["onset"] + s["length"] > obj["num_samples"]:
                raise fail(f"sources[{k}].length", "onset + length exceeds num_samples")
            sources.append(SourceSpec(**s))
        noise_keys = {"file", "clip_start", "snr_db", "seed", "gain", "rejected"}
        n = obj["noise"]
        if not isinstance(n, dict) or set(n) != noise_keys:
            raise fail("noise", f"expected keys {sorted(noise_keys)}")
        kwargs = {k: obj[k] for k in top_keys if k not in ("sources", "noise")}
        return cls(sources=sources, noise=NoiseSpec(**n), spec_version=version, **kwargs)

    @classmethod
    def from_json(cls, text: str, where: str = "<spec>") -> "SceneSpec":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{where}: not valid JSON: {exc}") from None
        return cls.from_dict(obj, where)


def load_spec(path: Pathlike) -> SceneSpec:
    """Read and validate a ``spec.json``."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"{p}: spec file not found")
    return SceneSpec.from_json(p.read_text(encoding="utf-8"), str(p))


def _jsonable(obj: Any) -> Any:
    """Lists/dicts of Python scalars from nested dataclass fields and NumPy values."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj
