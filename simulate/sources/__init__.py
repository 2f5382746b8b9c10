"""Source banks: users' corpora and the built-in procedural bank.

A scene draws foreground clips from a :class:`SourceBank` (per DCASE class) and background
recordings from a :class:`NoiseBank`, and stores the :class:`SourceRef` of each so that it
can be re-rendered later. :func:`open_source_bank` / :func:`open_noise_bank` turn the
``--sources`` / ``--noise`` argument (``"builtin"`` or a path) into a bank; they, like every
command, open banks through :mod:`asabench.simulate.sources.open`.
"""

from __future__ import annotations

from asabench.simulate.io.files import sha256_file
from asabench.simulate.sources.base import BadFilePolicy, NoiseBank, Pathlike, SourceBank, SourceError, SourceRef, resample, to_mono
from asabench.simulate.sources.corpora import FSD50K_LABEL_MAP, FSD50K_MORE_SPECIFIC, LAYOUTS, fsd50k_class
from asabench.simulate.sources.folder import FolderBank, FolderNoiseBank, find_index
from asabench.simulate.sources.open import bank_from_description, builtin_bank, folder_bank
from asabench.simulate.sources.prepare import DEFAULT_INDEX_NAME, BadFile, PrepareReport, prepare
from asabench.simulate.sources.procedural import GENERATOR_VERSION, NOMINAL_FS, ProceduralBank, ProceduralNoiseBank, generate

__all__ = [
    "BadFile",
    "BadFilePolicy",
    "DEFAULT_INDEX_NAME",
    "FSD50K_LABEL_MAP",
    "bank_from_description",
    "FSD50K_MORE_SPECIFIC",
    "FolderBank",
    "FolderNoiseBank",
    "GENERATOR_VERSION",
    "LAYOUTS",
    "NOMINAL_FS",
    "NoiseBank",
    "PrepareReport",
    "ProceduralBank",
    "ProceduralNoiseBank",
    "SourceBank",
    "SourceError",
    "SourceRef",
    "find_index",
    "fsd50k_class",
    "generate",
    "open_noise_bank",
    "open_source_bank",
    "prepare",
    "resample",
    "sha256_file",
    "to_mono",
]


def open_source_bank(spec: str | Pathlike, *, seed: int = 0, clips_per_class: int = 20, root: Pathlike | None = None) -> SourceBank:
    """Foreground bank for ``spec``: ``"builtin"`` or a prepared index / indexed corpus folder.

    Parameters
    ----------
    spec : str or path
        ``"builtin"`` for :class:`ProceduralBank`; otherwise an index JSON written by
        :func:`prepare`, or a folder holding ``asabench-index.json``.
    seed, clips_per_class : int
        Procedural bank parameters (ignored for folder banks).
    root : path, optional
        Corpus root overriding the one the index records (relocated corpus).
    """
    if str(spec) == "builtin":
        return builtin_bank("sources", seed, clips_per_class)  # type: ignore[return-value]
    return folder_bank("sources", spec, root)  # type: ignore[return-value]


def open_noise_bank(spec: str | Pathlike, *, seed: int = 0, num_clips: int = 20, root: Pathlike | None = None) -> NoiseBank:
    """Noise bank for ``spec``: ``"builtin"`` or a prepared noise index (``tau-snoise`` layout).

    Parameters are those of :func:`open_source_bank`.
    """
    if str(spec) == "builtin":
        return builtin_bank("noise", seed, num_clips)  # type: ignore[return-value]
    return folder_bank("noise", spec, root)  # type: ignore[return-value]
