"""Helpers of the leaderboard tests (a uniquely named module: every test folder has a conftest)."""

from __future__ import annotations

import numpy as np

from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.leaderboard.reported import REPORTED_DIR


class MixturePredictor:
    """The mixture as every object, the given frames' events as its SELD output.

    ``events``: ``frame -> (class, azimuth-ish xyz)``; ``None`` predicts nothing. The scores
    are then known in closed form (all separation improvements 0 dB).
    """

    name = "mixture"

    def __init__(self, objects: int = 3, scale: float = 1.0):
        self.objects = objects
        self.scale = scale

    def separate(self, mixture):
        return self.scale * mixture[:, None].repeat(1, self.objects, 1, 1)

    def detect(self, mixture):
        out = []
        for _ in range(mixture.shape[0]):
            frames = np.arange(5, dtype=np.int64)
            out.append(DcaseLabels(frames, np.zeros(5, np.int64), np.zeros(5, np.int64),
                                   np.tile([1.0, 0.0, 0.0], (5, 1))))
        return out

    def extract(self, mixture, direction):
        return self.scale * mixture.clone()

    def describe(self):
        return {"kind": "object", "name": f"mixture x{self.scale:g}"}


def variant(entry, name, kind="learned", shift=0.0, **system):
    """A copy of ``entry`` as another system whose every aggregate value is moved by ``shift``."""
    import copy
    import hashlib

    from asabench.benchmark.leaderboard.store import slugify

    e = copy.deepcopy(entry)
    e["system"].update(name=name, slug=slugify(name), kind=kind, **system)
    e["predictions_sha256"] = hashlib.sha256(name.encode()).hexdigest()
    for item in e["entries"].values():
        for stats in item["aggregate"].values():
            for key in ("value", "ci_low", "ci_high"):
                if stats.get(key) is not None:
                    stats[key] += shift
        item["main_score"]["value"] = item["aggregate"][item["main_score"]["name"]]["value"]
    return e


def reported_folder(tmp_path, rows):
    """A reported folder whose one table (STARSS23 columns) holds ``rows`` (CSV lines)."""
    folder = tmp_path / "reported"
    folder.mkdir()
    (folder / "columns.csv").write_text((REPORTED_DIR / "columns.csv").read_text(encoding="utf-8"), encoding="utf-8")
    head = "paper,table,row,system,boards,kind,er_20,f_20,le_cd_deg,lr_cd,seld,seld_definition,notes\n"
    (folder / "deepasa-starss23.csv").write_text(head + "".join(rows), encoding="utf-8")
    return folder
