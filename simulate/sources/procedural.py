"""Built-in procedural bank: deterministic, class-typical dry sounds and background noise.

Every clip is a pure function of (bank seed, class, clip index, output rate): its duration
comes from ``SeedSequence(seed, spawn_key=(slot, index, 0))`` and its content from
``spawn_key=(slot, index, 1)``, so the bank needs no files, any worker regenerates any clip,
and a :class:`~.base.SourceRef` id (``"v1/<seed>/<slug>/<index>"``) is enough to
re-render a scene. The sounds are simple physical or source-filter models, meant to be
recognisably different per class (pitch, spectra, temporal structure) so that the whole
pipeline can be trained and tested offline; they are not a substitute for real corpora.

Models per class
----------------
speech (female / male)
    Glottal pulse train (F0 in 165-255 Hz / 85-155 Hz with syllable-wise intonation and
    declination) through parallel formant resonators of five vowels, syllable envelopes,
    fricative noise bursts, pauses between words.
clapping, knock, footsteps, door
    Impulse trains with jitter exciting decaying noise bursts and damped modal resonators
    (clap ~1-2 kHz bursts; knock wood modes 150-800 Hz; footstep 60-120 Hz thumps with a
    scuff; door: optional creak, slam impact, panel resonance and latch rattle).
telephone
    Two tones (simultaneous or warbling) gated by a ring cadence.
bell
    Inharmonic partials (minor-third bell ratios) with partial-dependent exponential decay,
    struck one or more times.
water tap
    Band-passed noise with random slow amplitude fluctuation plus resonant bubble chirps.
music, musical instrument
    Harmonic notes: chord progression with a melody; or one instrument (plucked, sustained
    with vibrato, or mallet) playing a pentatonic line.
laughter
    Bursts of voiced "ha" pulses (aspirated onset, open vowel, falling pitch).
domestic sounds
    Mains hum (50 or 60 Hz and harmonics), an appliance motor tone with fan noise, and
    occasional dish clinks.
background noise
    Pink / brown noise mix with slow level modulation and a low ventilation rumble.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from asabench.simulate.classes import CLASS_SLUGS, NUM_CLASSES

from asabench.simulate.sources.base import NoiseBank, SourceBank, SourceError, SourceRef

#: Bumped whenever any generator changes its output; part of every procedural ref id.
GENERATOR_VERSION = 1

#: Rate at which procedural refs state their length (``SourceRef.fs``), Hz.
NOMINAL_FS = 48_000

#: Slot of the background-noise generator next to the 13 class slots.
NOISE_SLOT = NUM_CLASSES

#: Male and female F0 ranges of the speech generator, Hz.
MALE_F0_HZ = (85.0, 155.0)
FEMALE_F0_HZ = (165.0, 255.0)

#: Clip duration range per class slot (DCASE order, then noise), seconds. Many ranges start
#: below the 4 s scene length so that random onsets/offsets occur, and reach above it.
DURATION_RANGE_S: tuple[tuple[float, float], ...] = (
    (1.5, 8.0),  # female speech
    (1.5, 8.0),  # male speech
    (1.0, 5.0),  # clapping
    (2.0, 7.0),  # telephone
    (1.0, 5.0),  # laughter
    (2.0, 8.0),  # domestic sounds
    (2.0, 7.0),  # walk/footsteps
    (0.8, 4.0),  # door
    (3.0, 8.0),  # music
    (1.5, 6.0),  # musical instrument
    (1.5, 7.0),  # water tap
    (2.0, 7.0),  # bell
    (0.8, 4.0),  # knock
    (6.0, 10.0),  # background noise
)

_VOWELS_HZ = np.array(  # (F1, F2, F3) of /a/, /e/, /i/, /o/, /u/ for an adult male voice
    [[730.0, 1090.0, 2440.0], [530.0, 1840.0, 2480.0], [270.0, 2290.0, 3010.0], [570.0, 840.0, 2410.0], [300.0, 870.0, 2240.0]]
)
_FORMANT_BW_HZ = np.array([90.0, 110.0, 170.0])


# --------------------------------------------------------------------------- seeding


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"procedural bank seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _rng(seed: int, slot: int, index: int, stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(slot, index, stream))))


def clip_frames(seed: int, slot: int, index: int) -> int:
    """Length of procedural clip ``(slot, index)`` in samples at :data:`NOMINAL_FS`."""
    lo, hi = DURATION_RANGE_S[slot]
    return int(round(_rng(seed, slot, index, 0).uniform(lo, hi) * NOMINAL_FS))


# --------------------------------------------------------------------------- DSP helpers


def _nyq_clip(f: np.ndarray | float, fs: int) -> np.ndarray:
    return np.minimum(np.asarray(f, dtype=np.float64), 0.45 * fs)


def _bandpass(x: np.ndarray, lo: float, hi: float, fs: int, order: int = 2) -> np.ndarray:
    hi = min(hi, 0.45 * fs)
    lo = min(lo, 0.5 * hi)
    return sosfilt(butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos"), x)


def _lowpass(x: np.ndarray, fc: float, fs: int, order: int = 2) -> np.ndarray:
    return sosfilt(butter(order, min(fc, 0.45 * fs), btype="lowpass", fs=fs, output="sos"), x)


def _impulses(times_s: np.ndarray, amps: np.ndarray, n: int, fs: int) -> np.ndarray:
    """Impulse train ``[n]`` with ``amps`` at ``times_s`` (outside [0, n) dropped)."""
    out = np.zeros(n)
    idx = np.round(np.asarray(times_s) * fs).astype(np.int64)
    keep = (idx >= 0) & (idx < n)
    np.add.at(out, idx[keep], np.asarray(amps, dtype=np.float64)[keep])
    return out


def _decay(drive: np.ndarray, tau_s: float, fs: int) -> np.ndarray:
    """Exponential decay (time constant ``tau_s``) triggered by each sample of ``drive``."""
    a = np.exp(-1.0 / (tau_s * fs))
    return lfilter([1.0], [1.0, -a], drive)


def _mode(drive: np.ndarray, f_hz: float, tau_s: float, fs: int) -> np.ndarray:
    """Damped resonator (impulse response ``exp(-t/tau) sin(2 pi f t)``) driven by ``drive``."""
    r = np.exp(-1.0 / (tau_s * fs))
    theta = 2 * np.pi * min(f_hz, 0.45 * fs) / fs
    return lfilter([0.0, r * np.sin(theta)], [1.0, -2 * r * np.cos(theta), r * r], drive)


def _coloured(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise with power spectrum ~ 1/f**exponent (1: pink, 2: brown), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    spec *= f ** (-exponent / 2)
    spec[0] = 0.0
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _slow_random(n: int, rng: np.random.Generator, rate_hz: float, fs: int) -> np.ndarray:
    """Smooth random curve ``[n]`` in about [-1, 1] with ~``rate_hz`` bandwidth."""
    knots = max(int(np.ceil(n / fs * rate_hz)) + 2, 2)
    values = rng.uniform(-1.0, 1.0, knots)
    return np.interp(np.linspace(0, knots - 1, n), np.arange(knots), values)


def _fade(x: np.ndarray, fs: int, seconds: float = 0.01) -> np.ndarray:
    m = min(int(seconds * fs), x.size // 2)
    if m > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, m))
        x[:m] *= ramp
        x[-m:] *= ramp[::-1]
    return x


def _gate(times: list[tuple[float, float]], n: int, fs: int, ramp_s: float = 0.01) -> np.ndarray:
    """0/1 envelope ``[n]`` open on each (start, stop) interval, with raised-cosine ramps."""
    t = np.arange(n) / fs
    env = np.zeros(n)
    for start, stop in times:
        rise = np.clip((t - start) / ramp_s, 0.0, 1.0)
        fall = np.clip((stop - t) / ramp_s, 0.0, 1.0)
        env = np.maximum(env, np.minimum(rise, fall))
    return 0.5 - 0.5 * np.cos(np.pi * env)


def _pulse_train(f0: np.ndarray, fs: int) -> np.ndarray:
    """Glottal excitation ``[n]``: one pulse per period of the F0 contour ``f0`` [n] (Hz)."""
    phase = np.cumsum(f0 / fs)
    pulses = np.diff(np.floor(phase), prepend=0.0)
    # Two-pole glottal roll-off (about -12 dB/octave above ~300 Hz); a 50 Hz high-pass
    # removes the pulse train's DC without touching the lowest F0 (85 Hz).
    glottal = _lowpass(pulses, 300.0, fs)
    return sosfilt(butter(1, 50.0, btype="highpass", fs=fs, output="sos"), glottal)


def _formant_sos(freqs: np.ndarray, bws: np.ndarray, fs: int) -> np.ndarray:
    """Cascade of two-pole resonators with unit gain at DC (a Klatt-style vocal tract)."""
    keep = freqs < 0.45 * fs
    r = np.exp(-np.pi * bws[keep] / fs)
    c = 2 * r * np.cos(2 * np.pi * freqs[keep] / fs)
    sos = np.zeros((int(keep.sum()), 6))
    sos[:, 0] = 1.0 - c + r * r
    sos[:, 3] = 1.0
    sos[:, 4] = -c
    sos[:, 5] = r * r
    return sos


def _formants(source: np.ndarray, vowel_weights: np.ndarray, scale: float, fs: int) -> np.ndarray:
    """Cascade formant synthesis with per-sample vowel mixing.

    ``vowel_weights``: ``[V, n]`` non-negative mixing weights over :data:`_VOWELS_HZ`.
    A cascade (rather than parallel band-passes) keeps the low harmonics, so the
    fundamental stays the dominant periodicity as in natural voiced speech.
    """
    out = np.zeros_like(source)
    for v in range(_VOWELS_HZ.shape[0]):
        w = vowel_weights[v]
        if not np.any(w > 0):
            continue
        out += w * sosfilt(_formant_sos(_VOWELS_HZ[v] * scale, _FORMANT_BW_HZ * scale, fs), source)
    return out


def _smooth(x: np.ndarray, fs: int, seconds: float) -> np.ndarray:
    m = max(int(seconds * fs), 1)
    kernel = np.hanning(m + 2)[1:-1]
    return np.apply_along_axis(lambda r: np.convolve(r, kernel / kernel.sum(), mode="same"), -1, np.atleast_2d(x))


# --------------------------------------------------------------------------- generators


def _speech(rng: np.random.Generator, fs: int, n: int, female: bool) -> np.ndarray:
    lo, hi = FEMALE_F0_HZ if female else MALE_F0_HZ
    scale = 1.17 if female else 1.0
    dur = n / fs
    base = rng.uniform(lo + 0.25 * (hi - lo), hi - 0.25 * (hi - lo))
    starts, stops, vowels, targets = [], [], [], []
    t = rng.uniform(0.0, 0.3)
    while t < dur - 0.1:
        for _ in range(int(rng.integers(1, 5))):
            length = rng.uniform(0.12, 0.3)
            starts.append(t)
            stops.append(min(t + length, dur))
            vowels.append(int(rng.integers(0, _VOWELS_HZ.shape[0])))
            # Intonation: +-1.5 semitones around the speaker's base, declining over the clip.
            targets.append(base * 2.0 ** (rng.uniform(-0.125, 0.125) - 0.1 * t / max(dur, 1e-3)))
            t += length
        t += rng.uniform(0.08, 0.5)
    times = np.arange(n) / fs
    centres = (np.asarray(starts) + np.asarray(stops)) / 2
    f0 = np.clip(np.interp(times, centres, targets), lo * 1.02, hi * 0.98)
    f0 *= 1.0 + 0.01 * np.sin(2 * np.pi * 5.0 * times)  # slight jitter-like wobble
    source = _pulse_train(f0, fs)
    # Breathiness: aspiration noise 26 dB below the voicing.
    source = source / (np.std(source) + 1e-12) + 0.05 * rng.standard_normal(n)
    onehot = np.zeros((_VOWELS_HZ.shape[0], n))
    env = np.zeros(n)
    for s, e, v in zip(starts, stops, vowels):
        i0, i1 = int(s * fs), max(int(e * fs), int(s * fs) + 1)
        onehot[v, i0:i1] = 1.0
        env[i0:i1] = np.sin(np.linspace(0, np.pi, i1 - i0)) ** 0.5
    voiced = _formants(source, _smooth(onehot, fs, 0.03), scale, fs) * env
    # Fricative onsets on about half the syllables.
    fric_times = [s for s in starts if rng.random() < 0.5]
    fric_env = _decay(_impulses(np.asarray(fric_times), np.ones(len(fric_times)), n, fs), 0.02, fs)
    fric = _bandpass(rng.standard_normal(n), 2500.0, 7000.0, fs) * fric_env
    voiced /= np.max(np.abs(voiced)) + 1e-12
    return voiced + 0.25 * fric / (np.max(np.abs(fric)) + 1e-12)


def _female_speech(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    return _speech(rng, fs, n, female=True)


def _male_speech(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    return _speech(rng, fs, n, female=False)


def _clapping(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    period = 1.0 / rng.uniform(2.5, 5.0)
    t0 = rng.uniform(0.0, 0.2)
    times = np.arange(t0, n / fs, period)
    times = times + rng.normal(0.0, 0.08 * period, times.size)
    drive = _impulses(times, rng.uniform(0.6, 1.0, times.size), n, fs)
    env = _decay(drive, rng.uniform(0.004, 0.01), fs)
    noise = rng.standard_normal(n) * env
    fc = rng.uniform(800.0, 2000.0)
    return _bandpass(noise, fc / 2, fc * 2, fs) + 0.3 * noise


def _knock(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    times: list[float] = []
    t = rng.uniform(0.02, 0.3)
    while t < n / fs - 0.1:
        for _ in range(int(rng.integers(2, 6))):
            times.append(t)
            t += rng.uniform(0.12, 0.25)
        t += rng.uniform(0.6, 1.5)
    times_a = np.asarray(times)
    drive = _impulses(times_a, rng.uniform(0.7, 1.0, times_a.size), n, fs)
    f1 = rng.uniform(150.0, 300.0)
    wood = _mode(drive, f1, rng.uniform(0.015, 0.03), fs) + 0.6 * _mode(drive, f1 * rng.uniform(2.1, 2.7), 0.012, fs)
    click = _bandpass(rng.standard_normal(n), 1500.0, 6000.0, fs) * _decay(drive, 0.002, fs)
    return wood / (np.max(np.abs(wood)) + 1e-12) + 0.4 * click


def _footsteps(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    period = rng.uniform(0.45, 0.65)
    times = np.arange(rng.uniform(0.0, 0.3), n / fs, period)
    times = times + rng.normal(0.0, 0.02 * period, times.size)
    amps = rng.uniform(0.7, 1.0, times.size) * np.where(np.arange(times.size) % 2 == 0, 1.0, rng.uniform(0.7, 0.9))
    heel = _mode(_impulses(times, amps, n, fs), rng.uniform(60.0, 120.0), rng.uniform(0.03, 0.05), fs)
    scuff_drive = _impulses(times + rng.uniform(0.04, 0.08), 0.5 * amps, n, fs)
    scuff = _bandpass(rng.standard_normal(n), 1000.0, 4000.0, fs) * _decay(scuff_drive, 0.012, fs)
    return heel / (np.max(np.abs(heel)) + 1e-12) + 0.3 * scuff


def _door(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    out = np.zeros(n)
    dur = n / fs
    slam_t = rng.uniform(0.05, 0.4)
    if rng.random() < 0.5 and dur > 1.2:
        # Creak: a squeaky hinge, frequency-wobbling harmonic tone before the slam.
        c0 = rng.uniform(0.02, 0.1)
        c1 = c0 + rng.uniform(0.4, 0.8)
        slam_t = c1 + rng.uniform(0.05, 0.2)
        f = rng.uniform(300.0, 700.0) * (1.0 + 0.15 * _slow_random(n, rng, 6.0, fs))
        phase = 2 * np.pi * np.cumsum(f) / fs
        creak = np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase)
        out += 0.25 * creak * _gate([(c0, c1)], n, fs, 0.05)
    while slam_t < dur - 0.2:
        drive = _impulses(np.array([slam_t]), np.array([1.0]), n, fs)
        impact = _lowpass(rng.standard_normal(n), 3000.0, fs) * _decay(drive, 0.015, fs)
        panel = _mode(drive, rng.uniform(70.0, 150.0), rng.uniform(0.08, 0.15), fs)
        out += impact / (np.max(np.abs(impact)) + 1e-12) + panel / (np.max(np.abs(panel)) + 1e-12)
        k = int(rng.integers(4, 11))
        rattle_t = slam_t + np.cumsum(rng.uniform(0.015, 0.04, k))
        rattle_drive = _impulses(rattle_t, 0.5 * np.exp(-np.arange(k) / 3.0), n, fs)
        out += _bandpass(rng.standard_normal(n), 1000.0, 5000.0, fs) * _decay(rattle_drive, 0.004, fs)
        slam_t += rng.uniform(1.5, 3.0)
    return out


def _telephone(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    t = np.arange(n) / fs
    f1 = rng.uniform(400.0, 1000.0)
    f2 = f1 * rng.uniform(1.1, 1.35)
    if rng.random() < 0.5:
        tone = np.sin(2 * np.pi * f1 * t) + np.sin(2 * np.pi * f2 * t)
    else:
        # Warble: a smooth alternation between the two tones at 15-25 Hz.
        w = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(15.0, 25.0) * t)
        tone = w * np.sin(2 * np.pi * f1 * t) + (1 - w) * np.sin(2 * np.pi * f2 * t)
    cadences = (((0.0, 0.4), (0.6, 1.0)), ((0.0, 1.0),), ((0.0, 2.0),), ((0.0, 0.25), (0.5, 0.75)))
    bursts = cadences[int(rng.integers(0, len(cadences)))]
    cycle = bursts[-1][1] + rng.uniform(1.0, 2.5)
    start = rng.uniform(0.0, 0.2)
    times = [(start + c * cycle + a, start + c * cycle + b) for c in range(int(np.ceil(n / fs / cycle)) + 1) for a, b in bursts]
    return tone * _gate(times, n, fs, 0.01)


def _bell(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    f0 = rng.uniform(300.0, 1200.0)
    ratios = np.array([0.5, 1.0, 1.19, 1.5, 2.0, 2.51, 2.66, 3.01, 4.1]) * (1.0 + rng.uniform(-0.01, 0.01, 9))
    freqs = f0 * ratios
    keep = freqs < 0.45 * fs
    freqs, ratios = freqs[keep], ratios[keep]
    amps = rng.uniform(0.3, 1.0, freqs.size) / (1.0 + 0.3 * np.arange(freqs.size))
    tau = rng.uniform(0.8, 2.5) * ratios ** (-0.7)
    out = np.zeros(n)
    strike = rng.uniform(0.02, 0.2)
    while strike < n / fs - 0.3:
        i0 = int(strike * fs)
        tt = np.arange(n - i0) / fs
        partials = amps[:, None] * np.exp(-tt[None, :] / tau[:, None]) * np.sin(2 * np.pi * freqs[:, None] * tt[None, :] + rng.uniform(0, 2 * np.pi, (freqs.size, 1)))
        out[i0:] += rng.uniform(0.7, 1.0) * partials.sum(axis=0)
        strike += rng.uniform(1.5, 3.0)
    return out


def _water_tap(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    flow = _bandpass(rng.standard_normal(n), rng.uniform(400.0, 800.0), rng.uniform(3000.0, 7000.0), fs)
    flow *= 1.0 + rng.uniform(0.3, 0.6) * _slow_random(n, rng, rng.uniform(5.0, 15.0), fs)
    # Bubbles: short rising resonant chirps (Minnaert-like) at a Poisson rate.
    dur = n / fs
    k = int(rng.poisson(rng.uniform(30.0, 80.0) * dur))
    onsets = rng.integers(0, max(n - 1, 1), k)
    length = int(0.015 * fs)
    tt = np.arange(length) / fs
    f = rng.uniform(1000.0, 3000.0, (k, 1)) * (1.0 + 3.0 * tt[None, :])
    chirps = np.exp(-tt[None, :] / rng.uniform(0.003, 0.008, (k, 1))) * np.sin(2 * np.pi * np.cumsum(_nyq_clip(f, fs), axis=1) / fs)
    bubbles = np.zeros(n + length)
    np.add.at(bubbles, (onsets[:, None] + np.arange(length)[None, :]).ravel(), (chirps * rng.uniform(0.2, 1.0, (k, 1))).ravel())
    x = flow / (np.std(flow) + 1e-12) + 0.8 * bubbles[:n]
    t_on = rng.uniform(0.0, 0.3)
    t_off = dur - rng.uniform(0.0, 0.3) if rng.random() < 0.5 else dur + 1.0
    return x * _gate([(t_on, t_off)], n, fs, rng.uniform(0.1, 0.3))


def _harmonic_note(freq: float, length: int, fs: int, rolloff: float, decay_s: float | None, rng: np.random.Generator, vibrato: float = 0.0) -> np.ndarray:
    tt = np.arange(length) / fs
    k = np.arange(1, 13)
    k = k[k * freq < 0.45 * fs]
    amps = k ** (-rolloff) * rng.uniform(0.7, 1.0, k.size)
    inst = freq * (1.0 + vibrato * np.sin(2 * np.pi * 5.5 * tt))
    phase = 2 * np.pi * np.cumsum(inst) / fs
    if decay_s is None:
        harm = amps[:, None] * np.sin(k[:, None] * phase[None, :])
    else:
        # Higher partials decay faster, as in plucked and struck strings.
        harm = amps[:, None] * np.exp(-tt[None, :] * k[:, None] ** 0.5 / decay_s) * np.sin(k[:, None] * phase[None, :])
    note = harm.sum(axis=0)
    attack = min(int((0.005 if decay_s is not None else 0.05) * fs), length)
    note[:attack] *= np.linspace(0.0, 1.0, attack)
    release = min(int(0.03 * fs), length)
    note[length - release :] *= np.linspace(1.0, 0.0, release)
    return note


def _midi_hz(m: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)


def _music(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    beat = 60.0 / rng.uniform(80.0, 140.0)
    root = int(rng.integers(48, 60))
    scale = np.array([0, 2, 4, 5, 7, 9, 11]) if rng.random() < 0.5 else np.array([0, 2, 3, 5, 7, 8, 10])
    degrees = [0, 3, 4, 5]
    progression = [degrees[i] for i in rng.permutation(4)]
    out = np.zeros(n)
    t = 0.0
    c = 0
    while t < n / fs:
        deg = progression[c % 4]
        i0 = int(t * fs)
        length = min(int(2 * beat * fs), n - i0)
        for step in (0, 2, 4):  # triad from the scale
            d = deg + step
            pitch = root + scale[d % 7] + 12 * (d // 7) - 12
            out[i0 : i0 + length] += 0.25 * _harmonic_note(float(_midi_hz(pitch)), length, fs, 1.5, None, rng)
        for half in range(4):  # melody in eighth notes over the chord
            j0 = i0 + int(half * beat / 2 * fs)
            if j0 >= n or rng.random() < 0.2:
                continue
            ln = min(int(beat / 2 * fs), n - j0)
            d = deg + int(rng.integers(0, 8))
            pitch = root + 12 + scale[d % 7] + 12 * (d // 7)
            out[j0 : j0 + ln] += 0.5 * _harmonic_note(float(_midi_hz(pitch)), ln, fs, 1.0, 0.4, rng)
        t += 2 * beat
        c += 1
    return out


def _instrument(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    kind = int(rng.integers(0, 3))  # 0 plucked, 1 sustained (bowed / wind), 2 mallet
    root = int(rng.integers(45, 72))
    penta = np.array([0, 2, 4, 7, 9, 12, 14, 16])
    out = np.zeros(n)
    t = rng.uniform(0.0, 0.2)
    while t < n / fs - 0.05:
        note_len = rng.uniform(0.25, 1.0) if kind != 1 else rng.uniform(0.5, 1.5)
        i0 = int(t * fs)
        length = min(int(note_len * fs), n - i0)
        f = float(_midi_hz(root + penta[int(rng.integers(0, penta.size))]))
        if kind == 0:
            note = _harmonic_note(f, length, fs, 1.0, rng.uniform(0.3, 0.8), rng)
        elif kind == 1:
            note = _harmonic_note(f, length, fs, 1.3, None, rng, vibrato=0.006)
        else:
            tt = np.arange(length) / fs
            ratios = np.array([1.0, 3.93, 9.2])
            ratios = ratios[ratios * f < 0.45 * fs]
            note = (np.array([1.0, 0.4, 0.15])[: ratios.size, None] * np.exp(-tt[None, :] / (0.35 / ratios[:, None])) * np.sin(2 * np.pi * f * ratios[:, None] * tt[None, :])).sum(axis=0)
        out[i0 : i0 + length] += note
        t += note_len * rng.uniform(0.9, 1.1)
    return out


def _laughter(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    female = rng.random() < 0.5
    lo, hi = (200.0, 400.0) if female else (120.0, 250.0)
    scale = 1.17 if female else 1.0
    dur = n / fs
    f0 = np.full(n, (lo + hi) / 2)
    env = np.zeros(n)
    breath_drive = np.zeros(n)
    t = rng.uniform(0.0, 0.3)
    while t < dur - 0.15:
        pulses = int(rng.integers(3, 9))
        rate = rng.uniform(4.0, 6.0)
        start_f0 = rng.uniform(lo + 0.3 * (hi - lo), hi)
        for p in range(pulses):
            s = t + p / rate
            e = s + rng.uniform(0.06, 0.12)
            i0, i1 = int(s * fs), min(int(e * fs), n)
            if i1 <= i0:
                break
            f0[i0:i1] = start_f0 * (1.0 - 0.04 * p) * np.linspace(1.05, 0.95, i1 - i0)
            env[i0:i1] = np.sin(np.linspace(0, np.pi, i1 - i0))
            breath_drive[max(i0 - int(0.02 * fs), 0)] += 1.0
        t += pulses / rate + rng.uniform(0.3, 1.0)
    vowel = np.zeros((_VOWELS_HZ.shape[0], n))
    vowel[0] = 1.0  # open /a/: "ha"
    voiced = _formants(_pulse_train(np.clip(f0, lo * 0.8, hi), fs), vowel, scale, fs) * env
    breath = _bandpass(rng.standard_normal(n), 500.0, 5000.0, fs) * _decay(breath_drive, 0.03, fs)
    voiced /= np.max(np.abs(voiced)) + 1e-12
    return voiced + 0.3 * breath / (np.max(np.abs(breath)) + 1e-12)


def _domestic(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    t = np.arange(n) / fs
    mains = 50.0 if rng.random() < 0.5 else 60.0
    k = np.arange(1, 7)
    k = k[k * mains < 0.45 * fs]
    hum = (rng.uniform(0.2, 1.0, k.size)[:, None] / k[:, None] * np.sin(2 * np.pi * mains * k[:, None] * t[None, :] + rng.uniform(0, 2 * np.pi, (k.size, 1)))).sum(axis=0)
    motor_f = rng.uniform(80.0, 300.0) * (1.0 + 0.01 * _slow_random(n, rng, 1.0, fs))
    motor_phase = 2 * np.pi * np.cumsum(motor_f) / fs
    motor = np.sin(motor_phase) + 0.5 * np.sin(2 * motor_phase) + 0.3 * np.sin(3 * motor_phase)
    fan = _lowpass(rng.standard_normal(n), rng.uniform(500.0, 2000.0), fs)
    fan *= 1.0 + 0.2 * _slow_random(n, rng, 0.5, fs)
    clink_count = int(rng.poisson(rng.uniform(0.3, 1.0) * n / fs))
    clink_t = rng.uniform(0.0, n / fs, clink_count)
    drive = _impulses(clink_t, rng.uniform(0.3, 1.0, clink_count), n, fs)
    clinks = sum(_mode(drive, f, rng.uniform(0.05, 0.15), fs) for f in rng.uniform(2000.0, 6000.0, 3))
    parts = [hum, motor, fan, clinks]
    gains = [rng.uniform(0.5, 1.0), rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.6), rng.uniform(0.3, 0.8)]
    return sum(g * p / (np.max(np.abs(p)) + 1e-12) for g, p in zip(gains, parts))


def _background(rng: np.random.Generator, fs: int, n: int) -> np.ndarray:
    w = rng.uniform(0.2, 0.8)
    x = w * _coloured(n, rng, 1.0) + (1.0 - w) * _coloured(n, rng, 2.0)
    rumble = _lowpass(rng.standard_normal(n), rng.uniform(80.0, 200.0), fs, order=4)
    x += rng.uniform(0.1, 0.4) * rumble / (np.std(rumble) + 1e-12)
    # Slow level changes of +-3 dB (traffic, people moving far away).
    x *= 10.0 ** (3.0 * _slow_random(n, rng, rng.uniform(0.05, 0.5), fs) / 20.0)
    # Recording chains cut below ~20 Hz; brown noise would otherwise put most of its power
    # in an inaudible, slowly wandering offset.
    return sosfilt(butter(2, 20.0, btype="highpass", fs=fs, output="sos"), x)


_GENERATORS: tuple[Callable[[np.random.Generator, int, int], np.ndarray], ...] = (
    _female_speech,
    _male_speech,
    _clapping,
    _telephone,
    _laughter,
    _domestic,
    _footsteps,
    _door,
    _music,
    _instrument,
    _water_tap,
    _bell,
    _knock,
    _background,
)


def generate(seed: int, slot: int, index: int, fs: int) -> np.ndarray:
    """Generate procedural clip ``index`` of class slot ``slot`` (13 = noise) at ``fs``.

    Parameters
    ----------
    seed : int
        Bank seed (non-negative).
    slot : int
        DCASE class id in ``[0, 13)``, or :data:`NOISE_SLOT` for background noise.
    index : int
        Clip index within the slot (non-negative).
    fs : int
        Sample rate, Hz.

    Returns
    -------
    np.ndarray
        ``[ceil(clip_frames * fs / NOMINAL_FS)]`` float32; foreground clips peak between
        -12 and -1 dBFS (a corpus-like spread of native levels), noise has unit RMS.
    """
    seed = _check_seed(seed)
    if not 0 <= slot <= NOISE_SLOT:
        raise ValueError(f"slot {slot} out of range [0, {NOISE_SLOT}]")
    if index < 0:
        raise ValueError(f"clip index must be non-negative, got {index}")
    fs = int(fs)
    n = -(-clip_frames(seed, slot, index) * fs // NOMINAL_FS)
    rng = _rng(seed, slot, index, 1)
    x = _GENERATORS[slot](rng, fs, n)
    x = _fade(np.asarray(x, dtype=np.float64)[:n].copy(), fs, 0.005)
    if slot == NOISE_SLOT:
        x /= np.sqrt(np.mean(x**2)) + 1e-12
    else:
        x *= 10.0 ** (rng.uniform(-12.0, -1.0) / 20.0) / (np.max(np.abs(x)) + 1e-12)
    return x.astype(np.float32)


def _slot_name(slot: int) -> str:
    return "noise" if slot == NOISE_SLOT else CLASS_SLUGS[slot]


def _parse_id(ref: SourceRef) -> tuple[int, int, int]:
    parts = ref.id.split("/")
    if ref.bank != "procedural" or len(parts) != 4 or not parts[0].startswith("v"):
        raise SourceError(ref.id, f"not a procedural clip id (bank {ref.bank!r}); expected 'v<version>/<seed>/<slug>/<index>'")
    if parts[0] != f"v{GENERATOR_VERSION}":
        raise SourceError(ref.id, f"made by procedural generator {parts[0]}, this is v{GENERATOR_VERSION}")
    names = [_slot_name(s) for s in range(NOISE_SLOT + 1)]
    if parts[2] not in names or not parts[1].isdigit() or not parts[3].isdigit():
        raise SourceError(ref.id, "malformed procedural clip id")
    return int(parts[1]), names.index(parts[2]), int(parts[3])


def _ref(seed: int, slot: int, index: int) -> SourceRef:
    return SourceRef(
        bank="procedural",
        id=f"v{GENERATOR_VERSION}/{seed}/{_slot_name(slot)}/{index:05d}",
        class_idx=None if slot == NOISE_SLOT else slot,
        frames=clip_frames(seed, slot, index),
        fs=NOMINAL_FS,
    )


def _load(ref: SourceRef, fs: int) -> np.ndarray:
    seed, slot, index = _parse_id(ref)
    if clip_frames(seed, slot, index) != ref.frames or ref.fs != NOMINAL_FS:
        raise SourceError(ref.id, f"ref length {ref.frames} at {ref.fs} Hz does not match the generator")
    return generate(seed, slot, index, fs)


class ProceduralBank(SourceBank):
    """Built-in foreground bank: ``clips_per_class`` procedural clips for each of 13 classes.

    Parameters
    ----------
    seed : int
        Bank seed; the same seed gives bit-identical clips on any machine.
    clips_per_class : int
        Clips listed per class by :meth:`files`.

    Notes
    -----
    :meth:`load` regenerates any procedural ref from its id alone (the id holds the seed),
    so refs stay loadable by a bank built with another seed or size.
    """

    kind = "procedural"

    def __init__(self, seed: int, clips_per_class: int = 20) -> None:
        self.seed = _check_seed(seed)
        if clips_per_class < 1:
            raise ValueError(f"clips_per_class must be >= 1, got {clips_per_class}")
        self.clips_per_class = int(clips_per_class)

    @property
    def name(self) -> str:
        return "builtin"

    def files(self, class_idx: int) -> list[SourceRef]:
        if not 0 <= class_idx < NUM_CLASSES:
            raise ValueError(f"class_idx {class_idx} out of range [0, {NUM_CLASSES})")
        return [_ref(self.seed, class_idx, i) for i in range(self.clips_per_class)]

    def load(self, ref: SourceRef, fs: int) -> np.ndarray:
        return _load(ref, fs)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "role": "sources", "seed": self.seed, "clips_per_class": self.clips_per_class, "generator_version": GENERATOR_VERSION}


class ProceduralNoiseBank(NoiseBank):
    """Built-in background-noise bank: ``num_clips`` coloured ambience clips (6-10 s).

    Parameters
    ----------
    seed : int
        Bank seed.
    num_clips : int
        Clips listed by :meth:`files`.
    """

    kind = "procedural"

    def __init__(self, seed: int, num_clips: int = 20) -> None:
        self.seed = _check_seed(seed)
        if num_clips < 1:
            raise ValueError(f"num_clips must be >= 1, got {num_clips}")
        self.num_clips = int(num_clips)

    @property
    def name(self) -> str:
        return "builtin"

    def files(self) -> list[SourceRef]:
        return [_ref(self.seed, NOISE_SLOT, i) for i in range(self.num_clips)]

    def load(self, ref: SourceRef, fs: int) -> np.ndarray:
        return _load(ref, fs)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "role": "noise", "seed": self.seed, "num_clips": self.num_clips, "generator_version": GENERATOR_VERSION}
