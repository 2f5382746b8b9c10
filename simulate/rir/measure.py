"""Room-acoustic measurements on impulse responses: Schroeder decay curves and RT60.

References
----------
M. R. Schroeder, "New method of measuring reverberation time", JASA 37(3), 1965.
ISO 3382-1:2009 (T20/T30: line fit of the decay curve over a dB range, extrapolated
to 60 dB).
"""

from __future__ import annotations

import numpy as np


def schroeder_decay_db(rir: np.ndarray) -> np.ndarray:
    """Energy decay curve by Schroeder backward integration, in dB re its start.

    Parameters
    ----------
    rir : ``[..., L]`` impulse responses

    Returns
    -------
    np.ndarray
        ``[..., L]`` float64, ``10 log10(sum_{k >= n} h[k]^2 / sum_k h[k]^2)``; 0 dB at
        ``n = 0``, ``-inf`` after the last non-zero sample.
    """
    h = np.asarray(rir, dtype=np.float64)
    energy = np.cumsum((h * h)[..., ::-1], axis=-1)[..., ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10.0 * np.log10(energy / energy[..., :1])


def measure_rt60(rir: np.ndarray, fs: float, fit_db: tuple[float, float] = (-15.0, -35.0)) -> np.ndarray:
    """RT60 from a least-squares line through the Schroeder curve between two levels.

    The default range (-15, -35) dB skips the early image-source part, which decays
    faster than Sabine's RT60 in absorbent rooms (roughly as Eyring predicts), and stays
    above the truncation of the RIR. ISO 3382's T20 is ``fit_db=(-5, -25)``, T30
    ``(-5, -35)``.

    Parameters
    ----------
    rir : ``[..., L]`` impulse responses
    fs : sample rate, Hz
    fit_db : (upper, lower) levels of the fit range, dB (negative, upper > lower)

    Returns
    -------
    np.ndarray
        ``[...]`` RT60 in seconds, ``-60 / slope`` of the fitted line; NaN where the
        curve never reaches the lower level.
    """
    hi, lo = fit_db
    if not (0 >= hi > lo):
        raise ValueError(f"fit_db: expected (upper, lower) with 0 >= upper > lower, got {fit_db}")
    edc = schroeder_decay_db(rir)
    flat = edc.reshape(-1, edc.shape[-1])
    t = np.arange(edc.shape[-1]) / fs
    out = np.full(flat.shape[0], np.nan)
    for i, curve in enumerate(flat):
        sel = (curve <= hi) & (curve >= lo)
        if not np.any(curve < lo) or sel.sum() < 2:
            continue
        slope = np.polyfit(t[sel], curve[sel], 1)[0]
        if slope < 0:
            out[i] = -60.0 / slope
    return out.reshape(edc.shape[:-1])
