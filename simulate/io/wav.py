"""WAV files: the one checked reader and the deterministic writers.

:func:`read_wav` is how every part of asabench reads audio (dataset files, source banks,
predictions, exports): it opens the file once, checks the header against what the caller
expects (channels, sample rate, length) *before* reading any sample, reads the samples in
the requested precision and checks they are finite. Every problem is a :class:`WavError`
whose message names the file and what is wrong::

    data/test/test-000003/direct/1.wav: 3 NaN/inf sample value(s), first at sample 812 (channel 2, NaN)

:func:`wav_bytes` encodes 32-bit float WAVs byte for byte reproducibly (``fmt`` + ``fact`` +
``data`` chunks; libsndfile's float WAVs carry a ``PEAK`` chunk with a wall-clock timestamp
and differ from run to run); :func:`pcm16_wav_bytes` encodes 16-bit PCM (no ``PEAK`` chunk,
so libsndfile's output is reproducible). :func:`encode_audio` writes the three storage formats
of a dataset (:data:`AUDIO_FORMATS`: ``float32``, ``pcm16``, ``flac``) through them.
"""

from __future__ import annotations

import io
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

import numpy as np
import soundfile as sf

Pathlike = Union[str, "os.PathLike[str]"]
#: ``"native"``: float64 for 32-bit PCM and double files, float32 otherwise (exact either way).
Dtype = Literal["float32", "float64", "native"]

_DTYPES = ("float32", "float64", "native")


class WavError(ValueError):
    """A WAV file is unreadable or not what the caller expects.

    Attributes
    ----------
    path : the file. name : how it is named in messages (``path`` unless the caller gave
    ``what``). reasons : each problem, without the name. fields : per reason, what it is
    about: ``"file"``, ``"channels"``, ``"fs"``, ``"frames"`` or ``"samples"``.
    """

    def __init__(self, path: Pathlike, reasons: list[str] | str, *, fields: list[str] | str = "file",
                 name: str | None = None) -> None:
        self.path = Path(path)
        self.name = str(path) if name is None else name
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        self.fields = [fields] * len(self.reasons) if isinstance(fields, str) else list(fields)
        super().__init__(f"{self.name}: " + "; ".join(self.reasons))

    @property
    def reason(self) -> str:
        """All problems in one line, without the file name."""
        return "; ".join(self.reasons)

    @property
    def field(self) -> str:
        """What the first problem is about (see the class docstring)."""
        return self.fields[0]

    @property
    def problems(self) -> list[str]:
        """One ``<name>: <why>`` line per problem."""
        return [f"{self.name}: {r}" for r in self.reasons]

    def __reduce__(self):  # keep every attribute across process boundaries
        return (_rebuild_wav_error, (self.path, self.reasons, self.fields, self.name))


def _rebuild_wav_error(path: Path, reasons: list[str], fields: list[str], name: str) -> WavError:
    return WavError(path, reasons, fields=fields, name=name)


@dataclass(frozen=True)
class WavInfo:
    """Header of an audio file: channel count, sample rate, frames and libsndfile subtype."""

    channels: int
    fs: int
    frames: int
    subtype: str
    format: str


_UNREADABLE = (RuntimeError, OSError, TypeError, ValueError, EOFError)
_BYTESIO_REPR = re.compile(r"<_io\.BytesIO object at 0x[0-9a-fA-F]+>")


def _unreadable(path: Pathlike, name: str | None, err: BaseException, from_bytes: bool) -> WavError:
    if not from_bytes and not os.path.exists(path):
        return WavError(path, "missing file", name=name)
    text = _BYTESIO_REPR.sub("<file>", str(err))
    return WavError(path, f"not a readable audio file ({text})", name=name)


def _source(path: Pathlike, data: bytes | None) -> str | io.BytesIO:
    return str(path) if data is None else io.BytesIO(data)


def wav_info(path: Pathlike, *, data: bytes | None = None, what: str | None = None) -> WavInfo:
    """The header of an audio file without reading its samples; :class:`WavError` if unreadable.

    ``data``: the file's bytes, already read (e.g. to hash them); ``path`` then only names it.
    """
    try:
        meta = sf.info(_source(path, data))
    except _UNREADABLE as err:
        raise _unreadable(path, what, err, data is not None) from None
    return WavInfo(int(meta.channels), int(meta.samplerate), int(meta.frames), str(meta.subtype),
                   str(meta.format))


