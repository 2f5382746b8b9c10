"""Corpus layouts: which files of a corpus tree belong to which of the 13 classes.

Each layout scanner walks a corpus root and returns :class:`Candidate` files (path relative
to the root, DCASE class or ``None`` for noise, channel policy) plus the files it could not
map, counted by reason. Reading, validating and hashing the audio is :mod:`.prepare`'s job.

Layouts
-------
``classfolders``
    ``ROOT/<class>/**/<file>``; ``<class>`` is a class name, slug or alias
    (see :func:`asabench.simulate.classes.class_index`).
``index``
    A user table mapping files (relative to ROOT) to classes: CSV with a header holding a
    path column (``path``, ``file``, ``filename`` or ``fname``) and a class column
    (``class``, ``label`` or ``class_idx``), or JSON (a list of ``{"path", "class"}``
    objects or a ``{path: class}`` object).
``fsd50k``
    ``ROOT/FSD50K.ground_truth/{dev,eval}.csv`` (columns ``fname, labels, ...``) with audio in
    ``ROOT/FSD50K.{dev,eval}_audio/<fname>.wav``; labels mapped by :data:`FSD50K_LABEL_MAP`.
``librispeech``
    ``SPEAKERS.TXT`` anywhere under ROOT gives each speaker's sex; every ``*.flac`` named
    ``<speaker>-<chapter>-<utterance>.flac`` becomes female (F) or male (M) speech.
``tau-snoise``
    Every audio file under ROOT is a background-noise recording; channel 0 is used (the
    ASA2 recipe takes one channel of the multichannel ambience recording).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import soundfile as sf

from asabench.simulate.classes import DCASE_CLASSES, class_index

#: Layout names accepted by :func:`scan_layout` and ``asabench prepare --layout``.
LAYOUTS: tuple[str, ...] = ("classfolders", "index", "fsd50k", "librispeech", "tau-snoise")

#: Layouts that produce a noise bank rather than a source bank.
NOISE_LAYOUTS: frozenset[str] = frozenset({"tau-snoise"})

#: File extensions treated as audio (libsndfile's formats plus common spellings).
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {ext.lower() for ext in sf.available_formats()} | {"wav", "flac", "ogg", "oga", "opus", "aif", "aiff", "mp3"}
)

#: FSD50K vocabulary label -> DCASE class id. FSD50K ground truth lists every ancestor of a
#: clip's leaf labels in the AudioSet ontology, so a guitar clip carries
#: ``Guitar, ..., Musical_instrument, Music``; see :data:`FSD50K_MORE_SPECIFIC`.
FSD50K_LABEL_MAP: dict[str, int] = {
    "Female_speech_and_woman_speaking": 0,
    "Male_speech_and_man_speaking": 1,
    "Clapping": 2,
    "Telephone": 3,
    "Ringtone": 3,
    "Telephone_bell_ringing": 3,
    "Telephone_dialing_and_DTMF": 3,
    "Laughter": 4,
    "Giggle": 4,
    "Chuckle_and_chortle": 4,
    "Domestic_sounds_and_home_sounds": 5,
    "Walk_and_footsteps": 6,
    "Door": 7,
    "Slam": 7,
    "Sliding_door": 7,
    "Music": 8,
    "Musical_instrument": 9,
    "Water_tap_and_faucet": 10,
    "Bell": 11,
    "Church_bell": 11,
    "Bicycle_bell": 11,
    "Chime": 11,
    "Wind_chime": 11,
    "Doorbell": 11,
    "Knock": 12,
}

#: (specific, general) pairs: when a clip maps to both, the general class comes from the
#: ontology's label propagation and is dropped. Follows the AudioSet hierarchy (Musical
#: instrument under Music; Door, Water tap under Domestic sounds; Knock and Doorbell under
#: Door). Any other combination of our classes is ambiguous and the clip is skipped.
FSD50K_MORE_SPECIFIC: tuple[tuple[int, int], ...] = (
    (9, 8),  # musical instrument < music
    (7, 5),  # door < domestic sounds
    (10, 5),  # water tap < domestic sounds
    (12, 7),  # knock < door
    (12, 5),  # knock < domestic sounds
    (11, 7),  # doorbell (bell) < door
    (11, 5),  # doorbell (bell) < domestic sounds
)


@dataclass(frozen=True)
class Candidate:
    """One corpus file the layout assigned to a class (or to the noise bank)."""

    path: str  # relative to the corpus root, POSIX separators
    class_idx: int | None
    channel: int | None = None  # None: down-mix; int: pick this channel


@dataclass
class ScanResult:
    """Output of a layout scanner."""

    candidates: list[Candidate] = field(default_factory=list)
    #: Files the layout could not map, by reason (e.g. "fsd50k: no mapped label").
    unmapped: Counter = field(default_factory=Counter)
    #: Up to a few example paths per unmapped reason, for the summary.
    unmapped_examples: dict[str, list[str]] = field(default_factory=dict)

    def reject(self, reason: str, path: str) -> None:
        self.unmapped[reason] += 1
        examples = self.unmapped_examples.setdefault(reason, [])
        if len(examples) < 3:
            examples.append(path)


def _is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower().lstrip(".") in AUDIO_EXTENSIONS and not path.name.startswith(".")


def _audio_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if _is_audio(p))


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def scan_classfolders(root: Path) -> ScanResult:
    """Map ``ROOT/<class>/**/<audio>`` to classes by the folder name."""
    result = ScanResult()
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = _audio_files(folder)
        try:
            k = class_index(folder.name)
        except ValueError:
            for f in files:
                result.reject(f"folder {folder.name!r} is not a class name", _rel(f, root))
            continue
        result.candidates.extend(Candidate(_rel(f, root), k) for f in files)
    return result


def _pick_column(header: list[str], options: tuple[str, ...], table: Path, what: str) -> str:
    lowered = {h.strip().lower(): h for h in header}
    for opt in options:
        if opt in lowered:
            return lowered[opt]
    raise ValueError(f"{table}: no {what} column; expected one of {', '.join(options)}, found {', '.join(header)}")


def scan_index(root: Path, index_file: Path | None = None) -> ScanResult:
    """Map files listed in a user CSV or JSON table to classes.

    Parameters
    ----------
    root : Path
        Corpus root; paths in the table are relative to it.
    index_file : Path, optional
        The table; default ``ROOT/index.csv`` or, if absent, ``ROOT/index.json``.
    """
    if index_file is None:
        index_file = root / "index.csv" if (root / "index.csv").exists() else root / "index.json"
    if not index_file.exists():
        raise FileNotFoundError(f"{index_file}: index layout needs a CSV or JSON table mapping files to classes")
    rows: list[tuple[object, object, str]] = []  # (path, class, where in the table)
    try:
        if index_file.suffix.lower() == ".json":
            data = json.loads(index_file.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                rows = [(p, c, f"key {p!r}") for p, c in data.items()]
            elif isinstance(data, list):
                for i, item in enumerate(data):
                    if not isinstance(item, dict) or "path" not in item or "class" not in item:
                        raise ValueError(f"{index_file}: item {i} must be an object with 'path' and 'class'")
                    rows.append((item["path"], item["class"], f"item {i}"))
            else:
                raise ValueError(f"{index_file}: expected a JSON list or object")
        else:
            with open(index_file, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                header = list(reader.fieldnames or [])
                pcol = _pick_column(header, ("path", "file", "filename", "fname"), index_file, "path")
                ccol = _pick_column(header, ("class", "label", "class_idx", "class_name"), index_file, "class")
                rows = [(row[pcol], row[ccol], f"line {reader.line_num}") for row in reader]
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{index_file}: not a readable {index_file.suffix.lstrip('.') or 'CSV'} table: {exc}") from None
    result = ScanResult()
    for path, label, where in rows:
        if not isinstance(path, str) or not path.strip():
            raise ValueError(f"{index_file}: {where}: field 'path': expected a file path, got {path!r}")
        path = Path(path).as_posix()
        try:
            k = class_index(label if not isinstance(label, float) else int(label))  # type: ignore[arg-type]
        except (ValueError, TypeError):
            result.reject(f"{index_file.name}: unknown class {label!r}", path)
            continue
        result.candidates.append(Candidate(path, k))
    result.candidates.sort(key=lambda c: c.path)
    return result


def fsd50k_class(labels: list[str]) -> tuple[int | None, str | None]:
    """Map one FSD50K clip's label list to a DCASE class.

    Returns
    -------
    class_idx : int or None
        The class, or ``None`` when the clip is skipped.
    reason : str or None
        Why it was skipped (no mapped label / several of our classes).
    """
    found = {FSD50K_LABEL_MAP[label.strip()] for label in labels if label.strip() in FSD50K_LABEL_MAP}
    for specific, general in FSD50K_MORE_SPECIFIC:
        if specific in found and general in found:
            found.discard(general)
    if not found:
        return None, "fsd50k: no label maps to the 13 classes"
    if len(found) > 1:
        names = " + ".join(DCASE_CLASSES[k] for k in sorted(found))
        return None, f"fsd50k: several classes ({names})"
    return found.pop(), None


def scan_fsd50k(root: Path) -> ScanResult:
    """Map FSD50K dev/eval clips to the 13 classes through their ground-truth labels."""
    result = ScanResult()
    tables = sorted(root.rglob("*.csv"))
    used = 0
    for split in ("dev", "eval"):
        table = next((t for t in tables if t.name == f"{split}.csv" and "ground_truth" in t.parent.name.lower()), None)
        if table is None:
            table = next((t for t in tables if t.name == f"{split}.csv"), None)
        if table is None:
            continue
        audio_dir = next(
            (d for d in (root / f"FSD50K.{split}_audio", root / f"{split}_audio", root / split) if d.is_dir()), None
        )
        if audio_dir is None:
            raise FileNotFoundError(f"{root}: FSD50K {split}.csv found at {table} but no FSD50K.{split}_audio folder")
        used += 1
        with open(table, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            fcol = _pick_column(header, ("fname",), table, "fname")
            lcol = _pick_column(header, ("labels",), table, "labels")
            for row in reader:
                rel = _rel(audio_dir / f"{row[fcol].strip()}.wav", root)
                k, reason = fsd50k_class(row[lcol].split(","))
                if k is None:
                    result.reject(reason or "fsd50k: unmapped", rel)
                else:
                    result.candidates.append(Candidate(rel, k))
    if used == 0:
        raise FileNotFoundError(f"{root}: no FSD50K ground-truth table (FSD50K.ground_truth/dev.csv or eval.csv)")
    result.candidates.sort(key=lambda c: c.path)
    return result


def read_librispeech_speakers(speakers_txt: Path) -> dict[str, str]:
    """Parse LibriSpeech ``SPEAKERS.TXT`` into ``{speaker_id: "F" | "M"}``.

    Lines are ``ID | SEX | SUBSET | MINUTES | NAME``; lines starting with ``;`` are comments.
    """
    sexes: dict[str, str] = {}
    for lineno, line in enumerate(speakers_txt.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 2 or parts[1].upper() not in ("F", "M"):
            raise ValueError(f"{speakers_txt}:{lineno}: expected 'ID | SEX | ...' with SEX F or M, got {line!r}")
        sexes[parts[0]] = parts[1].upper()
    return sexes


def scan_librispeech(root: Path) -> ScanResult:
    """Female / male speech from LibriSpeech utterances by their speaker's sex."""
    speakers_txt = next(iter(sorted(root.rglob("SPEAKERS.TXT"))), None)
    if speakers_txt is None:
        raise FileNotFoundError(f"{root}: librispeech layout needs SPEAKERS.TXT under the root")
    sexes = read_librispeech_speakers(speakers_txt)
    result = ScanResult()
    for f in sorted(root.rglob("*.flac")):
        speaker = f.name.split("-", 1)[0]
        sex = sexes.get(speaker)
        rel = _rel(f, root)
        if sex is None:
            result.reject("librispeech: speaker not in SPEAKERS.TXT", rel)
            continue
        result.candidates.append(Candidate(rel, 0 if sex == "F" else 1))
    return result


def scan_tau_snoise(root: Path) -> ScanResult:
    """Every audio file under ROOT as background noise, channel 0."""
    return ScanResult(candidates=[Candidate(_rel(f, root), None, channel=0) for f in _audio_files(root)])


_SCANNERS: dict[str, Callable[..., ScanResult]] = {
    "classfolders": scan_classfolders,
    "index": scan_index,
    "fsd50k": scan_fsd50k,
    "librispeech": scan_librispeech,
    "tau-snoise": scan_tau_snoise,
}


def scan_layout(root: Path, layout: str, *, index_file: Path | None = None) -> ScanResult:
    """Run the scanner of ``layout`` on ``root``; ``index_file`` only for ``layout="index"``."""
    if layout not in _SCANNERS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: corpus root is not a directory")
    if layout == "index":
        return scan_index(root, index_file)
    return _SCANNERS[layout](root)
