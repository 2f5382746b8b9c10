"""Hidden test splits: scene seeds derived from a private seed file, recorded only by fingerprint.

A public split's scene ``k`` draws from ``SeedSequence([manifest.seed, split_key, k])``
(:func:`asabench.simulate.scene.sampling.scene_rng`): anyone holding the manifest
regenerates it byte for byte. A *hidden* split is made with ``asabench simulate MANIFEST
--split test --secret-seed FILE``; its scene ``k`` draws from

    words = HMAC-SHA256(key = FILE's bytes,
                        msg = b"asabench-hidden-split-seed/v1\\0" + f"{manifest.seed}\\0{split}\\0{k}")
    SeedSequence([int.from_bytes(words[8i:8i+8], "big") for i in 0..3])

(256 bits of entropy; HMAC is a pseudo-random function of the key, so without the file
the scenes cannot be regenerated or predicted, and one scene's seed tells nothing about
another's). ``spec.json`` records that derived entropy, as it records a public scene's;
the secret itself is written nowhere. ``dataset.json`` records the split's fingerprint

    "sha256:" + SHA-256(b"asabench-hidden-split-fingerprint/v1\\0" + FILE's bytes)

under ``hidden_splits.<split>``; results files and leaderboard entries carry it, so that a
row says which hidden split it was scored on without revealing it (a different domain
tag than the seed derivation, so the fingerprint is not one of the HMAC outputs).

The secret file must hold at least :data:`MIN_SECRET_BYTES` bytes (e.g. ``head -c 32
/dev/urandom > ~/asabench-test.secret``) and lie outside every git work tree and outside
the dataset being written, so that it is neither committed nor published with the data.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any, Mapping, Union

__all__ = ["SecretSeedError", "SecretSeed", "read_secret_seed", "fingerprint", "scene_entropy",
           "recorded_fingerprint", "refuse_hidden_export", "MIN_SECRET_BYTES", "HIDDEN_SPLITS_KEY"]

Pathlike = Union[str, "os.PathLike[str]"]

#: Fewest bytes of a secret seed file (128 bits).
MIN_SECRET_BYTES: int = 16
#: Most bytes read from a secret seed file (a seed, not a corpus).
MAX_SECRET_BYTES: int = 4096
#: ``dataset.json`` key holding ``{split: fingerprint}`` of the hidden splits.
HIDDEN_SPLITS_KEY: str = "hidden_splits"

_SEED_TAG = b"asabench-hidden-split-seed/v1\0"
_FINGERPRINT_TAG = b"asabench-hidden-split-fingerprint/v1\0"


class SecretSeedError(ValueError):
    """A secret seed file that cannot be used (missing, too short, inside a repository or the output)."""


class SecretSeed:
    """The bytes of a secret seed file; ``repr`` and ``str`` never show them."""

    __slots__ = ("_key", "path")

    def __init__(self, key: bytes, path: Path | None = None) -> None:
        if len(key) < MIN_SECRET_BYTES:
            raise SecretSeedError(f"{path or 'secret seed'}: {len(key)} bytes; a secret seed needs at least "
                                  f"{MIN_SECRET_BYTES} (e.g. head -c 32 /dev/urandom > FILE)")
        self._key = bytes(key)
        self.path = path

    @property
    def fingerprint(self) -> str:
        """``"sha256:<hex>"`` of the tagged secret: what files record instead of it."""
        return fingerprint(self._key)

    def entropy(self, manifest_seed: int, split: str, index: int) -> list[int]:
        """The ``SeedSequence`` entropy of scene ``index`` of ``split`` (four 64-bit words)."""
        return scene_entropy(self._key, manifest_seed, split, index)

    def __repr__(self) -> str:
        return f"SecretSeed(fingerprint={self.fingerprint!r})"

    __str__ = __repr__

    def __reduce__(self):  # pickled only into the simulate job's own worker processes
        return (SecretSeed, (self._key, self.path))


def fingerprint(key: bytes) -> str:
    """``"sha256:" + SHA-256(domain tag + key)``."""
    return "sha256:" + hashlib.sha256(_FINGERPRINT_TAG + bytes(key)).hexdigest()


def scene_entropy(key: bytes, manifest_seed: int, split: str, index: int) -> list[int]:
    """Four 64-bit words of ``HMAC-SHA256(key, tag + "<manifest_seed>\\0<split>\\0<index>")``."""
    message = _SEED_TAG + f"{int(manifest_seed)}\0{split}\0{int(index)}".encode("utf-8")
    digest = hmac.new(bytes(key), message, hashlib.sha256).digest()
    return [int.from_bytes(digest[i:i + 8], "big") for i in range(0, 32, 8)]


def recorded_fingerprint(dataset_extra: Mapping[str, Any], split: str | None) -> str | None:
    """The fingerprint ``dataset.json`` records for ``split`` (``DatasetInfo.extra``), or None (public)."""
    recorded = dataset_extra.get(HIDDEN_SPLITS_KEY)
    value = recorded.get(split) if isinstance(recorded, Mapping) and split is not None else None
    return value if isinstance(value, str) else None


def refuse_hidden_export(dataset_extra: Mapping[str, Any], splits: Any, where: Pathlike, what: str) -> None:
    """Refuse to export or publish a hidden split: its audio would let anyone tune to it."""
    recorded = dataset_extra.get(HIDDEN_SPLITS_KEY)
    hidden = sorted(s for s in splits if isinstance(recorded, Mapping) and isinstance(recorded.get(s), str))
    if hidden:
        raise ValueError(f"{Path(where) / 'dataset.json'}: field '{HIDDEN_SPLITS_KEY}.{hidden[0]}': split(s) "
                         f"{', '.join(hidden)} are hidden test splits (made with --secret-seed); {what} "
                         "would publish them. Export a folder of public splits only")


def _inside_git_work_tree(path: Path) -> Path | None:
    for parent in path.parents:
        if (parent / ".git").exists():
            return parent
    return None


def read_secret_seed(path: Pathlike, *, outputs: tuple[Pathlike, ...] = ()) -> SecretSeed:
    """Read a secret seed file, refusing one that could end up committed or published.

    Raises
    ------
    SecretSeedError
        The file is missing, not a regular file, shorter than :data:`MIN_SECRET_BYTES` or
        longer than :data:`MAX_SECRET_BYTES`, inside a git work tree, or inside one of
        ``outputs`` (the dataset folder being written).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise SecretSeedError(f"{p}: --secret-seed: no such file")
    real = p.resolve()
    repo = _inside_git_work_tree(real)
    if repo is not None:
        raise SecretSeedError(f"{p}: --secret-seed: the file lies inside the git work tree {repo}; "
                              "keep the secret outside every repository")
    for out in outputs:
        o = Path(out).expanduser().resolve()
        if real == o or o in real.parents:
            raise SecretSeedError(f"{p}: --secret-seed: the file lies inside the output {o}; "
                                  "it would be published with the data")
    size = real.stat().st_size
    if size > MAX_SECRET_BYTES:
        raise SecretSeedError(f"{p}: --secret-seed: {size} bytes; a secret seed file holds at most "
                              f"{MAX_SECRET_BYTES}")
    return SecretSeed(real.read_bytes(), p)
