"""Recipes: the shipped files carry the papers' numbers; bad files are named by file and field."""

import pytest

from asabench.benchmark.training.recipe import Recipe, available_recipes, default_recipe, load_recipe
from asabench.simulate.io.config import ConfigError


def test_shipped_recipes_hold_the_paper_settings():
    assert {"deepasa-coi", "deepasa-paper", "deepasa-tiny", "soundcompass-paper", "soundcompass-refine",
            "soundcompass-tiny"} <= set(available_recipes())
    d = load_recipe("deepasa-paper")
    assert (d.optimizer.name, d.optimizer.lr, d.optimizer.weight_decay) == ("adam", 4e-4, 1e-5)
    assert (d.scheduler.kind, d.scheduler.monitor, d.scheduler.factor, d.scheduler.patience,
            d.scheduler.min_lr) == ("plateau", "main", 0.5, 3, 1e-6)
    assert (d.grad_clip, d.precision, d.epochs, d.batch_size, d.paper_world_size) == (5.0, "bf16", 100, 2, 8)
    coi = load_recipe("deepasa-coi")
    assert coi.models == ("deepasa-coi",) and coi.stage.init == "required"
    assert coi.stage.freeze == ("stft", "encoder", "blocks")
    s = load_recipe("soundcompass-paper")
    assert (s.optimizer.name, s.optimizer.lr, s.scheduler.factor, s.scheduler.patience) == ("adamw", 5e-4, 0.1, 5)
    assert (s.grad_clip, s.epochs, s.batch_size, s.paper_world_size) == (5.0, 100, 2, 4)
    r = load_recipe("soundcompass-refine")
    assert (r.stage.init, r.stage.prepare, r.stage.oracle_activity) == ("required", "soundcompass-refinement", True)
    assert r.models == ("soundcompass-x2",)
    assert load_recipe("deepasa-tiny").model_config == "tiny"


def test_default_recipe_by_model_and_config():
    assert default_recipe("deepasa", "tiny") == "deepasa-tiny"
    assert default_recipe("soundcompass-sed", "tiny") == "soundcompass-tiny"
    assert default_recipe("deepasa", "paper") == "deepasa-paper"
    assert default_recipe("deepasa-coi", "paper") == "deepasa-coi"
    assert default_recipe("soundcompass-x2", "my.toml") == "soundcompass-refine"


@pytest.mark.parametrize("body, field", [
    ('name = "x"\nmodels = ["deepasa"]\n[optimizer]\nlr = -1.0\n', "optimizer.lr"),
    ('name = "x"\nmodels = ["deepasa"]\n[optimizer]\nname = "sgd"\n', "optimizer.name"),
    ('name = "x"\nmodels = ["deepasa"]\nepochz = 3\n', "epochz"),
    ('name = "x"\nmodels = []\n', "models"),
    ('name = "x"\nmodels = ["soundcompass-x2"]\n[stage]\nprepare = "soundcompass-refinement"\n', "stage.init"),
    ('name = "x"\nmodels = ["deepasa"]\n[optimizer]\nbetas = [0.9, 1.0]\n', "optimizer.betas[1]"),
])
def test_bad_recipe_named_by_file_and_field(tmp_path, body, field):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ConfigError) as err:
        load_recipe(path)
    assert str(err.value).startswith(f"{path}: field '{field}': ")


def test_recipe_round_trips_through_the_loader(tmp_path):
    d = load_recipe("deepasa-paper")
    d.save(tmp_path / "r.toml")
    assert Recipe.load(tmp_path / "r.toml") == d
