"""``render_rirs_to_files``: the job of ``asabench rir``, callable from Python."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from asabench.simulate.geometry import SPEED_OF_SOUND, MicArray
from asabench.simulate.rir.engine import simulate_rirs
from asabench.simulate.rir.files import render_rirs_to_files, rir_file_paths


def test_wav_per_source_holds_the_engine_output(tmp_path):
    sources = [[1.0, 1.0, 1.5], [4.5, 3.0, 1.2]]
    res = render_rirs_to_files(tmp_path / "room.wav", sources, rt60=0.3, seed=3)
    assert [p.name for p in res.paths] == ["room_src0.wav", "room_src1.wav"]
    mics = MicArray.tetrahedral(np.array([3.0, 2.5, 1.5])).positions
    expected = simulate_rirs([6.0, 5.0, 3.0], 0.3, np.array(sources), mics, 16000.0, seed=3)
    np.testing.assert_array_equal(res.rirs, expected)
    for k, path in enumerate(res.paths):
        audio, fs = sf.read(path, dtype="float32", always_2d=True)
        assert fs == 16000 and audio.shape == (expected.shape[2], 4)
        np.testing.assert_array_equal(audio.T, expected[k])
    # d / c by hand for source 0 to mic 0, in samples
    d = np.linalg.norm(np.array(sources[0]) - mics[0])
    assert res.expected_arrival[0, 0] == pytest.approx(d / SPEED_OF_SOUND * 16000.0)
    assert np.all(np.abs(res.direct_peak - res.expected_arrival) <= 2.5)
    assert res.measured_rt60_s is not None and res.measured_rt60_s.shape == (2,)


def test_npz_records_the_request_and_direct_only_has_no_rt60(tmp_path):
    res = render_rirs_to_files(tmp_path / "r.npz", [[1.0, 1.0, 1.0]], direct_only=True, fs=8000.0)
    assert res.paths == [tmp_path / "r.npz"] and res.measured_rt60_s is None
    with np.load(tmp_path / "r.npz") as z:
        np.testing.assert_array_equal(z["rirs"], res.rirs)
        assert float(z["fs"]) == 8000.0 and float(z["rt60"]) == 0.4
        np.testing.assert_array_equal(z["room_dim"], [6.0, 5.0, 3.0])


def test_bad_request_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="sources"):
        render_rirs_to_files(tmp_path / "r.npz", [[9.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match=r"\.npz or \.wav"):
        rir_file_paths(tmp_path / "r.mat", 1)
    assert list(tmp_path.iterdir()) == []
