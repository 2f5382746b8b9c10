"""Source banks: folder corpora (prepare, resampling, hashes, bad files, layouts) and the
procedural bank (determinism and class-typical acoustics)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asabench.simulate.classes import NUM_CLASSES, class_index
from asabench.simulate.sources import (
    FolderBank,
    FolderNoiseBank,
    ProceduralBank,
    ProceduralNoiseBank,
    SourceError,
    SourceRef,
    bank_from_description,
    fsd50k_class,
    open_noise_bank,
    open_source_bank,
    prepare,
)
from asabench.simulate.sources.procedural import FEMALE_F0_HZ, MALE_F0_HZ

FS = 16_000


# --------------------------------------------------------------------------- helpers


def _sine(freq: float, fs: int, seconds: float, amp: float) -> np.ndarray:
    t = np.arange(int(round(seconds * fs))) / fs
    return amp * np.sin(2 * np.pi * freq * t)


def _peak_freq(x: np.ndarray, fs: int) -> float:
    """Peak frequency with parabolic interpolation on a zero-padded Hann spectrum."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size), 8 * x.size))
    i = int(np.argmax(spec))
    a, b, c = np.log(spec[i - 1 : i + 2] + 1e-30)
    return (i + 0.5 * (a - c) / (a - 2 * b + c)) * fs / (8 * x.size)


