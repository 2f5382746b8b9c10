"""Scene rendering: audio agrees with the labels and the spec; specs re-render bit for bit."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asabench.simulate.geometry import SPEED_OF_SOUND, dcase_to_cartesian
from asabench.simulate.dataset.labels_csv import read_label_csv
from asabench.simulate.manifest import parse_manifest
from asabench.simulate.scene.render import render_scene
from asabench.simulate.scene.sampling import BadSourceError, sample_scene
from asabench.simulate.dataset.build import open_banks, render_spec_to
from asabench.simulate.scene.spec import SceneSpec, load_spec
from asabench.simulate.dataset.writer import write_scene

ROOT = Path(__file__).resolve().parents[3]


def _manifest(fs: int = 8000, duration_s: float = 1.0, model: str = "asa2_sine", **sources):
    with open(ROOT / "manifests" / "demo.toml", "rb") as fh:
        raw = tomllib.load(fh)
    raw.update(fs=fs, duration_s=duration_s)
    raw["motion"].update(model=model, n_points=int(round(duration_s / 0.1)))
    raw["noise"].update(window=int(0.04 * fs), hop=int(0.02 * fs))
    raw["sources"].update(sources)
    return parse_manifest(raw, "<test manifest>")


def _render(manifest, index: int, split: str = "test"):
    banks = open_banks(manifest)
    spec, clips, noise_clip = sample_scene(manifest, split, index, banks.sources, banks.noise)
    return render_scene(spec, clips=clips, noise_clip=noise_clip)


@pytest.fixture(scope="module")
def moving_scenes():
    m = _manifest()
    return [_render(m, i) for i in range(3)]


def _active_power_loop(x: np.ndarray, window: int, hop: int, threshold: float) -> float:
    # The recipe's rule written out frame by frame (independent of the vectorised renderer).
    powers = []
    start = 0
    while start + window <= x.shape[-1]:
        seg = x[:, start:start + window].astype(np.float64)
        powers.append(float(np.mean(seg**2)))
        start += hop
    powers = np.asarray(powers)
    return float(powers[powers > threshold * powers.max()].mean())


def test_mixture_is_the_sum_of_targets_and_noise(moving_scenes):
    for s in moving_scenes:
        total = s.direct.sum(0).astype(np.float64) + s.reverb.sum(0) + s.noise
        np.testing.assert_allclose(s.mixture, total, rtol=0, atol=1e-6)
        assert np.max(np.abs(s.mixture)) == pytest.approx(s.spec.output_peak, rel=1e-6)
        assert s.mixture.dtype == np.float32 and s.mixture.shape == (4, s.spec.num_samples)
        assert s.direct.shape == s.reverb.shape == (s.spec.num_sources, 4, s.spec.num_samples)
        # The reverberant remainder carries energy: it is not a copy of the direct path.
        assert np.sum(s.reverb.astype(np.float64) ** 2) > 0.05 * np.sum(s.direct.astype(np.float64) ** 2)


def test_snr_measured_by_the_recipe_rule_matches_the_spec(moving_scenes):
    for s in moving_scenes:
        rule = s.spec.snr_rule
        p_sig = _active_power_loop(s.direct.sum(0), rule["window"], rule["hop"], rule["threshold"])
        p_noise = _active_power_loop(s.noise, rule["window"], rule["hop"], rule["threshold"])
        assert 10 * np.log10(p_sig / p_noise) == pytest.approx(s.spec.noise.snr_db, abs=0.1)


def test_activity_labels_follow_the_minus_20_db_rule(moving_scenes):
    for s in moving_scenes:
        frame = int(round(s.spec.label_hop_s * s.spec.fs))
        for k, src in enumerate(s.spec.sources):
            image = (s.direct[k, 0].astype(np.float64) + s.reverb[k, 0]).reshape(-1, frame)
            peak = np.max(image**2, axis=1)
            expected = np.flatnonzero(peak >= 0.01 * peak.max())
            labelled = s.labels[s.labels[:, 2] == k, 0]
            # float32 storage may flip a frame that sits exactly at the threshold; none do here.
            np.testing.assert_array_equal(labelled, expected)
            assert np.all(s.labels[s.labels[:, 2] == k, 1] == src.class_idx)
            # Frames that end before the clip's onset plus the direct delay are silent.
            first_sound = src.onset
            assert np.all(labelled >= first_sound // frame)


def _gcc_phat_lag(a: np.ndarray, b: np.ndarray, interp: int = 16) -> float:
    """Delay of ``b`` relative to ``a`` in samples (GCC-PHAT with an interpolated peak)."""
    n = 2 * a.shape[-1]
    cross = np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n))
    cross /= np.maximum(np.abs(cross), 1e-12)
    cc = np.fft.irfft(cross, n * interp)
    lags = np.concatenate([np.arange(0, n * interp // 2), np.arange(-n * interp // 2, 0)]) / interp
    return float(lags[np.argmax(cc)])


def test_labelled_directions_match_direct_path_delays():
    m = _manifest(fs=16000, duration_s=1.0, model="static")
    checked = 0
    for index in range(4):
        s = _render(m, index)
        mics, center, fs = s.spec.mics, s.spec.array_center, s.spec.fs
        for k in range(s.spec.num_sources):
            rows = s.labels[s.labels[:, 2] == k]
            if rows.shape[0] == 0:
                continue
            az, el, dist_cm = rows[0, 3:]
            pos = center + dcase_to_cartesian(az, el, dist_cm / 100.0)
            arrival = np.linalg.norm(pos[None, :] - mics, axis=1) / SPEED_OF_SOUND * fs
            wrong = center + dcase_to_cartesian(az + 180, -el, dist_cm / 100.0)
            arrival_wrong = np.linalg.norm(wrong[None, :] - mics, axis=1) / SPEED_OF_SOUND * fs
            errors, errors_wrong = [], []
            for i in range(4):
                for j in range(i + 1, 4):
                    lag = _gcc_phat_lag(s.direct[k, i].astype(np.float64), s.direct[k, j].astype(np.float64))
                    errors.append(abs(lag - (arrival[j] - arrival[i])))
                    errors_wrong.append(abs(lag - (arrival_wrong[j] - arrival_wrong[i])))
            assert max(errors) < 1.0, errors
            assert max(errors_wrong) > 1.0  # the opposite direction is told apart
            # Absolute delay dry -> mic 0 matches the labelled distance (1/r direct path).
            src = s.spec.sources[k]
            dry = np.zeros(s.spec.num_samples)
            banks = open_banks(m)
            from asabench.simulate.sources.base import SourceRef

            clip = banks.sources.load(SourceRef.from_dict(src.file), fs)
            dry[src.onset:src.onset + src.length] = clip[src.clip_start:src.clip_start + src.length]
            assert _gcc_phat_lag(dry, s.direct[k, 0].astype(np.float64)) == pytest.approx(arrival[0], abs=1.0)
            checked += 1
    assert checked >= 6


def test_spec_json_round_trips(moving_scenes):
    for s in moving_scenes:
        text = s.spec.to_json()
        back = SceneSpec.from_json(text)
        assert back == s.spec and back.to_json() == text


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_render_from_spec_reproduces_the_scene_bit_for_bit(tmp_path, moving_scenes):
    scene = moving_scenes[1]
    record = write_scene(tmp_path / "ds", scene)
    spec_path = tmp_path / "ds" / record.files.spec.path
    out = tmp_path / "again"
    render_spec_to(spec_path, out)
    original = _tree_hashes(spec_path.parent)
    original.pop("complete.json")
    assert _tree_hashes(out) == original
    assert load_spec(out / "spec.json") == scene.spec
    mix, fs = sf.read(out / "mixture.wav", dtype="float32", always_2d=True)
    assert fs == scene.spec.fs and np.array_equal(mix.T, scene.mixture)
    np.testing.assert_array_equal(read_label_csv(out / "labels.csv"), scene.labels)


def _corpus(tmp_path: Path) -> Path:
    from asabench.simulate.sources.prepare import prepare

    rng = np.random.default_rng(0)
    root = tmp_path / "corpus"
    for name in ("femaleSpeech", "maleSpeech"):
        for i in range(2):
            path = root / name / f"{i}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, 0.1 * rng.standard_normal(8000).astype(np.float32), 8000)
    prepare(root, "classfolders", tmp_path / "index.json")
    return tmp_path / "index.json"


def test_missing_and_corrupt_source_files_are_named(tmp_path):
    index = _corpus(tmp_path)
    missing = tmp_path / "corpus" / "femaleSpeech" / "0.wav"
    corrupt = tmp_path / "corpus" / "maleSpeech" / "1.wav"
    missing.unlink()
    corrupt.write_bytes(b"RIFF....not a wav file")
    strict = _manifest(classes=[0, 1], bad_files="error")
    banks = open_banks(strict, sources=str(index))
    seen = set()
    for i in range(12):
        try:
            sample_scene(strict, "test", i, banks.sources, banks.noise)
        except BadSourceError as exc:
            msg = str(exc)
            assert "bad_files = 'error'" in msg
            seen |= {p for p in (str(missing), str(corrupt)) if p in msg}
    assert seen == {str(missing), str(corrupt)}
    # Under "skip" the same scenes render from the good files and record what was skipped.
    lenient = _manifest(classes=[0, 1], bad_files="skip")
    banks = open_banks(lenient, sources=str(index))
    rejected = []
    for i in range(12):
        spec, clips, _ = sample_scene(lenient, "test", i, banks.sources, banks.noise)
        assert all(s.file["id"] in ("femaleSpeech/1.wav", "maleSpeech/0.wav") for s in spec.sources)
        rejected += [r["path"] for s in spec.sources for r in s.rejected]
    assert set(rejected) == {str(missing), str(corrupt)}


def test_moving_sources_labels_follow_the_trajectory_in_the_audio():
    with open(ROOT / "manifests" / "demo.toml", "rb") as fh:
        raw = tomllib.load(fh)
    raw.update(fs=16000, duration_s=2.0)
    raw["motion"].update(n_points=20, static_prob=0.0)
    raw["noise"].update(window=640, hop=320)
    # Tonal classes (telephone, music, instrument, bell) make GCC-PHAT peaks ambiguous on
    # 100 ms frames; broadband ones give a delay per frame.
    raw["sources"].update(classes=[0, 1, 2, 4, 5, 6, 7, 10, 12])
    m = parse_manifest(raw, "<moving>")
    hits, wrong_hits, total = 0, 0, 0
    for index in range(2):
        s = _render(m, index)
        mics, center, fs = s.spec.mics, s.spec.array_center, s.spec.fs
        frame = int(round(s.spec.label_hop_s * fs))
        for f, _, k, az, el, dist_cm in s.labels:
            pos = center + dcase_to_cartesian(az, el, dist_cm / 100.0)
            arrival = np.linalg.norm(pos[None, :] - mics, axis=1) / SPEED_OF_SOUND * fs
            # Segment f of the dry signal reaches the array after the propagation delay; a
            # Hann taper keeps the window's own edges (common to all channels, lag 0) out of
            # the correlation.
            start = f * frame + int(arrival.min())
            seg = s.direct[k, :, start:start + frame].astype(np.float64)
            if seg.shape[1] < frame or np.mean(seg**2) < 1e-3 * np.mean(s.direct[k].astype(np.float64) ** 2):
                continue  # a frame with barely any direct sound has no measurable delay
            seg = seg * np.hanning(frame)
            errs = [abs(_gcc_phat_lag(seg[i], seg[j]) - (arrival[j] - arrival[i]))
                    for i in range(4) for j in range(i + 1, 4)]
            hits += max(errs) < 1.0
            mirror = center + dcase_to_cartesian(az + 180, -el, dist_cm / 100.0)
            arrival_m = np.linalg.norm(mirror[None, :] - mics, axis=1) / SPEED_OF_SOUND * fs
            wrong_hits += max(abs(_gcc_phat_lag(seg[i], seg[j]) - (arrival_m[j] - arrival_m[i]))
                              for i in range(4) for j in range(i + 1, 4)) < 1.0
            total += 1
    assert total > 40 and hits / total > 0.9
    assert wrong_hits / total < 0.5  # the check tells directions apart


def test_render_from_spec_finds_a_relocated_corpus(tmp_path):
    import shutil

    from asabench.simulate.sources.base import SourceError

    index = _corpus(tmp_path)
    m = _manifest(classes=[0, 1])
    banks = open_banks(m, sources=str(index))
    spec, clips, noise_clip = sample_scene(m, "test", 0, banks.sources, banks.noise, bank_info=banks.describe())
    scene = render_scene(spec, clips=clips, noise_clip=noise_clip)
    record = write_scene(tmp_path / "ds", scene)
    spec_path = tmp_path / "ds" / record.files.spec.path
    original = _tree_hashes(spec_path.parent)
    original.pop("complete.json")
    # Corpus and index move together: the spec's recorded index path is gone.
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(str(tmp_path / "corpus"), str(moved / "corpus"))
    shutil.move(str(index), str(moved / "index.json"))
    with pytest.raises(SourceError, match="index.json"):
        render_spec_to(spec_path, tmp_path / "fails")
    render_spec_to(spec_path, tmp_path / "again", sources=str(moved / "index.json"))
    assert _tree_hashes(tmp_path / "again") == original


# ------------------------------------------------------- recipe options of manifest 2.0


def _options_manifest(static: bool = False, **options):
    """The 8 kHz / 1 s test recipe with the 2.0 options set (``table.key = value``)."""
    with open(ROOT / "manifests" / "demo.toml", "rb") as fh:
        raw = tomllib.load(fh)
    raw.update(fs=8000, duration_s=1.0)
    raw["motion"].update(model="static" if static else "asa2_sine", n_points=10)
    raw["noise"].update(window=320, hop=160)
    for dotted, value in options.items():
        table, key = dotted.split("__")
        raw[table][key] = value
    return parse_manifest(raw, "<options manifest>")


def test_asa2_noise_field_uses_m_consecutive_segments_of_the_clip():
    from asabench.simulate.scene.diffuse_noise import repeated_length, segment_inputs
    from asabench.simulate.scene.render import noise_field

    m = _options_manifest(noise__field="asa2")
    banks = open_banks(m)
    spec, clips, noise_clip = sample_scene(m, "test", 2, banks.sources, banks.noise)
    assert spec.render["noise_field"] == "asa2"
    n, mics = spec.num_samples, spec.mics.shape[0]
    assert 0 <= spec.noise.clip_start <= repeated_length(noise_clip.shape[0], mics * n) - mics * n
    field = noise_field(spec, noise_clip)
    seg = segment_inputs(noise_clip, spec.noise.clip_start, n, mics)
    # Mic 0 is its segment (upper Cholesky factor, C[0, 0] = 1) up to the zeroed DC bin;
    # the other segments are not in it.
    from scipy.signal import butter, sosfiltfilt

    hp = butter(6, 200.0, btype="highpass", fs=spec.fs, output="sos")
    a, b = sosfiltfilt(hp, field[0]), sosfiltfilt(hp, seg, axis=1)
    corr = [np.corrcoef(a, b[k])[0, 1] for k in range(mics)]
    assert corr[0] > 0.99 and max(abs(c) for c in corr[1:]) < 0.2, corr
    # Nothing random: the field is the same whatever noise.seed says.
    spec.noise.seed += 1
    np.testing.assert_array_equal(noise_field(spec, noise_clip), field)
    # A re-rendered spec is bit-identical, and its SNR follows the rule as before.
    s1 = render_scene(spec, clips=clips, noise_clip=noise_clip)
    s2 = render_scene(SceneSpec.from_json(spec.to_json()), banks.sources, banks.noise)
    np.testing.assert_array_equal(s1.mixture, s2.mixture)
    rule = s1.spec.snr_rule
    p_sig = _active_power_loop(s1.direct.sum(0), rule["window"], rule["hop"], rule["threshold"])
    p_noise = _active_power_loop(s1.noise, rule["window"], rule["hop"], rule["threshold"])
    assert 10 * np.log10(p_sig / p_noise) == pytest.approx(s1.spec.noise.snr_db, abs=0.1)


def test_per_point_static_tails_switch_the_reverb_but_not_the_direct_path():
    one = _options_manifest(static=True)
    per_point = _options_manifest(static=True, motion__static_tails="per_point")
    a, b = _render(one, 1), _render(per_point, 1)
    assert "static_tails" not in a.spec.render and b.spec.render["static_tails"] == "per_point"
    # Same draws (room, sources, positions), same direct path up to the common output gain.
    assert a.spec.sources[0].trajectory == b.spec.sources[0].trajectory
    g = b.spec.output_gain / a.spec.output_gain
    np.testing.assert_allclose(b.direct, a.direct * g, rtol=1e-5, atol=1e-7)
    # The reverberant part differs (independent tails per 100 ms), with the same energy.
    diff = np.sum((b.reverb - a.reverb * g).astype(np.float64) ** 2)
    energy = np.sum((a.reverb * g).astype(np.float64) ** 2)
    assert diff > 0.05 * energy
    assert np.sum(b.reverb.astype(np.float64) ** 2) == pytest.approx(energy, rel=0.25)


def test_box_image_set_is_recorded_and_rendered():
    m = _options_manifest(acoustics__image_set="box")
    s = _render(m, 0)
    assert s.spec.render["image_set"] == "box"
    ref = _render(_options_manifest(), 0)
    # Same scene draws; only the early reflections differ (slightly).
    assert s.spec.room_dim == ref.spec.room_dim and s.spec.rir_seed == ref.spec.rir_seed
    assert not np.array_equal(s.reverb, ref.reverb)
    g = s.spec.output_gain / ref.spec.output_gain
    np.testing.assert_allclose(s.direct, ref.direct * g, rtol=1e-5, atol=1e-7)


def test_specs_of_pre_2_0_recipes_carry_no_option_keys(moving_scenes):
    # Byte-identical specs (and so datasets) for recipes that do not set the 2.0 options.
    assert set(moving_scenes[0].spec.render) == {"backend", "crossfade"}


@pytest.mark.slow
def test_exact_recipe_options_give_the_same_dataset_for_any_worker_count(tmp_path):
    # Every 2.0 option at its published-generator value (plain-uniform motion, the ASA2 noise
    # field, gpuRIR's box, per-point static tails): byte-identical folders with 1 or 2
    # workers and in two shards.
    from asabench.simulate.dataset.build import simulate_dataset

    def tree(folder: Path) -> dict[str, str]:
        return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    text = (ROOT / "manifests" / "demo.toml").read_text()
    text = (text.replace('version = "1.0"', 'version = "2.0"')
            .replace("duration_s = 2.0", "duration_s = 1.0").replace("n_points = 20", "n_points = 10")
            .replace("tmax_db = 40.0", 'tmax_db = 40.0\nimage_set = "box"')
            .replace("wall_margin_m = 0.5", 'wall_margin_m = 0.5\ndraw_power = 1\nstatic_tails = "per_point"')
            .replace("threshold = 0.01", 'threshold = 0.01\nfield = "asa2"'))
    path = tmp_path / "exact.toml"
    path.write_text(text)
    m = parse_manifest(tomllib.loads(text), str(path))
    assert (m.acoustics.image_set, m.motion.static_tails, m.noise.field, m.motion.draw_power) == ("box", "per_point", "asa2", 1)
    simulate_dataset(path, "test", tmp_path / "one", num=2, workers=1)
    simulate_dataset(path, "test", tmp_path / "two", num=2, workers=2)
    simulate_dataset(path, "test", tmp_path / "shards", num=2, shard=(1, 2))
    simulate_dataset(path, "test", tmp_path / "shards", num=2, shard=(0, 2))
    ref = tree(tmp_path / "one")
    assert len([k for k in ref if k.endswith("spec.json")]) == 2
    assert tree(tmp_path / "two") == ref and tree(tmp_path / "shards") == ref
    spec = load_spec(tmp_path / "one" / "test" / "test-000000" / "spec.json")
    assert spec.render == {"backend": "torch", "crossfade": False, "noise_field": "asa2",
                           "image_set": "box", "static_tails": "per_point"}
