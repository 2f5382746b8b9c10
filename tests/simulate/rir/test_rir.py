"""RIR engine: physics (delays, amplitudes, decay), agreement with pyroomacoustics and a
brute-force image-source sum, reproducibility, and bad requests."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from asabench.simulate.rir.measure import measure_rt60
from asabench.simulate.geometry import SPEED_OF_SOUND, dcase_to_cartesian, tetra_array
from asabench.simulate.rir.engine import simulate_rirs, simulate_rirs_torch
from asabench.simulate.rir.backends import gpurir_available
from asabench.simulate.rir.sabine import betas_from_rt60

FS = 16000
PRA_WINDOW_S = 80 / FS  # pyroomacoustics' 81-tap Hann window has its zeros 40 samples out


def nmse_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    n = min(estimate.shape[-1], reference.shape[-1])
    err = np.sum((estimate[..., :n] - reference[..., :n]) ** 2) + np.sum(estimate[..., n:] ** 2) + np.sum(reference[..., n:] ** 2)
    return float(10 * np.log10(err / np.sum(reference**2)))


def group_delay_samples(rir: np.ndarray, fs: float, f_max: float = 3000.0) -> np.ndarray:
    """Arrival time of band-limited impulses from the low-frequency phase slope, ``[...]``.

    Independent of the sinc kernel's sample values: a delayed impulse has phase
    ``-2 pi f tau`` wherever its magnitude is flat.
    """
    n_fft = 1 << 14
    spec = np.fft.rfft(rir, n=n_fft, axis=-1)
    f = np.fft.rfftfreq(n_fft, 1 / fs)
    band = (f > 0) & (f < f_max)
    phase = np.unwrap(np.angle(spec[..., band]), axis=-1)
    slope = (phase * (f[band] - f[band].mean())).sum(-1) / ((f[band] - f[band].mean()) ** 2).sum()
    return -slope / (2 * np.pi) * fs


def test_direct_path_arrival_amplitude_and_tdoa() -> None:
    room = np.array([7.0, 6.0, 3.5])
    centre = room / 2
    mics = tetra_array(centre)
    az = np.array([0.0, 37.0, 90.0, -120.0, 175.0, 60.0])
    el = np.array([0.0, 20.0, -30.0, 45.0, -10.0, 70.0])
    sources = centre + dcase_to_cartesian(az, el, [2.0, 1.3, 1.1, 1.5, 2.7, 1.4])
    rirs = simulate_rirs(room, None, sources, mics, FS, direct_only=True)
    dist = np.linalg.norm(sources[:, None] - mics[None], axis=-1)
    expected = dist / SPEED_OF_SOUND * FS
    measured = group_delay_samples(rirs, FS)
    np.testing.assert_allclose(measured, expected, atol=0.02)
    # Inter-capsule delays (TDOA re capsule 0) against the far-field-free geometry.
    np.testing.assert_allclose(measured - measured[:, :1], expected - expected[:, :1], atol=0.02)
    # DC gain of a windowed sinc is ~1, so the sum of taps is the amplitude 1 / (4 pi d).
    np.testing.assert_allclose(rirs.sum(-1) * 4 * np.pi * dist, 1.0, atol=2e-3)
    # Length: farthest arrival plus the 4 ms half-window.
    assert rirs.shape[-1] == math.ceil(expected.max() + 0.004 * FS) + 1


def test_direct_path_tdoa_far_field_for_several_directions() -> None:
    # With a source far away the TDOA approaches the plane-wave value (r_m . u) / c.
    room = np.array([60.0, 60.0, 60.0])
    centre = room / 2
    mics = tetra_array(centre)
    az = np.array([10.0, 100.0, -150.0, -45.0])
    el = np.array([5.0, -35.0, 30.0, 60.0])
    u = dcase_to_cartesian(az, el)
    rirs = simulate_rirs(room, None, centre + 25 * u, mics, FS, direct_only=True)
    tdoa = group_delay_samples(rirs, FS)
    plane = -(mics - centre) @ u.T / SPEED_OF_SOUND * FS  # [M, S]
    np.testing.assert_allclose(tdoa - tdoa.mean(1, keepdims=True), (plane - plane.mean(0)).T, atol=0.03)


def brute_force_ism(room, betas, src, mic, fs, n_samples, sign, half_s=0.004):
    """Reference: every image of a generous box, exact Hann-windowed sinc, no table."""
    half = half_s * fs
    n_u = [int(math.ceil(SPEED_OF_SOUND * (n_samples + half) / fs / L)) + 2 for L in room]
    grids = [np.arange(-n, n + 1) for n in n_u]
    ux, uy, uz = np.meshgrid(*grids, indexing="ij")
    u = np.stack([ux.ravel(), uy.ravel(), uz.ravel()], 1)
    pos = np.where(u % 2 == 0, 1, -1) * src + (u + u % 2) * room
    low, high = np.abs(np.floor_divide(u, 2)), np.abs(-np.floor_divide(-u, 2))
    gain = np.prod(np.asarray(betas)[0::2] ** low * np.asarray(betas)[1::2] ** high, axis=1) * sign ** np.abs(u).sum(1)
    d = np.linalg.norm(pos - mic, axis=1)
    tau = d / SPEED_OF_SOUND * fs
    n = np.arange(n_samples)
    x = n[None, :] - tau[:, None]
    h = np.where(np.abs(x) < half, np.sinc(x) * 0.5 * (1 + np.cos(np.pi * x / half)), 0.0)
    return (gain / (4 * np.pi * d)) @ h


@pytest.mark.parametrize("sign", ["negative", "positive"])
def test_engine_matches_brute_force_image_sum(sign: str) -> None:
    room = np.array([4.0, 3.0, 2.5])
    betas = np.array([0.9, 0.7, 0.8, 0.6, 0.85, 0.5])
    src = np.array([[1.1, 0.7, 1.3]])
    mic = np.array([[2.9, 2.2, 1.1]])
    # tdiff = tmax: image sources only, 40 ms (all images within ~14 m).
    rirs = simulate_rirs(room, 0.2, src, mic, FS, betas=betas, tdiff_db=12, tmax_db=12, reflection_sign=sign)
    ref = brute_force_ism(room, betas, src[0], mic[0], FS, rirs.shape[-1], -1.0 if sign == "negative" else 1.0)
    assert nmse_db(rirs[0, 0], ref) < -50


@pytest.mark.parametrize("order", [0, 1, 3, 6])
def test_matches_pyroomacoustics_same_order(order: int) -> None:
    room = [5.0, 4.0, 3.0]
    mics = tetra_array((2.6, 2.1, 1.4))
    src = np.array([[1.0, 1.0, 1.2], [4.0, 3.0, 2.0]])
    kw = dict(max_order=order, reflection_sign="positive", tdiff_db=60, tmax_db=60)
    pra_rirs = simulate_rirs(room, 0.3, src, mics, FS, backend="pyroomacoustics", **kw)
    # Same 81-tap window: agreement down to both engines' sinc table interpolation.
    same_window = simulate_rirs(room, 0.3, src, mics, FS, window_s=PRA_WINDOW_S, **kw)
    assert nmse_db(same_window, pra_rirs) < -45
    # gpuRIR's 8 ms window differs from pyroomacoustics' only near Nyquist.
    default_window = simulate_rirs(room, 0.3, src, mics, FS, **kw)
    assert nmse_db(default_window, pra_rirs) < -30


def test_negative_reflection_sign_flips_odd_orders() -> None:
    # Order-1 images alone = pra(order 1) - pra(order 0); gpuRIR's sign negates them.
    room = [5.0, 4.0, 3.0]
    mics = tetra_array((2.6, 2.1, 1.4))
    src = np.array([[1.0, 1.0, 1.2]])
    kw = dict(tdiff_db=60, tmax_db=60, window_s=PRA_WINDOW_S)
    pra0 = simulate_rirs(room, 0.3, src, mics, FS, backend="pyroomacoustics", max_order=0, reflection_sign="positive", **kw)
    pra1 = simulate_rirs(room, 0.3, src, mics, FS, backend="pyroomacoustics", max_order=1, reflection_sign="positive", **kw)
    neg1 = simulate_rirs(room, 0.3, src, mics, FS, max_order=1, reflection_sign="negative", **kw)
    assert nmse_db(neg1, pra0 - (pra1 - pra0)) < -45


def test_tail_backend_interchangeable_with_pyroomacoustics() -> None:
    # Full ASA2-style request: the pyroomacoustics backend covers the same image set and
    # appends the same seeded tail, so the whole RIRs agree.
    room = [4.0, 3.5, 2.7]
    mics = tetra_array((2.0, 1.75, 1.35))
    src = np.array([[1.0, 1.0, 1.2]])
    ours = simulate_rirs(room, 0.2, src, mics, FS, reflection_sign="positive", window_s=PRA_WINDOW_S, seed=3)
    theirs = simulate_rirs(room, 0.2, src, mics, FS, reflection_sign="positive", window_s=PRA_WINDOW_S, seed=3, backend="pyroomacoustics")
    assert ours.shape == theirs.shape
    assert nmse_db(ours, theirs) < -30


@pytest.mark.parametrize("room", [[5.0, 5.0, 3.0], [8.0, 6.0, 3.5], [10.0, 8.0, 4.0]])
def test_rt60_schroeder_within_10_percent(room: list[float]) -> None:
    room_a = np.array(room)
    mics = tetra_array(room_a / 2)[:2]
    src = np.array([[1.0, 1.2, 1.1], [room[0] - 1, room[1] - 1.5, 1.7]])
    for rt60 in (0.2, 0.4, 0.6):
        # Tail to -60 dB so that the -15..-35 dB fit is free of truncation bias.
        rirs = simulate_rirs(room, rt60, src, mics, FS, tmax_db=60, seed=1)
        np.testing.assert_allclose(measure_rt60(rirs, FS), rt60, rtol=0.10)
        # ASA2's -40 dB truncation bends the decay curve, still within 10 % on average.
        asa2 = simulate_rirs(room, rt60, src, mics, FS, seed=1)
        assert measure_rt60(asa2, FS).mean() == pytest.approx(rt60, rel=0.10)


def test_tail_envelope_continues_early_power() -> None:
    room, rt60 = [6.0, 5.0, 3.0], 0.4
    rirs = simulate_rirs(room, rt60, [[1, 1, 1.5]], [[4, 3.5, 1.2]], FS, seed=5)
    n_early = math.ceil(12 / 60 * rt60 * FS)
    before = np.mean(rirs[0, 0, n_early - 160 : n_early] ** 2)
    after = np.mean(rirs[0, 0, n_early : n_early + 160] ** 2)
    # 10 ms apart at -60 dB per 0.4 s: -1.5 dB expected, noise estimate within ~1.5 dB.
    assert abs(10 * np.log10(after / before) + 1.5) < 1.5


def test_seed_reproducible_and_distinct() -> None:
    args = ([6.0, 5.0, 3.0], 0.3, [[1, 1, 1.5], [5, 4, 2]], tetra_array((3, 2.5, 1.5)), FS)
    a = simulate_rirs(*args, seed=7)
    b = simulate_rirs(*args, seed=7)
    c = simulate_rirs(*args, seed=8)
    np.testing.assert_array_equal(a, b)
    n_early = math.ceil(12 / 60 * 0.3 * FS)
    np.testing.assert_array_equal(a[..., :n_early], c[..., :n_early])
    assert not np.allclose(a[..., n_early:], c[..., n_early:])
    # Chunking changes nothing but rounding.
    d = simulate_rirs(*args, seed=7, chunk_size=1)
    np.testing.assert_allclose(d, a, atol=1e-7)


def test_torch_entry_point_returns_device_tensor() -> None:
    src = torch.tensor([[1.0, 1.0, 1.5], [5.0, 4.0, 2.0]])
    mics = torch.as_tensor(tetra_array((3, 2.5, 1.5)))
    out = simulate_rirs_torch([6, 5, 3], 0.3, src, mics, FS, seed=2)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.device == src.device
    np.testing.assert_array_equal(out.numpy(), simulate_rirs([6, 5, 3], 0.3, src.numpy(), mics.numpy(), FS, seed=2))
    # rt60 may be given as the six betas (issue signature "rt60 or betas").
    betas = betas_from_rt60([6, 5, 3], 0.3)
    from_betas = simulate_rirs([6, 5, 3], betas, src.numpy(), mics.numpy(), FS, seed=2)
    np.testing.assert_allclose(from_betas, out.numpy(), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(sources=[[7.0, 1, 1]]), "sources"),
        (dict(mics=[[1.0, 1, -0.1]]), "mics"),
        (dict(sources=np.zeros((0, 3))), "sources"),
        (dict(mics=np.zeros((0, 3))), "mics"),
        (dict(sources=np.ones((2, 2))), "sources"),
        (dict(rt60=0.02), "rt60"),
        (dict(rt60=None), "rt60"),
        (dict(rt60=None, betas=[0.9] * 5), "betas"),
        (dict(room_dim=[6, 5]), "room_dim"),
        (dict(fs=0), "fs"),
        (dict(sources=[[2.0, 2, 1.5]]), "sources"),  # on top of the microphone
        (dict(backend="nope"), "backend"),
        (dict(reflection_sign="up"), "reflection_sign"),
        (dict(max_order=-1), "max_order"),
        (dict(backend="pyroomacoustics"), "reflection_sign"),
        (dict(room_dim=[30, 30, 30], sources=[[29, 29, 29]], mics=[[1, 1, 1]], rt60=0.1, betas=[0.5] * 6), "tdiff_db"),
    ],
)
def test_bad_requests_name_the_field(kwargs: dict, field: str) -> None:
    request = dict(room_dim=[6.0, 5.0, 3.0], rt60=0.4, sources=[[1.0, 1.0, 1.0]], mics=[[2.0, 2.0, 1.5]], fs=FS)
    request.update(kwargs)
    with pytest.raises(ValueError, match=field):
        simulate_rirs(**request)


@pytest.mark.skipif(gpurir_available()[0], reason="gpuRIR and CUDA present")
def test_gpurir_backend_says_what_is_missing() -> None:
    with pytest.raises(RuntimeError, match="gpuRIR|CUDA"):
        simulate_rirs([6, 5, 3], 0.3, [[1, 1, 1]], [[2, 2, 1]], FS, backend="gpurir")


def test_rir_command_writes_what_the_engine_returns(tmp_path, capsys) -> None:
    from asabench.benchmark.cli import main

    out = tmp_path / "r.npz"
    assert main(["rir", "--room", "6", "5", "3", "--rt60", "0.3", "--source", "1", "1", "1.5", "--seed", "4", "--out", str(out)]) == 0
    saved = np.load(out)
    expected = simulate_rirs([6, 5, 3], 0.3, [[1, 1, 1.5]], tetra_array((3, 2.5, 1.5)), FS, seed=4)
    np.testing.assert_array_equal(saved["rirs"], expected)
    assert "measured RT60" in capsys.readouterr().out
    # A bad request is reported with the field and writes nothing.
    bad = tmp_path / "bad.npz"
    assert main(["rir", "--source", "9", "1", "1", "--out", str(bad)]) == 2
    assert "sources" in capsys.readouterr().err and not bad.exists()


def test_same_bits_for_any_thread_count() -> None:
    # Regression: index_put_(accumulate=True) on CPU summed repeated indices in a
    # thread-count-dependent order; a dataset must not depend on the worker's threads.
    sources = np.random.default_rng(0).uniform([0.5, 0.5, 0.5], [5.5, 4.5, 2.5], size=(64, 3))
    args = ([6.0, 5.0, 3.0], 0.6, sources, tetra_array((3, 2.5, 1.5)), FS)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = simulate_rirs(*args, seed=3)
        torch.set_num_threads(2)
        two = simulate_rirs(*args, seed=3)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(one, two)


def test_tail_anchor_window_starts_after_the_direct_path() -> None:
    # gpuRIR's rule: when the direct path arrives inside the last 10 ms before Tdiff, the
    # anchor power is averaged from the direct arrival on, not over the whole 10 ms.
    from asabench.simulate.rir.diffuse_tail import add_diffuse_tail

    n_early, n_tail, fs, rt60 = 400, 4000, 16000.0, 0.5
    rirs = torch.zeros(2, n_early + n_tail)
    rirs[:, 300] = 10.0  # a "direct" peak 100 samples before Tdiff
    rirs[:, 350:n_early] = 0.1
    add_diffuse_tail(rirs, n_early, rt60, fs, torch.Generator().manual_seed(0), direct_delay=torch.tensor([300.2, 349.5]))
    t = torch.arange(n_early, n_early + n_tail, dtype=torch.float64)
    decay = lambda centre: torch.exp(-math.log(1e6) * (t - centre) / (rt60 * fs))  # noqa: E731
    # Row 0: window [301, 400) excludes the peak: power 50 * 0.01 / 99 at its centre 350.
    # Row 1: window [350, 400) of constant 0.1: power 0.01 at its centre 374.5.
    # (Averaging from 240 would include the peak: power (100 + 0.5) / 160, 300x more.)
    for row, power, centre in ((0, 0.5 / 99, 350.0), (1, 0.01, 374.5)):
        noise_power = (rirs[row, n_early:].double() ** 2 / (power * decay(centre))).mean()
        assert float(noise_power) == pytest.approx(1.0, abs=0.1)


def test_gpurir_adapter_passes_the_same_request(monkeypatch) -> None:
    # No GPU here: a stand-in gpuRIR records the call, so the adapter's translation of the
    # request (images per axis, Tdiff, Tmax, betas as given, layout) is checked anyway.
    import sys
    import types

    calls = {}

    def simulate_rir(room_sz, beta, pos_src, pos_rcv, nb_img, Tmax, fs, Tdiff=None, mic_pattern="omni", c=343.0):
        calls.update(room_sz=room_sz, beta=beta, nb_img=nb_img, Tmax=Tmax, fs=fs, Tdiff=Tdiff, c=c, n=(len(pos_src), len(pos_rcv)))
        return np.ones((len(pos_src), len(pos_rcv), int(np.ceil(Tmax * fs))), dtype=np.float32)

    monkeypatch.setitem(sys.modules, "gpuRIR", types.SimpleNamespace(simulateRIR=simulate_rir))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    room, rt60 = [6.0, 5.0, 3.0], 0.5
    out = simulate_rirs(room, rt60, [[1, 1, 1], [2, 3, 1]], tetra_array((3, 2.5, 1.5)), FS, backend="gpurir")
    t_diff = math.ceil(12 / 60 * rt60 * FS) / FS
    assert calls["Tdiff"] == pytest.approx(t_diff)
    assert calls["Tmax"] == pytest.approx(math.ceil(40 / 60 * rt60 * FS) / FS)
    # gpuRIR's t2n: ceil(2 * 0.1 s * 343 / L) = 12, 14, 23 images per axis.
    assert calls["nb_img"] == [12, 14, 23]
    # Betas go in positive: gpuRIR negates them itself.
    np.testing.assert_allclose(calls["beta"], betas_from_rt60(room, rt60), rtol=1e-6)
    assert calls["n"] == (2, 4) and out.shape == (2, 4, math.ceil(40 / 60 * rt60 * FS))
    with pytest.raises(ValueError, match="reflection_sign"):
        simulate_rirs(room, rt60, [[1, 1, 1]], [[2, 2, 1]], FS, backend="gpurir", reflection_sign="positive")


# ------------------------------------------------------------------ image sets (box)


def gpurir_box_ism(room, betas, src, mic, fs, n_samples, nb_img, half_s=0.004):
    """Reference written from gpuRIR's definition: thread index n = 0..N-1 per axis, image
    index j = n - floor(N / 2), cluster ceil(j / 2) at 2 L ceil(j / 2), reflected when j is
    odd; betas negated; amplitude 1 / (4 pi d); Hann-windowed sinc of 8 ms."""
    half = half_s * fs
    grids = [np.arange(n) - n // 2 for n in nb_img]
    jx, jy, jz = np.meshgrid(*grids, indexing="ij")
    j = np.stack([jx.ravel(), jy.ravel(), jz.ravel()], 1)
    clust = -np.floor_divide(-j, 2)  # ceil(j / 2)
    refl = np.abs(j % 2)
    pos = clust * 2 * room + (1 - 2 * refl) * src
    b = -np.asarray(betas)
    gain = np.prod(b[0::2] ** np.abs(clust - refl) * b[1::2] ** np.abs(clust), axis=1)
    d = np.linalg.norm(pos - mic, axis=1)
    x = np.arange(n_samples)[None, :] - (d / SPEED_OF_SOUND * fs)[:, None]
    h = np.where(np.abs(x) < half, np.sinc(x) * 0.5 * (1 + np.cos(np.pi * x / half)), 0.0)
    return (gain / (4 * np.pi * d)) @ h


def test_box_image_set_matches_gpurirs_box() -> None:
    from asabench.simulate.rir.request import make_request
    from asabench.simulate.rir.sabine import images_per_dim

    room = np.array([4.0, 3.0, 2.5])
    betas = np.array([0.9, 0.7, 0.8, 0.6, 0.85, 0.5])
    src = np.array([[1.1, 0.7, 1.3]])
    mic = np.array([[2.9, 2.2, 1.1]])
    kw = dict(betas=betas, tdiff_db=12, tmax_db=12)  # image sources only, Tdiff = 40 ms
    req = make_request(room, 0.2, src, mic, FS, image_set="box", **kw)
    nb = images_per_dim(0.04, room)
    assert req.box == tuple(int(n) for n in nb) == (7, 10, 11)  # ceil(27.44 m / L)
    box = simulate_rirs(room, 0.2, src, mic, FS, image_set="box", **kw)
    ref = gpurir_box_ism(room, betas, src[0], mic[0], FS, box.shape[-1], nb)
    assert nmse_db(box[0, 0], ref) < -50
    # The sphere and the box hold the same images up to a few metres before c * Tdiff, so
    # they differ only in the last half-window (4 ms) of the part, where images arriving
    # just after Tdiff (kept by the sphere, outside this box) reach with their sinc tails.
    sphere = simulate_rirs(room, 0.2, src, mic, FS, **kw)
    diff = np.abs(sphere - box)[0, 0]
    last = int(0.004 * FS)
    assert diff[:-last].max() < 1e-6 * np.abs(sphere).max()
    assert diff[-last:].max() > 1e-4 * np.abs(sphere).max()
    # Direct-only requests ignore the image set (gpuRIR's nb_img = 1, 1, 1).
    np.testing.assert_array_equal(simulate_rirs(room, 0.2, src, mic, FS, direct_only=True, image_set="box", **kw),
                                  simulate_rirs(room, 0.2, src, mic, FS, direct_only=True, **kw))


def test_box_option_is_refused_where_it_cannot_be_honoured() -> None:
    room, mics, src = [5.0, 4.0, 3.0], tetra_array((2.6, 2.1, 1.4)), np.array([[1.0, 1.0, 1.2]])
    with pytest.raises(ValueError, match="image_set: the pyroomacoustics backend"):
        simulate_rirs(room, 0.3, src, mics, FS, backend="pyroomacoustics", reflection_sign="positive", image_set="box")
    with pytest.raises(ValueError, match="image_set: expected one of"):
        simulate_rirs(room, 0.3, src, mics, FS, image_set="cube")
