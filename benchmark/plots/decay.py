"""The RIRs of a scene, recomputed from its spec, and their energy decay.

:func:`scene_rirs` asks the RIR engine for exactly the responses the renderer used
(:func:`asabench.simulate.scene.render.render_scene`: the same positions in the same order,
the same backend, reflection sign, image set and tail seed, so the diffuse tail is the same
draw) and keeps, per source, the response at its trajectory's first point. The decay of
each is measured on its Schroeder curve
(:func:`asabench.simulate.rir.measure.schroeder_decay_db`) with ISO 3382-1's two line fits:

* T20: least-squares line through the curve between -5 and -25 dB, extrapolated to -60 dB;
* T30: the same between -5 and -35 dB.

The spec's ``rt60_s`` is the Sabine target the walls were fitted to
(:func:`asabench.simulate.rir.sabine.betas_from_rt60`); the estimate differs from it by the
image-source part decaying faster than Sabine predicts and by the response ending at
``tmax_db`` (the backward integral of a truncated decay bends down before the end). The
figures we measured are in ``docs/plots.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from asabench.simulate.rir.engine import simulate_rirs
from asabench.simulate.rir.measure import measure_rt60, schroeder_decay_db
from asabench.simulate.scene.spec import SceneSpec

__all__ = ["FITS_DB", "REFERENCE_MIC", "SceneRirs", "render_positions", "scene_rirs"]

#: The line fits reported, name -> (upper, lower) level of the fit range in dB (ISO 3382-1).
FITS_DB: dict[str, tuple[float, float]] = {"t20": (-5.0, -25.0), "t30": (-5.0, -35.0)}
#: The microphone whose responses are drawn: capsule 0, the one the labels' activity is
#: measured on (:mod:`asabench.simulate.scene.labels`).
REFERENCE_MIC: int = 0


@dataclass(frozen=True)
class SceneRirs:
    """Per source, the response at its first trajectory point and its decay.

    Attributes
    ----------
    fs : sample rate, Hz.
    rirs : ``[J, M, L]`` float32 responses of every source's first point at every capsule.
    edc_db : ``[J, L]`` Schroeder curve of ``rirs[:, REFERENCE_MIC]``, dB re its start.
    rt60_spec_s : the spec's target RT60 (Sabine), seconds.
    rt60_s : ``{"t20": [J], "t30": [J]}`` RT60 estimated at the reference capsule, seconds
        (NaN where the curve never reaches the fit's lower level).
    """

    fs: int
    rirs: np.ndarray
    edc_db: np.ndarray
    rt60_spec_s: float
    rt60_s: dict[str, np.ndarray]

    @property
    def reference(self) -> np.ndarray:
        """``[J, L]`` responses at the reference capsule."""
        return self.rirs[:, REFERENCE_MIC]

    def table(self, class_names: list[str] | None = None) -> str:
        """One line per source: the spec's RT60 beside T20 and T30 (what the command prints)."""
        lines = []
        for k in range(self.rirs.shape[0]):
            name = f" ({class_names[k]})" if class_names else ""
            est = ", ".join(f"{fit.upper()} {_seconds(v[k])}" for fit, v in self.rt60_s.items())
            lines.append(f"source {k}{name}: RT60 spec {self.rt60_spec_s:.3f} s (Sabine target), "
                         f"estimated at mic {REFERENCE_MIC} from the Schroeder curve: {est}")
        return "\n".join(lines)


def _seconds(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.3f} s"


def render_positions(spec: SceneSpec) -> tuple[np.ndarray, np.ndarray]:
    """The positions the renderer asks full RIRs for, and where each source's first one is.

    Returns
    -------
    (positions, first) : ``[P, 3]`` metres, all sources' rendered points concatenated in
    source order (one point for a static source unless ``render.static_tails`` is
    ``"per_point"``), and ``[J]`` the row of each source's first point.
    """
    per_point = spec.render.get("static_tails", "one") == "per_point"
    traj = [s.points[:1] if s.static and not per_point else s.points for s in spec.sources]
    counts = np.array([p.shape[0] for p in traj])
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return np.concatenate(traj, axis=0), first


def scene_rirs(spec: SceneSpec, *, device: str = "cpu") -> SceneRirs:
    """Recompute the rendered RIRs of a spec's sources at their first points; measure their decay.

    Parameters
    ----------
    spec : the scene.
    device : torch device of the ``torch`` backend.

    Returns
    -------
    SceneRirs
    """
    positions, first = render_positions(spec)
    backend = spec.render.get("backend", "torch")
    image_set = spec.render.get("image_set", "sphere")
    # The arguments of render_scene's full-RIR call (simulate/scene/render.py); the test
    # tests/benchmark/plots/test_scene_rirs.py checks the result against a real render.
    full = simulate_rirs(
        spec.room_dim, spec.rt60_s, sources=positions, betas=spec.betas, mics=spec.mics, fs=spec.fs,
        tdiff_db=spec.tdiff_db, tmax_db=spec.tmax_db, backend=backend, device=device, seed=spec.rir_seed,
        abs_weights=spec.abs_weights,
        reflection_sign="positive" if backend == "pyroomacoustics" else "negative",
        **({"image_set": image_set} if image_set != "sphere" else {}))
    rirs = np.ascontiguousarray(full[first])
    ref = rirs[:, REFERENCE_MIC]
    return SceneRirs(
        fs=spec.fs, rirs=rirs, edc_db=schroeder_decay_db(ref), rt60_spec_s=float(spec.rt60_s),
        rt60_s={name: measure_rt60(ref, spec.fs, fit) for name, fit in FITS_DB.items()})
