"""The 13 sound-event classes, their DCASE order, slugs and the ASA2 class ids.

Every label, scene spec and source bank in the package uses the DCASE2023 / STARSS23 class
order (``DCASE_CLASSES``). The published ASA2 dataset numbers the same classes in its
authors' directory order; :func:`dcase_to_asa2` and :func:`asa2_to_dcase` convert between
the two, vectorised over integer arrays.

References
----------
STARSS23 / DCASE2023 Task 3 class list; ASA2 generator of the DeepASA authors (class ids
follow its source-directory order).
"""

from __future__ import annotations

import numpy as np

#: Class names in DCASE2023 / STARSS23 order (index = DCASE class id).
DCASE_CLASSES: tuple[str, ...] = (
    "female speech",
    "male speech",
    "clapping",
    "telephone",
    "laughter",
    "domestic sounds",
    "walk/footsteps",
    "door open or close",
    "music",
    "musical instrument",
    "water tap",
    "bell",
    "knock",
)

#: Short identifier per class (folder names, CLI, JSON), in DCASE order.
CLASS_SLUGS: tuple[str, ...] = (
    "femaleSpeech",
    "maleSpeech",
    "clapping",
    "telephone",
    "laughter",
    "domesticSounds",
    "footsteps",
    "door",
    "music",
    "musicalInstrument",
    "waterTap",
    "bell",
    "knock",
)

#: Number of classes.
NUM_CLASSES: int = len(DCASE_CLASSES)

#: Class names in the ASA2 authors' order (index = ASA2 class id).
ASA2_CLASSES: tuple[str, ...] = (
    "domestic sounds",
    "male speech",
    "musical instrument",
    "clapping",
    "music",
    "laughter",
    "walk/footsteps",
    "knock",
    "water tap",
    "door open or close",
    "female speech",
    "bell",
    "telephone",
)

#: DCASE class k is ASA2 class ``ASA2_TO_DCASE_ORDER[k]``.
ASA2_TO_DCASE_ORDER: tuple[int, ...] = (10, 1, 3, 12, 5, 0, 6, 9, 4, 2, 8, 11, 7)

_DCASE_TO_ASA2 = np.asarray(ASA2_TO_DCASE_ORDER, dtype=np.int64)
_ASA2_TO_DCASE = np.argsort(_DCASE_TO_ASA2)


def _normalise(text: str) -> str:
    # Folder names and user CSVs spell classes loosely: "Female speech", "female_speech",
    # "femaleSpeech", "walk-footsteps" must all resolve.
    return "".join(ch for ch in text.lower() if ch.isalnum())


_LOOKUP: dict[str, int] = {}
for _k, (_name, _slug) in enumerate(zip(DCASE_CLASSES, CLASS_SLUGS)):
    _LOOKUP[_normalise(_name)] = _k
    _LOOKUP[_normalise(_slug)] = _k
# Common alternative spellings seen in corpora and earlier DCASE editions.
_ALIASES = {
    "femalespeechwomanspeaking": 0,
    "malespeechmanspeaking": 1,
    "footsteps": 6,
    "walk": 6,
    "domestic": 5,
    "door": 7,
    "doorslam": 7,
    "instrument": 9,
    "watertap": 10,
    "tap": 10,
    "phone": 3,
}
for _alias, _k in _ALIASES.items():
    _LOOKUP.setdefault(_alias, _k)


def class_index(name_or_slug: str | int) -> int:
    """Resolve a class name, slug or alias to its DCASE class id.

    Parameters
    ----------
    name_or_slug : str or int
        ``"female speech"``, ``"femaleSpeech"``, ``"female_speech"`` (case, spaces,
        punctuation ignored), or an integer id in ``[0, 13)`` which is returned unchanged.

    Returns
    -------
    int
        DCASE class id in ``[0, 13)``.

    Raises
    ------
    ValueError
        Unknown name or out-of-range id; the message lists the valid slugs.
    """
    if isinstance(name_or_slug, (int, np.integer)) and not isinstance(name_or_slug, bool):
        k = int(name_or_slug)
        if 0 <= k < NUM_CLASSES:
            return k
        raise ValueError(f"class id {k} out of range [0, {NUM_CLASSES})")
    if isinstance(name_or_slug, str):
        key = _normalise(name_or_slug)
        if key.isdigit() and int(key) < NUM_CLASSES:
            return int(key)
        if key in _LOOKUP:
            return _LOOKUP[key]
    raise ValueError(f"unknown class {name_or_slug!r}; expected one of {', '.join(CLASS_SLUGS)} or a DCASE class name")


def dcase_to_asa2(k: np.ndarray | int) -> np.ndarray | int:
    """Map DCASE class ids to ASA2 class ids.

    Parameters
    ----------
    k : int or array_like of int
        DCASE class ids in ``[0, 13)``, any shape.

    Returns
    -------
    int or np.ndarray
        ASA2 ids of the same shape (an ``int`` for scalar input).
    """
    return _remap(k, _DCASE_TO_ASA2, "DCASE")


def asa2_to_dcase(i: np.ndarray | int) -> np.ndarray | int:
    """Map ASA2 class ids to DCASE class ids (inverse of :func:`dcase_to_asa2`).

    Parameters
    ----------
    i : int or array_like of int
        ASA2 class ids in ``[0, 13)``, any shape.

    Returns
    -------
    int or np.ndarray
        DCASE ids of the same shape (an ``int`` for scalar input).
    """
    return _remap(i, _ASA2_TO_DCASE, "ASA2")


def _remap(ids: np.ndarray | int, table: np.ndarray, what: str) -> np.ndarray | int:
    arr = np.asarray(ids)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{what} class ids must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= NUM_CLASSES):
        raise ValueError(f"{what} class ids must lie in [0, {NUM_CLASSES}), got range [{arr.min()}, {arr.max()}]")
    out = table[arr]
    if arr.ndim == 0:
        return int(out)
    return out
