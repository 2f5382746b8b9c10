"""What a training step and a validation pass compute for each system family.

An objective turns a batch of :class:`~asabench.simulate.dataset.loader.SceneDataset` items
(``collate_scenes``) into the system's inputs and targets, calls the model, and returns the
system's own loss (:mod:`asabench.models.losses`): nothing here redefines a loss. It also
scores validation batches in memory with the benchmark's metric functions, so the suite's
main validation score (``suite.main.main_score``) selects checkpoints and drives the
learning-rate schedule:

* :class:`MultitaskObjective` (DeepASA): ``deepasa_loss``; validation ``seld`` (and the other
  SELD metrics) through :func:`~asabench.benchmark.metrics.seld.scores.evaluate_seld` on the
  events of :func:`~asabench.benchmark.predict.deepasa_events` (track = object slot), and
  ``si_sdr_i`` / ``sdr_i`` of the full images, channel-pooled, each reference matched to its
  best object by the loss's own permutation search;
* :class:`TSEObjective` (SoundCompass): one source per scene per step, chosen by a generator
  seeded from (seed, epoch, scene index) so that any number of processes or a resumed run
  draws the same one; its clue is :func:`~asabench.benchmark.predict.clue_direction` (the
  evaluation's clue); ``soundcompass_loss``; validation extracts every source and reports
  ``si_sdr_i``, ``sdr_i`` and ``si_snr_i`` (channel-pooled).

The test scores of a run come from ``asabench evaluate`` (predictions written and scored by
the scorer); the in-memory validation only ranks checkpoints.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

__all__ = ["objective_for", "MultitaskObjective", "TSEObjective", "VALIDATION_SCORES"]

#: Scores each objective's validation reports (``loss`` always).
VALIDATION_SCORES: dict[str, tuple[str, ...]] = {
    "multitask": ("loss", "seld", "er", "f", "le", "lr", "si_sdr_i", "sdr_i"),
    "tse": ("loss", "si_sdr_i", "sdr_i", "si_snr_i"),
    # learned baselines (benchmark/baselines/learned_seld.py)
    "seld": ("loss", "seld", "er", "f", "le", "lr"),
    "uss": ("loss", "si_sdr_i", "sdr_i", "si_snr_i_ref0"),
}


def _floats(out: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.float() if torch.is_tensor(v) and v.is_floating_point() else v) for k, v in out.items()}


def _pick_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch * 7_919 + index) % (2**63 - 1))


class MultitaskObjective:
    """DeepASA: USS + SELD from one forward pass."""

    kind = "multitask"

    def __init__(self, model_config: Any, seld_options: dict[str, Any] | None = None) -> None:
        self.ref_channel = int(getattr(model_config, "ref_channel", 0))
        self.seld_options = dict(seld_options or {})

    def targets(self, batch: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
        direct = batch["direct"].to(device)
        reverb = batch["reverb"].to(device)
        mixture = batch["mixture"].to(device)
        sed = batch["sed"].to(device)
        return {"direct": direct, "reverb": reverb,
                # the scene's noise as mixed: what the mixture holds beyond the source images
                "noise": mixture - (direct + reverb).sum(1),
                "class_index": batch["class"].to(device), "active": (sed.sum(-1) > 0).float(),
                "doa": batch["doa"].to(device)}

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device, *,
             epoch: int, seed: int, oracle_activity: bool = False,
             autocast: Any = None) -> dict[str, torch.Tensor]:
        from asabench.models.losses.deepasa import deepasa_loss

        t = self.targets(batch, device)
        with autocast():
            out = model(batch["mixture"].to(device))
        out = _floats(out)
        frames = t["active"].shape[-1]
        if out["onoff"].shape[-1] != frames:
            raise ValueError(f"the model emits {out['onoff'].shape[-1]} label frames, the data has {frames}: "
                             "its label hop does not match the suite's")
        terms = deepasa_loss(out, t, ref_channel=self.ref_channel)
        terms.pop("perm", None)
        return terms

    # ------------------------------------------------------------------ validation

    def new_state(self) -> dict[str, Any]:
        return {"loss": [], "refs": [], "preds": [], "si_sdr_i": [], "sdr_i": [], "frames": []}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device,
                 state: dict[str, Any], *, autocast: Any) -> None:
        from asabench.benchmark.io.dcase_csv import DcaseLabels
        from asabench.benchmark.metrics.separation import sdr_improvement, si_sdr_improvement
        from asabench.benchmark.predict import deepasa_events
        from asabench.models.losses.deepasa import apply_permutation, deepasa_loss, pit_permutation
        from asabench.models.systems.deepasa import decode_events

        t = self.targets(batch, device)
        with autocast():
            out = model(batch["mixture"].to(device))
        out = _floats(out)
        state["loss"].append(float(deepasa_loss(out, t, ref_channel=self.ref_channel)["loss"]) * len(batch["id"]))
        state["preds"] += deepasa_events(decode_events(out))
        sed = batch["sed"].numpy()
        doa = batch["doa"].numpy()
        for b in range(sed.shape[0]):
            track, frame, cls = np.nonzero(sed[b])
            order = np.lexsort((track, frame))
            track, frame, cls = track[order], frame[order], cls[order]
            state["refs"].append(DcaseLabels.from_cartesian(frame.astype(np.int64), cls.astype(np.int64),
                                                            track.astype(np.int64), doa[b, track, frame].astype(np.float64)))
            state["frames"].append(sed.shape[2])
        full = (t["direct"] + t["reverb"]).cpu()
        est = out["separated"].cpu()
        perm = pit_permutation(est[:, :, self.ref_channel], full[:, :, self.ref_channel])
        est = apply_permutation(est, perm)
        mix = batch["mixture"]
        for b in range(full.shape[0]):
            n = int(batch["num_sources"][b])
            state["si_sdr_i"] += si_sdr_improvement(est[b, :n], full[b, :n], mix[b]).flatten().tolist()
            state["sdr_i"] += sdr_improvement(est[b, :n], full[b, :n], mix[b]).flatten().tolist()

    def scores(self, state: dict[str, Any], n_items: int) -> dict[str, float]:
        from asabench.benchmark.metrics.seld.scores import evaluate_seld
        from asabench.simulate.classes import NUM_CLASSES

        ev = evaluate_seld(state["refs"], state["preds"], num_classes=NUM_CLASSES,
                           mode=self.seld_options.get("seld_mode", "default"),
                           average=self.seld_options.get("average", "macro"),
                           n_frames=np.asarray(state["frames"]))
        out = {"loss": sum(state["loss"]) / max(n_items, 1)}
        out.update({k: float(ev.aggregate[k]) for k in ("seld", "er", "f", "le", "lr") if k in ev.aggregate})
        out["si_sdr_i"] = float(np.mean(state["si_sdr_i"])) if state["si_sdr_i"] else math.nan
        out["sdr_i"] = float(np.mean(state["sdr_i"])) if state["sdr_i"] else math.nan
        return out


class TSEObjective:
    """SoundCompass: extract one source given its direction."""

    kind = "tse"

    def _clues(self, batch: dict[str, Any], slots: torch.Tensor) -> torch.Tensor:
        from asabench.benchmark.predict import clue_direction

        return torch.stack([clue_direction(batch["doa"][b, int(s)])[0] for b, s in enumerate(slots)])

    def _pick(self, batch: dict[str, Any], epoch: int, seed: int) -> torch.Tensor:
        picks = []
        for b, index in enumerate(batch["index"]):
            n = max(int(batch["num_sources"][b]), 1)
            picks.append(int(torch.randint(n, (1,), generator=_pick_generator(seed, epoch, int(index)))))
        return torch.tensor(picks, dtype=torch.long)

    def _forward(self, model, batch, slots, device, oracle_activity, autocast):
        rows = torch.arange(len(slots))
        mixture = batch["mixture"].to(device)
        direct = batch["direct"][rows, slots].to(device)
        reverb = batch["reverb"][rows, slots].to(device)
        activity = (batch["sed"][rows, slots].sum(-1) > 0).float().to(device)
        clue = self._clues(batch, slots).to(device)
        kwargs = {"activity": activity} if oracle_activity else {}
        with autocast():
            out = model(mixture, clue, **kwargs)
        return _floats(out), direct, reverb, activity

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device, *,
             epoch: int, seed: int, oracle_activity: bool = False,
             autocast: Any = None) -> dict[str, torch.Tensor]:
        from asabench.models.losses.soundcompass import soundcompass_loss

        slots = self._pick(batch, epoch, seed)
        out, direct, reverb, activity = self._forward(model, batch, slots, device, oracle_activity, autocast)
        if "activity_logits" in out and out["activity_logits"].shape != activity.shape:
            raise ValueError(f"the model emits {out['activity_logits'].shape[-1]} activity frames, the data has "
                             f"{activity.shape[-1]}: its activity hop does not match the suite's label hop")
        return soundcompass_loss(out, direct, reverb, activity if "activity_logits" in out else None)

    def new_state(self) -> dict[str, Any]:
        return {"loss": [], "si_sdr_i": [], "sdr_i": [], "si_snr_i": [], "n": 0}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device,
                 state: dict[str, Any], *, autocast: Any) -> None:
        from asabench.benchmark.metrics.separation import (
            sdr_improvement,
            si_sdr_improvement,
            si_snr_improvement,
        )
        from asabench.models.losses.soundcompass import soundcompass_loss

        n_src = batch["num_sources"]
        for slot in range(int(n_src.max())):
            keep = torch.nonzero(n_src > slot).flatten()
            sub = {k: ([v[i] for i in keep.tolist()] if isinstance(v, list) else v[keep]) for k, v in batch.items()}
            slots = torch.full((len(keep),), slot, dtype=torch.long)
            out, direct, reverb, activity = self._forward(model, sub, slots, device, False, autocast)
            terms = soundcompass_loss(out, direct, reverb, activity if "activity_logits" in out else None)
            state["loss"].append(float(terms["loss"]) * len(keep))
            state["n"] += len(keep)
            est, ref, mix = out["output"].cpu(), (direct + reverb).cpu(), sub["mixture"]
            state["si_sdr_i"] += si_sdr_improvement(est, ref, mix).flatten().tolist()
            state["sdr_i"] += sdr_improvement(est, ref, mix).flatten().tolist()
            state["si_snr_i"] += si_snr_improvement(est, ref, mix).flatten().tolist()

    def scores(self, state: dict[str, Any], n_items: int) -> dict[str, float]:
        out = {"loss": sum(state["loss"]) / max(state["n"], 1)}
        for k in ("si_sdr_i", "sdr_i", "si_snr_i"):
            out[k] = float(np.mean(state[k])) if state[k] else math.nan
        return out


#: Objectives of further systems (learned baselines): ``name -> factory(model_config, suite)``.
_EXTRA_OBJECTIVES: dict[str, Callable[[Any, Any], Any]] = {}


def register_objective(model_name: str, factory: Callable[[Any, Any], Any]) -> None:
    """Train registry system ``model_name`` with ``factory(model_config, suite)``'s objective.

    The objective has the interface of :class:`TSEObjective` (``kind``, ``loss``, ``validate``,
    ``scores``); its ``kind`` must be a key of :data:`VALIDATION_SCORES` (add one if new).
    """
    _EXTRA_OBJECTIVES[model_name] = factory


def objective_for(model_name: str, model_config: Any, suite: Any) -> Any:
    """The objective of a registry system for a suite (refuses a suite of the wrong tasks)."""
    kinds = set(suite.task_kinds)
    main = suite.main
    if model_name not in _EXTRA_OBJECTIVES:
        from asabench.benchmark.baselines import load_all  # learned baselines register objectives

        load_all()
    if model_name in _EXTRA_OBJECTIVES:
        objective: Any = _EXTRA_OBJECTIVES[model_name](model_config, suite)
    elif model_name.startswith("soundcompass"):
        if "tse" not in kinds:
            raise ValueError(f"suite {suite.name}: {model_name} extracts a target (tse); the suite scores "
                             f"{', '.join(sorted(kinds))} (use a TSE suite such as demo-tse)")
        objective = TSEObjective()
    elif model_name.startswith("deepasa"):
        if not kinds & {"uss", "seld"}:
            raise ValueError(f"suite {suite.name}: {model_name} separates and localises (uss, seld); the suite "
                             f"scores {', '.join(sorted(kinds))} (use demo-multitask or an asa2 USS/SELD suite)")
        seld = next((s.options for s in suite.tasks if s.task == "seld"), {})
        objective = MultitaskObjective(model_config, seld)
    else:
        raise ValueError(f"no training objective for model {model_name!r} (trainable: deepasa*, soundcompass*)")
    if main.main_score not in VALIDATION_SCORES[objective.kind]:
        raise ValueError(f"suite {suite.name}: main score {main.main_score!r} is not computed during "
                         f"{objective.kind} validation (computed: {', '.join(VALIDATION_SCORES[objective.kind])})")
    return objective
