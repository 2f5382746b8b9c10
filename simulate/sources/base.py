"""Source-bank interface: clip references, the bank protocols and audio conditioning.

A scene spec never stores audio: it stores a :class:`SourceRef` per source and one for
its noise. A ref is plain JSON (bank kind, relative path or procedural id, class, content
hash, native length) so that the scene can be re-rendered later, also after the corpus has
moved: a bank resolves the relative path against its *current* root and refuses a file
whose content hash no longer matches.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy.signal import resample_poly

from asabench.simulate.io.files import Pathlike


#: Policy for unreadable, silent or too-short files.
BadFilePolicy = Literal["skip", "error"]


class SourceError(RuntimeError):
    """A source or noise file cannot be used; the message names the file and the reason."""

    def __init__(self, path: Pathlike | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class SourceRef:
    """JSON-serialisable reference to one dry clip (foreground source or noise).

    Attributes
    ----------
    bank : str
        Bank kind that can load it: ``"folder"`` or ``"procedural"``.
    id : str
        Path relative to the bank root (POSIX separators) or the procedural clip id.
    class_idx : int or None
        DCASE class id in ``[0, 13)``; ``None`` for background noise.
    frames : int
        Length in samples at the native rate ``fs``.
    fs : int
        Native sample rate in Hz.
    sha256 : str or None
        Hex digest of the file bytes when known (folder banks).
    channel : int or None
        Channel taken from a multichannel file; ``None`` means down-mixed to mono.
    """

    bank: str
    id: str
    class_idx: int | None
    frames: int
    fs: int
    sha256: str | None = None
    channel: int | None = None

    @property
    def duration_s(self) -> float:
        """Native duration in seconds."""
        return self.frames / self.fs

    def num_samples(self, fs: int) -> int:
        """Number of samples :meth:`SourceBank.load` returns at rate ``fs`` (exact)."""
        # resample_poly returns ceil(n * up / down) samples; up/down = fs / self.fs.
        return -(-self.frames * int(fs) // self.fs)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as stored in scene specs."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SourceRef":
        """Inverse of :meth:`to_dict`; raises ``ValueError`` naming a missing field."""
        missing = [k for k in ("bank", "id", "class_idx", "frames", "fs") if k not in data]
        if missing:
            raise ValueError(f"source ref {data!r}: missing field(s) {', '.join(missing)}")
        return cls(
            bank=str(data["bank"]),
            id=str(data["id"]),
            class_idx=None if data["class_idx"] is None else int(data["class_idx"]),
            frames=int(data["frames"]),
            fs=int(data["fs"]),
            sha256=data.get("sha256"),
            channel=None if data.get("channel") is None else int(data["channel"]),
        )


class _Bank(ABC):
    """Shared part of source and noise banks."""

    #: Bank kind written into every ref it hands out.
    kind: str = ""

    @property
    @abstractmethod
    def name(self) -> str:
        """Human-readable name (the root path or ``"builtin"``)."""

    @abstractmethod
    def load(self, ref: SourceRef, fs: int) -> np.ndarray:
        """Load one clip as mono float32 at rate ``fs``.

        Parameters
        ----------
        ref : SourceRef
            A ref handed out by a bank of this kind (possibly read back from a spec).
        fs : int
            Output sample rate in Hz.

        Returns
        -------
        np.ndarray
            ``[ref.num_samples(fs)]`` float32.

        Raises
        ------
        SourceError
            Missing, unreadable or altered file, naming the file.
        """

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON record of the bank for the dataset index: kind, root, hash of its index."""


class SourceBank(_Bank):
    """A pool of dry foreground clips per DCASE class."""

    @abstractmethod
    def files(self, class_idx: int) -> list[SourceRef]:
        """Refs of every clip of class ``class_idx``, in a deterministic order."""

    def classes(self) -> list[int]:
        """DCASE class ids that have at least one clip."""
        from asabench.simulate.classes import NUM_CLASSES

        return [k for k in range(NUM_CLASSES) if self.files(k)]


class NoiseBank(_Bank):
    """A pool of single-channel background recordings (no classes)."""

    @abstractmethod
    def files(self) -> list[SourceRef]:
        """Refs of every noise clip, in a deterministic order."""


def to_mono(audio: np.ndarray, channel: int | None = None) -> np.ndarray:
    """Reduce ``[N, C]`` (soundfile layout) or ``[N]`` audio to ``[N]``.

    ``channel=None`` averages the channels (down-mix); an integer picks one channel, which
    is what the ASA2 recipe does with multichannel ambience recordings.
    """
    if audio.ndim == 1:
        return audio
    if channel is None:
        return audio.mean(axis=1)
    if not 0 <= channel < audio.shape[1]:
        raise ValueError(f"channel {channel} out of range for {audio.shape[1]}-channel audio")
    return audio[:, channel]


def resample(audio: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    """Resample along the last axis by the exact rational ratio ``fs_out / fs_in``.

    Polyphase FIR (``scipy.signal.resample_poly``, Kaiser window); output length is
    ``ceil(N * fs_out / fs_in)``.
    """
    fs_in, fs_out = int(fs_in), int(fs_out)
    if fs_in <= 0 or fs_out <= 0:
        raise ValueError(f"sample rates must be positive, got {fs_in} -> {fs_out}")
    if fs_in == fs_out:
        return audio
    g = math.gcd(fs_in, fs_out)
    return resample_poly(audio, fs_out // g, fs_in // g, axis=-1)


