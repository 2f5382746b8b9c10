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
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from asabench.simulate.classes import NUM_CLASSES
from asabench.simulate.limits import (  # noqa: F401  (re-exported: the bounds a spec is checked against)
    FS_RANGE_HZ,
    MAX_DURATION_S,
    MAX_ROOM_DIM_M,
    MAX_RT60_S,
    MAX_ATTENUATION_DB,
    SNR_DB_RANGE,
    MAX_NOISE_WINDOW,
    MAX_SOURCES,
    MAX_TRAJECTORY_POINTS,
    MAX_AMPLITUDE_M,
    MAX_ARRAY_RADIUS_M,
    MAX_SCENES_PER_SPLIT,
    MAX_OMEGA_RAD,
    MAX_CHANNELS,
    MAX_CLIP_S,
)

Pathlike = Union[str, "os.PathLike[str]"]

#: Version of the spec layout; bump when fields change meaning.
SPEC_VERSION: int = 1
#: Array geometries, bank kinds of a clip ref, RIR engines (``asabench.simulate.rir.BACKENDS``).
ARRAY_TYPES: tuple[str, ...] = ("tetrahedral",)
REF_BANKS: tuple[str, ...] = ("folder", "procedural")
RIR_BACKENDS: tuple[str, ...] = ("torch", "gpurir", "pyroomacoustics")
#: Recipe options a spec's ``render`` may record (absent: the first choice, the pre-2.0 recipe).
RENDER_OPTIONS: dict[str, tuple[str, ...]] = {
    "noise_field": ("frame_offsets", "asa2"),
    "image_set": ("sphere", "box"),
    "static_tails": ("one", "per_point"),
}

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SPLIT_RE = re.compile(r"^[A-Za-z0-9_]+$")
_TOP_KEYS = ("id", "split", "index", "seed", "manifest", "fs", "num_samples", "label_hop_s",
             "room_dim", "rt60_s", "betas", "abs_weights", "tdiff_db", "tmax_db", "array",
             "sources", "noise", "snr_rule", "output_peak", "rir_seed", "render", "banks",
             "output_gain")
_SOURCE_KEYS = {"class_idx", "file", "clip_start", "onset", "length", "static",
                "trajectory", "amplitude_m", "omega", "rejected"}
_NOISE_KEYS = {"file", "clip_start", "snr_db", "seed", "gain", "rejected"}

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
    render : ``{"backend", "crossfade"}`` and, when not at their pre-2.0 values,
        ``noise_field``, ``image_set``, ``static_tails`` (:data:`RENDER_OPTIONS`): how the
        RIRs, trajectories and noise were rendered.
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
        """Validate a parsed spec; errors name ``where`` and the field.

        Every field is type- and range-checked (the manifest's bounds, see the module
        constants) before anything is built from it, so a spec asking for a 10^12-sample
        scene, a 10^6 dB RIR or NaN positions is refused instead of allocated.
        """
        return cls(**_validated(obj, where))

    @classmethod
    def from_json(cls, text: str, where: str = "<spec>") -> "SceneSpec":
        try:
            obj = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise SpecError(f"{where}: not valid JSON: {exc}") from None
        return cls.from_dict(obj, where)


#: Largest ``spec.json`` read (a real one is a few tens of kB; 100000 trajectory points of
#: 64 sources stay below this).
MAX_SPEC_BYTES: int = 512 * 2**20


