"""Prediction-folder validation: every problem reported with its file, nothing outside followed."""

import os

import numpy as np
import pytest
import soundfile as sf

from asabench.benchmark.submissions.layout import (SceneExpectation, SubmissionError, SubmissionPathError,
                                           resolve_member, validate_submission)

FS, CH, N = 8000, 4, 800
SCENES = [SceneExpectation("test-000000", 2, CH, FS, N, 5),
          SceneExpectation("test-000001", 1, CH, FS, N, 5)]


def wav(path, channels=CH, fs=FS, n=N, value=0.1):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.full((n, channels), value, np.float32), fs, subtype="FLOAT")


def good_audio(root):
    for s in SCENES:
        for k in range(s.num_sources):
            wav(root / s.id / f"{k}.wav")


def problems_of(root, task, **kw):
    with pytest.raises(SubmissionError) as info:
        validate_submission(root, task, SCENES, num_classes=13, **kw)
    return info.value.problems


def test_valid_audio_submission_loads(tmp_path):
    good_audio(tmp_path)
    (tmp_path / "notes.txt").write_text("hi")
    sub = validate_submission(tmp_path, "uss", SCENES, num_classes=13)
    assert [p.name for p in sub.audio["test-000000"]] == ["0.wav", "1.wav"]
    assert sub.warnings == ["notes.txt: not a scene of the dataset; ignored"]


def test_every_audio_problem_is_listed(tmp_path):
    good_audio(tmp_path)
    wav(tmp_path / "test-000000" / "0.wav", channels=2)
    wav(tmp_path / "test-000000" / "1.wav", fs=16000, n=N - 1)
    os.remove(tmp_path / "test-000001" / "0.wav")
    wav(tmp_path / "test-000001" / "2.wav")
    problems = problems_of(tmp_path, "tse")
    assert problems == [
        "test-000000/0.wav: 2 channels, expected 4",
        "test-000000/1.wav: sample rate 16000 Hz, expected 8000 Hz",
        "test-000000/1.wav: 799 samples, expected 800 (0.1 s at 8000 Hz)",
        "test-000001/0.wav: missing",
        "test-000001/2.wav: unexpected entry (scene has 1 source(s): 0.wav..0.wav)",
    ]


def test_nan_audio_and_missing_scene_folder(tmp_path):
    good_audio(tmp_path)
    data = np.zeros((N, CH), np.float32)
    data[17, 2] = np.nan
    sf.write(str(tmp_path / "test-000000" / "1.wav"), data, FS, subtype="FLOAT")
    for f in (tmp_path / "test-000001").iterdir():
        f.unlink()
    (tmp_path / "test-000001").rmdir()
    problems = problems_of(tmp_path, "uss")
    assert problems == ["test-000000/1.wav: 1 NaN/inf sample value(s), first at sample 17 (channel 2, NaN)",
                        "test-000001/: missing (expected 1 WAV file(s) 0.wav..0.wav)"]


def test_symlinks_are_rejected_and_not_followed(tmp_path):
    pred = tmp_path / "pred"
    good_audio(pred)
    outside = tmp_path / "outside.wav"
    wav(outside)  # a perfectly valid file, but outside PRED_DIR
    os.remove(pred / "test-000000" / "1.wav")
    os.symlink(outside, pred / "test-000000" / "1.wav")
    real_scene = tmp_path / "elsewhere"
    (pred / "test-000001").rename(real_scene)
    os.symlink(real_scene, pred / "test-000001")
    problems = problems_of(pred, "uss")
    assert problems == [
        "test-000000/1.wav: symbolic link (test-000000/1.wav); links are not followed",
        "test-000001/: symbolic link (test-000001); links are not followed",
    ]


def test_resolve_member_refuses_escapes(tmp_path):
    (tmp_path / "a").mkdir()
    assert resolve_member(tmp_path, "a/0.wav") == tmp_path.resolve() / "a" / "0.wav"
    for name, why in [("../x.csv", "'..'"), ("/etc/passwd", "absolute"), ("a/../../x", "'..'"),
                      ("a\\b.wav", "non-POSIX"), ("", "absolute"), ("a//b", "empty")]:
        with pytest.raises(SubmissionPathError, match=why):
            resolve_member(tmp_path, name)


def test_seld_csv_problems(tmp_path):
    (tmp_path / "test-000000.csv").write_text("0,1,0,10,5\n1,1,0,10\n2,13,0,10,5\n7,1,0,10,5\n")
    problems = problems_of(tmp_path, "seld")
    assert problems == [
        "test-000000.csv:2: expected 5, 6 or 7 comma-separated fields (frame,class,track,azimuth,"
        "elevation[,distance] or frame,class,track,x,y,z[,distance]), got 4",
        "test-000000.csv:3: field 'class': class id 13 out of range (0..12)",
        "test-000001.csv: missing",
    ]
    (tmp_path / "test-000000.csv").write_text("0,1,0,10,5\n7,1,0,10,5\n")
    (tmp_path / "test-000001.csv").write_text("")
    assert problems_of(tmp_path, "seld") == [
        "test-000000.csv: 1 row(s) with frame index >= 5 (the scene has 5 label frames), first frame 7"]
    assert problems_of(tmp_path, "seld", require_distance=True)[0].startswith(
        "test-000000.csv: 1 row(s)")
    (tmp_path / "test-000000.csv").write_text("0,1,0,10,5\n")
    assert problems_of(tmp_path, "seld", require_distance=True) == [
        "test-000000.csv: no distance column; --seld-mode dcase2024 needs "
        "frame,class,track,azimuth,elevation,distance (or x,y,z,distance) rows"]
    sub = validate_submission(tmp_path, "seld", SCENES, num_classes=13)
    assert sub.labels["test-000000"].num_rows == 1 and sub.labels["test-000001"].num_rows == 0


def test_message_names_the_folder_and_counts(tmp_path):
    with pytest.raises(SubmissionError, match=r"2 problem\(s\) in predictions"):
        validate_submission(tmp_path, "seld", SCENES, num_classes=13)
    with pytest.raises(SubmissionError, match="not a directory"):
        validate_submission(tmp_path / "nope", "seld", SCENES, num_classes=13)
