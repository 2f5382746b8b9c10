"""The one way a job opens its source and noise banks.

Every command that needs clips goes through this module: ``simulate`` (the manifest's banks
or ``--sources``/``--noise``), ``render`` (the banks a ``spec.json`` recorded, or relocated
ones), the perf harness and the public helpers of :mod:`asabench.simulate.sources`
(:func:`open_source_bank`, :func:`open_noise_bank`, :func:`bank_from_description`).

A spec names its clips by a bank-relative id; :func:`check_spec_refs` confines every such id
to its bank's root (``..``, absolute paths and symlinks leaving the root refused) *before*
any file is opened or hashed, and the error names the spec file and the field.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asabench.simulate.io.files import Pathlike, confine
from asabench.simulate.sources.base import NoiseBank, SourceBank

if TYPE_CHECKING:
    from asabench.simulate.manifest import BankConfig, Manifest
    from asabench.simulate.scene.spec import SceneSpec

__all__ = [
    "Banks",
    "open_bank",
    "open_banks",
    "open_banks_for_spec",
    "check_spec_refs",
    "bank_from_description",
]


@dataclass
class Banks:
    """The source and noise banks of a job and how the dataset index names them."""

    sources: SourceBank
    noise: NoiseBank
    sources_label: str  # "builtin" or the prepared index path
    noise_label: str

    def describe(self) -> dict[str, dict[str, Any]]:
        return {"sources": self.sources.describe(), "noise": self.noise.describe()}


def builtin_bank(role: str, seed: int, clips: int) -> SourceBank | NoiseBank:
    """The procedural bank of ``role`` (``"sources"``: ``clips`` per class; ``"noise"``: in total)."""
    from asabench.simulate.sources.procedural import ProceduralBank, ProceduralNoiseBank

    if role == "sources":
        return ProceduralBank(seed, clips)
    if role == "noise":
        return ProceduralNoiseBank(seed, clips)
    raise ValueError(f"unknown bank role {role!r} (sources or noise)")


def folder_bank(role: str, path: Pathlike, root: Pathlike | None = None) -> SourceBank | NoiseBank:
    """The folder bank of ``role`` from a prepared index file or an indexed corpus folder."""
    from asabench.simulate.sources.folder import FolderBank, FolderNoiseBank, find_index

    index = find_index(path)
    if role == "sources":
        return FolderBank(index, root)
    if role == "noise":
        return FolderNoiseBank(index, root)
    raise ValueError(f"unknown bank role {role!r} (sources or noise)")


def open_bank(role: str, cfg: "BankConfig", choice: str | None) -> tuple[SourceBank | NoiseBank, str]:
    """One bank of a job and its index label: the manifest's ``cfg`` or ``"builtin"``/a path."""
    if choice is None:
        if cfg.kind == "builtin":
            choice = "builtin"
        elif Path(cfg.path or "").exists():
            choice = cfg.path
        else:
            print(f"asabench: the manifest's {role} bank {cfg.path} is absent; using the built-in bank",
                  file=sys.stderr)
            choice = "builtin"
    if choice == "builtin":
        return builtin_bank(role, cfg.seed, cfg.clips), "builtin"
    bank = folder_bank(role, choice)
    return bank, str(Path(choice).resolve())


def open_banks(manifest: "Manifest", sources: str | None = None, noise: str | None = None) -> Banks:
    """Banks of a job: the manifest's, or ``"builtin"``/a prepared index path per role.

    A manifest folder bank whose index is absent falls back to the built-in bank (with a
    notice), so every recipe runs without its corpora; the dataset index records which.
    """
    src, src_label = open_bank("sources", manifest.source_bank, sources)
    nse, nse_label = open_bank("noise", manifest.noise_bank, noise)
    return Banks(src, nse, src_label, nse_label)  # type: ignore[arg-type]


def _int_field(desc: dict[str, Any], keys: tuple[str, ...], default: int, where: str, role: str) -> int:
    from asabench.simulate.scene.spec import SpecError

    for key in keys:
        if key in desc:
            value = desc[key]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**63 - 1:
                raise SpecError(f"{where}: field 'banks.{role}.{key}': expected an integer >= 0, got {value!r}")
            return value
    return default


