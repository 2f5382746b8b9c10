"""Export to the published ASA2 layout: file names, 16-bit PCM, CSV conventions, no clipping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asabench.simulate.export.asa2 import (
    Asa2FormatError,
    dcase_labels_to_asa2_rows,
    export_asa2,
    export_plan,
    list_asa2_scenes,
    read_asa2_info,
)
from asabench.simulate.dataset.format import read_index, sha256_file
from asabench.simulate.testing.dummies import make_dummy_dataset
from asabench.simulate.dataset.labels_csv import read_label_csv

FS = 8000
SECONDS = 0.4

# Independent restatement of the reference notes (simulation.md sections 1 and 5).
DCASE_NAMES = ["female speech", "male speech", "clapping", "telephone", "laughter",
               "domestic sounds", "walk/footsteps", "door", "music", "musical instrument",
               "water tap", "bell", "knock"]
ASA2_NAMES = ["domestic sounds", "male speech", "musical instrument", "clapping", "music",
              "laughter", "walk/footsteps", "knock", "water tap", "door", "female speech",
              "bell", "telephone"]


@pytest.fixture()
def exported(tmp_path: Path):
    src = tmp_path / "ds"
    make_dummy_dataset(src, {"train": 2, "validation": 1, "test": 2}, [2, 3, 4, 5, 2], FS,
                       SECONDS, np.random.default_rng(3))
    out = tmp_path / "asa2"
    summary = export_asa2(src, out, include_validation=True)
    return src, out, summary


def test_file_names_and_split_mapping(exported):
    src, out, summary = exported
    records = {r.id: r for r in read_index(src)}
    assert summary.placement == {"train-000000": "dev/0", "train-000001": "dev/1",
                                 "validation-000000": "validation/0", "test-000000": "test/0",
                                 "test-000001": "test/1"}
    expected = {"asabench-export.json"}
    for sid, place in summary.placement.items():
        folder, idx = place.split("/")
        expected |= {f"{folder}/mixed/{idx}.wav", f"{folder}/info/{idx}.csv"}
        for i in range(records[sid].num_sources):
            expected |= {f"{folder}/anechoic/{idx}/{i}.wav", f"{folder}/reverb/{idx}/{i}.wav"}
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == expected
    assert [s.idx for s in list_asa2_scenes(out, "dev")] == [0, 1]
    assert [s.num_sources for s in list_asa2_scenes(out, "dev")] == [2, 3]
    assert [s.num_sources for s in list_asa2_scenes(out, "validation")] == [4]


def test_audio_is_16bit_pcm_at_the_common_scale(exported):
    src, out, summary = exported
    for rec in read_index(src):
        folder, idx = summary.placement[rec.id].split("/")
        pairs = [(rec.files.mixture.path, f"{folder}/mixed/{idx}.wav")]
        pairs += [(f.path, f"{folder}/anechoic/{idx}/{i}.wav") for i, f in enumerate(rec.files.direct)]
        pairs += [(f.path, f"{folder}/reverb/{idx}/{i}.wav") for i, f in enumerate(rec.files.reverb)]
        for ours, theirs in pairs:
            meta = sf.info(str(out / theirs))
            assert (meta.subtype, meta.channels, meta.samplerate) == ("PCM_16", 4, FS)
            original, _ = sf.read(src / ours, dtype="float64")
            ints, _ = sf.read(out / theirs, dtype="int16")
            np.testing.assert_array_equal(ints, np.rint(original * 32768).astype(np.int16))
            back, _ = sf.read(out / theirs, dtype="float64")
            assert np.abs(back - original).max() <= 0.5 / 32768 + 1e-12


def test_info_csv_conventions(exported):
    src, out, summary = exported
    for rec in read_index(src):
        folder, idx = summary.placement[rec.id].split("/")
        path = out / folder / "info" / f"{idx}.csv"
        lines = path.read_text().splitlines()
        assert lines[0] == "time,src_idx,class,azimuth,elevation"
        rows = np.array([[int(v) for v in line.split(",")] for line in lines[1:]])
        labels = read_label_csv(src / rec.files.labels.path)
        assert len(rows) == len(labels)
        # Sorted by time then source, as the authors' generator does.
        assert [tuple(r[:2]) for r in rows] == sorted(tuple(r[:2]) for r in rows)
        theirs = {(r[0], r[1]): r for r in rows}
        for frame, cls, track, az, el, _dist in labels:
            t, i, c, a, polar = theirs[(frame, track)]
            assert ASA2_NAMES[c] == DCASE_NAMES[cls]
            assert a == az
            assert polar == 90 - el and 0 <= polar <= 180


def test_class_mapping_for_every_class():
    labels = np.array([[0, k, k, 10, 30, 100] for k in range(13)])
    rows = dcase_labels_to_asa2_rows(labels)
    for dcase_id, asa2_id in zip(labels[:, 1], rows[:, 2]):
        assert ASA2_NAMES[asa2_id] == DCASE_NAMES[dcase_id]
    # Elevation +90 (up) is polar 0, -90 (down) is polar 180.
    up_down = dcase_labels_to_asa2_rows(np.array([[0, 0, 0, 0, 90, 1], [1, 0, 0, 0, -90, 1]]))
    assert up_down[:, 4].tolist() == [0, 180]


def test_reader_accepts_published_float_rows_and_rejects_bad_files(tmp_path):
    good = tmp_path / "0.csv"
    good.write_text("time,src_idx,class,azimuth,elevation\r\n3.0,0.0,10.0,-45.0,120.0\r\n")
    np.testing.assert_array_equal(read_asa2_info(good), [[3, 0, 10, -45, 120]])
    bad_header = tmp_path / "1.csv"
    bad_header.write_text("frame,class,track,azimuth,elevation\n0,0,0,0,0\n")
    with pytest.raises(Asa2FormatError, match=r"1\.csv:1: .*header"):
        read_asa2_info(bad_header)
    bad_value = tmp_path / "2.csv"
    bad_value.write_text("time,src_idx,class,azimuth,elevation\n0,0,0,0,0\n1,0,0,0,190\n")
    with pytest.raises(Asa2FormatError, match=r"2\.csv:3: field 'elevation'"):
        read_asa2_info(bad_value)


def _rewrite_indexed(src, victim, write) -> None:
    """Change a listed file and record its new hash in index.jsonl (a consistent dataset)."""
    old = sha256_file(victim)
    write()
    new = sha256_file(victim)
    for path in (src / "index.jsonl", victim.parents[1] / "complete.json"
                 if victim.parent.name in ("direct", "reverb") else victim.parent / "complete.json"):
        path.write_text(path.read_text().replace(old, new))


def test_clipping_is_refused_and_nothing_of_the_scene_is_written(tmp_path):
    src = tmp_path / "ds"
    records = make_dummy_dataset(src, 2, 2, FS, SECONDS, np.random.default_rng(4))
    victim = src / records[1].files.direct[1].path
    audio, _ = sf.read(victim, dtype="float32")
    audio[5, 2] = 1.0  # 32768 does not fit in int16
    _rewrite_indexed(src, victim, lambda: sf.write(victim, audio, FS, subtype="FLOAT"))
    out = tmp_path / "asa2"
    with pytest.raises(Asa2FormatError, match=r"direct/1\.wav.*16-bit"):
        export_asa2(src, out)
    assert (out / "test" / "mixed" / "0.wav").is_file()
    assert not (out / "test" / "mixed" / "1.wav").exists()
    assert not (out / "test" / "info" / "1.csv").exists()
    # Exactly the largest representable value passes.
    audio[5, 2] = 32767 / 32768
    _rewrite_indexed(src, victim, lambda: sf.write(victim, audio, FS, subtype="FLOAT"))
    export_asa2(src, out, overwrite=True)
    ints, _ = sf.read(out / "test" / "anechoic" / "1" / "1.wav", dtype="int16")
    assert ints[5, 2] == 32767


def test_existing_files_need_overwrite_and_stale_sources_go(tmp_path):
    src = tmp_path / "ds"
    make_dummy_dataset(src, 1, 4, FS, SECONDS, np.random.default_rng(5))
    out = tmp_path / "asa2"
    export_asa2(src, out)
    with pytest.raises(FileExistsError, match="mixed/0.wav"):
        export_asa2(src, out)
    src2 = tmp_path / "ds2"
    make_dummy_dataset(src2, 1, 2, FS, SECONDS, np.random.default_rng(6))
    export_asa2(src2, out, overwrite=True)
    assert sorted(p.name for p in (out / "test" / "anechoic" / "0").iterdir()) == ["0.wav", "1.wav"]
    assert sorted(p.name for p in (out / "test" / "reverb" / "0").iterdir()) == ["0.wav", "1.wav"]


def test_custom_split_map_and_cli(tmp_path, capsys):
    from asabench.benchmark.cli import main

    src = tmp_path / "ds"
    make_dummy_dataset(src, {"train": 1, "validation": 2}, 2, FS, SECONDS, np.random.default_rng(7))
    out = tmp_path / "asa2"
    assert main(["export", str(src), "--format", "asa2", "--out", str(out),
                 "--map", "validation=test"]) == 0
    assert "test: 2 scenes" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "test" / "mixed").iterdir()) == ["0.wav", "1.wav"]
    assert not (out / "dev").exists()
    record = json.loads((out / "asabench-export.json").read_text())
    assert record["scenes"]["test/1"]["id"] == "validation-000001"
    assert main(["export", str(src), "--out", str(out), "--map", "validation=test"]) == 2  # an existing output without --overwrite is invalid input
    assert "exists" in capsys.readouterr().err


def test_default_export_trains_on_train_only_and_leaves_validation_out(tmp_path, capsys):
    # The authors' loader trains on everything in dev and validates on test: dev must hold
    # exactly the train split, and validation goes nowhere unless asked for.
    src = tmp_path / "ds"
    make_dummy_dataset(src, {"train": 2, "validation": 2, "test": 1}, 2, FS, SECONDS, np.random.default_rng(5))
    out = tmp_path / "asa2"
    summary = export_asa2(src, out)
    assert summary.placement == {"train-000000": "dev/0", "train-000001": "dev/1", "test-000000": "test/0"}
    assert summary.skipped_splits == {"validation": 2}
    assert sorted(p.name for p in out.iterdir()) == ["asabench-export.json", "dev", "test"]
    assert [s.idx for s in list_asa2_scenes(out, "dev")] == [0, 1]
    record = json.loads((out / "asabench-export.json").read_text())
    assert record["split_map"] == {"train": "dev", "test": "test"}
    assert {meta["id"] for key, meta in record["scenes"].items() if key.startswith("dev/")} == {
        "train-000000", "train-000001"}
    assert "skipped split 'validation' (2 scenes)" in summary.format()
    # On request, validation goes to its own folder, with its own indices from 0.
    again = export_asa2(src, out, include_validation=True, overwrite=True)
    assert again.placement["validation-000001"] == "validation/1"
    assert [s.idx for s in list_asa2_scenes(out, "dev")] == [0, 1]  # dev unchanged
    # The CLI flag does the same.
    from asabench.benchmark.cli import main

    out2 = tmp_path / "cli"
    assert main(["export", str(src), "--out", str(out2), "--with-validation"]) == 0
    assert "validation: 2 scenes" in capsys.readouterr().out
    assert sorted(p.name for p in (out2 / "validation" / "mixed").iterdir()) == ["0.wav", "1.wav"]


@pytest.mark.parametrize("split_map", [
    {"train": "dev", "validation": "dev", "test": "test"},  # the pre-2.0 default
    {"train": "dev", "test": "dev"},
])
def test_two_splits_in_one_folder_are_refused_before_writing(tmp_path, split_map):
    src = tmp_path / "ds"
    make_dummy_dataset(src, {"train": 1, "validation": 1, "test": 1}, 2, FS, SECONDS, np.random.default_rng(6))
    out = tmp_path / "asa2"
    with pytest.raises(ValueError, match="both go to 'dev': one split per ASA2 folder"):
        export_asa2(src, out, split_map=split_map)
    assert not out.exists()
    with pytest.raises(ValueError, match="both go to 'dev'"):
        export_plan({"train": "dev"} | {"validation": "dev"})
    # include_validation never overrides a map that already places validation.
    assert export_plan({"train": "dev", "validation": "val"}, include_validation=True) == {
        "train": "dev", "validation": "val"}
    assert export_plan(include_validation=True) == {"train": "dev", "test": "test", "validation": "validation"}
