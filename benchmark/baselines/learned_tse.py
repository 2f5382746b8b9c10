"""Learned TSE baselines: DSENet-style and SSDQ-style extraction with one point direction clue.

Importing this module (``baselines.load_all()`` does on a registry miss) registers, for the
registry systems ``dsenet`` and ``ssdq`` (:mod:`asabench.models.systems.dsenet`,
:mod:`asabench.models.systems.ssdq`):

* predictor adapters (:func:`asabench.benchmark.predict.register_adapter`):
  :class:`DirectionalTSEPredictor` (``extract``: the model's ``output``, the target's image
  at every microphone, for a static direction clue);
* training objectives (:func:`asabench.benchmark.training.objectives.register_objective`):
  :class:`SISDRTSEObjective`, the harness's :class:`TSEObjective` (one source per scene per
  step, drawn from a seeded generator; the clue of
  :func:`asabench.benchmark.predict.clue_direction`; validation SI-SDRi / SDRi / SI-SNRi)
  with the loss both baselines were trained with: negative SI-SDR of the output against the
  target's full image (direct + reverberant) at every microphone, averaged over channels
  (the models emit no direct/reverb split, so SoundCompass's loss does not apply);
* default recipes (:data:`asabench.benchmark.training.recipe.DEFAULT_RECIPES`):
  ``dsenet-paper`` / ``dsenet-tiny`` and ``ssdq-paper`` / ``ssdq-tiny``.

The SoundCompass ablations of its Table 1 are presets of ``soundcompass``
(``fusion-after``, ``no-spin-pairs``, ``cycpos-clue``, ``no-band-split``) and use its
adapter, objective and recipes.
"""

from __future__ import annotations

from typing import Any

import torch

from asabench.benchmark.predict import PredictorError, _ModelAdapter, register_adapter
from asabench.benchmark.training import objectives as _objectives
from asabench.benchmark.training.recipe import DEFAULT_RECIPES

__all__ = ["TSE_MODELS", "DirectionalTSEPredictor", "SISDRTSEObjective", "neg_si_sdr_loss"]

#: Registry systems this module serves.
TSE_MODELS = ("dsenet", "ssdq")


class DirectionalTSEPredictor(_ModelAdapter):
    """A direction-clued TSE model as a TSE predictor: ``output`` given a static direction."""

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        cfg = getattr(model, "config", None)
        if getattr(cfg, "outputs", "all") != "all":
            raise PredictorError(f"model {getattr(model, 'asabench_name', type(model).__name__)}: config field "
                                 f"'outputs' is {cfg.outputs!r}; the TSE task needs every microphone's image "
                                 "(outputs = \"all\")")
        super().__init__(model, device)

    @torch.no_grad()
    def extract(self, mixture: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        out = self.model(self._input(mixture), direction.to(self.device, torch.float32))
        return out["output"].float().cpu()


def neg_si_sdr_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``-mean over batch and channels of SI-SDR(output, target)`` (dB; no mean removal).

    ``output``, ``target``: [B, C, N]. SI-SDR as
    :func:`asabench.models.losses.sdr.si_sdr` (``alpha = <s^, s> / ||s||^2``).
    """
    from asabench.models.losses.sdr import si_sdr

    if output.shape != target.shape:
        raise ValueError(f"neg_si_sdr_loss: output {tuple(output.shape)} and target {tuple(target.shape)} differ")
    return -si_sdr(output, target).mean()


class SISDRTSEObjective(_objectives.TSEObjective):
    """:class:`TSEObjective` with the baselines' negative SI-SDR loss on ``output``."""

    kind = "tse"

    def loss(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device, *,
             epoch: int, seed: int, oracle_activity: bool = False,
             autocast: Any = None) -> dict[str, torch.Tensor]:
        slots = self._pick(batch, epoch, seed)
        out, direct, reverb, _ = self._forward(model, batch, slots, device, False, autocast)
        loss = neg_si_sdr_loss(out["output"], direct + reverb)
        return {"loss": loss, "si_sdr": -loss.detach()}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, batch: dict[str, Any], device: torch.device,
                 state: dict[str, Any], *, autocast: Any) -> None:
        from asabench.benchmark.metrics.separation import sdr_improvement, si_sdr_improvement, si_snr_improvement

        n_src = batch["num_sources"]
        for slot in range(int(n_src.max())):
            keep = torch.nonzero(n_src > slot).flatten()
            sub = {k: ([v[i] for i in keep.tolist()] if isinstance(v, list) else v[keep]) for k, v in batch.items()}
            slots = torch.full((len(keep),), slot, dtype=torch.long)
            out, direct, reverb, _ = self._forward(model, sub, slots, device, False, autocast)
            ref = direct + reverb
            state["loss"].append(float(neg_si_sdr_loss(out["output"], ref)) * len(keep))
            state["n"] += len(keep)
            est, ref, mix = out["output"].cpu(), ref.cpu(), sub["mixture"]
            state["si_sdr_i"] += si_sdr_improvement(est, ref, mix).flatten().tolist()
            state["sdr_i"] += sdr_improvement(est, ref, mix).flatten().tolist()
            state["si_snr_i"] += si_snr_improvement(est, ref, mix).flatten().tolist()


def _objective(model_name: str):
    def factory(model_config: Any, suite: Any) -> SISDRTSEObjective:
        kinds = set(suite.task_kinds)
        if "tse" not in kinds:
            raise ValueError(f"suite {suite.name}: {model_name} extracts a target (tse); the suite scores "
                             f"{', '.join(sorted(kinds))} (use a TSE suite such as demo-tse)")
        if getattr(model_config, "outputs", "all") != "all":
            raise ValueError(f"{model_name}: config field 'outputs' must be \"all\" to train on a TSE suite "
                             "(the targets are every microphone's image)")
        return SISDRTSEObjective()
    return factory


for _name in TSE_MODELS:
    register_adapter(_name, DirectionalTSEPredictor)
    _objectives.register_objective(_name, _objective(_name))
    DEFAULT_RECIPES[_name] = (f"{_name}-paper", f"{_name}-tiny")
