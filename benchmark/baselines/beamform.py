"""Delay-and-sum, MVDR and MPDR beamformers steered to a direction: the TSE ``das``/``mvdr``/``mpdr`` baselines.

Everything happens in the STFT of :mod:`asabench.benchmark.baselines.spectral` (32-ms
periodic Hann window, hop 1/4) with far-field plane-wave steering vectors of the array
geometry (capsule positions ``r_m`` relative to the array centre, metres; the label
directions are taken from that centre)::

    u = (cos el cos az, cos el sin az, sin el)          DCASE direction of arrival
    d_m(f) = exp(+j 2 pi f (r_m . u) / c),  c = 343 m/s   a plane wave from u reaches capsule m
                                                          (r_m . u)/c seconds before the centre

Beamformer weights per frequency ``f`` (``M`` capsules, ``X(f, t)`` the ``[M]`` mixture bins):

* delay-and-sum: ``w = d / M``;
* MVDR: ``w = R^-1 d / (d^H R^-1 d)`` with the noise-plus-interference covariance estimated
  from the mixture by down-weighting the bins the look direction dominates,
  ``R(f) = sum_t (1 - G(f, t)) X X^H / sum_t (1 - G(f, t))``, where
  ``G = |d^H X / M|^2 / (|X|^2 / M)`` in ``[0, 1]`` is the share of the bin's power that a
  delay-and-sum beam to ``d`` passes (1 for a lone plane wave from the look direction);
* MPDR (``method="mpdr"``, the ``mpdr`` baseline): the same with the plain covariance of the
  whole mixture, ``R(f) = (1/T) sum_t X X^H`` over all ``T`` frames of the clip (target
  included: the minimum-power distortionless response, which equals MVDR for an exact
  steering vector and infinitely many frames, but cancels part of the target through the
  finite-sample target/interference correlation and through reverberation);

both with diagonal loading ``R + delta tr(R)/M I``, ``delta = 0.01`` (:data:`DEFAULT_LOADING`).

All three are distortionless in the look direction, ``w^H d = 1``: the beam output ``y = w^H X``
estimates the look-direction signal *at the array centre*. The 4-channel image is one beam
per reference capsule: ``Y_m = d_m y``, which is exactly the beam whose steering vector is
normalised to capsule ``m`` (``d / d_m``, distortionless with respect to capsule ``m``), since
the loaded MVDR/MPDR and DAS weights (and ``G``) scale as
``w(d / d_m) = conj(1 / d_m) w(d)``. Equivalently the output is the centre beam re-imaged
with the far-field (free-field) relative transfer functions; no RTF is estimated from the data.

:func:`steer_beams` is the vectorised core (batched over scenes, directions, frequencies and
label frames; one ``torch.linalg.solve`` per call). The SELD baselines call it to turn
detected directions into USS objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping

import numpy as np
import torch

from asabench.benchmark.baselines import BaselineContext, BaselineError, register_baseline
from asabench.benchmark.baselines.spectral import STFTSpec, istft, stft, stft_spec
from asabench.simulate.geometry import SPEED_OF_SOUND, TETRA_RADIUS_M, tetra_array
from asabench.simulate.io.config import ConfigBase, ConfigError, ranged

__all__ = ["steer_beams", "steering_vectors", "beam_weights", "look_share", "array_geometry",
           "BeamformerConfig", "BeamformerTSE", "resolve_beamformer_config", "DEFAULT_LOADING", "METHODS"]

#: Relative diagonal loading ``delta`` of the MVDR/MPDR covariance: ``R + delta tr(R)/M I``.
DEFAULT_LOADING: float = 1e-2
METHODS: tuple[str, ...] = ("das", "mvdr", "mpdr")


def steering_vectors(directions_deg: torch.Tensor, geometry: torch.Tensor | np.ndarray,
                     freqs_hz: torch.Tensor, c: float = SPEED_OF_SOUND) -> torch.Tensor:
    """Far-field steering vectors ``d_m(f) = exp(+j 2 pi f (r_m . u) / c)``.

    Parameters
    ----------
    directions_deg : ``[..., 2]`` azimuth, elevation in degrees (DCASE convention).
    geometry : ``[M, 3]`` capsule positions relative to the array centre, metres.
    freqs_hz : ``[F]`` frequencies.

    Returns
    -------
    torch.Tensor
        ``[..., F, M]`` complex128, unit modulus.
    """
    dirs = torch.as_tensor(directions_deg, dtype=torch.float64)
    pos = torch.as_tensor(np.asarray(geometry, dtype=np.float64))
    az, el = torch.deg2rad(dirs[..., 0]), torch.deg2rad(dirs[..., 1])
    u = torch.stack([torch.cos(el) * torch.cos(az), torch.cos(el) * torch.sin(az), torch.sin(el)], -1)
    tau = u @ pos.T / c                                             # [..., M] seconds of advance
    phase = 2 * torch.pi * freqs_hz.to(torch.float64)[:, None] * tau[..., None, :]   # [..., F, M]
    return torch.polar(torch.ones_like(phase), phase)


def _frame_index(n_frames_stft: int, n_labels: int, spec: STFTSpec, n_samples: int) -> torch.Tensor:
    """``[T]`` the label frame of each STFT frame (frame ``t`` is centred on sample ``t * hop``)."""
    centres = torch.arange(n_frames_stft, dtype=torch.float64) * spec.hop
    return torch.clamp((centres * n_labels / max(n_samples, 1)).long(), 0, n_labels - 1)


def look_share(spectra: torch.Tensor, steering: torch.Tensor) -> torch.Tensor:
    """``G = |d^H X / M|^2 / (|X|^2 / M)`` in ``[0, 1]``: the share of each bin's power a
    delay-and-sum beam to ``d`` passes (1 for a lone plane wave from ``d``).

    ``spectra`` ``[B, M, F, T]``, ``steering`` ``[B, ..., F, M]`` -> ``[B, ..., F, T]``.
    """
    B, M, F, T = spectra.shape
    d = steering.to(torch.complex128)
    X = spectra.to(torch.complex128)
    extra = d.dim() - 3
    flat = d.reshape(B, -1, F, M)
    y = torch.einsum("bkfm,bmft->bkft", flat.conj(), X) / M
    power = X.abs().square().mean(1)[:, None]                       # [B, 1, F, T]
    share = y.abs().square() / torch.where(power > 0, power, 1.0)
    return share.clamp(0.0, 1.0).reshape(B, *d.shape[1:1 + extra], F, T)


def beam_weights(spectra: torch.Tensor, steering: torch.Tensor, *, method: str = "mvdr",
                 loading: float = DEFAULT_LOADING) -> torch.Tensor:
    """Beamformer weights ``w`` (``y = w^H X``) for the steering vectors of each scene.

    Parameters
    ----------
    spectra : ``[B, M, F, T]`` complex mixture STFT (the covariances are estimated from it).
    steering : ``[B, ..., F, M]`` steering vectors (:func:`steering_vectors`).
    method : ``"das"``: ``w = d / M``. ``"mvdr"``: ``w = R^-1 d / (d^H R^-1 d)`` with the
        noise-plus-interference covariance estimated from the mixture,
        ``R = sum_t (1 - G_t) X_t X_t^H / sum_t (1 - G_t)``, ``G`` the look direction's share of
        each bin (:func:`look_share`): bins the look direction dominates count little.
        ``"mpdr"``: the same with the plain mixture covariance ``R = (1/T) sum_t X_t X_t^H``
        (target included). Both add the loading ``loading * tr(R)/M * I``.

    Returns
    -------
    torch.Tensor
        ``[B, ..., F, M]`` complex weights, ``w^H d = 1`` for each steering vector.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if not loading >= 0:
        raise ValueError(f"loading: must be >= 0, got {loading}")
    B, M, F, T = spectra.shape
    d = steering.to(torch.complex128)
    if method == "das":
        return d / M
    X = spectra.to(torch.complex128)
    extra = d.dim() - 3                                             # the "..." dims of steering
    outer = torch.einsum("bmft,bnft->bftmn", X, X.conj())           # [B, F, T, M, M]
    if method == "mpdr":
        R = outer.mean(2).reshape(B, *([1] * extra), F, M, M)
    else:
        weight = (1.0 - look_share(X, d)).reshape(B, -1, F, T)      # [B, K', F, T]
        R = torch.einsum("bkft,bftmn->bkfmn", weight.to(X.dtype), outer)
        R = R / weight.sum(-1).clamp_min(1e-12)[..., None, None]
        R = R.reshape(B, *d.shape[1:1 + extra], F, M, M)
    power = torch.diagonal(R, dim1=-2, dim2=-1).real.mean(-1)      # [B, ..., F] tr(R)/M
    # an absolute floor keeps an all-zero bin (silence, DC) solvable; it is 1e-12 of the
    # mean power, far below any loading that matters
    floor = 1e-12 * power.mean(-1, keepdim=True) + torch.finfo(torch.float64).tiny
    R = R + (loading * power + floor)[..., None, None] * torch.eye(M, dtype=R.dtype)
    Rinv_d = torch.linalg.solve(R, d[..., None])[..., 0]
    return Rinv_d / (d.conj() * Rinv_d).sum(-1, keepdim=True)


