"""System cards: the metadata every submission carries (DCASE-style), validated field by field.

A card is a YAML (or TOML/JSON) file read by the one configuration loader
(:func:`asabench.simulate.io.config.read_file`) and checked here against a strict schema;
every problem of the card is reported at once, one line each, naming the card file and the
field (``card.yaml: field 'authors[0].email': ...``)::

    card_version: 1                      # optional; this asabench reads version 1
    name: "My separator v2"              # required: the system's name on the leaderboard
    authors:                             # required: at least one
      - {name: "A. Author", email: "a@example.org", affiliation: "Some Lab"}
    affiliation: "Some Lab"              # required: the team's institution(s)
    description: "what the system is"   # required, non-empty
    parameters: 5455704                  # optional: trainable parameters (integer >= 0)
    macs_per_s: 2.1e9                    # optional: multiply-accumulates per second of input audio
    training_data: ["asa2 train split"]  # optional: data the system was trained on
    external_data:                       # optional: anything beyond the suite's training split
      - {name: "FSD50K", url: "https://zenodo.org/record/4060432"}
    code_url: "https://github.com/..."   # optional: http(s) URL or null
    weights_url: null                    # optional: http(s) URL or null
    licence: "MIT"                       # required: an SPDX licence id (or "A OR B", LicenseRef-...)

Unknown fields are refused (a typo such as ``licens`` would otherwise be dropped
silently). URLs must be absolute ``http``/``https`` with a host; e-mail addresses
``local@domain.tld``; licences SPDX identifiers from :data:`SPDX_LICENSES` (the common
ones of code, models and data), ``LicenseRef-<name>`` for one outside the list, or ids
joined by `` OR `` / `` AND ``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from asabench.simulate.io.config import ConfigBase, ConfigError, read_file
from asabench.simulate.io.files import Pathlike

__all__ = ["CARD_VERSION", "SPDX_LICENSES", "CardError", "Author", "ExternalData", "SystemCard",
           "load_card", "validate_card", "card_problems"]

#: The card layout this asabench reads.
CARD_VERSION: int = 1

#: SPDX identifiers accepted without a ``LicenseRef-`` prefix (SPDX licence list, v3.x names).
SPDX_LICENSES: frozenset[str] = frozenset({
    "0BSD", "AFL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-1.1", "Apache-2.0", "Artistic-2.0",
    "BSD-1-Clause", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSD-4-Clause", "BSL-1.0",
    "CC-BY-2.0", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-NC-3.0", "CC-BY-NC-4.0", "CC-BY-NC-ND-3.0",
    "CC-BY-NC-ND-4.0", "CC-BY-NC-SA-3.0", "CC-BY-NC-SA-4.0", "CC-BY-ND-4.0", "CC-BY-SA-3.0",
    "CC-BY-SA-4.0", "CC0-1.0", "CDDL-1.0", "CECILL-2.1", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.1",
    "EUPL-1.2", "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "ISC",
    "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "LPPL-1.3c", "MIT",
    "MIT-0", "MPL-1.1", "MPL-2.0", "MS-PL", "MS-RL", "NCSA", "ODC-By-1.0", "ODbL-1.0", "OFL-1.1",
    "OpenRAIL", "OSL-3.0", "PDDL-1.0", "PostgreSQL", "Python-2.0", "Unlicense", "UPL-1.0", "W3C",
    "WTFPL", "Zlib", "ZPL-2.1",
})
_LICENSE_REF = re.compile(r"^LicenseRef-[A-Za-z0-9.\-]+$")
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")
_MAX_TEXT = 10_000


class CardError(ConfigError):
    """A system card has problems; ``problems`` lists each as ``<card>: field '<name>': <what>``."""

    def __init__(self, path: Pathlike | None, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the system card: " + "; ".join(self.problems),
                         source=None)
        self.source = None if path is None else str(path)


@dataclass
class Author(ConfigBase):
    """One author of the system."""

    name: str
    email: str
    affiliation: str | None = None


@dataclass
class ExternalData(ConfigBase):
    """A data set used beyond the suite's own training split."""

    name: str
    url: str | None = None
    licence: str | None = None


@dataclass
class SystemCard(ConfigBase):
    """A validated system card (see the module docstring); read with :func:`load_card`."""

    config_what = "system card"

    name: str
    authors: tuple[Author, ...]
    affiliation: str
    description: str
    licence: str
    card_version: int = CARD_VERSION
    parameters: int | None = None
    macs_per_s: float | None = None
    training_data: tuple[str, ...] = ()
    external_data: tuple[ExternalData, ...] = ()
    code_url: str | None = None
    weights_url: str | None = None
    #: The card file (set by :func:`load_card`; not part of the card).
    path: str | None = field(default=None, compare=False, init=False)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data.pop("path", None)
        return data


# ----------------------------------------------------------------------------- checks


def _url_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"expected an http(s) URL or null, got {value!r}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        return f"{value!r} is not an absolute http:// or https:// URL"
    host = parts.hostname or ""
    if not host or (host != "localhost" and "." not in host and not host.startswith("[")):
        return f"{value!r} has no host name"
    return None


def _licence_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"expected an SPDX licence id such as MIT or CC-BY-4.0, got {value!r}"
    ids = re.split(r"\s+(?:OR|AND)\s+", value.strip())
    bad = [i for i in ids if i not in SPDX_LICENSES and not _LICENSE_REF.match(i)]
    if bad:
        near = sorted(k for k in SPDX_LICENSES if k.lower() == bad[0].lower() or k.lower().startswith(bad[0].lower()))
        hint = f" (did you mean {', '.join(near[:3])}?)" if near else ""
        return (f"{bad[0]!r} is not an SPDX licence id{hint}; use one of the SPDX list (docs/submissions.md), "
                "'LicenseRef-<name>' for another licence, or ids joined by OR / AND")
    return None


