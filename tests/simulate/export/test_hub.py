"""Hugging Face repository folders: materialise -> load_dataset / SceneDataset / load_hub equal
to the source; the dataset card; the upload against a recording client; token and network
failures leave the folder intact and the upload resumable."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

pytest.importorskip("pyarrow")
datasets = pytest.importorskip("datasets")

from asabench.simulate import load_hub  # noqa: E402
from asabench.simulate.dataset.build import simulate_dataset  # noqa: E402
from asabench.simulate.dataset.format import DatasetFormatError, read_index  # noqa: E402
from asabench.simulate.dataset.labels_csv import read_label_csv  # noqa: E402
from asabench.simulate.dataset.loader import SceneDataset  # noqa: E402
from asabench.simulate.export import hub  # noqa: E402
from asabench.simulate.export.asa2 import export_asa2, list_asa2_scenes  # noqa: E402
from asabench.simulate.io.wav import read_wav  # noqa: E402

REPO = "asabench-test/demo"


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    base = tmp_path_factory.mktemp("hub")
    out = {}
    for fmt in ("float32", "flac", "pcm16"):
        simulate_dataset("demo", "test", base / fmt, num=3, audio_format=fmt)
        if fmt == "float32":
            simulate_dataset("demo", "validation", base / fmt, num=2, audio_format=fmt)
        out[fmt] = (base / fmt, base / f"{fmt}-hub")
        hub.materialise_hub(base / fmt, base / f"{fmt}-hub", repo_id=REPO)
    export_asa2(base / "float32", base / "asa2", split_map={"test": "test"})
    out["asa2"] = base / "asa2"
    return out


def _decode(cell: dict) -> np.ndarray:
    x, _ = sf.read(io.BytesIO(cell["bytes"]), dtype="float32", always_2d=True)
    return x.T


def test_folder_layout_and_card(made):
    src, folder = made["float32"]
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert names == ["README.md", "asabench-hub.json", "data/test-00000-of-00001.parquet",
                     "data/validation-00000-of-00001.parquet"]
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["license"] == "mit"  # built-in procedural banks only
    assert header["configs"] == [{"config_name": "default", "data_files": [
        {"split": "test", "path": "data/test-*.parquet"},
        {"split": "validation", "path": "data/validation-*.parquet"}]}]
    assert [(s["name"], s["num_examples"]) for s in header["dataset_info"]["splits"]] == [("test", 3), ("validation", 2)]
    features = {f["name"]: f for f in header["dataset_info"]["features"]}
    assert features["mixture"]["dtype"] == {"audio": {"sampling_rate": 8000, "decode": False}}
    info = json.loads((src / "dataset.json").read_text())
    record = json.loads((folder / "asabench-hub.json").read_text())
    assert info["manifest_sha256"] in text and f"seed: {info['manifest']['seed']}" in text
    assert record["dataset"] == info and record["audio_format"] == "float32"
    shard = record["shards"]["test"][0]
    assert shard["sha256"] == hashlib.sha256((folder / shard["path"]).read_bytes()).hexdigest()
    assert shard["sha256"] in text
    assert "Lee, Dongheon" in text and "Choi, Dayun" in text  # the two papers
    assert "decode the bytes yourself" in text.lower() and "soundfile" in text


def test_load_dataset_keeps_four_channels_and_the_exact_float32_samples(made, tmp_path):
    src, folder = made["float32"]
    ds = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    assert sorted(ds) == ["test", "validation"] and ds["test"].num_rows == 3
    records = {r.id: r for r in read_index(src)}
    for row in ds["test"]:
        rec = records[row["id"]]
        mix = _decode(row["mixture"])
        assert mix.shape == (4, 16000)
        assert np.array_equal(mix, read_wav(src / rec.files.mixture.path)[0])
        assert len(row["direct"]) == rec.num_sources == row["num_sources"]
        for k in range(rec.num_sources):
            assert np.array_equal(_decode(row["direct"][k]), read_wav(src / rec.files.direct[k].path)[0])
            assert np.array_equal(_decode(row["reverb"][k]), read_wav(src / rec.files.reverb[k].path)[0])
        assert np.array_equal(_decode(row["noise"]), read_wav(src / rec.files.noise.path)[0])
        labels = read_label_csv(src / rec.files.labels.path)
        got = np.stack([row[c] for c in ("label_frame", "label_class", "label_track", "label_azimuth",
                                         "label_elevation", "label_distance_cm")], axis=1)
        assert np.array_equal(got.reshape(-1, 6), labels)
        assert row["sha256"] == [e.sha256 for _, e in rec.files.all()]
        assert hashlib.sha256(row["mixture"]["bytes"]).hexdigest() == rec.files.mixture.sha256
        assert json.loads(row["spec"])["id"] == rec.id and row["classes"] == list(rec.classes)
    assert not (folder / ".cache").exists()  # reading wrote nothing into the folder


@pytest.mark.parametrize("fmt", ["flac", "pcm16"])
def test_load_dataset_flac_and_pcm16_equal_the_pcm16_export_bit_exact(made, tmp_path, fmt):
    _, folder = made[fmt]
    scenes = list_asa2_scenes(made["asa2"], "test")
    ds = datasets.load_dataset(str(folder), split="test", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == len(scenes) == 3
    for row, scene in zip(ds, scenes):
        assert np.array_equal(_decode(row["mixture"]), read_wav(scene.mixture)[0])
        for k in range(scene.num_sources):
            assert np.array_equal(_decode(row["direct"][k]), read_wav(scene.anechoic[k])[0])
            assert np.array_equal(_decode(row["reverb"][k]), read_wav(scene.reverb[k])[0])


def test_datasets_audio_decoding_keeps_four_channels_when_available(made, tmp_path):
    pytest.importorskip("torchcodec", reason="datasets' Audio decoding needs torchcodec (not installed)")
    _, folder = made["flac"]
    ds = datasets.load_dataset(str(folder), split="test", cache_dir=str(tmp_path / "cache"))
    ds = ds.cast_column("mixture", datasets.Audio(decode=True))
    decoded = ds[0]["mixture"]
    samples = decoded.get_all_samples().data if hasattr(decoded, "get_all_samples") else decoded["array"]
    assert tuple(samples.shape)[0] == 4


@pytest.mark.parametrize("fmt", ["float32", "flac"])
def test_scene_dataset_and_load_hub_return_the_local_tensors(made, fmt):
    src, folder = made[fmt]
    local = SceneDataset(src)
    for published in (SceneDataset(folder), load_hub(folder)):
        assert published.layout == "hub" and published.ids == local.ids
        for i in range(len(local)):
            a, b = local[i], published[i]
            assert a.keys() == b.keys()
            for key, value in a.items():
                assert torch.equal(value, b[key]) if isinstance(value, torch.Tensor) else value == b[key], key
    assert load_hub(folder, "validation" if fmt == "float32" else "test", targets=False)[0].keys() >= {"mixture", "sed"}


def test_shards_are_bounded(made, tmp_path):
    src, _ = made["float32"]
    rows = hub.materialise_hub(src, tmp_path / "small", repo_id=REPO, max_shard_bytes=600_000)
    record = json.loads((tmp_path / "small" / "asabench-hub.json").read_text())
    sizes = [s["rows"] for s in record["shards"]["test"]]
    assert len(sizes) > 1 and sum(sizes) == 3 and rows.scenes == {"test": 3, "validation": 2}
    names = [s["path"] for s in record["shards"]["test"]]
    assert names == [f"data/test-{k:05d}-of-{len(sizes):05d}.parquet" for k in range(len(sizes))]
    assert SceneDataset(tmp_path / "small").ids == SceneDataset(src).ids


def test_a_changed_source_file_stops_before_anything_is_written(made, tmp_path):
    import shutil

    src = tmp_path / "src"
    shutil.copytree(made["float32"][0], src)
    rec = read_index(src)[2]
    (src / rec.files.reverb[0].path).write_bytes(b"RIFF")
    with pytest.raises(DatasetFormatError) as err:
        hub.materialise_hub(src, tmp_path / "out", repo_id=REPO)
    assert err.value.field == "sha256" and rec.files.reverb[0].path in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


class RecordingClient:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", dict(kw, repo_id=repo_id)))

    def create_branch(self, repo_id, **kw):
        self.calls.append(("create_branch", dict(kw, repo_id=repo_id)))

    def upload_large_folder(self, **kw):
        self.calls.append(("upload_large_folder", kw))
        if self.fail is not None:
            raise self.fail


def test_upload_calls_the_resumable_large_folder_upload(made):
    _, folder = made["flac"]
    client = RecordingClient()
    hub.upload_hub(folder, REPO, revision="v1", private=True, client=client)
    assert [c[0] for c in client.calls] == ["create_repo", "create_branch", "upload_large_folder"]
    assert client.calls[0][1] == {"repo_id": REPO, "repo_type": "dataset", "private": True, "exist_ok": True}
    assert client.calls[1][1]["branch"] == "v1"
    up = client.calls[2][1]
    assert (up["repo_id"], up["folder_path"], up["repo_type"], up["revision"]) == (REPO, str(folder), "dataset", "v1")


@pytest.fixture
def cli(capsys):
    from asabench.benchmark.cli import main

    def run(*argv):
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err.splitlines()

    return run


def test_cli_dry_run_materialises_without_uploading(made, tmp_path, cli, monkeypatch):
    src, folder = made["flac"]
    monkeypatch.setattr(hub, "_default_client", lambda token: pytest.fail("no upload on --dry-run"))
    code, out, err = cli("publish", src, "--repo-id", REPO, "--dry-run", "--out", tmp_path / "pub")
    assert (code, err) == (0, [])
    assert "3 scenes in 1 parquet shard(s)" in out
    assert _hashes(tmp_path / "pub") == _hashes(folder)  # materialising is deterministic


def test_cli_missing_token_exits_2_and_keeps_the_folder(made, tmp_path, cli, monkeypatch):
    src, _ = made["flac"]
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    code, _, err = cli("publish", src, "--repo-id", REPO, "--out", tmp_path / "pub")
    assert code == 2 and len(err) == 1
    assert err[0].startswith("asabench publish: no Hugging Face token")
    assert (tmp_path / "pub" / "asabench-hub.json").is_file()


def test_cli_network_failure_exits_1_and_a_rerun_resumes(made, tmp_path, cli, monkeypatch):
    src, _ = made["flac"]
    failing = RecordingClient(fail=ConnectionError("Max retries exceeded with url: /api/datasets"))
    monkeypatch.setattr(hub, "_default_client", lambda token: failing)
    code, _, err = cli("publish", src, "--repo-id", REPO, "--out", tmp_path / "pub")
    assert code == 1 and len(err) == 1
    assert "ConnectionError: Max retries exceeded" in err[0] and "rerun the same command to resume" in err[0]
    before = _hashes(tmp_path / "pub")
    (tmp_path / "pub" / ".cache" / "huggingface").mkdir(parents=True)  # upload_large_folder's progress
    (tmp_path / "pub" / ".cache" / "huggingface" / "progress").write_text("3 of 5 files")
    working = RecordingClient()
    monkeypatch.setattr(hub, "_default_client", lambda token: working)
    code, out, err = cli("publish", src, "--repo-id", REPO, "--out", tmp_path / "pub")
    assert (code, err) == (0, [])
    assert "reused" in out and "uploaded to https://huggingface.co/datasets/" + REPO in out
    assert [c[0] for c in working.calls] == ["create_repo", "upload_large_folder"]
    after = _hashes(tmp_path / "pub")
    assert after.pop(".cache/huggingface/progress") and after == before  # the upload's progress kept


def test_cli_refuses_a_foreign_out_folder_and_a_bad_repo_id(made, tmp_path, cli):
    src, _ = made["flac"]
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, _, err = cli("publish", src, "--repo-id", REPO, "--dry-run", "--out", foreign)
    assert code == 2 and len(err) == 1 and "is not this dataset's materialised folder" in err[0]
    assert _hashes(foreign) == {"notes.txt": hashlib.sha256(b"mine").hexdigest()}
    code, _, err = cli("publish", src, "--repo-id", "no-slash", "--dry-run", "--out", tmp_path / "x")
    assert code == 2 and "expected ORG/NAME" in err[0] and not (tmp_path / "x").exists()
    code, _, err = cli("publish", src, "--repo-id", REPO, "--dry-run", "--out", src / "inside")
    assert code == 2 and not (src / "inside").exists()
