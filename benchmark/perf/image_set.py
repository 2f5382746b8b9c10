"""How much gpuRIR's box of images changes the early part of ASA2 RIRs against the sphere.

The torch engine keeps, by default, every image whose sound reaches the image-source part
(a sphere of radius ``c * Tdiff`` plus the sinc half-window); gpuRIR, and so the published
ASA2 generator, keeps a box of ``ceil(2 Tdiff c / L)`` images per dimension. Both are
rendered here by the same engine (``image_set="sphere"`` and ``"box"``) for the start
positions of the sources of ``--scenes`` scenes drawn from the ``asa2`` manifest (rooms,
RT60, tetrahedral array at the room centre), image-source part only (Tdiff = 12 dB), and
compared per RIR:

* ``early energy``: energy of the box RIR over the sphere RIR's, in dB;
* ``difference``: energy of (box - sphere) over the sphere RIR's energy, in dB (the NMSE),
  over the whole early part and over its first ``Tdiff - 8 ms`` (where the images of both
  sets arrive well inside the part);
* ``full RIR``: the same difference energy over the energy of the whole RIR with its
  diffuse tail to -40 dB, what a listener of the rendered scene gets;
* image counts: the box's ``N_x N_y N_z`` against the images of the sphere.

Run: ``python -m asabench.benchmark.perf.image_set [--scenes 40]``. Measured figures are
in ``docs/rir-engines.md``.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from asabench.simulate.geometry import SPEED_OF_SOUND, tetra_array
from asabench.simulate.manifest import load_manifest
from asabench.simulate.rir.engine import simulate_rirs
from asabench.simulate.rir.image_source import half_window_taps
from asabench.simulate.rir.request import make_request
from asabench.simulate.scene.sampling import sample_layout


def sphere_image_count(room: np.ndarray, sources: np.ndarray, mics: np.ndarray, radius: float) -> float:
    """Mean number of images within ``radius`` of a receiver, over source-receiver pairs."""
    n = [int(math.ceil(radius / d)) + 1 for d in room]
    counts = []
    for s in sources:
        axes = []
        for d in range(3):
            u = np.arange(-n[d], n[d] + 1)
            axes.append(np.where(u % 2 == 0, 1.0, -1.0) * s[d] + (u + u % 2) * room[d])
        for m in mics:
            sq = [(a - m[d]) ** 2 for d, a in enumerate(axes)]
            dist2 = sq[0][:, None, None] + sq[1][None, :, None] + sq[2][None, None, :]
            counts.append(int((dist2 < radius * radius).sum()))
    return float(np.mean(counts))


def db(x: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(x, 1e-30))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=40, help="ASA2 scenes (their source start positions)")
    parser.add_argument("--split", default="train")
    args = parser.parse_args(argv)

    m = load_manifest("asa2")
    fs = m.fs
    ratio, nmse, nmse_inner, nmse_full, n_box, n_sphere, tdiffs = [], [], [], [], [], [], []
    for i in range(args.scenes):
        lay = sample_layout(m, args.split, i)
        room = lay.room_dim
        mics = tetra_array(room / 2, m.array.radius_m)
        sources = np.stack([t.points[0] for t in lay.trajectories])
        kw = dict(betas=lay.betas, tdiff_db=m.acoustics.tdiff_db, abs_weights=m.acoustics.abs_weights, seed=lay.rir_seed)
        early_kw = dict(kw, tmax_db=m.acoustics.tdiff_db)
        sphere = simulate_rirs(room, lay.rt60_s, sources, mics, fs, **early_kw).astype(np.float64)
        box = simulate_rirs(room, lay.rt60_s, sources, mics, fs, image_set="box", **early_kw).astype(np.float64)
        full = simulate_rirs(room, lay.rt60_s, sources, mics, fs, tmax_db=m.acoustics.tmax_db, **kw).astype(np.float64)
        req = make_request(room, lay.rt60_s, sources, mics, fs, image_set="box", tmax_db=m.acoustics.tdiff_db, **kw)
        inner = max(1, req.n_early - int(round(0.008 * fs)))
        e_sphere = (sphere**2).sum(-1)
        diff = box - sphere
        ratio.append(db((box**2).sum(-1) / e_sphere).ravel())
        nmse.append(db((diff**2).sum(-1) / e_sphere).ravel())
        nmse_inner.append(db((diff[..., :inner] ** 2).sum(-1) / (sphere[..., :inner] ** 2).sum(-1)).ravel())
        nmse_full.append(db((diff**2).sum(-1) / (full**2).sum(-1)).ravel())
        n_box.append(float(np.prod(req.box)))
        _, taps = half_window_taps(fs, req.window_s)
        n_sphere.append(sphere_image_count(room, sources, mics, SPEED_OF_SOUND * (req.n_early + taps) / fs))
        tdiffs.append(req.n_early / fs)
    ratio, nmse, nmse_inner, nmse_full = (np.concatenate(x) for x in (ratio, nmse, nmse_inner, nmse_full))
    print(f"asa2 v{m.version}: {args.scenes} scenes, {ratio.size} RIRs (source start positions x 4 mics), "
          f"Tdiff {min(tdiffs) * 1e3:.0f}-{max(tdiffs) * 1e3:.0f} ms")
    print(f"  early energy, box / sphere:          mean {ratio.mean():+.4f} dB, range [{ratio.min():+.4f}, {ratio.max():+.4f}] dB")
    print(f"  difference / sphere early energy:    median {np.median(nmse):.1f} dB, max {nmse.max():.1f} dB")
    print(f"  ... over the first Tdiff - 8 ms:     median {np.median(nmse_inner):.1f} dB, max {nmse_inner.max():.1f} dB")
    print(f"  difference / full RIR energy (-40 dB tail): median {np.median(nmse_full):.1f} dB, max {nmse_full.max():.1f} dB")
    print(f"  images per pair: box {np.mean(n_box):.0f} (N_x N_y N_z), sphere {np.mean(n_sphere):.0f} "
          f"(ratio {np.mean(n_box) / np.mean(n_sphere):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
