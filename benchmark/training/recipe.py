"""Training recipes as data: ``benchmark/training/recipes/<name>.toml`` read by the one loader.

A recipe says how a system is trained, independent of the suite (what data, which scores)
and of the model configuration (which network). Every field is checked by
:mod:`asabench.simulate.io.config`, so a typo reads ``<file>: field 'optimizer.lr': ...``.

Shipped recipes (``asabench train --recipe NAME``):

* ``deepasa-paper``: DeepASA's released training (Adam 4e-4, weight decay 1e-5,
  ReduceLROnPlateau 0.5 / patience 3 / min 1e-6 on the validation main score (SELD for the
  multitask suites), gradient clip 5, bf16 autocast on CUDA, 100 epochs, batch 2 per GPU on
  8 GPUs);
* ``deepasa-coi``: its chain-of-inference stage, initialised from a stage-1 checkpoint
  (``--init``) with the front end and the feature-aggregation blocks frozen;
* ``soundcompass-paper``: SoundCompass (AdamW 5e-4, learning rate x0.1 after 5 epochs
  without validation improvement, clip 5, 100 epochs, batch 2 per GPU on 4 GPUs);
* ``soundcompass-refine``: its iterative-refinement stage (``soundcompass-x2``,
  initialised from a ``soundcompass-sed`` stage-1 checkpoint, stage 1 and the shared front
  end frozen, oracle target activity fed to stage 2);
* ``deepasa-tiny``, ``soundcompass-tiny``: a few CPU steps for tests and the demo.

``batch_size`` is per process; ``paper_world_size`` records how many GPUs the paper used
(the global batch is ``batch_size x world size``; the recipe does not change with the
number of processes you launch, only the global batch does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

__all__ = ["RECIPE_DIR", "OptimizerConfig", "SchedulerConfig", "CheckpointConfig", "DataConfig",
           "StageConfig", "Recipe", "load_recipe", "available_recipes", "default_recipe"]

#: Shipped recipes: ``<RECIPE_DIR>/<name>.toml``.
RECIPE_DIR = Path(__file__).resolve().parent / "recipes"


@dataclass
class OptimizerConfig(ConfigBase):
    """``torch.optim.Adam`` or ``AdamW``."""

    name: Literal["adam", "adamw"] = "adam"
    lr: float = ranged(4e-4, lo=0.0, lo_open=True, hi=10.0)
    weight_decay: float = ranged(0.0, lo=0.0, hi=10.0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = ranged(1e-8, lo=0.0, lo_open=True, hi=1.0)

    def __post_init__(self) -> None:
        for k, b in enumerate(self.betas):
            if not 0.0 <= b < 1.0:
                raise ConfigError(f"{b} is outside [0, 1)", field=f"betas[{k}]")


@dataclass
class SchedulerConfig(ConfigBase):
    """Learning-rate schedule stepped after each validation.

    ``plateau``: ``torch.optim.lr_scheduler.ReduceLROnPlateau`` on ``monitor``: ``"main"``
    (the suite's main validation score, minimised or maximised as the suite says) or
    ``"loss"`` (the validation loss). ``patience`` has PyTorch's meaning: the number of
    validations without improvement that are tolerated before the rate is multiplied by
    ``factor``.
    """

    kind: Literal["none", "plateau"] = "plateau"
    monitor: Literal["main", "loss"] = "main"
    factor: float = ranged(0.5, lo=0.0, lo_open=True, hi=1.0)
    patience: int = ranged(3, lo=0, hi=10_000)
    min_lr: float = ranged(0.0, lo=0.0)
    threshold: float = ranged(1e-4, lo=0.0)


@dataclass
class CheckpointConfig(ConfigBase):
    """When ``checkpoints/last.pt`` is written besides every epoch end (0: never)."""

    every_steps: int = ranged(0, lo=0)
    every_seconds: float = ranged(600.0, lo=0.0)


@dataclass
class DataConfig(ConfigBase):
    """DataLoader settings (per process)."""

    workers: int = ranged(2, lo=0, hi=256)
    shuffle: bool = True
    prefetch_factor: int = ranged(2, lo=1, hi=64)


@dataclass
class StageConfig(ConfigBase):
    """A later training stage built on an earlier checkpoint.

    ``init``: ``"none"``, or ``"required"`` (``asabench train --init CKPT`` must name the
    earlier stage's checkpoint; its weights are copied where names and shapes match).
    ``freeze``: parameter-name prefixes kept fixed (``"blocks"`` freezes every
    feature-aggregation block). ``prepare``: a system's own stage set-up
    (``"soundcompass-refinement"`` copies stage 1 into stage 2 and freezes stage 1 and the
    front end). ``oracle_activity``: feed the target activity to the model (SoundCompass
    refinement is trained with oracle activity).
    """

    init: Literal["none", "required"] = "none"
    freeze: tuple[str, ...] = ()
    prepare: Literal["none", "soundcompass-refinement"] = "none"
    oracle_activity: bool = False


@dataclass
class Recipe(ConfigBase):
    """A training recipe (see the module docstring)."""

    config_dir: ClassVar[Path] = RECIPE_DIR
    config_what: ClassVar[str] = "recipe"

    name: str
    #: Registry names of the systems this recipe trains (``asabench train --model`` must be one).
    models: tuple[str, ...]
    description: str = ""
    reference: str = ""
    #: Model preset used when ``--config`` is not given.
    model_config: str = "paper"
    epochs: int = ranged(100, lo=1, hi=1_000_000)
    #: Stop after this many optimiser steps in all (0: run every epoch).
    max_steps: int = ranged(0, lo=0)
    batch_size: int = ranged(2, lo=1, hi=65536)
    paper_world_size: int = ranged(1, lo=1, hi=65536)
    grad_clip: float = ranged(5.0, lo=0.0)
    #: ``bf16``: autocast to bfloat16 on CUDA (CPU runs stay float32, bit-reproducible).
    precision: Literal["fp32", "bf16"] = "fp32"
    seed: int = ranged(0, lo=0, hi=2**63 - 1)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    data: DataConfig = field(default_factory=DataConfig)
    stage: StageConfig = field(default_factory=StageConfig)

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError("name at least one system", field="models")
        if self.stage.prepare == "soundcompass-refinement" and self.stage.init != "required":
            raise ConfigError("the refinement stage starts from a stage-1 checkpoint: set init = \"required\"",
                              field="stage.init")


def available_recipes() -> list[str]:
    """Names of the shipped recipes, sorted."""
    return sorted(p.stem for p in RECIPE_DIR.glob("*.toml"))


def load_recipe(name_or_path: str | Path | Recipe) -> Recipe:
    """A shipped recipe by name or a recipe file (``.toml``/``.yaml``/``.json``)."""
    if isinstance(name_or_path, Recipe):
        return name_or_path.validate("recipe")
    return Recipe.load(name_or_path)


#: Shipped recipes of further systems (learned baselines): ``model -> (paper recipe, tiny recipe)``.
DEFAULT_RECIPES: dict[str, tuple[str, str]] = {}


def default_recipe(model: str, config: str) -> str:
    """The shipped recipe for ``model`` when ``--recipe`` is not given.

    ``tiny`` configurations get ``<family>-tiny``; others the family's paper recipe
    (``deepasa-coi`` its CoI stage, ``soundcompass-x2`` the refinement stage).
    """
    if model not in DEFAULT_RECIPES:
        from asabench.benchmark.baselines import load_all  # learned baselines add their recipes

        load_all()
    if model in DEFAULT_RECIPES:
        paper, tiny = DEFAULT_RECIPES[model]
        return tiny if config == "tiny" else paper
    family = "soundcompass" if model.startswith("soundcompass") else "deepasa"
    if config == "tiny":
        return f"{family}-tiny"
    return {"deepasa-coi": "deepasa-coi", "soundcompass-x2": "soundcompass-refine"}.get(model, f"{family}-paper")