def steer_beams(mixture: torch.Tensor, directions: torch.Tensor, geometry: torch.Tensor | np.ndarray,
                fs: int, *, method: str = "mvdr", loading: float = DEFAULT_LOADING,
                activity: torch.Tensor | None = None) -> torch.Tensor:
    """Multichannel images of the signals arriving from ``directions`` (one beam per reference capsule).

    Parameters
    ----------
    mixture : ``[B, C, N]`` microphone signals (``C = M`` capsules of ``geometry``).
    directions : ``[B, K, 2]`` (azimuth, elevation) degrees, one static look direction per
        beam; or ``[B, K, L, 2]``: a direction per label frame, the ``L`` frames spanning the
        clip evenly (STFT frame ``t`` uses label frame ``floor(t hop L / N)``).
    geometry : ``[C, 3]`` capsule positions relative to the array centre, metres
        (:func:`array_geometry`).
    fs : sample rate, Hz.
    method : ``"mvdr"`` (noise-plus-interference covariance), ``"mpdr"`` (mixture covariance)
        or ``"das"``; see :func:`beam_weights`.
    loading : relative diagonal loading ``delta`` of the covariance (ignored by DAS).
    activity : optional ``[B, K, L]`` gains per label frame (0/1 or soft) applied to each beam,
        e.g. a detector's activity, so an object is silent where it was not detected.

    Returns
    -------
    torch.Tensor
        ``[B, K, C, N]`` float32 images, the same length as the mixture.
    """
    if mixture.dim() != 3:
        raise ValueError(f"mixture: expected [B, C, N], got {list(mixture.shape)}")
    B, C, N = mixture.shape
    pos = np.asarray(geometry, dtype=np.float64)
    if pos.shape != (C, 3):
        raise ValueError(f"geometry: expected [{C}, 3] capsule positions for {C} channels, got {list(pos.shape)}")
    directions = torch.as_tensor(directions, dtype=torch.float64)
    if directions.dim() == 3:
        directions = directions[:, :, None]                       # one label frame
    if directions.dim() != 4 or directions.shape[0] != B or directions.shape[-1] != 2:
        raise ValueError(f"directions: expected [B={B}, K, 2] or [B, K, L, 2], got {list(directions.shape)}")
    K, L = directions.shape[1], directions.shape[2]
    spec = stft_spec(fs)
    X = stft(mixture.to(torch.float64), spec)                     # [B, M, F, T]
    T = X.shape[-1]
    d = steering_vectors(directions, pos, spec.freqs_hz())        # [B, K, L, F, M]
    w = beam_weights(X, d, method=method, loading=loading)      # [B, K, L, F, M]
    frames = _frame_index(T, L, spec, N)                          # [T]
    # y[b, k, f, t] = w[b, k, l(t), f]^H X[b, :, f, t]; then Y_m = d_m y
    if L == 1:
        y = torch.einsum("bkfm,bmft->bkft", w[:, :, 0].conj(), X)              # [B, K, F, T]
        dt = d[:, :, 0, :, None, :]                                          # [B, K, F, 1, M]
    else:
        y = torch.einsum("bktfm,bmft->bkft", w[:, :, frames].conj(), X)
        dt = d[:, :, frames].permute(0, 1, 3, 2, 4)                          # [B, K, F, T, M]
    if activity is not None:
        act = torch.as_tensor(activity, dtype=torch.float64)
        if act.shape != (B, K, L):
            raise ValueError(f"activity: expected [B={B}, K={K}, L={L}], got {list(act.shape)}")
        y = y * act[:, :, frames][:, :, None, :]
    Y = (y[..., None] * dt).permute(0, 1, 4, 2, 3)                # [B, K, M, F, T]
    return istft(Y, spec, N).to(torch.float32)