def header_problems(info: WavInfo, *, channels: int | None = None, fs: int | None = None,
                    frames: int | None = None) -> tuple[list[str], list[str]]:
    """``(reasons, fields)`` where ``info`` differs from the expected channels, rate and length."""
    reasons, fields = [], []
    if channels is not None and info.channels != channels:
        reasons.append(f"{info.channels} channels, expected {channels}")
        fields.append("channels")
    if fs is not None and info.fs != fs:
        reasons.append(f"sample rate {info.fs} Hz, expected {fs} Hz")
        fields.append("fs")
    if frames is not None and info.frames != frames:
        at = f" ({frames / fs:g} s at {fs} Hz)" if fs else ""
        reasons.append(f"{info.frames} samples, expected {frames}{at}")
        fields.append("frames")
    return reasons, fields


def nonfinite_reason(data: np.ndarray) -> str | None:
    """Why ``[C, N]`` audio is not all finite (count, first sample and its channel), or None.

    One pass over the samples in memory order in the common (finite) case.
    """
    flat = data.T if data.T.flags.c_contiguous else data  # the memory in its own order (faster)
    if np.isfinite(flat).all():
        return None
    bad = ~np.isfinite(data)
    per_sample = bad.any(axis=0)
    first = int(np.argmax(per_sample))
    channel = int(np.argmax(bad[:, first]))
    value = data[channel, first]
    kind = "NaN" if np.isnan(value) else "infinite"
    return (f"{int(bad.sum())} NaN/inf sample value(s), first at sample {first} "
            f"(channel {channel}, {kind})")