def _text(value: Any, *, empty: bool = False) -> str | None:
    if not isinstance(value, str):
        return f"expected a string, got {value!r}"
    if not empty and not value.strip():
        return "must not be empty"
    if len(value) > _MAX_TEXT:
        return f"{len(value)} characters; at most {_MAX_TEXT}"
    return None


def card_problems(raw: Any, source: Pathlike | None = None) -> list[str]:
    """Every problem of a parsed card mapping, each ``<source>: field '<name>': <what>``."""
    where = f"{source}: " if source is not None else ""
    problems: list[str] = []

    def bad(name: str, what: str | None) -> None:
        if what:
            problems.append(f"{where}field '{name}': {what}")

    def sub_table(at: str, item: Any, fields: tuple[str, ...], required: tuple[str, ...], label: str) -> bool:
        """Problems of one entry of a list of tables (not a table, unknown or missing fields); False when
        it is not a table (its fields then go unchecked)."""
        if not isinstance(item, Mapping):
            bad(at, f"expected a table {{{', '.join(fields)}}}, got {item!r}")
            return False
        for key in item:
            if key not in fields:
                bad(f"{at}.{key}", f"unknown field; {label} fields: {', '.join(sorted(fields))}")
        for key in required:
            if key not in item:
                bad(f"{at}.{key}", "required field is missing")
        return True

    if not isinstance(raw, Mapping):
        return [f"{where}expected a table of card fields, got {type(raw).__name__}"]
    known = {"card_version", "name", "authors", "affiliation", "description", "parameters", "macs_per_s",
             "training_data", "external_data", "code_url", "weights_url", "licence"}
    for key in raw:
        if key not in known:
            hint = " (the card spells it 'licence')" if key in ("license", "licens") else ""
            bad(str(key), f"unknown field{hint}; card fields: {', '.join(sorted(known))}")
    for key in ("name", "authors", "affiliation", "description", "licence"):
        if key not in raw:
            bad(key, "required field is missing")
    version = raw.get("card_version", CARD_VERSION)
    if isinstance(version, bool) or version != CARD_VERSION:
        bad("card_version", f"expected {CARD_VERSION}, got {version!r} (this asabench reads card version "
            f"{CARD_VERSION})")
    for key in ("name", "affiliation", "description"):
        if key in raw:
            bad(key, _text(raw[key]))
    if "authors" in raw:
        authors = raw["authors"]
        if not isinstance(authors, list) or not authors:
            bad("authors", f"expected a list of at least one author {{name, email, affiliation}}, got {authors!r}")
        else:
            for k, a in enumerate(authors):
                at = f"authors[{k}]"
                if not sub_table(at, a, ("name", "email", "affiliation"), ("name", "email"), "author"):
                    continue
                if "name" in a:
                    bad(f"{at}.name", _text(a["name"]))
                if "email" in a:
                    e = a["email"]
                    bad(f"{at}.email", _text(e) or (None if _EMAIL.match(e) else f"{e!r} is not an e-mail address"))
                if a.get("affiliation") is not None:
                    bad(f"{at}.affiliation", _text(a["affiliation"]))
    if raw.get("parameters") is not None:
        v = raw["parameters"]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            bad("parameters", f"expected a whole number of parameters >= 0 (or null), got {v!r}")
    if raw.get("macs_per_s") is not None:
        v = raw["macs_per_s"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            bad("macs_per_s", f"expected multiply-accumulates per second of audio, a finite number >= 0 "
                f"(or null), got {v!r}")
    if "training_data" in raw:
        td = raw["training_data"]
        if not isinstance(td, list):
            bad("training_data", f"expected a list of data set names, got {td!r}")
        else:
            for k, item in enumerate(td):
                bad(f"training_data[{k}]", _text(item))
    if "external_data" in raw:
        ed = raw["external_data"]
        if not isinstance(ed, list):
            bad("external_data", f"expected a list of {{name, url, licence}}, got {ed!r}")
        else:
            for k, item in enumerate(ed):
                at = f"external_data[{k}]"
                if not sub_table(at, item, ("name", "url", "licence"), ("name",), "external data"):
                    continue
                if "name" in item:
                    bad(f"{at}.name", _text(item["name"]))
                if item.get("url") is not None:
                    bad(f"{at}.url", _url_problem(item["url"]))
                if item.get("licence") is not None:
                    bad(f"{at}.licence", _licence_problem(item["licence"]))
    for key in ("code_url", "weights_url"):
        if raw.get(key) is not None:
            bad(key, _url_problem(raw[key]))
    if "licence" in raw:
        bad("licence", _licence_problem(raw["licence"]))
    return problems


def validate_card(raw: Any, source: Pathlike | None = None) -> SystemCard:
    """A :class:`SystemCard` from a parsed mapping, or :class:`CardError` listing every problem."""
    problems = card_problems(raw, source)
    if problems:
        raise CardError(source, problems)
    try:
        card = SystemCard.from_dict(raw, source=source)
    except ConfigError as exc:  # a rule the collecting pass does not know: still named
        raise CardError(source, [str(exc)]) from None
    card.path = None if source is None else str(source)
    return card


def load_card(path: Pathlike) -> SystemCard:
    """Read and validate a card file (``.yaml``, ``.yml``, ``.toml`` or ``.json``).

    Raises
    ------
    CardError
        Every problem, one line each, naming the file and the field; a file that cannot be
        read or parsed is one problem naming the file.
    """
    p = Path(path)
    try:
        raw = read_file(p, what="system card")
    except ConfigError as exc:
        raise CardError(p, [str(exc)]) from None
    return validate_card(raw, p)