# ----------------------------------------------------------------------------- geometry of a dataset


def array_geometry(data: Path | str | None, num_channels: int | None = None) -> np.ndarray:
    """``[M, 3]`` capsule positions relative to the array centre, metres, of a dataset.

    An asabench dataset: the manifest's ``array`` in ``dataset.json`` (``type = "tetrahedral"``,
    ``radius_m``), the capsules of :func:`asabench.simulate.geometry.tetra_array` (the
    simulator places the same unrotated tetrahedron at the room centre, so the labels'
    directions are from its centre in room axes). A folder without ``dataset.json`` (the
    published ASA2 layout) gets the 4.2-cm tetrahedron of the ASA2 recipe.
    """
    from asabench.simulate.dataset.format import DATASET_JSON, read_dataset_info

    radius = TETRA_RADIUS_M
    if data is not None and (Path(data) / DATASET_JSON).is_file():
        info = read_dataset_info(data)
        array = info.manifest.get("array", {}) if isinstance(info.manifest, Mapping) else {}
        where = Path(data) / DATASET_JSON
        if array.get("type", "tetrahedral") != "tetrahedral":
            raise BaselineError(f"{where}: field 'manifest.array.type': the beamformers know the "
                                f"tetrahedral array only, got {array.get('type')!r}")
        radius = float(array.get("radius_m", TETRA_RADIUS_M))
    geometry = tetra_array((0.0, 0.0, 0.0), radius)
    if num_channels is not None and num_channels != geometry.shape[0]:
        raise BaselineError(f"{data}: the array has {geometry.shape[0]} capsules but the suite has "
                            f"{num_channels} channels")
    return geometry


