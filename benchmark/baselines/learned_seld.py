"""Learned SELD and USS baselines: SELDnet (DCASE 2023) and DeFT-Mamba (MISO, MIMO).

Importing this module (``baselines.load_all()`` does on a registry miss) registers, for the
registry systems ``seldnet``, ``deft-mamba-miso`` and ``deft-mamba-mimo``:

* predictor adapters (:func:`asabench.benchmark.predict.register_adapter`):
  :class:`SELDnetPredictor` (``detect``: the baseline's multi-ACCDOA rule, norm > 0.5, tracks
  within 15 degrees merged, ``track`` = ACCDOA track) and :class:`DeFTMambaPredictor`
  (``separate``: MIMO objects as they come; MISO objects once per reference capsule, see
  :class:`DeFTMambaPredictor`);
* training objectives (:func:`asabench.benchmark.training.objectives.register_objective`):
  :class:`SELDObjective` (ADPIT; validation SELD scores) and :class:`USSObjective` (PIT
  SI-SDR; validation SI-SDRi / SDRi channel-pooled and SI-SNRi at the reference channel);
* default recipes (:data:`asabench.benchmark.training.recipe.DEFAULT_RECIPES`):
  ``seldnet-paper`` / ``seldnet-tiny`` and ``deft-mamba-paper`` / ``deft-mamba-tiny``.

SELDnet does SELD only and DeFT-Mamba USS only, so a suite scoring both tasks refuses them
at evaluation; the SELD-only and USS-only suites are ``asa2-seld``, ``asa2-uss``,
``demo-seld`` and ``demo-uss``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from asabench.benchmark.io.dcase_csv import DcaseLabels
from asabench.benchmark.predict import PredictorError, _ModelAdapter, register_adapter
from asabench.benchmark.training import objectives as _objectives
from asabench.benchmark.training.recipe import DEFAULT_RECIPES

__all__ = ["SELDnetPredictor", "DeFTMambaPredictor", "SELDObjective", "USSObjective", "accdoa_events",
           "reference_events", "TETRA_ROTATIONS"]

SELD_MODELS = ("seldnet",)
USS_MODELS = ("deft-mamba-miso", "deft-mamba-mimo")

#: Channel orders of the DCASE tetrahedral array that bring capsule ``c`` to position 0 and
#: are 180-degree rotations of the array (about z for 3, x for 1, y for 2: capsule
#: signs (+,+,+), (+,-,-), (-,+,-), (-,-,+) swap in pairs), so the reordered recording is
#: that of the same scene rotated.
TETRA_ROTATIONS: dict[int, tuple[int, int, int, int]] = {
    0: (0, 1, 2, 3), 1: (1, 0, 3, 2), 2: (2, 3, 0, 1), 3: (3, 2, 1, 0)}


# ----------------------------------------------------------------------------- SELD


def accdoa_events(active: torch.Tensor, vectors: torch.Tensor) -> list[DcaseLabels]:
    """DCASE events of decoded multi-ACCDOA outputs, one :class:`DcaseLabels` per batch item.

    ``active [B, T, 3, C]`` and ``vectors [B, T, 3, 3, C]``
    (:func:`asabench.models.systems.seldnet.decode_multi_accdoa`): every active (frame,
    track, class) is a row ``frame, class, track, direction``, ordered by frame, track, class.
    """
    act = active.cpu().numpy()
    vec = vectors.detach().to(torch.float64).cpu().numpy()
    out = []
    for b in range(act.shape[0]):
        frame, track, cls = np.nonzero(act[b])                      # C-order: frame, track, class
        xyz = vec[b, frame, track, :, cls]                           # [R, 3]
        out.append(DcaseLabels.from_cartesian(frame.astype(np.int64), cls.astype(np.int64),
                                              track.astype(np.int64), xyz))
    return out


class SELDnetPredictor(_ModelAdapter):
    """SELDnet as a SELD predictor (``threshold`` 0.5 and ``unify_deg`` 15: the baseline's rule)."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu", *,
                 threshold: float = 0.5, unify_deg: float = 15.0) -> None:
        super().__init__(model, device)
        self.threshold, self.unify_deg = float(threshold), float(unify_deg)

    @torch.no_grad()
    def detect(self, mixture: torch.Tensor) -> list[DcaseLabels]:
        from asabench.models.systems.seldnet import decode_multi_accdoa

        accdoa = self.model(self._input(mixture))["accdoa"].float()
        return accdoa_events(*decode_multi_accdoa(accdoa, self.threshold, self.unify_deg))


