"""Validation of a prediction folder (PRED_DIR) before scoring.

Layout (``docs/seld-modes.md`` and ``asabench score --help``):

* SELD: ``PRED_DIR/<scene_id>.csv``, a DCASE CSV (polar or Cartesian, with or without
  distance; see :mod:`asabench.benchmark.io.dcase_csv`).
* USS and TSE: ``PRED_DIR/<scene_id>/<k>.wav`` for every source ``k`` of the scene, with
  the dataset's channel count, sample rate and length. USS estimates may come in any order
  (they are matched by permutation), and a USS scene of ``J`` sources may have up to
  ``max(J, MAX_USS_ESTIMATES)`` files ``0.wav..K-1.wav`` (the best ``J`` are matched); a
  TSE file ``k`` is the extraction given source ``k``'s direction as the clue.

Every problem of the whole folder is collected and reported with the file name relative to
PRED_DIR, so one run lists everything to fix. Only names built from the dataset's scene ids
and source indices are opened, each through :func:`resolve_member`, which refuses absolute
names, ``..``, and symbolic links anywhere on the way: nothing outside PRED_DIR is ever read.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal, Sequence, Union

import numpy as np

from asabench.benchmark.io.dcase_csv import DcaseLabels, scan_dcase_csv
from asabench.simulate.io.wav import WavError, read_wav

Pathlike = Union[str, "os.PathLike[str]"]
Task = Literal["uss", "tse", "seld"]
#: Most estimated objects of a USS scene with fewer sources (the systems' object slots).
MAX_USS_ESTIMATES: int = 5
TASKS: tuple[str, ...] = ("uss", "tse", "seld")


class SubmissionPathError(ValueError):
    """A member name that would leave PRED_DIR or pass through a symbolic link."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


class SubmissionError(ValueError):
    """The prediction folder has problems; ``problems`` lists each as ``<file>: <why>``."""

    def __init__(self, pred_dir: Path, problems: Sequence[str]) -> None:
        self.pred_dir = pred_dir
        self.problems = list(problems)
        shown = self.problems[:50]
        more = len(self.problems) - len(shown)
        text = (f"{len(self.problems)} problem(s) in predictions {pred_dir}:\n  "
                + "\n  ".join(shown) + (f"\n  ... and {more} more" if more > 0 else ""))
        super().__init__(text)


@dataclass(frozen=True)
class SceneExpectation:
    """What the dataset says a scene's predictions must look like."""

    id: str
    num_sources: int
    num_channels: int
    fs: int
    num_samples: int
    num_frames: int