# ----------------------------------------------------------------------------- TSE predictor


@dataclass
class BeamformerConfig(ConfigBase):
    """``--config`` of the ``das``/``mvdr`` baselines (a TOML/YAML/JSON file or a mapping).

    ``loading``: relative diagonal loading of the MVDR/MPDR covariance. ``azimuth_offset_deg``:
    added to the clue's azimuth before steering (the 90-degree mis-steering sanity check).
    """

    config_what: ClassVar[str] = "beamformer configuration"

    loading: float = ranged(DEFAULT_LOADING, lo=0.0, hi=1e6)
    azimuth_offset_deg: float = ranged(0.0, lo=-360.0, hi=360.0)


def resolve_beamformer_config(config: Any) -> BeamformerConfig:
    if config is None:
        return BeamformerConfig()
    if isinstance(config, BeamformerConfig):
        return config.validate()
    if isinstance(config, Mapping):
        return BeamformerConfig.from_dict(config, source="--config")
    if isinstance(config, (str, Path)):
        return BeamformerConfig.load(config)
    raise ConfigError(f"expected a file or a mapping, got {type(config).__name__}", field="config")


class BeamformerTSE:
    """TSE by a beam steered to the clue direction: ``extract(mixture [B, C, N], direction [B, 2])``."""

    def __init__(self, method: Literal["das", "mvdr", "mpdr"], geometry: np.ndarray, fs: int, *,
                 loading: float = DEFAULT_LOADING, azimuth_offset_deg: float = 0.0) -> None:
        if method not in METHODS:
            raise BaselineError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
        self.method, self.geometry, self.fs = method, np.asarray(geometry, dtype=np.float64), int(fs)
        self.loading, self.azimuth_offset_deg = float(loading), float(azimuth_offset_deg)
        self.name = method

    def extract(self, mixture: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        look = torch.as_tensor(direction, dtype=torch.float64).clone()
        look[:, 0] += self.azimuth_offset_deg
        return steer_beams(mixture, look[:, None], self.geometry, self.fs, method=self.method,
                           loading=self.loading)[:, 0]

    def describe(self) -> dict[str, Any]:
        return {"kind": "baseline", "name": self.method, "class": f"{__name__}.{type(self).__name__}",
                "stft": stft_spec(self.fs).to_dict(),
                "steering": "far-field plane wave, c = 343 m/s, geometry relative to the array centre",
                "output": "one beam per reference capsule (distortionless w.r.t. capsule m)",
                "covariance": None if self.method == "das" else
                {"mvdr": "noise-plus-interference: sum_t (1 - G) X X^H / sum_t (1 - G), G the look "
                         "direction's delay-and-sum share of the bin", "mpdr": "mixture covariance over all frames"}
                [self.method] + " + loading * tr(R)/M * I",
                "loading": None if self.method == "das" else self.loading,
                "azimuth_offset_deg": self.azimuth_offset_deg,
                "geometry_m": self.geometry.round(6).tolist()}


def _factory(method: str):
    def make(context: BaselineContext) -> BeamformerTSE:
        cfg = resolve_beamformer_config(context.config)
        contract = context.suite.contract
        geometry = array_geometry(context.data, contract.num_channels)
        return BeamformerTSE(method, geometry, contract.sample_rate, loading=cfg.loading,
                             azimuth_offset_deg=cfg.azimuth_offset_deg)
    return make


register_baseline("das", tasks=("tse",), kind="dsp",
                  description="delay-and-sum beam steered to the clue direction (far-field, "
                              "one beam per reference capsule)")(_factory("das"))
register_baseline("mvdr", tasks=("tse",), kind="dsp",
                  description="MVDR (noise-plus-interference covariance from the mixture's bins the "
                              "look direction does not dominate, loading 0.01 tr/M) steered to the clue "
                              "direction, one beam per reference capsule")(_factory("mvdr"))
register_baseline("mpdr", tasks=("tse",), kind="dsp",
                  description="MPDR (the whole mixture's covariance, loading 0.01 tr/M) steered to the "
                              "clue direction, one beam per reference capsule")(_factory("mpdr"))
