"""Dataset manifests: the recipe of a dataset as validated data (TOML or YAML).

A manifest holds every number of a scene recipe (sample rate, duration, array, room, RT60 and
absorption, number of sources, class distribution, clip placement, motion model, SNR, output
headroom, bad-file policy, source and noise banks, splits). It is parsed into frozen
dataclasses; unknown keys and out-of-range values raise :class:`ManifestError` naming the
file and the dotted field. :attr:`Manifest.sha256` hashes a canonical JSON form of the
validated content, so the same recipe written in TOML or YAML has the same hash. Files are
read, and shipped names resolved, by the one configuration loader
(:mod:`asabench.simulate.io.config`), whose :class:`~asabench.simulate.io.config.Table`
checks each field.

Random ranges are written either as a number (fixed) or as ``{ uniform = [low, high] }``.

Recipe options added after the first manifests (:data:`LEGACY_VALUES`: the motion draw
power, the static-source tails, the noise field, the image set) default to the behaviour of
asabench manifests before version 2.0 and enter the canonical form (and so the hash) only
when set to another value: a manifest written before them keeps its hash and renders the
scenes it always did. The shipped ``asa2`` and ``asa2-static`` (version 2.0) state the
published recipe explicitly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from asabench.simulate.classes import NUM_CLASSES
from asabench.simulate.limits import (
    FS_RANGE_HZ,
    MAX_ATTENUATION_DB,
    MAX_DURATION_S,
    MAX_ROOM_DIM_M,
    MAX_RT60_S,
    MAX_SCENES_PER_SPLIT,
    MAX_TRAJECTORY_POINTS,
    SNR_DB_RANGE,
)
from asabench.simulate.io.config import ConfigError, Table, read_file, resolve_path
from asabench.simulate.scene.spec import RENDER_OPTIONS

Pathlike = Union[str, "os.PathLike[str]"]


__all__ = [
    "ManifestError",
    "Uniform",
    "ArrayConfig",
    "RoomConfig",
    "AcousticsConfig",
    "SourcesConfig",
    "MotionConfig",
    "NoiseConfig",
    "OutputConfig",
    "BankConfig",
    "LEGACY_VALUES",
    "Manifest",
    "load_manifest",
    "parse_manifest",
    "resolve_manifest_path",
]


class ManifestError(ConfigError):
    """A manifest is malformed; the message names the file and the dotted field."""


#: Choices of the recipe options (the first of each is the pre-2.0 behaviour); a scene
#: spec records them under the same names (``render.image_set``, ...).
IMAGE_SETS: tuple[str, ...] = RENDER_OPTIONS["image_set"]
STATIC_TAILS: tuple[str, ...] = RENDER_OPTIONS["static_tails"]
NOISE_FIELDS: tuple[str, ...] = RENDER_OPTIONS["noise_field"]

#: Options added with manifest version 2.0, at the values that reproduce the recipes written
#: before them; a field at its legacy value is left out of :meth:`Manifest.to_dict` (and the
#: hash), so older manifests keep their hashes and scenes.
LEGACY_VALUES: dict[tuple[str, str], Any] = {
    ("motion", "draw_power"): 3,
    ("motion", "static_tails"): "one",
    ("noise", "field"): "frame_offsets",
    ("acoustics", "image_set"): "sphere",
}


@dataclass(frozen=True)
class Uniform:
    """A real value drawn uniformly from ``[low, high]`` (``low == high``: fixed)."""

    low: float
    high: float

    def sample(self, rng: np.random.Generator) -> float:
        """One draw; always consumes exactly one number from ``rng`` so streams stay aligned."""
        u = float(rng.random())
        return self.low + (self.high - self.low) * u


@dataclass(frozen=True)
class ArrayConfig:
    """Microphone array: a tetrahedron of ``radius_m`` placed at the room centre."""

    type: str = "tetrahedral"
    radius_m: float = 0.042
    placement: str = "room_centre"


@dataclass(frozen=True)
class RoomConfig:
    """Shoebox dimensions in metres (x = width, y = length, z = height)."""

    width_m: Uniform
    length_m: Uniform
    height_m: Uniform


@dataclass(frozen=True)
class AcousticsConfig:
    """Reverberation: RT60 draw, Sabine absorption weights (gpuRIR wall order), attenuations.

    ``image_set``: ``"sphere"`` renders every image whose sound arrives before Tdiff;
    ``"box"`` the box of ``ceil(2 Tdiff c / L)`` images per dimension that gpuRIR (and so the
    published ASA2 generator) simulates (see ``docs/rir-engines.md`` for the difference).
    """

    rt60_s: Uniform
    abs_weights: tuple[float, ...] = (0.8, 0.8, 0.8, 0.8, 0.8, 0.5)
    tdiff_db: float = 12.0
    tmax_db: float = 40.0
    image_set: str = "sphere"


@dataclass(frozen=True)
class SourcesConfig:
    """Foreground sources: count distribution, class distribution, clip placement, bad files.

    ``clip_placement = "crop_or_pad"``: a clip longer than the scene is cropped at a uniform
    offset, a shorter one is zero-padded at a uniform onset. ``bad_files`` is ``"skip"``
    (report the path and draw another clip of the class, at most ``max_redraws`` times) or
    ``"error"`` (stop with the path). A clip shorter than ``min_clip_s`` or silent is bad.
    """

    num_sources: tuple[int, ...]
    num_sources_weights: tuple[float, ...]
    classes: tuple[int, ...] = tuple(range(NUM_CLASSES))
    class_weights: tuple[float, ...] | None = None
    clip_placement: str = "crop_or_pad"
    bad_files: str = "skip"
    min_clip_s: float = 0.1
    max_redraws: int = 20


@dataclass(frozen=True)
class MotionConfig:
    """ASA2 sinusoidal motion (``model = "asa2_sine"``) or fixed sources (``"static"``).

    ``draw_power``: exponent of the amplitude and frequency uniforms (1 in the published
    generator; 3 reproduces asabench manifests before 2.0). ``static_tails``: a static
    source is rendered with ``"one"`` RIR, or, as the published generator does, with
    ``"per_point"``: ``n_points`` RIRs of the same position, each with its own diffuse tail,
    switched every segment.
    """

    model: str = "asa2_sine"
    static_prob: float = 0.25
    n_points: int = 40
    amplitude_max_m: float = 1.0
    max_oscillations: float = 2.0
    wall_margin_m: float = 0.5
    draw_power: int = 3
    static_tails: str = "one"


@dataclass(frozen=True)
class NoiseConfig:
    """Background SNR draw, the windowed active-power rule that measures it, the field model.

    ``field``: ``"asa2"`` is the published generator's (the ambience channel repeated to
    ``M`` scene lengths, a random window of that length split into ``M`` consecutive
    segments as the independent inputs, sinc coherence by a per-bin Cholesky factor, DC bin
    zero); ``"frame_offsets"`` is asabench's before 2.0 (one scene-length crop, channels
    from cyclic frame offsets, principal square root). See
    :mod:`asabench.simulate.scene.diffuse_noise`.
    """

    snr_db: Uniform
    window: int = 640
    hop: int = 320
    threshold: float = 0.01
    field: str = "frame_offsets"


@dataclass(frozen=True)
class OutputConfig:
    """Common output scale: ``max |mixture| = peak`` (below 1 so 16-bit export never clips)."""

    peak: float = 0.9


@dataclass(frozen=True)
class BankConfig:
    """A source or noise bank: ``builtin`` (procedural, from ``seed``) or ``folder`` (prepared index).

    ``clips`` is the number of built-in clips per class (sources) or in total (noise).
    """

    kind: str = "builtin"
    seed: int = 0
    clips: int = 20
    path: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A validated dataset recipe; see the module docstring and ``manifests/*.toml``."""

    name: str
    version: str
    seed: int
    fs: int
    duration_s: float
    label_hop_s: float
    array: ArrayConfig
    room: RoomConfig
    acoustics: AcousticsConfig
    sources: SourcesConfig
    motion: MotionConfig
    noise: NoiseConfig
    output: OutputConfig
    source_bank: BankConfig
    noise_bank: BankConfig
    splits: dict[str, int]
    path: str | None = field(default=None, compare=False)

    @property
    def num_samples(self) -> int:
        """Scene length in samples."""
        return int(round(self.duration_s * self.fs))

    @property
    def num_frames(self) -> int:
        """Number of label frames of ``label_hop_s``."""
        return int(round(self.duration_s / self.label_hop_s))

    def to_dict(self) -> dict[str, Any]:
        """Canonical plain-data form (what :attr:`sha256` hashes; ``path`` excluded).

        Options at their :data:`LEGACY_VALUES` are left out, so that a manifest written
        before they existed keeps its hash.
        """
        d = dataclasses.asdict(self)
        d.pop("path")
        for (table, key), legacy in LEGACY_VALUES.items():
            if d[table][key] == legacy:
                del d[table][key]
        return _plain(d)

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict` (sorted keys, no spaces)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- parsing helpers


class _Table(Table):
    """The loader's checked reader (:class:`asabench.simulate.io.config.Table`) raising
    :class:`ManifestError`, plus the manifest's random-range syntax."""

    def __init__(self, raw: Any, where: str, prefix: str) -> None:
        super().__init__(raw, where, prefix, error=ManifestError)

    def sub(self, key: str, required: bool = True) -> "_Table":
        self.used.add(key)
        if key not in self.raw:
            if required:
                raise self.error(key, "required table is missing")
            return _Table({}, self.where, self.name(key))
        return _Table(self.raw[key], self.where, self.name(key))

    def uniform(self, key: str, *, lo: float, hi: float, lo_open: bool = False) -> Uniform:
        v = self.get(key)
        if isinstance(v, dict):
            if set(v) != {"uniform"}:
                raise self.error(key, "expected a number or { uniform = [low, high] }")
            pair = v["uniform"]
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in pair)):
                raise self.error(key, f"uniform needs [low, high], got {pair!r}")
            low, high = float(pair[0]), float(pair[1])
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            low = high = float(v)
        else:
            raise self.error(key, f"expected a number or {{ uniform = [low, high] }}, got {v!r}")
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise self.error(key, f"need low <= high, got [{low}, {high}]")
        if low < lo or high > hi or (lo_open and low <= lo):
            raise self.error(key, f"range [{low}, {high}] is outside {'(' if lo_open else '['}{lo}, {hi}]")
        return Uniform(low, high)


def _weights(t: _Table, key: str, n: int, default: Any) -> tuple[float, ...] | None:
    v = t.get(key, default)
    if v is None or v == "uniform":
        return None
    w = t.reals(key, lo=0.0)
    if len(w) != n:
        raise t.error(key, f"expected {n} weights (one per choice), got {len(w)}")
    if sum(w) <= 0:
        raise t.error(key, "weights must not all be zero")
    return w


def _class_list(t: _Table) -> tuple[int, ...]:
    v = t.get("classes", "all")
    if v == "all":
        return tuple(range(NUM_CLASSES))
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        try:
            from asabench.simulate.classes import DCASE_CLASSES  # the vocabulary, when present
        except ImportError as exc:  # pragma: no cover - classes module ships with the package
            raise t.error("classes", "class names need asabench.simulate.classes") from exc
        lookup = {name.lower(): i for i, name in enumerate(DCASE_CLASSES)}
        out = []
        for name in v:
            if name.lower() not in lookup:
                raise t.error("classes", f"unknown class {name!r} (known: {', '.join(DCASE_CLASSES)})")
            out.append(lookup[name.lower()])
        if len(set(out)) != len(out):
            raise t.error("classes", "classes must be distinct")
        return tuple(out)
    return t.integers("classes", lo=0, hi=NUM_CLASSES - 1)


def _bank(t: _Table, what: str) -> BankConfig:
    kind = t.text("kind", "builtin", choices=("builtin", "folder"))
    seed = t.integer("seed", 0, lo=0)
    clips = t.integer("clips", 20, lo=1, hi=100000)
    path = t.get("path", None)
    if kind == "folder":
        if not isinstance(path, str) or not path:
            raise t.error("path", f"a folder {what} bank needs the path of its prepared index")
    elif path is not None:
        raise t.error("path", "only a folder bank takes a path")
    t.finish()
    return BankConfig(kind=kind, seed=seed, clips=clips, path=path)


def parse_manifest(raw: dict[str, Any], where: str = "<manifest>") -> Manifest:
    """Validate a raw manifest mapping into a :class:`Manifest`.

    Parameters
    ----------
    raw : the mapping read from TOML/YAML.
    where : the file name used in error messages.

    Raises
    ------
    ManifestError
        Naming ``where`` and the dotted field, for unknown keys, missing fields, wrong types
        and out-of-range values.
    """
    top = _Table(raw, where, "")
    name = top.text("name")
    version = top.get("version")
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str) or not version:
        raise top.error("version", f"expected a string, got {version!r}")
    seed = top.integer("seed", lo=0, hi=2**63 - 1)
    fs = top.integer("fs", lo=FS_RANGE_HZ[0], hi=FS_RANGE_HZ[1])
    duration_s = top.real("duration_s", lo=0.0, hi=MAX_DURATION_S, lo_open=True)
    label_hop_s = top.real("label_hop_s", 0.1, lo=0.0, hi=duration_s, lo_open=True)
    if abs(duration_s / label_hop_s - round(duration_s / label_hop_s)) > 1e-9:
        raise top.error("label_hop_s", f"duration_s {duration_s} is not a whole number of hops")
    if abs(label_hop_s * fs - round(label_hop_s * fs)) > 1e-6:
        raise top.error("label_hop_s", f"{label_hop_s} s is not a whole number of samples at {fs} Hz")

    a = top.sub("array")
    array = ArrayConfig(
        type=a.text("type", "tetrahedral", choices=("tetrahedral",)),
        radius_m=a.real("radius_m", 0.042, lo=0.0, hi=1.0, lo_open=True),
        placement=a.text("placement", "room_centre", choices=("room_centre",)),
    )
    a.finish()

    r = top.sub("room")
    room = RoomConfig(
        width_m=r.uniform("width_m", lo=0.0, hi=MAX_ROOM_DIM_M, lo_open=True),
        length_m=r.uniform("length_m", lo=0.0, hi=MAX_ROOM_DIM_M, lo_open=True),
        height_m=r.uniform("height_m", lo=0.0, hi=MAX_ROOM_DIM_M, lo_open=True),
    )
    r.finish()

    ac = top.sub("acoustics")
    acoustics = AcousticsConfig(
        rt60_s=ac.uniform("rt60_s", lo=0.0, hi=MAX_RT60_S, lo_open=True),
        abs_weights=ac.reals("abs_weights", (0.8,) * 5 + (0.5,), length=6, lo=0.0, hi=1.0),
        tdiff_db=ac.real("tdiff_db", 12.0, lo=0.0, hi=MAX_ATTENUATION_DB, lo_open=True),
        tmax_db=ac.real("tmax_db", 40.0, lo=0.0, hi=MAX_ATTENUATION_DB, lo_open=True),
        image_set=ac.text("image_set", "sphere", choices=IMAGE_SETS),
    )
    if max(acoustics.abs_weights) <= 0:
        raise ac.error("abs_weights", "at least one weight must be positive")
    if acoustics.tdiff_db > acoustics.tmax_db:
        raise ac.error("tdiff_db", f"{acoustics.tdiff_db} exceeds tmax_db {acoustics.tmax_db}")
    ac.finish()

    s = top.sub("sources")
    num_sources = s.integers("num_sources", lo=1, hi=64)
    num_w = _weights(s, "num_sources_weights", len(num_sources), None)
    classes = _class_list(s)
    class_w = _weights(s, "class_weights", len(classes), "uniform")
    sources = SourcesConfig(
        num_sources=num_sources,
        num_sources_weights=num_w if num_w is not None else (1.0,) * len(num_sources),
        classes=classes,
        class_weights=class_w,
        clip_placement=s.text("clip_placement", "crop_or_pad", choices=("crop_or_pad",)),
        bad_files=s.text("bad_files", "skip", choices=("skip", "error")),
        min_clip_s=s.real("min_clip_s", 0.1, lo=0.0, hi=duration_s),
        max_redraws=s.integer("max_redraws", 20, lo=0, hi=10000),
    )
    s.finish()

    m = top.sub("motion")
    motion = MotionConfig(
        model=m.text("model", "asa2_sine", choices=("asa2_sine", "static")),
        static_prob=m.real("static_prob", 0.25, lo=0.0, hi=1.0),
        n_points=m.integer("n_points", 40, lo=1, hi=MAX_TRAJECTORY_POINTS),
        amplitude_max_m=m.real("amplitude_max_m", 1.0, lo=0.0, hi=100.0),
        max_oscillations=m.real("max_oscillations", 2.0, lo=0.0, hi=1000.0),
        wall_margin_m=m.real("wall_margin_m", 0.5, lo=0.0, hi=100.0),
        draw_power=m.integer("draw_power", 3, lo=1, hi=8),
        static_tails=m.text("static_tails", "one", choices=STATIC_TAILS),
    )
    m.finish()
    for dim_name, dim in (("width_m", room.width_m), ("length_m", room.length_m), ("height_m", room.height_m)):
        if dim.low <= 2 * motion.wall_margin_m:
            raise r.error(dim_name, f"the smallest room ({dim.low} m) leaves no space inside the "
                          f"{motion.wall_margin_m} m wall margin (motion.wall_margin_m)")

    # Sabine cannot reach an RT60 below K V / sum(S_i w_i) (most absorbent wall at alpha = 1);
    # that bound grows with the room, so the largest room decides.
    from asabench.simulate.rir.sabine import betas_from_rt60

    biggest = (room.width_m.high, room.length_m.high, room.height_m.high)
    try:
        betas_from_rt60(biggest, acoustics.rt60_s.low, acoustics.abs_weights)
    except ValueError as exc:
        raise ac.error("rt60_s", f"too short for the largest room {list(biggest)} m: {exc}") from None

    n = top.sub("noise")
    noise = NoiseConfig(
        snr_db=n.uniform("snr_db", lo=SNR_DB_RANGE[0], hi=SNR_DB_RANGE[1]),
        window=n.integer("window", 640, lo=1, hi=10**7),
        hop=n.integer("hop", 320, lo=1, hi=10**7),
        threshold=n.real("threshold", 0.01, lo=0.0, hi=1.0),
        field=n.text("field", "frame_offsets", choices=NOISE_FIELDS),
    )
    if noise.hop > noise.window:
        raise n.error("hop", f"{noise.hop} exceeds window {noise.window}")
    if noise.window > int(round(duration_s * fs)):
        raise n.error("window", f"{noise.window} samples is longer than the scene")
    n.finish()

    o = top.sub("output", required=False)
    output = OutputConfig(peak=o.real("peak", 0.9, lo=0.0, hi=1.0, lo_open=True))
    o.finish()

    b = top.sub("banks", required=False)
    source_bank = _bank(b.sub("sources", required=False), "source")
    noise_bank = _bank(b.sub("noise", required=False), "noise")
    b.finish()

    sp = top.sub("splits")
    splits: dict[str, int] = {}
    for key in sp.raw:
        if not isinstance(key, str) or not key.replace("_", "").isalnum() or not key.isascii():
            raise sp.error(str(key), "split names use letters, digits and '_' only")
        splits[key] = sp.integer(key, lo=0, hi=MAX_SCENES_PER_SPLIT)
    if not splits:
        raise top.error("splits", "at least one split is needed")
    sp.finish()
    top.finish()

    return Manifest(
        name=name, version=version, seed=seed, fs=fs, duration_s=duration_s,
        label_hop_s=label_hop_s, array=array, room=room, acoustics=acoustics, sources=sources,
        motion=motion, noise=noise, output=output, source_bank=source_bank,
        noise_bank=noise_bank, splits=splits, path=None if where.startswith("<") else where,
    )


#: Folder of the shipped manifests (``asa2``, ``asa2-static``, ``demo``). In a checkout or an
#: editable install it is the repository's ``manifests/``; a regular install places the same
#: files (package data of ``asabench.manifests``) at ``site-packages/asabench/manifests``,
#: which is the same relative location.
MANIFEST_DIR = Path(__file__).resolve().parents[1] / "manifests"
_SUFFIXES = (".toml", ".yaml", ".yml")


def resolve_manifest_path(name_or_path: Pathlike) -> Path:
    """A manifest file from a path, or a shipped manifest's name (``"asa2"``, ``"demo"``)."""
    return resolve_path(name_or_path, MANIFEST_DIR, suffixes=_SUFFIXES, what="manifest", error=ManifestError)


def load_manifest(path: Pathlike) -> Manifest:
    """Read and validate a manifest (``.toml``, ``.yaml``/``.yml``, or a shipped name)."""
    p = resolve_manifest_path(path)
    raw = read_file(p, suffixes=_SUFFIXES, what="manifest", error=ManifestError)
    return parse_manifest(raw, str(p))