def reference_events(batch: dict[str, Any]) -> tuple[list[DcaseLabels], list[int]]:
    """The labelled events of a batch (``track`` = source slot) and its label frame counts."""
    sed = batch["sed"].numpy()
    doa = batch["doa"].numpy()
    refs = []
    for b in range(sed.shape[0]):
        track, frame, cls = np.nonzero(sed[b])
        order = np.lexsort((track, frame))
        track, frame, cls = track[order], frame[order], cls[order]
        refs.append(DcaseLabels.from_cartesian(frame.astype(np.int64), cls.astype(np.int64), track.astype(np.int64),
                                               doa[b, track, frame].astype(np.float64)))
    return refs, [sed.shape[2]] * sed.shape[0]


class SELDObjective:
    """SELDnet: ADPIT on multi-ACCDOA; validation SELD, ER, F, LE, LR (the suite's SELD options)."""

    kind = "seld"

    def __init__(self, model_config: Any, seld_options: dict[str, Any] | None = None) -> None:
        self.seld_options = dict(seld_options or {})

    def _forward(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device,
                 autocast: Any) -> tuple[torch.Tensor, torch.Tensor]:
        from asabench.models.losses.adpit import adpit_targets

        with autocast():
            out = model(batch["mixture"].to(device))
        accdoa = out["accdoa"].float()
        target = adpit_targets(batch["sed"].to(device), batch["doa"].to(device))
        if accdoa.shape[1] != target.shape[1]:
            raise ValueError(f"the model emits {accdoa.shape[1]} label frames, the data has {target.shape[1]}: "
                             "its label hop does not match the suite's")
        return accdoa, target

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device, *,
             epoch: int, seed: int, oracle_activity: bool = False, autocast: Any = None) -> dict[str, torch.Tensor]:
        from asabench.models.losses.adpit import adpit_loss

        accdoa, target = self._forward(model, batch, device, autocast)
        return {"loss": adpit_loss(accdoa, target)}

    def new_state(self) -> dict[str, Any]:
        return {"loss": [], "refs": [], "preds": [], "frames": []}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device,
                 state: dict[str, Any], *, autocast: Any) -> None:
        from asabench.models.losses.adpit import adpit_loss
        from asabench.models.systems.seldnet import decode_multi_accdoa

        accdoa, target = self._forward(model, batch, device, autocast)
        state["loss"].append(float(adpit_loss(accdoa, target)) * len(batch["id"]))
        state["preds"] += accdoa_events(*decode_multi_accdoa(accdoa))
        refs, frames = reference_events(batch)
        state["refs"] += refs
        state["frames"] += frames

    def scores(self, state: dict[str, Any], n_items: int) -> dict[str, float]:
        from asabench.benchmark.metrics.seld.scores import evaluate_seld
        from asabench.simulate.classes import NUM_CLASSES

        out = {"loss": sum(state["loss"]) / max(n_items, 1)}
        if not state["refs"]:
            return out
        ev = evaluate_seld(state["refs"], state["preds"], num_classes=NUM_CLASSES,
                           mode=self.seld_options.get("seld_mode", "default"),
                           average=self.seld_options.get("average", "macro"),
                           n_frames=np.asarray(state["frames"]))
        out.update({k: float(ev.aggregate[k]) for k in ("seld", "er", "f", "le", "lr") if k in ev.aggregate})
        return out


def _seld_objective(model_config: Any, suite: Any) -> SELDObjective:
    kinds = set(suite.task_kinds)
    if "seld" not in kinds:
        raise ValueError(f"suite {suite.name}: seldnet localises and detects (seld); the suite scores "
                         f"{', '.join(sorted(kinds))} (use demo-seld, asa2-seld or demo-multitask)")
    options = next((s.options for s in suite.tasks if s.task == "seld"), {})
    return SELDObjective(model_config, options)


# ----------------------------------------------------------------------------- USS


class DeFTMambaPredictor(_ModelAdapter):
    """DeFT-Mamba as a USS predictor: ``separate(mixture [B, M, N]) -> [B, J, M, N]``.

    MIMO: the model's objects as they are. MISO: the network gives each object at its
    reference capsule only, so it is run once per capsule ``c`` on the channels reordered by
    :data:`TETRA_ROTATIONS` ``[c]`` (the scene as heard by the array rotated by 180 degrees,
    capsule ``c`` now at the reference position). The objects of run ``c`` are put in the
    order of run 0 by the permutation minimising the summed squared error between the
    energy-normalised object signals (images of one source at two capsules 4.8 cm apart are
    far more alike than images of two sources). Needs the 4-capsule tetrahedral array of
    the suites (``ref_channel`` 0).
    """

    @torch.no_grad()
    def separate(self, mixture: torch.Tensor) -> torch.Tensor:
        from asabench.models.losses.pit import apply_permutation, pit_permutation

        cfg = self.model.config
        x = self._input(mixture)
        if cfg.mode == "mimo":
            return self.model(x)["separated"].float().cpu()
        if x.shape[1] != 4 or cfg.ref_channel != 0:
            raise PredictorError(f"{self.name}: the MISO adapter rotates the 4-capsule tetrahedral array; "
                                 f"got {x.shape[1]} channels and ref_channel {cfg.ref_channel}")
        runs = []
        for c in range(4):
            est = self.model(x[:, list(TETRA_ROTATIONS[c])])["separated"][:, :, 0].float()  # [B, J, N]
            if runs:
                def unit(s: torch.Tensor) -> torch.Tensor:
                    return s / s.norm(dim=-1, keepdim=True).clamp_min(1e-8)
                est = apply_permutation(est, pit_permutation(unit(est), unit(runs[0])))
            runs.append(est)
        return torch.stack(runs, dim=2).cpu()