def _write(path: Path, audio: np.ndarray, fs: int, **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, fs, **kw)
    return path


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    """Class-folder corpus: good stereo WAV at 44.1 kHz, mono FLAC at 22.05 kHz, bad files."""
    root = tmp_path / "corpus"
    left, right = _sine(1000.0, 44100, 1.0, 0.5), _sine(1000.0, 44100, 1.0, 0.3)
    _write(root / "femaleSpeech" / "stereo.wav", np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    _write(root / "Bell" / "tone.flac", _sine(440.0, 22050, 1.5, 0.25), 22050)
    (root / "bell" / "garbage.wav").parent.mkdir(parents=True, exist_ok=True)
    (root / "bell" / "garbage.wav").write_bytes(b"RIFF\x00\x01not really audio" * 10)
    _write(root / "knock" / "silent.wav", np.zeros(8000), 16000)
    _write(root / "knock" / "short.wav", _sine(300.0, 16000, 0.02, 0.5), 16000)
    _write(root / "knock" / "ok.wav", _sine(300.0, 16000, 0.5, 0.5), 16000)
    _write(root / "cats" / "meow.wav", _sine(500.0, 16000, 0.5, 0.5), 16000)
    return root


# --------------------------------------------------------------------------- folder bank


def test_prepare_and_load_resample_and_downmix(corpus: Path, tmp_path: Path) -> None:
    report = prepare(corpus, "classfolders", tmp_path / "index.json")
    assert report.files_per_class() == {0: 1, 11: 1, 12: 1}
    bank = FolderBank(tmp_path / "index.json")
    (ref,) = bank.files(class_index("female speech"))
    assert ref.fs == 44100 and ref.frames == 44100
    x = bank.load(ref, FS)
    assert x.dtype == np.float32 and x.shape == (ref.num_samples(FS),) == (16000,)
    core = x[800:-800].astype(np.float64)  # away from the resampler's edge transients
    assert _peak_freq(core, FS) == pytest.approx(1000.0, abs=0.5)
    # Down-mix of 0.5 and 0.3 amplitude in-phase sines is a 0.4 amplitude sine.
    assert np.sqrt(np.mean(core**2)) == pytest.approx(0.4 / np.sqrt(2), rel=2e-3)

    (bell,) = bank.files(class_index("bell"))
    y = bank.load(bell, 48000)  # upsampling 22050 -> 48000 (ratio 320/147)
    assert y.shape == (int(np.ceil(bell.frames * 48000 / 22050)),) == (72000,)
    assert _peak_freq(y[4800:-4800].astype(np.float64), 48000) == pytest.approx(440.0, abs=0.2)
    assert np.sqrt(np.mean(y[4800:-4800].astype(np.float64) ** 2)) == pytest.approx(0.25 / np.sqrt(2), rel=2e-3)


def test_prepare_records_hashes_and_reports_bad_files(corpus: Path, tmp_path: Path) -> None:
    report = prepare(corpus, "classfolders", tmp_path / "index.json")
    record = json.loads((tmp_path / "index.json").read_text())
    import hashlib

    entry = next(e for e in record["entries"] if e["path"] == "knock/ok.wav")
    assert entry["sha256"] == hashlib.sha256((corpus / "knock" / "ok.wav").read_bytes()).hexdigest()
    assert entry["frames"] == 8000 and entry["fs"] == 16000 and entry["channels"] == 1
    bad = {b.path: b.reason for b in report.bad}
    assert set(bad) == {"bell/garbage.wav", "knock/silent.wav", "knock/short.wav"}
    assert bad["bell/garbage.wav"].startswith("unreadable")
    assert bad["knock/silent.wav"].startswith("silent")
    assert bad["knock/short.wav"].startswith("too short: 0.020 s")
    assert {s["path"] for s in record["skipped"]} == set(bad)
    assert report.unmapped == {"folder 'cats' is not a class name": 1}


def test_prepare_index_is_identical_with_threads(corpus: Path, tmp_path: Path) -> None:
    prepare(corpus, "classfolders", tmp_path / "one.json")
    prepare(corpus, "classfolders", tmp_path / "two.json", workers=3)
    one = json.loads((tmp_path / "one.json").read_text())
    two = json.loads((tmp_path / "two.json").read_text())
    assert one["entries"] == two["entries"] and one["skipped"] == two["skipped"]
    assert len(one["entries"]) == 3


def test_prepare_on_bad_error_names_the_file_and_writes_nothing(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"bell/garbage\.wav: unreadable"):
        prepare(corpus, "classfolders", tmp_path / "index.json", on_bad="error")
    assert not (tmp_path / "index.json").exists()


def test_load_detects_changed_and_missing_files(corpus: Path, tmp_path: Path) -> None:
    prepare(corpus, "classfolders", tmp_path / "index.json")
    bank = FolderBank(tmp_path / "index.json")
    (ref,) = bank.files(class_index("knock"))
    before = bank.load(ref, FS)
    _write(corpus / "knock" / "ok.wav", _sine(310.0, 16000, 0.5, 0.5), 16000)  # same length, new content
    with pytest.raises(SourceError, match=r"ok\.wav: content changed"):
        FolderBank(tmp_path / "index.json").load(ref, FS)
    (corpus / "knock" / "ok.wav").unlink()
    with pytest.raises(SourceError, match=r"ok\.wav: missing"):
        bank.load(ref, FS)
    assert before.shape == (8000,)


def test_refs_roundtrip_json_and_load_from_relocated_corpus(corpus: Path, tmp_path: Path) -> None:
    prepare(corpus, "classfolders", corpus / "asabench-index.json")
    bank = open_source_bank(corpus)
    ref = bank.files(class_index("bell"))[0]
    stored = json.loads(json.dumps(ref.to_dict()))
    assert SourceRef.from_dict(stored) == ref
    expected = bank.load(ref, FS)
    moved = tmp_path / "elsewhere" / "corpus"
    shutil.move(str(corpus), str(moved))
    # Index moved with the corpus: found relative to the index.
    relocated = open_source_bank(moved)
    assert relocated.describe()["root"] == str(moved.resolve())
    assert relocated.describe()["index_sha256"] == bank.describe()["index_sha256"]
    np.testing.assert_array_equal(relocated.load(SourceRef.from_dict(stored), FS), expected)
    # Index kept elsewhere, corpus moved again: the root is passed explicitly.
    prepare(moved, "classfolders", tmp_path / "outside.json")
    shutil.move(str(moved), str(tmp_path / "third"))
    with pytest.raises(SourceError, match="missing"):
        FolderBank(tmp_path / "outside.json").load(ref, FS)
    np.testing.assert_array_equal(open_source_bank(tmp_path / "outside.json", root=tmp_path / "third").load(ref, FS), expected)
    with pytest.raises(ValueError, match="missing field"):
        SourceRef.from_dict({"bank": "folder", "id": "x"})


def test_index_layout_and_errors(tmp_path: Path) -> None:
    root = tmp_path / "c"
    _write(root / "a" / "x.wav", _sine(200.0, 8000, 0.5, 0.5), 8000)
    _write(root / "b.ogg", _sine(200.0, 8000, 0.5, 0.5), 8000)
    (root / "index.csv").write_text("path,class\na/x.wav,Water tap\nb.ogg,12\nc.wav,dragon\n")
    report = prepare(root, "index", tmp_path / "i.json")
    bank = FolderBank(tmp_path / "i.json")
    assert [r.id for r in bank.files(10)] == ["a/x.wav"]
    assert [r.id for r in bank.files(12)] == ["b.ogg"]
    assert report.unmapped == {"index.csv: unknown class 'dragon'": 1}
    (root / "map.json").write_text(json.dumps([{"path": "a/x.wav", "class": "bell"}]))
    prepare(root, "index", tmp_path / "j.json", index_file=root / "map.json")
    assert [r.id for r in FolderBank(tmp_path / "j.json").files(11)] == ["a/x.wav"]
    (root / "index.csv").write_text("file_name,klass\na/x.wav,bell\n")
    with pytest.raises(ValueError, match="index.csv: no path column"):
        prepare(root, "index", tmp_path / "i2.json")
    with pytest.raises(SourceError, match="kind"):
        FolderNoiseBank(tmp_path / "i.json")


def test_fsd50k_label_mapping_table() -> None:
    assert fsd50k_class(["Male_speech_and_man_speaking", "Speech", "Human_voice"]) == (1, None)
    assert fsd50k_class(["Electric_guitar", "Guitar", "Musical_instrument", "Music"]) == (9, None)
    assert fsd50k_class(["Knock", "Door", "Domestic_sounds_and_home_sounds"]) == (12, None)
    assert fsd50k_class(["Water_tap_and_faucet", "Domestic_sounds_and_home_sounds"]) == (10, None)
    assert fsd50k_class(["Music"]) == (8, None)
    assert fsd50k_class(["Bark", "Dog", "Animal"])[0] is None
    k, reason = fsd50k_class(["Laughter", "Clapping"])
    assert k is None and "several classes (clapping + laughter)" in str(reason)


def test_fsd50k_layout_on_fake_tree(tmp_path: Path) -> None:
    root = tmp_path / "FSD50K"
    gt = root / "FSD50K.ground_truth"
    gt.mkdir(parents=True)
    (gt / "dev.csv").write_text(
        "fname,labels,mids,split\n"
        '1,"Female_speech_and_woman_speaking,Speech,Human_voice",/m/a,train\n'
        '2,"Guitar,Plucked_string_instrument,Musical_instrument,Music",/m/b,val\n'
        '3,"Bark,Dog,Animal",/m/c,train\n'
        '4,"Laughter,Bell",/m/d,train\n'
    )
    (gt / "eval.csv").write_text('fname,labels,mids\n7,"Ringtone,Telephone,Alarm",/m/e\n')
    for split, names in (("dev", (1, 2, 3, 4)), ("eval", (7,))):
        for name in names:
            _write(root / f"FSD50K.{split}_audio" / f"{name}.wav", _sine(300.0 + name, 16000, 0.3, 0.5), 16000)
    report = prepare(root, "fsd50k", tmp_path / "fsd.json")
    bank = FolderBank(tmp_path / "fsd.json")
    assert [r.id for r in bank.files(0)] == ["FSD50K.dev_audio/1.wav"]
    assert [r.id for r in bank.files(9)] == ["FSD50K.dev_audio/2.wav"]
    assert [r.id for r in bank.files(3)] == ["FSD50K.eval_audio/7.wav"]
    assert sum(len(bank.files(k)) for k in range(NUM_CLASSES)) == 3
    assert sum(report.unmapped.values()) == 2
    assert report.unmapped["fsd50k: several classes (laughter + bell)"] == 1


def test_librispeech_layout_by_speaker_sex(tmp_path: Path) -> None:
    root = tmp_path / "LibriSpeech"
    root.mkdir()
    (root / "SPEAKERS.TXT").write_text(
        "; Some comment\n;ID  |SEX| SUBSET           |MINUTES| NAME\n"
        "19   | F | train-clean-100  | 25.19 | Kara Shallenberg\n"
        "26   | M | train-clean-100  | 25.08 | Denny Sayers\n"
    )
    for name in ("19-198-0000", "19-198-0001", "26-495-0000", "99-1-0000"):
        spk, chapter, _ = name.split("-")
        _write(root / "dev-clean" / spk / chapter / f"{name}.flac", _sine(150.0, 16000, 0.4, 0.3), 16000)
    report = prepare(root, "librispeech", tmp_path / "ls.json")
    bank = FolderBank(tmp_path / "ls.json")
    assert [Path(r.id).name for r in bank.files(0)] == ["19-198-0000.flac", "19-198-0001.flac"]
    assert [Path(r.id).name for r in bank.files(1)] == ["26-495-0000.flac"]
    assert report.unmapped == {"librispeech: speaker not in SPEAKERS.TXT": 1}


def test_tau_snoise_layout_takes_channel_zero(tmp_path: Path) -> None:
    root = tmp_path / "TAU-SNoise_DB"
    rng = np.random.default_rng(0)
    amb = 0.1 * rng.standard_normal((16000, 4))
    _write(root / "01_bomb_center" / "ambience_tetra.wav", amb, 16000, subtype="FLOAT")
    prepare(root, "tau-snoise", tmp_path / "noise.json")
    bank = open_noise_bank(tmp_path / "noise.json")
    assert isinstance(bank, FolderNoiseBank)
    (ref,) = bank.files()
    assert ref.class_idx is None and ref.channel == 0
    np.testing.assert_allclose(bank.load(ref, 16000), amb[:, 0].astype(np.float32), rtol=0, atol=0)
    with pytest.raises(SourceError, match="kind"):
        FolderBank(tmp_path / "noise.json")


# --------------------------------------------------------------------------- procedural bank


def test_procedural_bank_is_deterministic_and_seed_dependent() -> None:
    a, b, c = ProceduralBank(7, 2), ProceduralBank(7, 2), ProceduralBank(8, 2)
    assert sorted(a.classes()) == list(range(NUM_CLASSES))
    for k in (0, 3, 8, 11):
        ra, rb, rc = a.files(k)[1], b.files(k)[1], c.files(k)[1]
        assert ra == rb
        xa, xb = a.load(ra, FS), b.load(rb, FS)
        assert xa.dtype == np.float32 and xa.shape == (ra.num_samples(FS),)
        np.testing.assert_array_equal(xa, xb)
        xc = c.load(rc, FS)
        assert xc.shape != xa.shape or not np.array_equal(xa, xc)
    # A ref is self-contained: any procedural bank regenerates it from its id.
    ref = SourceRef.from_dict(json.loads(json.dumps(a.files(5)[0].to_dict())))
    np.testing.assert_array_equal(c.load(ref, FS), a.load(a.files(5)[0], FS))
    noise = ProceduralNoiseBank(7, 2)
    n0 = noise.load(noise.files()[0], FS)
    assert n0.size >= 6 * FS and abs(np.sqrt(np.mean(n0.astype(np.float64) ** 2)) - 1.0) < 1e-3
    np.testing.assert_array_equal(n0, ProceduralNoiseBank(7, 1).load(noise.files()[0], FS))


def test_procedural_durations_vary_around_scene_length() -> None:
    bank = ProceduralBank(3, 20)
    durations = np.array([r.duration_s for k in range(NUM_CLASSES) for r in bank.files(k)])
    assert (durations < 4.0).mean() > 0.2 and (durations > 4.0).mean() > 0.2


def _f0_track(x: np.ndarray, fs: int) -> np.ndarray:
    """Autocorrelation F0 (Hz) of voiced, loud 40 ms frames."""
    frame, hop = int(0.04 * fs), int(0.01 * fs)
    idx = np.arange(0, x.size - frame, hop)[:, None] + np.arange(frame)[None, :]
    frames = x[idx].astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    energy = np.sum(frames**2, axis=1)
    frames = frames[energy > 0.1 * energy.max()]
    spec = np.fft.rfft(frames, 2 * frame, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :frame]
    ac /= ac[:, :1]
    lo, hi = int(fs / 400), int(fs / 60)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    voiced = ac[np.arange(lag.size), lag] > 0.5
    return fs / lag[voiced]


@pytest.mark.parametrize("cls, f0_range", [(0, FEMALE_F0_HZ), (1, MALE_F0_HZ)])
def test_procedural_speech_pitch_in_its_range(cls: int, f0_range: tuple[float, float]) -> None:
    bank = ProceduralBank(11, 3)
    for ref in bank.files(cls):
        f0 = _f0_track(bank.load(ref, FS), FS)
        assert f0.size > 20
        assert f0_range[0] <= np.median(f0) <= f0_range[1]
        assert np.mean((f0 >= f0_range[0] * 0.95) & (f0 <= f0_range[1] * 1.05)) > 0.95


def test_procedural_telephone_energy_near_two_tones() -> None:
    bank = ProceduralBank(5, 4)
    for ref in bank.files(3):
        x = bank.load(ref, FS).astype(np.float64)
        power = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.size, 1 / FS)
        fa = f[np.argmax(power)]
        fb = f[np.argmax(np.where(np.abs(f - fa) > 80.0, power, 0.0))]
        assert 300.0 < min(fa, fb) and max(fa, fb) < 3400.0
        near = (np.abs(f - fa) < 60.0) | (np.abs(f - fb) < 60.0)
        assert power[near].sum() / power.sum() > 0.9