@dataclass
class Submission:
    """A validated prediction folder: SELD labels or audio paths per scene id."""

    pred_dir: Path
    task: str
    labels: dict[str, DcaseLabels] = field(default_factory=dict)
    audio: dict[str, list[Path]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def resolve_member(pred_dir: Pathlike, name: str) -> Path:
    """Path of ``name`` inside ``pred_dir``, refusing anything that could leave it.

    Parameters
    ----------
    pred_dir : the prediction folder.
    name : POSIX relative name, e.g. ``"test-000001/0.wav"``.

    Raises
    ------
    SubmissionPathError
        ``name`` is absolute, contains ``..``, ``.``, a backslash or an empty component, or
        an existing component of it is a symbolic link, or its real path is outside
        ``pred_dir``.
    """
    if not name or name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise SubmissionPathError(name, "absolute or non-POSIX name; names must be relative "
                                  "to the prediction folder")
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise SubmissionPathError(name, "'..', '.' or empty path component")
    root = Path(pred_dir).resolve()
    current = root
    for depth, part in enumerate(parts, start=1):
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return root / PurePosixPath(name)
        if stat.S_ISLNK(info.st_mode):
            where = "/".join(parts[:depth])
            raise SubmissionPathError(name, f"symbolic link ({where}); links are not followed")
    real = Path(os.path.realpath(root / PurePosixPath(name)))
    if root != real and root not in real.parents:
        raise SubmissionPathError(name, "resolves outside the prediction folder")
    return real


def _regular_file(pred_dir: Path, name: str, problems: list[str]) -> Path | None:
    try:
        path = resolve_member(pred_dir, name)
    except SubmissionPathError as err:
        problems.append(str(err))
        return None
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        problems.append(f"{name}: missing")
        return None
    if not stat.S_ISREG(info.st_mode):
        problems.append(f"{name}: not a regular file")
        return None
    return path


def read_prediction(path: Path, name: str, exp: SceneExpectation) -> tuple[np.ndarray | None, list[str]]:
    """Read a prediction WAV once: ``([C, T] audio or None, problems)``.

    The problems are those :func:`validate_submission` reports for the file (unreadable,
    channels, rate, length, NaN/inf samples), worded the same (both go through
    :func:`asabench.simulate.io.wav.read_wav`); the audio is None when there are any. The
    scorer uses this in its worker processes so that every file is opened once and checked
    in parallel. The audio keeps the file's precision (float64 for 32-bit PCM and double).
    """
    try:
        data, _ = read_wav(path, channels=exp.num_channels, fs=exp.fs, frames=exp.num_samples,
                           dtype="native", what=name)
    except WavError as err:
        return None, err.problems
    return data, []


def _check_wav(path: Path, name: str, exp: SceneExpectation, problems: list[str]) -> None:
    try:
        read_wav(path, channels=exp.num_channels, fs=exp.fs, frames=exp.num_samples, what=name)
    except WavError as err:
        problems.extend(err.problems)


def validate_submission(pred_dir: Pathlike, task: Task, scenes: Sequence[SceneExpectation], *,
                        num_classes: int, known_ids: Sequence[str] = (),
                        require_distance: bool = False, check_audio: bool = True) -> Submission:
    """Check a prediction folder against the scenes to score and load what scoring needs.

    Parameters
    ----------
    pred_dir : the prediction folder.
    task : ``"uss"``, ``"tse"`` or ``"seld"``.
    scenes : the scenes to score, with their expected shapes.
    num_classes : valid class ids are ``0..num_classes-1`` (SELD).
    require_distance : SELD rows must carry a distance column (DCASE 2024 scoring).
    check_audio : open every WAV and check its channels, rate, length and samples. The
        scorer passes False: its worker processes make the same checks with the same
        messages (:func:`read_prediction`) as they read each file for scoring, once and in
        parallel, and it reports every problem before writing anything.

    Returns
    -------
    Submission with SELD labels (``labels[id]``) or audio paths (``audio[id][k]``).

    Raises
    ------
    SubmissionError
        Listing every problem found, each naming its file relative to ``pred_dir``.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise SubmissionError(pred_dir, [f"{pred_dir}: not a directory"])
    problems: list[str] = []
    sub = Submission(pred_dir=pred_dir, task=task)
    for exp in scenes:
        if task == "seld":
            name = f"{exp.id}.csv"
            path = _regular_file(pred_dir, name, problems)
            if path is None:
                continue
            labels, found = scan_dcase_csv(path, num_classes=num_classes, name=name)
            if labels is not None and labels.num_rows and int(labels.frame.max()) >= exp.num_frames:
                late = labels.frame >= exp.num_frames
                found.append(f"{name}: {int(late.sum())} row(s) with frame index >= {exp.num_frames} "
                             f"(the scene has {exp.num_frames} label frames), first frame "
                             f"{int(labels.frame[late][0])}")
            if labels is not None and require_distance and labels.num_rows and labels.distance is None:
                found.append(f"{name}: no distance column; --seld-mode dcase2024 needs "
                             "frame,class,track,azimuth,elevation,distance (or x,y,z,distance) rows")
            problems.extend(found)
            if not found and labels is not None:
                sub.labels[exp.id] = labels
        else:
            paths = []
            dir_ok = True
            try:
                scene_dir = resolve_member(pred_dir, exp.id)
            except SubmissionPathError as err:
                problems.append(f"{exp.id}/: {err.reason}")
                continue
            if not scene_dir.is_dir():
                problems.append(f"{exp.id}/: missing (expected {exp.num_sources} WAV file(s) "
                                f"0.wav..{exp.num_sources - 1}.wav)")
                continue
            n_files = exp.num_sources
            while (task == "uss" and n_files < MAX_USS_ESTIMATES
                   and os.path.lexists(os.path.join(scene_dir, f"{n_files}.wav"))):
                n_files += 1  # extra USS estimates: the scorer matches the best J of them
            for k in range(n_files):
                name = f"{exp.id}/{k}.wav"
                path = _regular_file(pred_dir, name, problems)
                if path is None:
                    dir_ok = False
                    continue
                if check_audio:
                    before = len(problems)
                    _check_wav(path, name, exp, problems)
                    dir_ok &= len(problems) == before
                paths.append(path)
            expected = {f"{k}.wav" for k in range(n_files)}
            for entry in sorted(os.listdir(scene_dir)):
                if entry not in expected:
                    problems.append(f"{exp.id}/{entry}: unexpected entry (scene has "
                                    f"{exp.num_sources} source(s): 0.wav..{exp.num_sources - 1}.wav)")
                    dir_ok = False
            if dir_ok:
                sub.audio[exp.id] = paths
    wanted = {e.id for e in scenes}
    known = set(known_ids) | wanted
    for entry in sorted(os.listdir(pred_dir)):
        stem = entry[:-4] if entry.endswith(".csv") else entry
        if stem not in known:
            sub.warnings.append(f"{entry}: not a scene of the dataset; ignored")
    if problems:
        raise SubmissionError(pred_dir, problems)
    return sub