def load_spec(path: Pathlike) -> SceneSpec:
    """Read and validate a ``spec.json``."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"{p}: spec file not found" if not p.exists() else f"{p}: not a file")
    if p.stat().st_size > MAX_SPEC_BYTES:
        raise SpecError(f"{p}: {p.stat().st_size} bytes, larger than any spec ({MAX_SPEC_BYTES})")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{p}: not UTF-8 text: {exc}") from None
    return SceneSpec.from_json(text, str(p))


# ----------------------------------------------------------------------------- validation


class _Check:
    """Typed, range-checked reads of a spec's fields; every error names file and field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, fld: str, msg: str) -> SpecError:
        return SpecError(f"{self.where}: field '{fld}': {msg}")

    def obj(self, v: Any, fld: str, keys: set[str] | None = None, optional: set[str] = frozenset()) -> dict:
        if not isinstance(v, dict):
            raise self.fail(fld, f"expected a JSON object, got {type(v).__name__}")
        if keys is not None:
            missing = sorted(keys - set(v))
            unknown = sorted(set(v) - keys - set(optional))
            if missing:
                raise self.fail(f"{fld}.{missing[0]}" if fld else missing[0], "missing")
            if unknown:
                raise self.fail(f"{fld}.{unknown[0]}" if fld else unknown[0], "unknown key")
        return v

    def integer(self, v: Any, fld: str, lo: int, hi: int) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(fld, f"expected an integer, got {v!r}")
        if not lo <= v <= hi:
            raise self.fail(fld, f"{v} is outside [{lo}, {hi}]")
        return v

    def real(self, v: Any, fld: str, lo: float, hi: float, *, lo_open: bool = False) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.fail(fld, f"expected a finite number, got {v!r}")
        if v < lo or v > hi or (lo_open and v <= lo):
            raise self.fail(fld, f"{v} is outside {'(' if lo_open else '['}{lo}, {hi}]")
        return v

    def reals(self, v: Any, fld: str, n: int, lo: float, hi: float, *, lo_open: bool = False) -> list:
        if not isinstance(v, list) or len(v) != n:
            raise self.fail(fld, f"expected {n} numbers, got {_short(v)}")
        for i, x in enumerate(v):
            self.real(x, f"{fld}[{i}]", lo, hi, lo_open=lo_open)
        return v

    def text(self, v: Any, fld: str) -> str:
        if not isinstance(v, str) or not v:
            raise self.fail(fld, f"expected a non-empty string, got {_short(v)}")
        return v

    def boolean(self, v: Any, fld: str) -> bool:
        if not isinstance(v, bool):
            raise self.fail(fld, f"expected true or false, got {v!r}")
        return v

    def points(self, v: Any, fld: str, room: list, max_points: int) -> list:
        """A list of 1..max_points [x, y, z] positions inside the room (walls included)."""
        if not isinstance(v, list) or not v:
            raise self.fail(fld, "expected a non-empty list of [x, y, z] points")
        if len(v) > max_points:
            raise self.fail(fld, f"{len(v)} points, more than {max_points}")
        for i, p in enumerate(v):
            if not isinstance(p, list) or len(p) != 3:
                raise self.fail(f"{fld}[{i}]", f"expected an [x, y, z] point, got {_short(p)}")
            for axis, (x, dim) in enumerate(zip(p, room)):
                if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                    raise self.fail(f"{fld}[{i}][{axis}]", f"expected a finite number, got {x!r}")
                if not 0.0 <= x <= dim:
                    raise self.fail(f"{fld}[{i}][{axis}]", f"{x} m is outside the room [0, {dim}] m")
        return v

    def ref(self, v: Any, fld: str, fs: int, noise: bool) -> int:
        """A bank ref; returns its length in samples at the scene rate ``fs``."""
        self.obj(v, fld, {"bank", "id", "class_idx", "frames", "fs"}, optional={"sha256", "channel"})
        if v["bank"] not in REF_BANKS:
            raise self.fail(f"{fld}.bank", f"expected one of {', '.join(REF_BANKS)}, got {v['bank']!r}")
        self.text(v["id"], f"{fld}.id")
        if "\x00" in v["id"]:
            raise self.fail(f"{fld}.id", "contains a NUL character")
        if noise:
            if v["class_idx"] is not None:
                raise self.fail(f"{fld}.class_idx", f"a noise clip has no class, got {v['class_idx']!r}")
        else:
            self.integer(v["class_idx"], f"{fld}.class_idx", 0, NUM_CLASSES - 1)
        ref_fs = self.integer(v["fs"], f"{fld}.fs", FS_RANGE_HZ[0], FS_RANGE_HZ[1])
        frames = self.integer(v["frames"], f"{fld}.frames", 1, int(MAX_CLIP_S * ref_fs))
        digest = v.get("sha256")
        if digest is not None and (not isinstance(digest, str) or not _SHA256_RE.fullmatch(digest)):
            raise self.fail(f"{fld}.sha256", f"expected null or 64 lowercase hex digits, got {digest!r}")
        if v.get("channel") is not None:
            self.integer(v["channel"], f"{fld}.channel", 0, MAX_CHANNELS - 1)
        return -(-frames * fs // ref_fs)


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def _validated(obj: Any, where: str) -> dict[str, Any]:
    """Check every field of a parsed spec; return the constructor arguments of :class:`SceneSpec`."""
    c = _Check(where)
    if not isinstance(obj, dict):
        raise c.fail("<root>", "expected a JSON object")
    version = obj.get("spec_version")
    if version != SPEC_VERSION:
        raise c.fail("spec_version", f"unsupported version {version!r} (this asabench reads {SPEC_VERSION})")
    c.obj(obj, "", set(_TOP_KEYS) | {"spec_version"})

    split = c.text(obj["split"], "split")
    if not _SPLIT_RE.fullmatch(split):
        raise c.fail("split", f"{split!r}: split names use letters, digits and '_' only")
    index = c.integer(obj["index"], "index", 0, MAX_SCENES_PER_SPLIT - 1)
    if obj["id"] != f"{split}-{index:06d}":
        raise c.fail("id", f"{obj['id']!r} does not match split and index (expected {split}-{index:06d})")
    seed = obj["seed"]
    if not isinstance(seed, list) or not 1 <= len(seed) <= 16:
        raise c.fail("seed", f"expected a list of 1..16 integers, got {_short(seed)}")
    for i, x in enumerate(seed):
        c.integer(x, f"seed[{i}]", 0, 2**64 - 1)
    m = c.obj(obj["manifest"], "manifest", {"name", "version", "sha256"})
    c.text(m["name"], "manifest.name")
    c.text(m["version"], "manifest.version")
    if not isinstance(m["sha256"], str) or not _SHA256_RE.fullmatch(m["sha256"]):
        raise c.fail("manifest.sha256", f"expected 64 lowercase hex digits, got {m['sha256']!r}")

    fs = c.integer(obj["fs"], "fs", FS_RANGE_HZ[0], FS_RANGE_HZ[1])
    num_samples = c.integer(obj["num_samples"], "num_samples", 1, int(MAX_DURATION_S * fs))
    hop = c.real(obj["label_hop_s"], "label_hop_s", 0.0, num_samples / fs, lo_open=True)
    if abs(hop * fs - round(hop * fs)) > 1e-6:
        raise c.fail("label_hop_s", f"{hop} s is not a whole number of samples at {fs} Hz")
    room = c.reals(obj["room_dim"], "room_dim", 3, 0.0, MAX_ROOM_DIM_M, lo_open=True)
    c.real(obj["rt60_s"], "rt60_s", 0.0, MAX_RT60_S, lo_open=True)
    c.reals(obj["betas"], "betas", 6, 0.0, 1.0)
    weights = c.reals(obj["abs_weights"], "abs_weights", 6, 0.0, 1.0)
    if max(weights) <= 0:
        raise c.fail("abs_weights", "at least one weight must be positive")
    tdiff = c.real(obj["tdiff_db"], "tdiff_db", 0.0, MAX_ATTENUATION_DB, lo_open=True)
    tmax = c.real(obj["tmax_db"], "tmax_db", 0.0, MAX_ATTENUATION_DB, lo_open=True)
    if tdiff > tmax:
        raise c.fail("tdiff_db", f"{tdiff} exceeds tmax_db {tmax}")

    arr = c.obj(obj["array"], "array", {"type", "radius_m", "center", "mics"})
    if arr["type"] not in ARRAY_TYPES:
        raise c.fail("array.type", f"expected one of {', '.join(ARRAY_TYPES)}, got {arr['type']!r}")
    c.real(arr["radius_m"], "array.radius_m", 0.0, MAX_ARRAY_RADIUS_M, lo_open=True)
    if not (isinstance(arr["center"], list) and len(arr["center"]) == 3):
        raise c.fail("array.center", f"expected an [x, y, z] point, got {_short(arr['center'])}")
    for axis, (x, dim) in enumerate(zip(arr["center"], room)):
        c.real(x, f"array.center[{axis}]", 0.0, dim)
    c.points(arr["mics"], "array.mics", room, MAX_CHANNELS)

    if not isinstance(obj["sources"], list) or not 1 <= len(obj["sources"]) <= MAX_SOURCES:
        raise c.fail("sources", f"expected a list of 1..{MAX_SOURCES} sources, got {_short(obj['sources'])}")
    sources = []
    for k, s in enumerate(obj["sources"]):
        f = f"sources[{k}]"
        c.obj(s, f, _SOURCE_KEYS)
        cls = c.integer(s["class_idx"], f"{f}.class_idx", 0, NUM_CLASSES - 1)
        clip_len = c.ref(s["file"], f"{f}.file", fs, noise=False)
        if s["file"]["class_idx"] != cls:
            raise c.fail(f"{f}.file.class_idx", f"{s['file']['class_idx']} differs from the source's class_idx {cls}")
        start = c.integer(s["clip_start"], f"{f}.clip_start", 0, clip_len)
        onset = c.integer(s["onset"], f"{f}.onset", 0, num_samples)
        length = c.integer(s["length"], f"{f}.length", 0, num_samples)
        if onset + length > num_samples:
            raise c.fail(f"{f}.length", f"onset + length = {onset + length} exceeds num_samples {num_samples}")
        if start + length > clip_len:
            raise c.fail(f"{f}.length", f"clip_start + length = {start + length} exceeds the clip's "
                         f"{clip_len} samples at {fs} Hz")
        c.boolean(s["static"], f"{f}.static")
        c.points(s["trajectory"], f"{f}.trajectory", room, MAX_TRAJECTORY_POINTS)
        c.reals(s["amplitude_m"], f"{f}.amplitude_m", 3, 0.0, MAX_AMPLITUDE_M)
        c.reals(s["omega"], f"{f}.omega", 3, -MAX_OMEGA_RAD, MAX_OMEGA_RAD)
        _rejected(c, s["rejected"], f"{f}.rejected")
        sources.append(SourceSpec(**s))

    n = c.obj(obj["noise"], "noise", _NOISE_KEYS)
    noise_len = c.ref(n["file"], "noise.file", fs, noise=True)
    c.integer(n["clip_start"], "noise.clip_start", 0, max(noise_len - 1, 0))
    c.real(n["snr_db"], "noise.snr_db", SNR_DB_RANGE[0], SNR_DB_RANGE[1])
    c.integer(n["seed"], "noise.seed", 0, 2**64 - 1)
    if n["gain"] is not None:
        c.real(n["gain"], "noise.gain", 0.0, math.inf)
    _rejected(c, n["rejected"], "noise.rejected")

    rule = c.obj(obj["snr_rule"], "snr_rule", {"window", "hop", "threshold"})
    window = c.integer(rule["window"], "snr_rule.window", 1, min(MAX_NOISE_WINDOW, num_samples))
    c.integer(rule["hop"], "snr_rule.hop", 1, window)
    c.real(rule["threshold"], "snr_rule.threshold", 0.0, 1.0)
    c.real(obj["output_peak"], "output_peak", 0.0, 1.0, lo_open=True)
    c.integer(obj["rir_seed"], "rir_seed", 0, 2**64 - 1)
    render = c.obj(obj["render"], "render", {"backend", "crossfade"}, optional=set(RENDER_OPTIONS))
    if render["backend"] not in RIR_BACKENDS:
        raise c.fail("render.backend", f"expected one of {', '.join(RIR_BACKENDS)}, got {render['backend']!r}")
    c.boolean(render["crossfade"], "render.crossfade")
    for key, choices in RENDER_OPTIONS.items():
        if key in render and render[key] not in choices:
            raise c.fail(f"render.{key}", f"expected one of {', '.join(choices)}, got {_short(render[key])}")
    banks = c.obj(obj["banks"], "banks")
    for role, desc in banks.items():
        c.obj(desc, f"banks.{role}")
    if obj["output_gain"] is not None:
        c.real(obj["output_gain"], "output_gain", 0.0, math.inf, lo_open=True)

    kwargs = {k: obj[k] for k in _TOP_KEYS if k not in ("sources", "noise")}
    return dict(kwargs, sources=sources, noise=NoiseSpec(**n), spec_version=version)


def _rejected(c: _Check, v: Any, fld: str) -> None:
    if not isinstance(v, list):
        raise c.fail(fld, f"expected a list, got {_short(v)}")
    for i, item in enumerate(v):
        c.obj(item, f"{fld}[{i}]")


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
