"""Storage formats of a dataset (float32, pcm16, flac): encoding, byte-identical regeneration,
read-back equal to the PCM16 export, dataset.json records, verify and export."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asabench.simulate.dataset.build import simulate_dataset
from asabench.simulate.dataset.format import DatasetFormatError, read_dataset_info, read_index
from asabench.simulate.dataset.loader import SceneDataset
from asabench.simulate.dataset.verify import verify_dataset
from asabench.simulate.dataset.writer import init_dataset
from asabench.simulate.export.asa2 import export_asa2, list_asa2_scenes
from asabench.simulate.io.wav import (
    AUDIO_FORMATS,
    WavError,
    encode_audio,
    flac_bytes,
    float_to_pcm16,
    pcm16_wav_bytes,
    read_wav,
    wav_bytes,
    wav_info,
)
from asabench.simulate.manifest import load_manifest

NUM = 3  # demo test scenes per dataset


def _tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("formats")
    out = {}
    for fmt in AUDIO_FORMATS:
        summary = simulate_dataset("demo", "test", base / fmt, num=NUM, audio_format=fmt)
        assert summary.written == NUM and not summary.failed
        out[fmt] = base / fmt
    return out


# ----------------------------------------------------------------------------- encoding


def test_pcm16_rounds_at_the_common_scale_and_refuses_to_clip():
    x = np.array([[0.5, -0.5, 1 / 65536, 3 / 65536, -1.0, 32767 / 32768]], dtype=np.float32)
    # 1/65536 * 32768 = 0.5 rounds to even (0); 3/65536 -> 1.5 -> 2.
    assert float_to_pcm16(x).tolist() == [[16384, -16384, 0, 2, -32768, 32767]]
    with pytest.raises(WavError) as err:
        float_to_pcm16(np.array([[0.2, 1.0]], dtype=np.float32), what="scene-7: mixture.wav")
    assert str(err.value).startswith("scene-7: mixture.wav: peak 1.000000 does not fit in 16-bit PCM")
    assert err.value.field == "samples"
    with pytest.raises(WavError, match="does not fit"):
        float_to_pcm16(np.array([[np.nan]], dtype=np.float32))


def test_encode_float32_is_the_float_wav_writer_and_flac_decodes_to_the_pcm16_samples(rng):
    x = (rng.standard_normal((4, 800)) * 0.1).astype(np.float32)
    assert encode_audio(x, 8000, "float32") == wav_bytes(x, 8000)
    pcm = float_to_pcm16(x)
    assert encode_audio(x, 8000, "pcm16") == pcm16_wav_bytes(pcm, 8000)
    flac = encode_audio(x, 8000, "flac")
    assert flac[:4] == b"fLaC" and flac == flac_bytes(pcm, 8000) == encode_audio(x, 8000, "flac")
    got, fs = sf.read(__import__("io").BytesIO(flac), dtype="int16", always_2d=True)
    assert fs == 8000 and got.shape == (800, 4) and np.array_equal(got.T, pcm)
    with pytest.raises(ValueError, match="'mp3' is not an audio format"):
        encode_audio(x, 8000, "mp3")
    with pytest.raises(TypeError, match="int16"):
        flac_bytes(x, 8000)


# ----------------------------------------------------------------------------- datasets


def test_each_format_is_recorded_named_and_typed(datasets):
    for fmt, root in datasets.items():
        info = read_dataset_info(root)
        assert info.audio_format == fmt
        raw = json.loads((root / "dataset.json").read_text())
        # float32 datasets keep the dataset.json they had before the formats existed
        assert raw.get("audio_format") == (None if fmt == "float32" else fmt)
        rec = read_index(root)[0]
        suffix = ".flac" if fmt == "flac" else ".wav"
        assert rec.files.mixture.path.endswith("mixture" + suffix)
        meta = wav_info(root / rec.files.direct[0].path)
        assert (meta.subtype, meta.channels) == ({"float32": "FLOAT", "pcm16": "PCM_16", "flac": "PCM_16"}[fmt], 4)
        assert verify_dataset(root, splits=["test"], num=NUM).ok


def test_float32_files_are_the_float_wav_bytes(datasets):
    root = datasets["float32"]
    rec = read_index(root)[0]
    data = (root / rec.files.mixture.path).read_bytes()
    x, fs = read_wav(root / rec.files.mixture.path)
    assert data == wav_bytes(x, fs)


def test_pcm16_and_flac_read_back_equal_to_the_pcm16_export_bit_exact(datasets, tmp_path):
    export_asa2(datasets["float32"], tmp_path / "asa2", split_map={"test": "test"})
    scenes = list_asa2_scenes(tmp_path / "asa2", "test")
    assert len(scenes) == NUM
    for fmt in ("pcm16", "flac"):
        ds = SceneDataset(datasets[fmt])
        for k, scene in enumerate(scenes):
            item = ds[k]
            ref, _ = read_wav(scene.mixture)
            assert np.array_equal(item["mixture"].numpy(), ref)
            for i in range(scene.num_sources):
                assert np.array_equal(item["direct"][i].numpy(), read_wav(scene.anechoic[i])[0])
                assert np.array_equal(item["reverb"][i].numpy(), read_wav(scene.reverb[i])[0])
    # and within half a quantisation step of the float32 renders
    a, b = SceneDataset(datasets["float32"])[0], SceneDataset(datasets["pcm16"])[0]
    assert float((a["mixture"] - b["mixture"]).abs().max()) <= 2.0 ** -16
    assert a["sed"].equal(b["sed"]) and a["doa"].equal(b["doa"])


def test_regeneration_is_byte_identical_per_format(datasets, tmp_path):
    for fmt in ("pcm16", "flac"):
        again = tmp_path / fmt
        simulate_dataset("demo", "test", again, num=NUM, audio_format=fmt)
        assert _tree_hashes(again) == _tree_hashes(datasets[fmt])


@pytest.mark.slow
def test_flac_with_two_workers_is_byte_identical_to_one(datasets, tmp_path):
    simulate_dataset("demo", "test", tmp_path / "w2", num=NUM, audio_format="flac", workers=2)
    assert _tree_hashes(tmp_path / "w2") == _tree_hashes(datasets["flac"])


def test_a_folder_holds_one_format(datasets):
    m = load_manifest("demo")
    info = read_dataset_info(datasets["flac"])
    before = (datasets["flac"] / "dataset.json").read_bytes()
    with pytest.raises(DatasetFormatError) as err:
        init_dataset(datasets["flac"], m, info.sources, info.noise, audio_format="pcm16")
    assert err.value.field == "audio_format" and "'flac'" in str(err.value)
    assert (datasets["flac"] / "dataset.json").read_bytes() == before


def test_bad_audio_format_in_dataset_json_is_named(tmp_path, datasets):
    root = tmp_path / "bad"
    root.mkdir()
    obj = json.loads((datasets["flac"] / "dataset.json").read_text())
    obj["audio_format"] = "ogg"
    (root / "dataset.json").write_text(json.dumps(obj))
    with pytest.raises(DatasetFormatError) as err:
        read_dataset_info(root)
    assert err.value.field == "audio_format" and "'ogg'" in str(err.value)


def test_verify_flags_an_altered_flac_file(datasets, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(datasets["flac"], root)
    rec = read_index(root)[1]
    path = root / rec.files.reverb[0].path
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    report = verify_dataset(root, splits=["test"], num=NUM)
    assert not report.ok
    assert [p.path for p in report.altered_files] == [rec.files.reverb[0].path]


def test_export_in_flac_reads_back_as_the_pcm16_export(datasets, tmp_path):
    export_asa2(datasets["float32"], tmp_path / "wav", split_map={"test": "test"})
    export_asa2(datasets["flac"], tmp_path / "flac", split_map={"test": "test"}, audio_format="flac")
    a, b = list_asa2_scenes(tmp_path / "wav", "test"), list_asa2_scenes(tmp_path / "flac", "test")
    assert [s.mixture.suffix for s in b] == [".flac"] * NUM
    for x, y in zip(a, b):
        assert np.array_equal(read_wav(x.mixture)[0], read_wav(y.mixture)[0])
        assert np.array_equal(read_wav(x.reverb[-1])[0], read_wav(y.reverb[-1])[0])
    record = json.loads((tmp_path / "flac" / "asabench-export.json").read_text())
    assert record["audio_format"] == "flac"
    assert "audio_format" not in json.loads((tmp_path / "wav" / "asabench-export.json").read_text())


def test_cli_simulate_and_export_take_the_audio_format(tmp_path, capsys):
    from asabench.benchmark.cli import main

    assert main(["simulate", "demo", "--split", "test", "--num", "1", "--out", str(tmp_path / "d"),
                 "--audio-format", "pcm16", "--quiet"]) == 0
    assert read_dataset_info(tmp_path / "d").audio_format == "pcm16"
    assert main(["export", str(tmp_path / "d"), "--out", str(tmp_path / "e"), "--map", "test=test",
                 "--audio-format", "flac"]) == 0
    assert (tmp_path / "e" / "test" / "mixed" / "0.flac").is_file()
    with pytest.raises(SystemExit) as err:
        main(["simulate", "demo", "--split", "test", "--out", str(tmp_path / "x"), "--audio-format", "mp3"])
    assert err.value.code == 2 and not (tmp_path / "x").exists()
    assert "invalid choice: 'mp3'" in capsys.readouterr().err