def read_wav(path: Pathlike, *, channels: int | None = None, fs: int | None = None,
             frames: int | None = None, dtype: Dtype = "float32", finite: bool = True,
             what: str | None = None, data: bytes | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file once and check it: ``([C, N] samples, sample rate)``.

    Parameters
    ----------
    path : the file (any format libsndfile reads).
    channels, fs, frames : expected channel count, sample rate (Hz) and length (samples);
        ``None`` accepts any. They are checked from the header, before any sample is read,
        and every mismatch is reported at once.
    dtype : ``"float32"``, ``"float64"`` or ``"native"`` (float64 only for 32-bit PCM and
        double files, so no sample is rounded).
    finite : refuse NaN and infinite samples (naming the first one's sample and channel).
    what : how the file is named in messages (default: ``path``).
    data : the file's bytes, already read (a caller that hashes the file and must decode
        exactly the bytes it hashed); ``path`` then only names the file.

    Returns
    -------
    (samples, fs) : ``samples`` is ``[C, N]``, a transposed view of the interleaved frames (no
    extra copy; ``np.ascontiguousarray`` it where layout matters).

    Raises
    ------
    WavError
        Missing or unreadable file, wrong channel count, rate or length, non-finite sample.
    """
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    try:
        handle = sf.SoundFile(_source(path, data))
    except _UNREADABLE as err:
        raise _unreadable(path, what, err, data is not None) from None
    with handle:
        info = WavInfo(int(handle.channels), int(handle.samplerate), int(handle.frames),
                       str(handle.subtype), str(handle.format))
        reasons, fields = header_problems(info, channels=channels, fs=fs, frames=frames)
        if reasons:
            raise WavError(path, reasons, fields=fields, name=what)
        kind = dtype if dtype != "native" else ("float64" if info.subtype in ("PCM_32", "DOUBLE") else "float32")
        try:
            samples = handle.read(dtype=kind, always_2d=True)
        except _UNREADABLE as err:
            raise _unreadable(path, what, err, True) from None
    if samples.shape[0] != info.frames:  # a truncated file whose header claims more
        raise WavError(path, f"{samples.shape[0]} samples readable, the header says {info.frames}",
                       fields="frames", name=what)
    out = samples.T
    if finite:
        reason = nonfinite_reason(out)
        if reason is not None:
            raise WavError(path, reason, fields="samples", name=what)
    return out, info.fs


# ----------------------------------------------------------------------------- writing


def wav_bytes(audio: np.ndarray, fs: int) -> bytes:
    """Deterministic 32-bit IEEE-float WAV of ``audio`` ``[C, N]`` (channels first)."""
    x = np.ascontiguousarray(np.asarray(audio, dtype="<f4").T)  # interleave: [N, C]
    n_frames, n_channels = x.shape
    data = x.tobytes()
    block = 4 * n_channels
    fmt = struct.pack("<HHIIHHH", 3, n_channels, int(fs), int(fs) * block, block, 32, 0)
    fact = struct.pack("<I", n_frames)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"fact" + struct.pack("<I", 4) + fact
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm16_wav_bytes(samples: np.ndarray, fs: int) -> bytes:
    """16-bit PCM WAV of int16 (or float, libsndfile-scaled) ``samples`` ``[C, N]``."""
    buf = io.BytesIO()
    sf.write(buf, np.asarray(samples).T, fs, format="WAV", subtype="PCM_16")
    return buf.getvalue()


# ----------------------------------------------------------------------------- storage formats

#: Audio formats of a dataset's files: ``float32`` (the default, bit-exact renders),
#: ``pcm16`` (16-bit PCM WAV at the scene's common scale, as the published ASA2) and
#: ``flac`` (the same 16-bit samples, losslessly compressed). See ``docs/storage.md``.
AUDIO_FORMATS: tuple[str, ...] = ("float32", "pcm16", "flac")
#: File name suffix of each format.
AUDIO_SUFFIX: dict[str, str] = {"float32": ".wav", "pcm16": ".wav", "flac": ".flac"}
#: libsndfile subtype a file of each format has.
AUDIO_SUBTYPE: dict[str, str] = {"float32": "FLOAT", "pcm16": "PCM_16", "flac": "PCM_16"}
#: Float-to-int16 scale: full scale of 16-bit PCM as libsndfile reads it back as float.
PCM16_SCALE: float = 32768.0


def check_audio_format(value: str, *, what: str = "audio_format") -> str:
    """``value`` if it is one of :data:`AUDIO_FORMATS`, else a ``ValueError`` naming ``what``."""
    if value not in AUDIO_FORMATS:
        raise ValueError(f"{what}: {value!r} is not an audio format (one of {', '.join(AUDIO_FORMATS)})")
    return value


def float_to_pcm16(audio: np.ndarray, *, what: Pathlike = "<audio>") -> np.ndarray:
    """Float audio (full scale 1.0) to int16 ``round(audio * 32768)``, refusing to clip.

    Every file of a scene is at the scene's one common scale (the renderer's
    ``output_gain`` puts ``max |mixture|`` at the manifest's ``output.peak``, below full scale),
    and this multiplies by the same power of two for every file: mixture = sum of images +
    noise holds to within one quantisation step, and read back as float (``x / 32768``) a
    sample differs from the float original by at most 2^-16. A sample that would not fit is
    a :class:`WavError` (field ``samples``) naming ``what``: never a silent clip.
    """
    x = np.asarray(audio)
    # Scaling by a power of two is exact in float32, so float32 input needs no upcast.
    x = x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)
    scaled = np.rint(x * x.dtype.type(PCM16_SCALE))
    if scaled.size:
        lo, hi = scaled.min(), scaled.max()
        if lo < -32768 or hi > 32767 or not np.isfinite(scaled).all():
            peak = float(np.nanmax(np.abs(x))) if np.isfinite(x).any() else float("nan")
            raise WavError(what, f"peak {peak:.6f} does not fit in 16-bit PCM without clipping "
                           "(max 32767/32768); the audio lacks headroom", fields="samples")
    return scaled.astype(np.int16)


def flac_bytes(samples: np.ndarray, fs: int) -> bytes:
    """16-bit FLAC of int16 ``samples`` ``[C, N]``: lossless, reproducible for one libFLAC version.

    libsndfile writes no timestamp or tag of its own; the stream carries libFLAC's vendor
    string (e.g. ``reference libFLAC 1.4.3 20230623``), so the bytes are identical run to run
    and machine to machine with the same libFLAC, and the decoded samples always are.
    """
    x = np.asarray(samples)
    if x.dtype != np.int16:
        raise TypeError(f"flac_bytes takes int16 samples, got {x.dtype}")
    buf = io.BytesIO()
    sf.write(buf, x.T, int(fs), format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def encode_audio(audio: np.ndarray, fs: int, audio_format: str = "float32", *,
                 what: Pathlike = "<audio>") -> bytes:
    """The file bytes of float ``audio`` ``[C, N]`` in one of :data:`AUDIO_FORMATS`.

    ``float32``: :func:`wav_bytes` (unchanged: datasets made before the formats existed keep
    their bytes). ``pcm16``: :func:`pcm16_wav_bytes` of :func:`float_to_pcm16`. ``flac``:
    :func:`flac_bytes` of the same int16 samples, so a FLAC file decodes to exactly the
    samples of the PCM16 WAV.
    """
    check_audio_format(audio_format)
    if audio_format == "float32":
        return wav_bytes(audio, fs)
    pcm = float_to_pcm16(audio, what=what)
    return pcm16_wav_bytes(pcm, fs) if audio_format == "pcm16" else flac_bytes(pcm, fs)
