"""Suites: the eight shipped files load and validate; every bad field is named with its file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from asabench.benchmark.cli import main
from asabench.benchmark.suites import (SUITE_DIR, SuiteError, available_suites, check_scorer,
                                       load_suite)

SHIPPED = ["asa2-multitask", "asa2-seld", "asa2-static-tse", "asa2-uss", "demo-multitask", "demo-seld", "demo-tse", "demo-uss"]


def test_the_eight_suites_are_shipped():
    assert available_suites() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_suite_loads_checks_and_hashes_its_bytes(name):
    suite = load_suite(name)
    check_scorer(suite)
    path = SUITE_DIR / f"{name}.toml"
    assert suite.name == name and Path(suite.path) == path
    assert suite.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert suite.leaderboard == name
    assert (suite.splits.train, suite.splits.validation, suite.splits.test) == ("train", "validation", "test")


def test_suites_name_the_papers_settings():
    multitask = load_suite("asa2-multitask")
    assert multitask.task_kinds == ("seld", "uss")
    assert multitask.manifest == "asa2" and multitask.contract.max_objects == 5
    assert (multitask.contract.sample_rate, multitask.contract.num_samples) == (16000, 64000)
    assert multitask.main.main_score == "seld" and multitask.main.higher_is_better is False
    tse = load_suite("asa2-static-tse")
    assert tse.manifest == "asa2-static" and tse.task_kinds == ("tse",)
    assert tse.headline("tse").options["spatial"] is True
    demo = load_suite("demo-multitask")
    assert (demo.contract.sample_rate, demo.contract.clip_seconds, demo.contract.max_objects) == (8000, 2.0, 3)
    with pytest.raises(KeyError, match="no tse task"):
        demo.headline("tse")


def _variant(tmp_path: Path, old: str, new: str, base: str = "demo-tse") -> Path:
    text = (SUITE_DIR / f"{base}.toml").read_text()
    assert old in text, old
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old, new, field_name, what", [
    ("sample_rate = 8000", 'sample_rate = "8k"', "contract.sample_rate", "expected an integer"),
    ("sample_rate = 8000", "sample_rate = 10", "contract.sample_rate", "outside"),
    ("sample_rate = 8000", "sample_rate = 16000", "contract.sample_rate", "fs 8000"),
    ("clip_seconds = 2.0", "clip_seconds = 4.0", "contract.clip_seconds", "duration_s 2.0"),
    ("max_objects = 3", "max_objects = 2", "contract.max_objects", "3 sources"),
    ('manifest_version = "1.0"', 'manifest_version = "9.9"', "manifest_version", "version '1.0'"),
    ('manifest = "demo"', 'manifest = "nosuchmanifest"', "manifest", "not found"),
    ('test = "test"', 'test = "exam"', "splits.test", "not a split"),
    ('task = "tse"', 'task = "asr"', "tasks[0].task", "is not one of"),
    ('id = "tse"', 'id = "../tse"', "tasks[0].id", "names a file"),
    ("higher_is_better = true", 'higher_is_better = "yes"', "tasks[0].higher_is_better", "true or false"),
    ('options = { target = "full"', 'options = { split = "train", target = "full"', "tasks[0].options.split",
     "set by evaluate"),
    ('leaderboard = "demo-tse"', 'leaderboard = "demo-tse"\ncolour = 1', "colour", "unknown key"),
    ('name = "demo-tse"\n', "", "name", "missing"),
])
def test_a_bad_field_is_named_with_its_file(tmp_path, old, new, field_name, what):
    path = _variant(tmp_path, old, new)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(f"{path}: field '{field_name}': "), message
    assert what in message


def test_two_entries_with_one_id_are_refused(tmp_path):
    text = (SUITE_DIR / "demo-multitask.toml").read_text().replace('id = "uss"', 'id = "seld"')
    path = tmp_path / "dup.toml"
    path.write_text(text)
    with pytest.raises(SuiteError, match=r"field 'tasks\[1\]\.id': id 'seld' is used twice"):
        load_suite(path)


@pytest.mark.parametrize("old, new, field_name, what", [
    ("spatial = true", "spatial = true, colour = 3", "tasks[0].options.colour", "not an option of the scorer"),
    ('target = "full"', 'target = "wet"', "tasks[0].options.target", "is not one of 'full', 'direct'"),
    ("spatial = true", 'spatial = "on"', "tasks[0].options.spatial", "true or false"),
    ('main_score = "si_sdr_i"', 'main_score = "pesq"', "tasks[0].main_score", "not a tse metric"),
])
def test_scorer_options_and_main_score_are_checked_against_the_scorer(tmp_path, old, new, field_name, what):
    suite = load_suite(_variant(tmp_path, old, new))  # structurally valid
    with pytest.raises(SuiteError) as info:
        check_scorer(suite)
    assert str(info.value).startswith(f"{suite.path}: field '{field_name}': ")
    assert what in str(info.value)


def test_seld_mode_is_checked_against_the_scorer(tmp_path):
    suite = load_suite(_variant(tmp_path, 'seld_mode = "default"', 'seld_mode = "dcase1999"', "demo-multitask"))
    with pytest.raises(SuiteError, match=r"field 'tasks\[2\]\.options\.seld_mode': 'dcase1999' is not one of"):
        check_scorer(suite)


def test_the_hash_follows_the_bytes(tmp_path):
    a = _variant(tmp_path, "# Small", "# Small")
    before = load_suite(a).sha256
    a.write_text(a.read_text() + "# a comment changes the file, so its hash\n")
    after = load_suite(a)
    assert after.sha256 != before
    assert after.sha256 == hashlib.sha256(a.read_bytes()).hexdigest()
    assert after.to_dict() == load_suite("demo-tse").to_dict()  # same content otherwise


def test_path_and_hash_cannot_be_set_by_the_file(tmp_path):
    path = _variant(tmp_path, 'name = "demo-tse"', 'name = "demo-tse"\nsha256 = "0"')
    with pytest.raises(SuiteError, match="field 'sha256': unknown key"):
        load_suite(path)


def test_cli_lists_the_eight_suites(capsys):
    assert main(["suites"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED


def test_cli_shows_one_suite_with_its_hash(capsys):
    assert main(["suites", "asa2-static-tse"]) == 0
    out = capsys.readouterr().out
    assert load_suite("asa2-static-tse").sha256 in out
    assert "16000 Hz, 4 channels, 4 s clips (64000 samples)" in out


def test_cli_bad_suite_exits_2_with_one_line(tmp_path, capsys):
    path = _variant(tmp_path, "max_objects = 3", "max_objects = 0")
    assert main(["suites", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"asabench suites: {path}: field 'contract.max_objects': 0 is outside [1, 64]"]
    assert main(["suites", str(tmp_path / "none.toml")]) == 2


def test_a_missing_field_of_an_entry_is_named(tmp_path):
    path = _variant(tmp_path, 'main_score = "si_sdr_i"\n', "")
    with pytest.raises(SuiteError, match=r"bad\.toml: field 'tasks\[0\]\.main_score': required field is missing"):
        load_suite(path)