def open_banks_for_spec(spec: "SceneSpec", sources: str | None = None, noise: str | None = None,
                        *, spec_path: Pathlike | None = None) -> Banks:
    """Banks that load a spec's refs: from its recorded bank descriptions, or relocated paths.

    Every folder ref of the spec is confined to its bank's root (:func:`check_spec_refs`)
    before this returns, so nothing outside a bank is ever opened.
    """
    from asabench.simulate.scene.spec import SpecError

    where = str(spec_path) if spec_path is not None else spec.id

    def one(role: str, choice: str | None) -> tuple[Any, str]:
        desc = spec.banks.get(role, {})
        if not isinstance(desc, dict):
            raise SpecError(f"{where}: field 'banks.{role}': expected a bank description object")
        if choice is not None and choice != "builtin":
            return folder_bank(role, choice), str(Path(choice).resolve())
        if desc.get("kind") == "procedural" or choice == "builtin":
            clips = _int_field(desc, ("clips_per_class", "num_clips"), 20, where, role)
            seed = _int_field(desc, ("seed",), 0, where, role)
            return builtin_bank(role, seed, clips), "builtin"
        index = desc.get("index")
        if desc.get("kind") == "folder" and isinstance(index, str) and index:
            return folder_bank(role, index), index
        raise SpecError(f"{where}: field 'banks.{role}': cannot open bank {desc!r}; pass --{role} PATH")

    s, sl = one("sources", sources)
    n, nl = one("noise", noise)
    banks = Banks(s, n, sl, nl)
    check_spec_refs(spec, banks, spec_path=spec_path)
    return banks


def check_spec_refs(spec: "SceneSpec", banks: Banks, *, spec_path: Pathlike | None = None) -> None:
    """Confine every folder-bank file id of ``spec`` to its bank's root, opening nothing.

    Raises
    ------
    PathConfinementError
        Naming the spec file and the field (``sources[2].file.id``, ``noise.file.id``).
    SpecError
        A ref of a folder bank given to a procedural bank or the other way round.
    """
    from asabench.simulate.scene.spec import SpecError

    where = spec_path if spec_path is not None else spec.id
    refs = [(f"sources[{k}].file", s.file, banks.sources) for k, s in enumerate(spec.sources)]
    refs.append(("noise.file", spec.noise.file, banks.noise))
    for fld, ref, bank in refs:
        kind = ref.get("bank")
        if kind != bank.kind:
            raise SpecError(f"{where}: field '{fld}.bank': a {kind!r} ref, but the bank opened for it is "
                            f"{bank.kind!r} ({bank.name})")
        if kind == "folder":
            confine(bank.root, ref.get("id"), source=where, field=f"{fld}.id")


def bank_from_description(description: dict, *, root: Pathlike | None = None) -> SourceBank | NoiseBank:
    """Re-open a bank from its ``describe()`` record (as stored in a dataset index).

    Parameters
    ----------
    description : output of ``bank.describe()``.
    root : corpus root for a folder bank whose corpus has moved.

    Raises
    ------
    ValueError
        Unknown ``kind`` / ``role`` or a missing field, naming it.
    """
    from asabench.simulate.sources.folder import FolderBank, FolderNoiseBank

    try:
        kind, role = description["kind"], description["role"]
        if kind == "procedural":
            if role == "sources":
                return builtin_bank(role, int(description["seed"]), int(description["clips_per_class"]))
            if role == "noise":
                return builtin_bank(role, int(description["seed"]), int(description["num_clips"]))
        elif kind == "folder":
            if role == "sources":
                return FolderBank(description["index"], root)
            if role == "noise":
                return FolderNoiseBank(description["index"], root)
    except KeyError as exc:
        raise ValueError(f"bank description {description!r}: missing field {exc}") from None
    raise ValueError(f"bank description: unknown kind/role {description.get('kind')!r}/{description.get('role')!r}")
