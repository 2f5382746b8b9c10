"""The one checked WAV reader and the deterministic WAV writers (simulate/io/wav.py)."""

import pickle

import numpy as np
import pytest
import soundfile as sf

from asabench.simulate.io.wav import WavError, pcm16_wav_bytes, read_wav, wav_bytes, wav_info

FS = 8000


def _write(path, audio_cn, fs=FS, subtype="FLOAT"):
    sf.write(str(path), np.asarray(audio_cn).T, fs, subtype=subtype)
    return path


def test_reads_channels_first_exactly(tmp_path, rng):
    audio = rng.uniform(-0.5, 0.5, (3, 100)).astype(np.float32)
    path = _write(tmp_path / "a.wav", audio)
    data, fs = read_wav(path, channels=3, fs=FS, frames=100)
    assert fs == FS and data.shape == (3, 100) and data.dtype == np.float32
    np.testing.assert_array_equal(data, audio)
    info = wav_info(path)
    assert (info.channels, info.fs, info.frames, info.subtype) == (3, FS, 100, "FLOAT")


def test_native_dtype_keeps_32_bit_pcm_exact(tmp_path):
    ints = np.array([[2**31 - 1, -(2**31), 12345, 1]], dtype=np.int32)
    path = tmp_path / "p.wav"
    sf.write(str(path), ints.T, FS, subtype="PCM_32")
    native, _ = read_wav(path, dtype="native")
    assert native.dtype == np.float64
    np.testing.assert_array_equal(native[0], ints[0] / 2.0**31)  # every bit kept
    assert read_wav(path)[0].dtype == np.float32
    with pytest.raises(ValueError, match="dtype must be one of"):
        read_wav(path, dtype="int16")


def test_every_header_mismatch_is_named_at_once(tmp_path):
    path = _write(tmp_path / "x.wav", np.zeros((2, 50), np.float32), fs=16000)
    with pytest.raises(WavError) as err:
        read_wav(path, channels=4, fs=FS, frames=40)
    e = err.value
    assert e.fields == ["channels", "fs", "frames"]
    assert str(e) == (f"{path}: 2 channels, expected 4; sample rate 16000 Hz, expected {FS} Hz; "
                      f"50 samples, expected 40 (0.005 s at {FS} Hz)")
    assert e.problems[0] == f"{path}: 2 channels, expected 4" and e.path == path


@pytest.mark.parametrize("value, kind", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
def test_non_finite_sample_named_by_sample_and_channel(tmp_path, value, kind):
    audio = np.zeros((4, 64), np.float32)
    audio[2, 17] = value
    audio[0, 40] = np.nan
    path = _write(tmp_path / "n.wav", audio)
    with pytest.raises(WavError) as err:
        read_wav(path, what="scene/3.wav")
    assert str(err.value) == f"scene/3.wav: 2 NaN/inf sample value(s), first at sample 17 (channel 2, {kind})"
    assert err.value.field == "samples"
    data, _ = read_wav(path, finite=False)  # the check can be left to the caller
    assert data[2, 17] == value or (np.isnan(value) and np.isnan(data[2, 17]))


def test_finite_samples_whose_sum_overflows_are_accepted(tmp_path):
    audio = np.full((2, 8), 3e38, np.float32)  # float32 sum overflows to inf
    data, _ = read_wav(_write(tmp_path / "big.wav", audio))
    np.testing.assert_array_equal(data, audio)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(WavError, match=r"nope\.wav: missing file$"):
        read_wav(tmp_path / "nope.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF not really a wav")
    with pytest.raises(WavError, match=r"junk\.wav: not a readable audio file \(") as err:
        read_wav(junk)
    assert err.value.field == "file"
    with pytest.raises(WavError, match="junk.wav: not a readable audio file"):
        wav_info(junk)


def test_bytes_already_read_are_decoded_and_the_path_named(tmp_path):
    audio = np.arange(12, dtype=np.float32).reshape(2, 6) / 16
    raw = wav_bytes(audio, FS)
    data, fs = read_wav(tmp_path / "not-on-disk.wav", data=raw, channels=2)
    np.testing.assert_array_equal(data, audio)
    with pytest.raises(WavError) as err:
        read_wav(tmp_path / "named.wav", data=b"garbage")
    assert str(err.value).startswith(f"{tmp_path / 'named.wav'}: not a readable audio file (")
    assert "BytesIO" not in str(err.value)


def test_truncated_file_is_refused(tmp_path):
    raw = wav_bytes(np.ones((2, 100), np.float32), FS)
    path = tmp_path / "cut.wav"
    path.write_bytes(raw[:-40])  # the header still claims 100 frames
    with pytest.raises(WavError, match="cut.wav"):
        data, _ = read_wav(path, frames=100)


def test_wav_bytes_are_deterministic_and_exact(tmp_path, rng):
    audio = rng.standard_normal((4, 33)).astype(np.float32)
    one, two = wav_bytes(audio, 24000), wav_bytes(audio.astype(np.float64), 24000)
    assert one == two and len(one) == 12 + (8 + 18) + (8 + 4) + 8 + 4 * 4 * 33
    path = tmp_path / "w.wav"
    path.write_bytes(one)
    data, fs = read_wav(path, channels=4, fs=24000, frames=33)
    np.testing.assert_array_equal(data, audio)


def test_pcm16_bytes_round_trip():
    ints = np.array([[0, 1, -1, 32767, -32768], [5, 4, 3, 2, 1]], dtype=np.int16)
    raw = pcm16_wav_bytes(ints, FS)
    assert raw == pcm16_wav_bytes(ints, FS)
    back, _ = sf.read(__import__("io").BytesIO(raw), dtype="int16", always_2d=True)
    np.testing.assert_array_equal(back.T, ints)


def test_wav_error_survives_pickling():
    err = WavError("/d/x.wav", ["3 channels, expected 4", "bad"], fields=["channels", "file"], name="x.wav")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is WavError and str(back) == str(err) == "x.wav: 3 channels, expected 4; bad"
    assert back.fields == ["channels", "file"] and back.path == err.path
