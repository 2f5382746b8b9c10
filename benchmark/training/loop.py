"""The training job: a suite, a system and a recipe -> a run folder with checkpoints.

:func:`train` is what ``asabench train`` runs (:mod:`asabench.benchmark.cli.train`).

Run folder ``RUN/``::

    run.json              what was run: suite (name, file, sha256), model, recipe, data,
                          seed, the environment block (versions, git revision, device,
                          processes); rewritten at the end with the final state
    config.toml           the resolved model configuration (fitted to the suite contract)
    recipe.toml           the resolved recipe
    suite.toml            the suite file, byte for byte
    metrics.jsonl         one line per optimiser step and per validation
    tensorboard/          the same scalars, when TensorBoard is installed
    checkpoints/last.pt   the latest state: model + optimiser + scheduler + RNG + data position
    checkpoints/best.pt   the model with the best main validation score so far

Both checkpoints are :func:`asabench.models.save` files, so ``asabench.models.load(
"RUN/checkpoints/best.pt")`` rebuilds the trained model from the file alone; the training
state sits in the checkpoint's ``extra["training"]``.

Reproducible and resumable: every random draw of a run comes from its seed (weights:
``models.create(seed=)``; data order: a generator seeded by (seed, epoch); the TSE source
of a scene: (seed, epoch, scene index); DataLoader worker seeds: a generator seeded per
epoch; anything else the model draws: the global torch generator, seeded once and saved
in every checkpoint). ``last.pt`` is written every ``checkpoint.every_steps`` steps,
every ``checkpoint.every_seconds`` seconds and at every epoch end, always between two
steps, atomically; ``--resume`` restores it and skips the batches of the epoch already
done, so a run killed with ``kill -9`` and resumed ends with the weights of an
uninterrupted run (bit-identical on the CPU; tested).

Several processes: launch with ``torchrun --nproc-per-node N -m asabench.benchmark.cli
train ...``; the job reads torchrun's environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``), joins the process group (NCCL on CUDA, gloo on the CPU) and wraps the
model in ``torch.nn.parallel.DistributedDataParallel``. The recipe's ``batch_size`` is
per process; each global batch of ``batch_size x world size`` consecutive scenes of the
epoch order is split across the ranks, so N processes see exactly the scenes one process
with an N times larger batch sees (tested with gloo). Rank 0 validates, logs and writes
the checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from asabench.benchmark.training.callbacks import MetricsLog, Progress, _clean, environment
from asabench.benchmark.training.objectives import objective_for
from asabench.benchmark.training.recipe import Recipe, default_recipe, load_recipe
from asabench.simulate.io.config import ConfigError, dumps
from asabench.simulate.io.files import Pathlike, atomic_write_bytes, atomic_write_text

__all__ = ["train", "TrainResult", "RUN_FORMAT", "EpochSampler", "checkpoint_paths", "resolve_run"]

RUN_FORMAT = "asabench.training.run/1"
CHECKPOINT_TRAINING_FORMAT = "asabench.training.state/1"


def checkpoint_paths(run: Pathlike) -> dict[str, Path]:
    """``{"last": RUN/checkpoints/last.pt, "best": RUN/checkpoints/best.pt}``."""
    folder = Path(run) / "checkpoints"
    return {"last": folder / "last.pt", "best": folder / "best.pt"}


@dataclass
class TrainResult:
    """What :func:`train` did."""

    run: Path
    steps: int
    epochs_done: int
    best_score: float | None
    main_score: str
    final_scores: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    resumed_from_step: int = 0
    stopped: str = ""

    def text(self) -> str:
        best = "-" if self.best_score is None else f"{self.best_score:.4f}"
        resumed = f", resumed at step {self.resumed_from_step}" if self.resumed_from_step else ""
        return (f"{self.run}: {self.steps} steps ({self.epochs_done} epochs done{resumed}) in {self.seconds:.1f} s, "
                f"{self.stopped}; best validation {self.main_score} {best}; checkpoints in {self.run / 'checkpoints'}")


# ----------------------------------------------------------------------------- data order


class EpochSampler(Sampler[int]):
    """This rank's share of one epoch: global batch ``i`` is positions ``[i G, (i+1) G)`` of
    the epoch order (a permutation seeded by ``(seed, epoch)``, or ``0..n-1``), ``G = batch x
    world``; rank ``r`` takes its ``r``-th slice of ``batch``. The first ``skip`` global batches
    are left out (resume). Incomplete global batches are dropped.
    """

    def __init__(self, n: int, batch: int, rank: int, world: int, seed: int, epoch: int,
                 shuffle: bool = True, skip: int = 0) -> None:
        self.n, self.batch, self.rank, self.world = n, batch, rank, world
        self.seed, self.epoch, self.shuffle, self.skip = seed, epoch, shuffle, skip

    @property
    def batches_per_epoch(self) -> int:
        return self.n // (self.batch * self.world)

    def order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.n))
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % (2**63 - 1))
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self) -> Iterator[int]:
        order, g = self.order(), self.batch * self.world
        for i in range(self.skip, self.batches_per_epoch):
            start = i * g + self.rank * self.batch
            yield from order[start:start + self.batch]

    def __len__(self) -> int:
        return max(self.batches_per_epoch - self.skip, 0) * self.batch


class _Indexed(Dataset):
    """A dataset whose items also carry their position (``index``), for per-scene seeds."""

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = dict(self.base[i])
        item["index"] = torch.tensor(i, dtype=torch.long)
        return item


def _dataset(data: Pathlike, suite: Any, split: str) -> Dataset:
    from asabench.simulate.dataset.loader import SceneDataset

    slots = suite.contract.max_objects
    if str(data) == "onthefly":
        from asabench.benchmark.suites import _manifest_path
        from asabench.simulate.dataset.onthefly import OnTheFlyScenes

        manifest = _manifest_path(suite, Path(suite.path)) if suite.path else suite.manifest
        return OnTheFlyScenes(manifest, split, max_sources=slots)
    from asabench.benchmark.evaluate import check_dataset

    check_dataset(suite, data, split)  # the suite's manifest and version, rate, channels, split
    return SceneDataset(data, split=split, max_sources=slots)


def _describe_data(data: Pathlike, ds: Dataset) -> dict[str, Any]:
    if hasattr(ds, "describe"):
        return ds.describe()  # type: ignore[no-any-return]
    return {"kind": "folder", "path": str(Path(data).resolve()), "scenes": len(ds)}  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- distributed


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    initialised_here: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    here = False
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") and torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        here = True
    return _Dist(rank, world, local, here)


def _all_mean(value: torch.Tensor, dist_info: _Dist) -> torch.Tensor:
    if dist_info.world == 1:
        return value
    import torch.distributed as dist

    v = value.detach().clone()
    dist.all_reduce(v)
    return v / dist_info.world


def _barrier(dist_info: _Dist) -> None:
    if dist_info.world > 1:
        import torch.distributed as dist

        dist.barrier()


def _broadcast_flag(flag: bool, dist_info: _Dist) -> bool:
    if dist_info.world == 1:
        return flag
    import torch.distributed as dist

    t = torch.tensor([1 if flag else 0])
    dist.broadcast(t, 0)
    return bool(t.item())


# ----------------------------------------------------------------------------- resolving


def resolve_run(suite: Any, model: str, *, config: Any = None, recipe: Any = None,
                max_steps: int | None = None, seed: int | None = None) -> tuple[Any, Any, Recipe]:
    """The suite, the model configuration fitted to its contract and the recipe of a run."""
    from asabench.benchmark.predict import fit_model_config
    from asabench.benchmark.suites import load_suite
    from asabench.models.registry import get_entry

    suite = load_suite(suite)
    try:
        get_entry(model)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0]), field="model") from None
    rec = load_recipe(recipe if recipe is not None else default_recipe(model, str(config or "paper")))
    if model not in rec.models:
        raise ConfigError(f"recipe {rec.name} trains {', '.join(rec.models)}, not {model}", field="models")
    cfg = fit_model_config(model, config if config is not None else rec.model_config, suite.contract)
    overrides: dict[str, Any] = {}
    if max_steps is not None:
        overrides["max_steps"] = int(max_steps)
    if seed is not None:
        overrides["seed"] = int(seed)
    if overrides:
        rec = Recipe.from_dict({**rec.to_dict(), **overrides}, source=f"recipe {rec.name}")
    return suite, cfg, rec


def _settings(suite: Any, model: str, cfg: Any, rec: Recipe, data: dict[str, Any], init: str | None) -> dict[str, Any]:
    """What must match for ``--resume`` to continue a run (the same job)."""
    return {"suite": suite.to_record(), "model": model, "config": cfg.to_dict(), "recipe": rec.to_dict(),
            "data": data, "init": init}


def _same_for_resume(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    diffs = []
    for key in ("model", "config", "data", "init"):
        if old.get(key) != new.get(key):
            diffs.append(key)
    if (old.get("suite") or {}).get("sha256") != new["suite"]["sha256"]:
        diffs.append("suite")
    old_r = dict(old.get("recipe") or {})
    new_r = dict(new["recipe"])
    for r in (old_r, new_r):
        r.pop("max_steps", None)  # a resumed run may be given a new step limit
    if old_r != new_r:
        diffs.append("recipe")
    return diffs


# ----------------------------------------------------------------------------- model set-up


def _apply_stage(model: torch.nn.Module, rec: Recipe, init: str | None, log: Callable[[str], None]) -> None:
    from asabench.models.checkpoint import read

    stage = rec.stage
    if stage.init == "required" and not init:
        raise ConfigError(f"recipe {rec.name} starts from an earlier stage: give its checkpoint with --init CKPT",
                          field="stage.init")
    if init:
        payload = read(init)
        own = model.state_dict()
        copied = {k: v for k, v in payload["state_dict"].items() if k in own and own[k].shape == v.shape}
        if not copied:
            raise ConfigError(f"no weight of {init} fits model {getattr(model, 'asabench_name', '?')}",
                              source=init, field="state_dict")
        model.load_state_dict(copied, strict=False)
        log(f"initialised {len(copied)} of {len(own)} tensors from {init} ({payload['name']})")
    if stage.prepare == "soundcompass-refinement":
        if not hasattr(model, "prepare_refinement"):
            raise ConfigError("prepare 'soundcompass-refinement' needs a two-stage SoundCompass (soundcompass-x2)",
                              field="stage.prepare")
        model.prepare_refinement()
    names = [n for n, _ in model.named_parameters()]
    for prefix in stage.freeze:
        hits = [n for n in names if n == prefix or n.startswith(prefix + ".")]
        if not hits:
            raise ConfigError(f"no parameter of the model is named {prefix!r} or {prefix}.*", field="stage.freeze")
        for n, p in model.named_parameters():
            if n in hits:
                p.requires_grad_(False)


def _optimizer(params: list[torch.nn.Parameter], rec: Recipe) -> torch.optim.Optimizer:
    o = rec.optimizer
    cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
    return cls(params, lr=o.lr, betas=tuple(o.betas), eps=o.eps, weight_decay=o.weight_decay)


def _scheduler(opt: torch.optim.Optimizer, rec: Recipe, higher_is_better: bool) -> Any:
    s = rec.scheduler
    if s.kind == "none":
        return None
    mode = "max" if (s.monitor == "main" and higher_is_better) else "min"
    return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=s.factor, patience=s.patience,
                                                      min_lr=s.min_lr, threshold=s.threshold)


def _autocast(device: torch.device, rec: Recipe) -> Callable[[], Any]:
    if rec.precision == "bf16" and device.type == "cuda":
        return lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_python_random(state["python"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _as_python_random(state: Any) -> tuple:
    version, internal, gauss = state
    return (int(version), tuple(int(x) for x in internal), gauss)


# ----------------------------------------------------------------------------- the job


def train(suite: Any, model: str, *, data: Pathlike, out: Pathlike, config: Any = None, recipe: Any = None,
          resume: bool = False, max_steps: int | None = None, device: str = "cpu", seed: int | None = None,
          init: Pathlike | None = None, workers: int | None = None, progress: bool = True,
          log: Callable[[str], None] | None = print) -> TrainResult:
    """Train ``model`` on ``suite`` into the run folder ``out`` (see the module docstring).

    Parameters
    ----------
    suite : a suite name, file or :class:`~asabench.benchmark.suites.Suite`.
    model : a registry name (``deepasa``, ``deepasa-coi``, ``soundcompass``, ...).
    data : a dataset folder holding the suite's splits, or ``"onthefly"`` (rendered from
        the suite's manifest inside the DataLoader workers).
    out : the run folder (created; an existing run needs ``resume=True``).
    config : model preset name or file (default: the recipe's ``model_config``), fitted
        to the suite's contract (sample rate, channels, object slots).
    recipe : a shipped recipe name or file (default: ``<family>-tiny`` for the tiny
        configuration, else the system's paper recipe).
    resume : continue the run in ``out`` from ``checkpoints/last.pt``.
    max_steps : stop after this many optimiser steps in all (overrides the recipe).
    device : ``cpu``, ``cuda`` or ``cuda:N`` (under torchrun ``cuda`` means this process's GPU).
    seed : overrides the recipe's seed.
    init : checkpoint of the earlier stage (recipes with ``stage.init = "required"``).
    workers : DataLoader workers per process (overrides the recipe).
    progress : draw the tqdm bar (rank 0).
    log : called with each line of news (rank 0; ``None``: silent).
    """
    from asabench.models.checkpoint import read, save
    from asabench.models.registry import create
    from asabench.simulate.dataset.loader import collate_scenes

    t_start = time.perf_counter()
    dist_info = _init_distributed(device)
    try:
        say: Callable[[str], None] = (log if (log is not None and dist_info.main) else (lambda _text: None))
        run = Path(out)
        paths = checkpoint_paths(run)
        suite_obj, cfg, rec = resolve_run(suite, model, config=config, recipe=recipe, max_steps=max_steps, seed=seed)
        if workers is not None:
            rec = Recipe.from_dict({**rec.to_dict(), "data": {**rec.data.to_dict(), "workers": int(workers)}},
                                   source=f"recipe {rec.name}")
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise ConfigError(f"device {device!r}: CUDA is not available here", field="device")
            dev = torch.device(f"cuda:{dist_info.local_rank}" if device == "cuda" else device)
            torch.cuda.set_device(dev)
        else:
            dev = torch.device(device)
        objective = objective_for(model, cfg, suite_obj)
        main_spec = suite_obj.main
        higher = bool(main_spec.higher_is_better)

        train_ds = _Indexed(_dataset(data, suite_obj, suite_obj.splits.train))
        val_ds = _dataset(data, suite_obj, suite_obj.splits.validation)
        data_record = {"train": _describe_data(data, train_ds.base), "validation": _describe_data(data, val_ds)}
        # the run's identity ignores where the data folder sits only through its resolved path
        settings = _settings(suite_obj, model, cfg, rec, data_record, str(Path(init).resolve()) if init else None)

        # ---- run folder
        run_json = run / "run.json"
        if resume:
            if not paths["last"].is_file():
                raise FileNotFoundError(f"{paths['last']}: no checkpoint to resume from (start without --resume)")
            old = json.loads(run_json.read_text(encoding="utf-8"))
            diffs = _same_for_resume(old.get("settings", {}), settings)
            if diffs:
                raise ConfigError(f"--resume: the run was started with other {', '.join(diffs)} "
                                  "(resume with the same arguments, or start a new --out)", source=run_json)
        else:
            if run.exists() and (not run.is_dir() or any(run.iterdir())):
                raise FileExistsError(f"{run}: exists and is not empty (continue it with --resume, or choose a new --out)")
        _barrier(dist_info)  # every rank has checked the folder before rank 0 writes into it
        if dist_info.main:
            (run / "checkpoints").mkdir(parents=True, exist_ok=True)
            if not resume:
                atomic_write_text(run / "config.toml", dumps(cfg, ".toml"))
                atomic_write_text(run / "recipe.toml", dumps(rec, ".toml"))
                if suite_obj.path:
                    atomic_write_bytes(run / "suite.toml", Path(suite_obj.path).read_bytes())
        _barrier(dist_info)

        # ---- model, optimiser, schedule
        torch.manual_seed(rec.seed)
        random.seed(rec.seed)
        net = create(model, cfg, seed=rec.seed)
        _apply_stage(net, rec, str(init) if init else None, say)
        net.to(dev)
        params = [p for p in net.parameters() if p.requires_grad]
        opt = _optimizer(params, rec)
        sched = _scheduler(opt, rec, higher)
        position = {"epoch": 0, "batch_in_epoch": 0, "step": 0}
        best: float | None = None
        resumed_from = 0
        if resume:
            payload = read(paths["last"])
            state = payload["extra"].get("training") or {}
            if state.get("format") != CHECKPOINT_TRAINING_FORMAT:
                raise ConfigError("not a training checkpoint (no training state)", source=paths["last"],
                                  field="extra.training")
            net.load_state_dict(payload["state_dict"])
            opt.load_state_dict(state["optimizer"])
            if sched is not None and state.get("scheduler") is not None:
                sched.load_state_dict(state["scheduler"])
            position = dict(state["position"])
            best = state.get("best")
            _set_rng_state(state["rng"], dev)
            resumed_from = position["step"]
            say(f"resuming {run} at step {position['step']} (epoch {position['epoch']}, "
                f"batch {position['batch_in_epoch']})")
        ddp: torch.nn.Module = net
        if dist_info.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ddp = DistributedDataParallel(net, device_ids=[dev.index] if dev.type == "cuda" else None,
                                          find_unused_parameters=bool(rec.stage.freeze or rec.stage.prepare != "none"))
        autocast = _autocast(dev, rec)

        per_epoch = EpochSampler(len(train_ds), rec.batch_size, 0, dist_info.world, rec.seed, 0).batches_per_epoch
        if per_epoch == 0:
            raise ConfigError(f"split {suite_obj.splits.train!r} has {len(train_ds)} scenes, fewer than one global "
                              f"batch ({rec.batch_size} x {dist_info.world} processes)", field="batch_size")
        total = rec.epochs * per_epoch if not rec.max_steps else min(rec.max_steps, rec.epochs * per_epoch)

        if dist_info.main:
            record = {"format": RUN_FORMAT, "state": "running", "settings": settings,
                      "environment": environment(dev, dist_info.world),
                      "checkpoints": {k: str(p.relative_to(run)) for k, p in paths.items()},
                      "main_score": {"id": main_spec.id, "name": main_spec.main_score, "higher_is_better": higher},
                      "steps_per_epoch": per_epoch, "total_steps": total}
            atomic_write_text(run_json, json.dumps(record, indent=2) + "\n")
        metrics = MetricsLog(run / "metrics.jsonl") if dist_info.main else None
        bar = Progress(total, position["step"], f"{model}/{suite_obj.name}", progress and dist_info.main)
        last_save = time.monotonic()

        def save_state(with_best: bool = False) -> None:
            if not dist_info.main:
                return
            state = {"format": CHECKPOINT_TRAINING_FORMAT, "optimizer": opt.state_dict(),
                     "scheduler": sched.state_dict() if sched is not None else None,
                     "rng": _rng_state(dev), "position": dict(position), "best": best,
                     "suite": suite_obj.to_record(), "recipe": rec.name, "seed": rec.seed}
            save(net, paths["last"], extra={"training": state})

        def validate() -> dict[str, float]:
            scores: dict[str, float] = {}
            if dist_info.main:
                net.eval()
                st = objective.new_state()
                loader = DataLoader(val_ds, batch_size=rec.batch_size, shuffle=False, num_workers=rec.data.workers,
                                    collate_fn=collate_scenes,
                                    generator=torch.Generator().manual_seed(rec.seed))
                for batch in loader:
                    objective.validate(net, batch, dev, st, autocast=autocast)
                scores = objective.scores(st, len(val_ds))  # type: ignore[arg-type]
                net.train()
            _barrier(dist_info)
            return scores

        stopped = "all epochs done"
        final_scores: dict[str, float] = {}
        net.train()
        t_steps = time.perf_counter()
        steps_here = 0
        done = position["step"] >= total
        while not done and position["epoch"] < rec.epochs:
            epoch = position["epoch"]
            sampler = EpochSampler(len(train_ds), rec.batch_size, dist_info.rank, dist_info.world, rec.seed, epoch,
                                   rec.data.shuffle, skip=position["batch_in_epoch"])
            loader_kwargs: dict[str, Any] = {}
            if rec.data.workers > 0:
                loader_kwargs["prefetch_factor"] = rec.data.prefetch_factor
            loader = DataLoader(train_ds, batch_size=rec.batch_size, sampler=sampler, num_workers=rec.data.workers,
                                collate_fn=collate_scenes, drop_last=True,
                                generator=torch.Generator().manual_seed(rec.seed * 7_919 + epoch),
                                pin_memory=dev.type == "cuda", **loader_kwargs)
            for batch in loader:
                terms = objective.loss(ddp, batch, dev, epoch=epoch, seed=rec.seed,
                                       oracle_activity=rec.stage.oracle_activity, autocast=autocast)
                opt.zero_grad(set_to_none=True)
                terms["loss"].backward()
                grad_norm = None
                if rec.grad_clip > 0:
                    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, rec.grad_clip))
                opt.step()
                position["step"] += 1
                position["batch_in_epoch"] += 1
                steps_here += 1
                loss = float(_all_mean(terms["loss"].detach(), dist_info))
                term_values = {k: float(_all_mean(v.detach(), dist_info)) for k, v in terms.items()
                               if k != "loss" and torch.is_tensor(v) and v.dim() == 0}
                if not math.isfinite(loss):
                    raise RuntimeError(f"step {position['step']}: the loss is {loss} (diverged); "
                                       f"last good state in {paths['last']}")
                lr = opt.param_groups[0]["lr"]
                if metrics is not None:
                    elapsed = time.perf_counter() - t_steps
                    metrics.write({"event": "step", "step": position["step"], "epoch": epoch, "loss": loss,
                                   **term_values,
                                   "lr": lr, "grad_norm": grad_norm,
                                   "steps_per_s": steps_here / elapsed if elapsed > 0 else None})
                bar.update(loss, lr)
                at_end = position["step"] >= total
                due = ((rec.checkpoint.every_steps and position["step"] % rec.checkpoint.every_steps == 0)
                       or (rec.checkpoint.every_seconds and time.monotonic() - last_save >= rec.checkpoint.every_seconds))
                if _broadcast_flag(bool(due) and not at_end, dist_info):
                    save_state()
                    last_save = time.monotonic()
                if at_end:
                    break
            epoch_complete = position["batch_in_epoch"] >= per_epoch
            done = position["step"] >= total
            if not (epoch_complete or done):
                continue
            scores = validate()
            final_scores = scores
            if epoch_complete:
                position["epoch"] += 1
                position["batch_in_epoch"] = 0
            if dist_info.main:
                value = scores.get(main_spec.main_score, math.nan)
                improved = math.isfinite(value) and (best is None or (value > best if higher else value < best))
                monitored = value if rec.scheduler.monitor == "main" else scores.get("loss", math.nan)
                if sched is not None and math.isfinite(monitored):
                    sched.step(monitored)
                if improved:
                    best = value
                    save(net, paths["best"], extra={"training": {
                        "format": CHECKPOINT_TRAINING_FORMAT + "+best", "step": position["step"],
                        "epoch": epoch, "score": {"name": main_spec.main_score, "value": value},
                        "scores": scores, "suite": suite_obj.to_record(), "recipe": rec.name}})
                if metrics is not None:
                    metrics.write({"event": "validation", "step": position["step"], "epoch": epoch,
                                   "scores": scores, "main": main_spec.main_score, "value": value,
                                   "best": improved, "lr": opt.param_groups[0]["lr"]})
                bar.write(f"epoch {epoch} step {position['step']}: validation "
                          + ", ".join(f"{k} {v:.3f}" for k, v in scores.items() if isinstance(v, float)))
            if sched is not None and dist_info.world > 1:
                _sync_lr(opt, dist_info)
            save_state()
            last_save = time.monotonic()
            if done:
                stopped = f"stopped at max_steps {rec.max_steps}" if rec.max_steps and position["step"] >= rec.max_steps \
                    else "all epochs done"
        bar.close()
        if metrics is not None:
            metrics.close()
        if dist_info.main and not paths["best"].is_file():
            # no finite validation score (e.g. no validation scene): the last weights stand in
            save(net, paths["best"], extra={"training": {"format": CHECKPOINT_TRAINING_FORMAT + "+best",
                                                         "step": position["step"], "score": None}})
        seconds = time.perf_counter() - t_start
        if dist_info.main:
            record = json.loads(run_json.read_text(encoding="utf-8"))
            record.update(state="done", steps=position["step"], epochs_done=position["epoch"],
                          best={"name": main_spec.main_score, "value": best}, final_validation=_clean(final_scores),
                          seconds=round(seconds, 3))
            atomic_write_text(run_json, json.dumps(record, indent=2, allow_nan=False, default=str) + "\n")
        result = TrainResult(run, position["step"], position["epoch"], best, main_spec.main_score, final_scores,
                             seconds, resumed_from, stopped)
        say(result.text())
        return result
    finally:
        if dist_info.initialised_here:
            import torch.distributed as dist

            dist.destroy_process_group()


def _sync_lr(opt: torch.optim.Optimizer, dist_info: _Dist) -> None:
    """Rank 0 stepped the schedule: give every rank its learning rates."""
    import torch.distributed as dist

    lrs = torch.tensor([g["lr"] for g in opt.param_groups], dtype=torch.float64)
    dist.broadcast(lrs, 0)
    for g, lr in zip(opt.param_groups, lrs.tolist()):
        g["lr"] = lr
