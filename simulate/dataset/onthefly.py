"""Scenes rendered inside a DataLoader from the manifest's seeds: training without a stored dataset.

:class:`OnTheFlyScenes` is a map-style ``torch.utils.data.Dataset`` whose item ``k`` is
scene ``k`` of a manifest split, sampled and rendered by the same two functions the
simulate job runs (:func:`~asabench.simulate.scene.sampling.sample_scene` then
:func:`~asabench.simulate.scene.render.render_scene`, with the simulate job's clip cache),
and turned into tensors by the same function as :class:`~asabench.simulate.dataset.loader.SceneDataset`
(:func:`~asabench.simulate.dataset.loader.label_tensors`). Item ``k`` therefore equals item
``k`` of the stored dataset array for array: the stored audio is float32 WAV, written from
the same arrays, and each scene draws only from its own seed, so neither the worker nor the
order matters.

A stored ASA2 training split is about 500 GB at float32; rendered on the fly it costs the
rendering time per scene instead. Each DataLoader worker opens the banks once (lazily, on
its first item) and keeps its own clip cache. Rendering runs torch on one thread
(``render_scene`` sets it), so give the loader as many workers as cores you can spare;
``make bench-train`` measures scenes per second per worker against the training step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from asabench.simulate.dataset.format import Pathlike, scene_id
from asabench.simulate.manifest import Manifest, ManifestError, load_manifest

__all__ = ["OnTheFlyScenes"]


class OnTheFlyScenes(Dataset):
    """Scene ``k`` of ``split`` rendered when asked for (keys and shapes as ``SceneDataset``).

    Parameters
    ----------
    manifest : the recipe (object, shipped name or path).
    split : a split of the manifest.
    max_sources : source slots J (a manifest with larger scenes is refused here).
    sources, noise : ``None`` (the manifest's banks), ``"builtin"`` or a prepared index,
        as ``asabench simulate --sources/--noise``.
    targets : include ``direct`` and ``reverb`` (as ``SceneDataset``).
    indices : the scene indices served, in order (default: the whole split).
    device, backend, crossfade : the simulate job's rendering options (defaults equal).
    """

    def __init__(self, manifest: Manifest | Pathlike, split: str, *, max_sources: int = 5,
                 sources: str | None = None, noise: str | None = None, targets: bool = True,
                 indices: range | None = None, device: str = "cpu", backend: str = "torch",
                 crossfade: bool = False) -> None:
        self.manifest = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
        m = self.manifest
        if split not in m.splits:
            raise ManifestError(f"{m.path}: field 'splits': no split {split!r} (has {', '.join(m.splits)})")
        most = max(m.sources.num_sources)
        if most > max_sources:
            raise ManifestError(f"{m.path}: field 'sources.num_sources': scenes of up to {most} sources "
                                f"do not fit max_sources={max_sources}")
        self.split = split
        self.max_sources = int(max_sources)
        self.targets = targets
        self.indices = range(m.splits[split]) if indices is None else indices
        if len(self.indices) and (self.indices[0] < 0 or max(self.indices) >= m.splits[split]):
            raise ValueError(f"indices {self.indices} are outside split {split!r} of {m.splits[split]} scenes")
        self.fs = m.fs
        self.n_frames = int(round(m.duration_s / m.label_hop_s))
        self._options = dict(sources=sources, noise=noise, device=device, backend=backend, crossfade=crossfade)
        self._banks: Any = None  # opened in the process that renders (each DataLoader worker)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def ids(self) -> list[str]:
        return [scene_id(self.split, k) for k in self.indices]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_banks"] = None  # banks and caches stay in the process that opened them
        return state

    def _open(self) -> Any:
        if self._banks is None:
            from asabench.simulate.dataset.build import CachedBank, ClipCache
            from asabench.simulate.sources.open import open_banks

            banks = open_banks(self.manifest, self._options["sources"], self._options["noise"])
            cache = ClipCache()
            banks.sources = CachedBank(banks.sources, cache)
            banks.noise = CachedBank(banks.noise, cache)
            self._banks = banks
        return self._banks

    def render(self, index: int):
        """The :class:`~asabench.simulate.scene.render.RenderedScene` of scene ``index`` of the split."""
        from asabench.simulate.scene.render import render_scene
        from asabench.simulate.scene.sampling import sample_scene

        banks = self._open()
        o = self._options
        spec, clips, noise_clip = sample_scene(self.manifest, self.split, int(index), banks.sources, banks.noise,
                                               load_clips=True, backend=o["backend"], crossfade=o["crossfade"],
                                               bank_info=banks.describe())
        return render_scene(spec, clips=clips, noise_clip=noise_clip, device=o["device"])

    def __getitem__(self, i: int) -> dict[str, Any]:
        from asabench.simulate.dataset.loader import label_tensors

        index = self.indices[i]
        scene = self.render(index)
        spec = scene.spec
        n_src = spec.num_sources
        n_ch, n_samples = scene.mixture.shape
        out: dict[str, Any] = {"mixture": torch.from_numpy(np.ascontiguousarray(scene.mixture, dtype=np.float32))}
        if self.targets:
            direct = np.zeros((self.max_sources, n_ch, n_samples), dtype=np.float32)
            reverb = np.zeros_like(direct)
            direct[:n_src] = scene.direct
            reverb[:n_src] = scene.reverb
            out["direct"] = torch.from_numpy(direct)
            out["reverb"] = torch.from_numpy(reverb)
        rows = np.asarray(scene.labels, dtype=np.int64).reshape(-1, 6)
        out.update(label_tensors([s.class_idx for s in spec.sources], rows[:, 0], rows[:, 1], rows[:, 2],
                                 rows[:, 3], rows[:, 4], rows[:, 5].astype(np.float32) / 100.0,
                                 self.max_sources, self.n_frames))
        out["id"] = spec.id
        return out

    def describe(self) -> dict[str, Any]:
        """What a run folder records about this data source."""
        return {"kind": "onthefly", "manifest": self.manifest.name, "manifest_version": self.manifest.version,
                "manifest_sha256": self.manifest.sha256, "split": self.split, "scenes": len(self),
                "path": str(Path(self.manifest.path)) if self.manifest.path else None}
