"""Index a corpus once: validate, hash and describe every file, write a JSON index.

The index is what folder banks load; scenes never walk a corpus tree. Each entry records
the path relative to the corpus root, class, native length, rate, channel count, the
channel policy and the SHA-256 of the file bytes. Unreadable, silent and too-short files
are reported with their path and either skipped (listed in the index's ``skipped``) or, with
``on_bad="error"``, rejected with a :class:`~.base.SourceError` before anything is written.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from asabench.simulate.io.wav import WavError, read_wav

from asabench.simulate.io.files import PathConfinementError, atomic_write_text, confine, sha256_bytes
from asabench.simulate.sources.base import BadFilePolicy, Pathlike, SourceError, to_mono
from asabench.simulate.sources.corpora import LAYOUTS, NOISE_LAYOUTS, Candidate, scan_layout

_OBJECT_REPR = re.compile(r"<_io\.BytesIO object at 0x[0-9a-f]+>")

#: Format tag and version of the index file.
INDEX_FORMAT = "asabench-source-index"
INDEX_VERSION = 1

#: Default index file name looked up when a bank is opened from a corpus folder.
DEFAULT_INDEX_NAME = "asabench-index.json"

#: Files whose peak magnitude is below this are silent (-80 dBFS).
DEFAULT_SILENCE_PEAK = 1e-4

#: Files shorter than this are rejected, seconds.
DEFAULT_MIN_DURATION_S = 0.1


@dataclass
class BadFile:
    """A file that prepare rejected: its path (relative to the root) and why."""

    path: str
    reason: str


@dataclass
class PrepareReport:
    """What :func:`prepare` indexed and what it left out."""

    index_path: Path
    kind: str  # "sources" or "noise"
    layout: str
    entries: list[dict[str, Any]] = field(default_factory=list)
    bad: list[BadFile] = field(default_factory=list)
    unmapped: Counter = field(default_factory=Counter)

    def files_per_class(self) -> dict[int | None, int]:
        """Number of indexed files per class id (``None`` for noise)."""
        return dict(Counter(e["class_idx"] for e in self.entries))


def check_audio(
    path: Path, channel: int | None, *, min_duration_s: float, silence_peak: float,
    data: bytes | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """Read one file and judge it usable.

    ``data``: the file's bytes when the caller already read them (then ``path`` only names
    the file), so that what is judged and what is hashed are the same bytes.

    Returns
    -------
    info : dict or None
        ``frames``, ``fs``, ``channels``, ``peak`` when usable.
    reason : str or None
        Why it is not: missing, unreadable (soundfile's message), too short or silent.
    """
    if data is None and not path.exists():
        return None, "missing file"
    try:
        audio, fs = read_wav(path, data=data, finite=False)  # the one checked reader (io/wav.py)
        audio = audio.T  # [N, C] as to_mono expects (the file's own layout, no copy)
    except WavError as exc:
        return None, _OBJECT_REPR.sub("<file>", f"unreadable: {exc.reason}".replace(str(path), "<file>"))
    frames, channels = audio.shape
    if channel is not None and channel >= channels:
        return None, f"has {channels} channel(s), channel {channel} requested"
    if frames < min_duration_s * fs:
        return None, f"too short: {frames / fs:.3f} s < {min_duration_s:g} s"
    mono = to_mono(audio, channel)
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if not np.isfinite(peak):
        return None, "contains NaN or infinite samples"
    if peak < silence_peak:
        level = "-inf" if peak == 0 else f"{20 * np.log10(peak):.1f}"
        return None, f"silent: peak {level} dBFS < {20 * np.log10(silence_peak):.1f} dBFS"
    return {"frames": int(frames), "fs": int(fs), "channels": int(channels), "peak": peak}, None


def prepare(
    root: Pathlike,
    layout: str,
    out_index: Pathlike,
    *,
    on_bad: BadFilePolicy = "skip",
    index_file: Pathlike | None = None,
    min_duration_s: float = DEFAULT_MIN_DURATION_S,
    silence_peak: float = DEFAULT_SILENCE_PEAK,
    workers: int = 1,
) -> PrepareReport:
    """Index a corpus for a folder bank.

    Parameters
    ----------
    root : path
        Corpus root folder.
    layout : str
        One of :data:`~.corpora.LAYOUTS`.
    out_index : path
        Index JSON to write (atomically: temporary file + rename).
    on_bad : {"skip", "error"}
        Unreadable, silent or too-short files are skipped and listed (``"skip"``) or raise
        :class:`SourceError` naming the first such file (``"error"``; nothing is written).
    index_file : path, optional
        The user table of the ``index`` layout (default ``ROOT/index.csv``).
    min_duration_s : float
        Shortest usable file, seconds.
    silence_peak : float
        Files with peak magnitude below this (linear full scale) are silent.
    workers : int
        Threads reading and hashing files (decoding and hashing release the GIL); the
        index is identical for any number.

    Returns
    -------
    PrepareReport
    """
    if on_bad not in ("skip", "error"):
        raise ValueError(f"on_bad must be 'skip' or 'error', got {on_bad!r}")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    root = Path(root).resolve()
    out_index = Path(out_index).resolve()
    table = Path(index_file) if index_file is not None else None
    scan = scan_layout(root, layout, index_file=table)
    # Paths of the ``index`` layout come from the user's table; name it in confinement errors.
    source = table if table is not None else (root if layout != "index" else _default_table(root))
    kind = "noise" if layout in NOISE_LAYOUTS else "sources"
    report = PrepareReport(index_path=out_index, kind=kind, layout=layout, unmapped=scan.unmapped)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    checked: Iterable[tuple[dict[str, Any] | None, str | None]]
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    try:
        if pool is None:
            checked = (_index_one(root, cand, min_duration_s, silence_peak, source) for cand in scan.candidates)
        else:
            # map() keeps the candidates' order, so the index does not depend on timing.
            checked = pool.map(lambda cand: _index_one(root, cand, min_duration_s, silence_peak, source), scan.candidates)
        _collect(root, scan.candidates, checked, on_bad, report)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    record = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "kind": kind,
        "layout": layout,
        "root": str(root),
        # Lets the bank find the corpus after corpus and index are moved together.
        "root_from_index": os.path.relpath(root, out_index.parent),
        "min_duration_s": min_duration_s,
        "silence_peak": silence_peak,
        "entries": report.entries,
        "skipped": [{"path": b.path, "reason": b.reason} for b in report.bad],
        "unmapped": dict(sorted(scan.unmapped.items())),
        "unmapped_examples": scan.unmapped_examples,
    }
    atomic_write_text(out_index, json.dumps(record, indent=1) + "\n")
    return report


def _default_table(root: Path) -> Path:
    return root / "index.csv" if (root / "index.csv").exists() else root / "index.json"


def _collect(
    root: Path,
    candidates: list[Candidate],
    checked: Iterable[tuple[dict[str, Any] | None, str | None]],
    on_bad: BadFilePolicy,
    report: PrepareReport,
) -> None:
    for cand, (entry, reason) in zip(candidates, checked):
        if entry is None:
            if on_bad == "error":
                raise SourceError(root / cand.path, str(reason))
            report.bad.append(BadFile(cand.path, str(reason)))
            continue
        report.entries.append(entry)


def _index_one(root: Path, cand: Candidate, min_duration_s: float, silence_peak: float,
               source: Path | None = None) -> tuple[dict[str, Any] | None, str | None]:
    # The path (from a user table or a walk that may meet symlinks) is confined to the
    # corpus root before the file is opened; the bytes are read once, judged and hashed.
    try:
        path = confine(root, cand.path, source=source, field="path")
    except PathConfinementError as exc:
        return None, str(exc)
    if not path.is_file():
        return None, "missing file"
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    info, reason = check_audio(path, cand.channel, min_duration_s=min_duration_s, silence_peak=silence_peak,
                               data=data)
    if info is None:
        return None, reason
    return {
        "path": cand.path,
        "class_idx": cand.class_idx,
        "frames": info["frames"],
        "fs": info["fs"],
        "channels": info["channels"],
        "channel": cand.channel,
        "duration_s": round(info["frames"] / info["fs"], 6),
        "sha256": sha256_bytes(data),
    }, None