def _envelope_db(x: np.ndarray, fs: int, win_s: float = 0.02) -> np.ndarray:
    w = int(win_s * fs)
    e = np.mean(x[: x.size // w * w].astype(np.float64).reshape(-1, w) ** 2, axis=1)
    return 10 * np.log10(e + 1e-20)


def test_procedural_bell_decays_exponentially() -> None:
    bank = ProceduralBank(2, 4)
    for ref in bank.files(11):
        env = _envelope_db(bank.load(ref, FS), FS)
        peak = int(np.argmax(env[:15]))  # first strike within 0.3 s
        seg = env[peak + 5 : peak + 60]  # 0.1 .. 1.2 s after the strike, before the next one
        t = np.arange(seg.size) * 0.02
        slope, intercept = np.polyfit(t, seg, 1)
        resid = seg - (slope * t + intercept)
        assert slope < -2.0  # dB/s: decaying
        assert np.std(resid) < 2.0  # close to a straight line in dB: exponential


def test_procedural_domestic_has_mains_hum() -> None:
    bank = ProceduralBank(4, 3)
    for ref in bank.files(5):
        x = bank.load(ref, FS).astype(np.float64)
        power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
        f = np.fft.rfftfreq(x.size, 1 / FS)
        band = (f > 30) & (f < 75)
        mains = f[band][np.argmax(power[band])]
        assert min(abs(mains - 50.0), abs(mains - 60.0)) < 0.5


def test_procedural_footsteps_are_periodic_and_clapping_impulsive() -> None:
    bank = ProceduralBank(9, 3)
    for ref in bank.files(6):
        env = 10 ** (_envelope_db(bank.load(ref, FS), FS, 0.01) / 10)
        env = env - env.mean()
        ac = np.correlate(env, env, "full")[env.size - 1 :]
        lag = 30 + int(np.argmax(ac[30:80]))  # search 0.3 .. 0.8 s
        assert 0.42 <= lag * 0.01 <= 0.68  # step period 0.45-0.65 s
    for ref in bank.files(2):
        e = np.sort(10 ** (_envelope_db(bank.load(ref, FS), FS, 0.01) / 10))[::-1]
        frames_for_90 = np.searchsorted(np.cumsum(e) / e.sum(), 0.9) + 1
        assert frames_for_90 / e.size < 0.3  # energy sits in short transients


def test_bank_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="seed"):
        ProceduralBank(-1)
    with pytest.raises(ValueError, match="class_idx"):
        ProceduralBank(0).files(13)
    with pytest.raises(SourceError, match="no such index"):
        open_source_bank("/nonexistent/corpus/index.json")
    with pytest.raises(SourceError, match="procedural"):
        ProceduralBank(0).load(SourceRef("folder", "a.wav", 0, 10, 16000), FS)


def test_prepare_command_prints_summary_and_fails_cleanly(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from asabench.benchmark.cli import prepare as source_commands

    parser = argparse.ArgumentParser()
    source_commands.register(parser.add_subparsers())
    out = tmp_path / "cli-index.json"
    args = parser.parse_args(["prepare", str(corpus), "--layout", "classfolders", "--out", str(out)])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert " 0 female speech" in text and "      1 file(s)" in text
    assert "skipped 3 bad file(s)" in text and "knock/silent.wav: silent" in text
    assert "folder 'cats' is not a class name" in text
    assert len(FolderBank(out).files(12)) == 1
    from asabench.benchmark.cli import main

    # a bad corpus file is invalid input: exit 2 through the CLI's one error handler
    assert main(["prepare", str(corpus), "--layout", "classfolders", "--out", str(tmp_path / "x.json"), "--on-bad", "error"]) == 2
    assert "garbage.wav: unreadable" in capsys.readouterr().err


def test_banks_reopen_from_their_description(corpus: Path, tmp_path: Path) -> None:
    for bank in (ProceduralBank(4, 6), ProceduralNoiseBank(4, 3)):
        again = bank_from_description(json.loads(json.dumps(bank.describe())))
        assert type(again) is type(bank) and again.describe() == bank.describe()
    prepare(corpus, "classfolders", tmp_path / "index.json")
    folder = FolderBank(tmp_path / "index.json")
    again = bank_from_description(folder.describe())
    assert isinstance(again, FolderBank) and again.files(12) == folder.files(12)
    with pytest.raises(ValueError, match="missing field 'seed'"):
        bank_from_description({"kind": "procedural", "role": "sources"})


@pytest.mark.parametrize("fs", [8000, 22050, 48000])
def test_procedural_clips_at_any_rate_are_finite_and_level_bounded(fs: int) -> None:
    bank = ProceduralBank(21, 1)
    for k in range(NUM_CLASSES):
        (ref,) = bank.files(k)
        x = bank.load(ref, fs)
        assert x.shape == (ref.num_samples(fs),) and np.all(np.isfinite(x))
        peak_db = 20 * np.log10(np.max(np.abs(x)))
        assert -12.01 <= peak_db <= -0.99
        # Not a lone click: at least 10 % of 50 ms frames are within 30 dB of the loudest.
        env = _envelope_db(x, fs, 0.05)
        assert np.mean(env > env.max() - 30) > 0.1


def _centroid_hz(x: np.ndarray, fs: int) -> float:
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    return float(np.sum(np.fft.rfftfreq(x.size, 1 / fs) * power) / np.sum(power))


def test_procedural_classes_differ_in_spectrum_and_rhythm() -> None:
    bank = ProceduralBank(13, 3)
    for ref in bank.files(12):  # knock: low wooden modes (150-800 Hz)
        assert _centroid_hz(bank.load(ref, FS), FS) < 700.0
    for ref in bank.files(2):  # clapping: 1-2 kHz noise bursts
        assert _centroid_hz(bank.load(ref, FS), FS) > 1200.0
    for ref in bank.files(10):  # water tap: continuous, noise-like in its band
        x = bank.load(ref, FS).astype(np.float64)
        env = _envelope_db(x, FS, 0.05)
        assert np.mean(env > env.max() - 20) > 0.7
        power = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(x.size, 1 / FS)
        band = power[(f > 800) & (f < 2500)]
        flatness = np.exp(np.mean(np.log(band + 1e-30))) / np.mean(band)
        assert flatness > 0.4  # a periodogram of noise has flatness exp(-0.577) = 0.56; tones ~0
    for ref in bank.files(4):  # laughter: "ha" pulses at 4-6 per second
        env = np.sqrt(10 ** (_envelope_db(bank.load(ref, FS), FS, 0.01) / 10))
        env -= env.mean()
        spec = np.abs(np.fft.rfft(env * np.hanning(env.size), 8192))
        fm = np.fft.rfftfreq(8192, 0.01)
        band = (fm > 2) & (fm < 15)
        assert 3.5 <= fm[band][np.argmax(spec[band])] <= 6.5