class USSObjective:
    """DeFT-Mamba: PIT SI-SDR on the object images (MISO: at the reference channel).

    Validation: ``si_sdr_i`` and ``sdr_i`` channel-pooled over the channels the model emits
    (MISO: the reference channel only) and ``si_snr_i_ref0`` (SI-SNRi at channel
    ``ref_channel``), each real source matched by the loss's permutation.
    """

    kind = "uss"

    def __init__(self, model_config: Any) -> None:
        self.ref_channel = int(getattr(model_config, "ref_channel", 0))
        self.miso = getattr(model_config, "mode", "mimo") == "miso"

    def _pair(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device,
              autocast: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mixture = batch["mixture"].to(device)
        with autocast():
            est = model(mixture)["separated"].float()
        full = (batch["direct"] + batch["reverb"]).to(device)
        if self.miso:
            r = self.ref_channel
            full, mixture = full[:, :, r:r + 1], mixture[:, r:r + 1]
        return est, full, mixture

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device, *,
             epoch: int, seed: int, oracle_activity: bool = False, autocast: Any = None) -> dict[str, torch.Tensor]:
        from asabench.models.losses.pit_sisdr import pit_si_sdr

        est, full, _ = self._pair(model, batch, device, autocast)
        loss, _ = pit_si_sdr(est, full, batch["num_sources"])
        return {"loss": loss}

    def new_state(self) -> dict[str, Any]:
        return {"loss": [], "si_sdr_i": [], "sdr_i": [], "si_snr_i_ref0": []}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device,
                 state: dict[str, Any], *, autocast: Any) -> None:
        from asabench.benchmark.metrics.separation import sdr_improvement, si_sdr_improvement, si_snr_improvement
        from asabench.models.losses.pit import apply_permutation
        from asabench.models.losses.pit_sisdr import pit_si_sdr

        est, full, mix = self._pair(model, batch, device, autocast)
        loss, perm = pit_si_sdr(est, full, batch["num_sources"])
        state["loss"].append(float(loss) * len(batch["id"]))
        est = apply_permutation(est, perm).cpu()
        full, mix = full.cpu(), mix.cpu()
        ref = 0 if self.miso else self.ref_channel
        for b in range(full.shape[0]):
            n = int(batch["num_sources"][b])
            e, r, m = est[b, :n], full[b, :n], mix[b]
            state["si_sdr_i"] += si_sdr_improvement(e, r, m).flatten().tolist()
            state["sdr_i"] += sdr_improvement(e, r, m).flatten().tolist()
            state["si_snr_i_ref0"] += si_snr_improvement(e, r, m, channels=ref).flatten().tolist()

    def scores(self, state: dict[str, Any], n_items: int) -> dict[str, float]:
        out = {"loss": sum(state["loss"]) / max(n_items, 1)}
        for k in ("si_sdr_i", "sdr_i", "si_snr_i_ref0"):
            vals = [v for v in state[k] if math.isfinite(v)]
            out[k] = float(np.mean(vals)) if vals else math.nan
        return out


def _uss_objective(model_config: Any, suite: Any) -> USSObjective:
    kinds = set(suite.task_kinds)
    if "uss" not in kinds:
        raise ValueError(f"suite {suite.name}: DeFT-Mamba separates (uss); the suite scores "
                         f"{', '.join(sorted(kinds))} (use demo-uss or asa2-uss)")
    return USSObjective(model_config)


# ----------------------------------------------------------------------------- registration


for _name in SELD_MODELS:
    register_adapter(_name, SELDnetPredictor)
    _objectives.register_objective(_name, _seld_objective)
    DEFAULT_RECIPES[_name] = ("seldnet-paper", "seldnet-tiny")
for _name in USS_MODELS:
    register_adapter(_name, DeFTMambaPredictor)
    _objectives.register_objective(_name, _uss_objective)
    DEFAULT_RECIPES[_name] = ("deft-mamba-paper", "deft-mamba-tiny")
