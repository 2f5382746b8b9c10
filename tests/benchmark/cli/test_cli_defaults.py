"""Library and CLI have the same defaults: a command run with no options calls its job with
exactly the job's own defaults (today's drift was `score`'s workers and precision)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import asabench.benchmark.cli.dataset as dataset_cli
import asabench.benchmark.cli.demo as demo_cli
import asabench.benchmark.cli.prepare as prepare_cli
import asabench.benchmark.cli.rir as rir_cli
import asabench.benchmark.cli.simulate as simulate_cli
from asabench.benchmark import scoring
from asabench.benchmark.cli import main
from asabench.benchmark.demo import run_demo
from asabench.simulate.dataset.build import render_spec_to, simulate_dataset
from asabench.simulate.dataset.verify import verify_dataset
from asabench.simulate.export.asa2 import export_asa2
from asabench.simulate.rir.files import render_rirs_to_files
from asabench.simulate.sources.prepare import prepare


class _Called(Exception):
    pass


def _record(monkeypatch, module, name: str) -> dict:
    seen: dict = {}

    def job(*args, **kwargs):
        seen["args"], seen["kwargs"] = args, kwargs
        raise _Called

    job.__signature__ = inspect.signature(getattr(module, name))  # type: ignore[attr-defined]
    monkeypatch.setattr(module, name, job)
    return seen


def _bound(func, seen: dict) -> dict:
    """The call's arguments by parameter name (positional ones included)."""
    return dict(inspect.signature(func).bind(*seen["args"], **seen["kwargs"]).arguments)


def _assert_library_defaults(func, seen: dict, skip: tuple[str, ...] = ()) -> None:
    params = inspect.signature(func).parameters
    bound = _bound(func, seen)
    compared = 0
    for name, value in bound.items():
        default = params[name].default
        if default is inspect.Parameter.empty or name in skip:
            continue
        assert value == default, (func.__name__, name, value, default)
        compared += 1
    assert compared >= 1


def test_score_defaults(monkeypatch, tmp_path, reference):
    seen = _record(monkeypatch, scoring, "score")
    with pytest.raises(_Called):
        main(["score", "--task", "uss", "--reference", str(reference), "--oracle", "mixture",
              "--out", str(tmp_path / "r.json")])
    _assert_library_defaults(_SCORE, seen, skip=("oracle",))  # oracle: given on the command line
    assert set(_bound(_SCORE, seen)) >= {"workers", "spatial_precision", "seld_mode", "average", "split",
                                         "target", "bss_eval", "spatial", "alpha", "separation_convention",
                                         "spatial_definition"}


_SCORE = scoring.score


def test_simulate_defaults(monkeypatch, tmp_path):
    seen = _record(monkeypatch, simulate_cli, "simulate_dataset")
    with pytest.raises(_Called):
        main(["simulate", "demo", "--split", "test", "--out", str(tmp_path / "ds")])
    _assert_library_defaults(simulate_dataset, seen, skip=("progress",))  # progress: the CLI's --quiet
    assert set(_bound(simulate_dataset, seen)) >= {"start", "num", "shard", "sources", "noise", "workers",
                                                   "device", "backend", "crossfade"}


def test_render_defaults(monkeypatch, tmp_path, reference):
    seen = _record(monkeypatch, simulate_cli, "render_spec_to")
    with pytest.raises(_Called):
        main(["render", str(reference / "test" / "test-000000" / "spec.json"), "--out", str(tmp_path / "s")])
    _assert_library_defaults(render_spec_to, seen)
    assert set(_bound(render_spec_to, seen)) >= {"sources", "noise", "device"}


def test_verify_and_export_defaults(monkeypatch, tmp_path, reference):
    seen = _record(monkeypatch, dataset_cli, "verify_dataset")
    with pytest.raises(_Called):
        main(["verify", str(reference)])
    _assert_library_defaults(verify_dataset, seen)
    assert set(_bound(verify_dataset, seen)) >= {"manifest", "splits", "start", "num", "check_audio", "workers"}
    seen = _record(monkeypatch, dataset_cli, "export_asa2")
    with pytest.raises(_Called):
        main(["export", str(reference), "--out", str(tmp_path / "asa2")])
    _assert_library_defaults(export_asa2, seen)


def test_prepare_defaults(monkeypatch, tmp_path):
    (tmp_path / "corpus").mkdir()
    seen = _record(monkeypatch, prepare_cli, "prepare")
    with pytest.raises(_Called):
        main(["prepare", str(tmp_path / "corpus"), "--layout", "classfolders", "--out", str(tmp_path / "i.json")])
    _assert_library_defaults(prepare, seen)
    assert set(_bound(prepare, seen)) >= {"on_bad", "index_file", "min_duration_s", "silence_peak", "workers"}


def test_rir_defaults(monkeypatch, tmp_path):
    seen = _record(monkeypatch, rir_cli, "render_rirs_to_files")
    with pytest.raises(_Called):
        main(["rir", "--source", "1", "1", "1", "--out", str(tmp_path / "r.npz")])
    bound = _bound(render_rirs_to_files, seen)
    params = inspect.signature(render_rirs_to_files).parameters
    assert list(bound["room_dim"]) == list(params["room_dim"].default)
    assert bound["mics"] is None  # the library's tetrahedral array at the room centre
    _assert_library_defaults(render_rirs_to_files, seen, skip=("room_dim",))
    assert len(bound) == len(params)  # every option is passed through


def test_demo_defaults(monkeypatch, tmp_path):
    seen = _record(monkeypatch, demo_cli, "run_demo")
    with pytest.raises(_Called):
        main(["demo", "--out", str(tmp_path / "demo")])
    _assert_library_defaults(run_demo, seen, skip=("log",))
    assert Path(_bound(run_demo, seen)["out"]) == tmp_path / "demo"


def test_fidelity_default_seconds(monkeypatch):
    import asabench.benchmark.fidelity as fidelity

    default = inspect.signature(fidelity.build_table).parameters["seconds"].default
    seen = _record(monkeypatch, fidelity, "build_table")
    with pytest.raises(_Called):
        main(["fidelity"])
    assert seen["kwargs"]["seconds"] == default
