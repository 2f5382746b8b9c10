"""The mixture line and the oracle-mask upper bounds for USS and TSE (``mixture``, ``oracle-irm``, ``oracle-ibm``).

``mixture`` (kind ``reference``): every USS object and every TSE extraction is the mixture
itself, so every improvement metric (SI-SNRi, SI-SDRi, SNRi) is 0 dB by definition: the
line a system must clear. For a suite that also scores SELD it detects nothing (no event
rows): the SELD floor.

``oracle-irm`` / ``oracle-ibm`` (kind ``oracle``: they read the references, an upper bound of
masking the mixture, never a system). For source ``k`` and channel ``c`` in the STFT of
:mod:`asabench.benchmark.baselines.spectral` (periodic Hann, 32 ms, hop 1/4: ``n_fft`` 512 /
hop 128 at 16 kHz, 256 / 64 at 8 kHz)::

    S = STFT(target image of k at c)        the suite's target: "full" = direct + reverb
                                            (the full reverberant image, default), "direct"
    I = STFT(mixture at c) - S              everything else in the mixture: the other
                                            sources, the noise (and for "direct" the
                                            target's own reverberation)
    IRM = sqrt(|S|^2 / (|S|^2 + |I|^2))     ideal ratio mask, exponent beta = 1/2
    IBM = 1 if |S| > |I| else 0             ideal binary mask, local criterion 0 dB
    estimate = ISTFT(mask * STFT(mixture at c))

(a bin with ``|S| = |I| = 0`` gets mask 0). USS: one masked estimate per source of the scene;
TSE: the masked estimate of the source whose direction is the clue (the harness tells the
oracle the source index ``k`` of each clue). For a suite that also scores SELD the oracles
return the reference labels (perfect SELD, marked oracle like the rest of the row).

The references come through the harness's hook: a predictor with ``needs_references = True``
gets ``bind_references(batch, sources=None)`` from
:func:`asabench.benchmark.predict.write_predictions` before its calls on each batch
(``batch``: the :class:`~asabench.simulate.SceneDataset` batch with ``direct``/``reverb``),
and ``bind_references(batch, sources=[(b, k), ...])`` before each ``extract`` call, naming
for each row of the call its scene ``b`` in the batch and its source ``k``.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np
import torch

from asabench.benchmark.baselines import BaselineContext, BaselineError, register_baseline
from asabench.benchmark.baselines.spectral import istft, stft, stft_spec
from asabench.benchmark.io.dcase_csv import DcaseLabels

__all__ = ["ideal_mask", "oracle_mask_estimates", "MixturePredictor", "OracleMaskPredictor",
           "reference_events", "MASKS"]

MASKS: tuple[str, ...] = ("irm", "ibm")


def ideal_mask(target: torch.Tensor, interference: torch.Tensor, kind: str) -> torch.Tensor:
    """The ideal mask of a target in the presence of an interference (same-shape complex STFTs).

    ``kind = "irm"``: ``sqrt(|S|^2 / (|S|^2 + |I|^2))``; ``"ibm"``: ``1[|S| > |I|]`` (0-dB
    local criterion). Bins where both are zero get 0. Returns a real tensor of the same shape.
    """
    if kind not in MASKS:
        raise ValueError(f"mask kind: expected one of {', '.join(MASKS)}, got {kind!r}")
    ps, pi = target.abs().square(), interference.abs().square()
    if kind == "ibm":
        return (ps > pi).to(ps.dtype)
    total = ps + pi
    return torch.where(total > 0, torch.sqrt(ps / torch.where(total > 0, total, 1)), torch.zeros_like(total))


def oracle_mask_estimates(mixture: torch.Tensor, targets: torch.Tensor, fs: int, kind: str) -> torch.Tensor:
    """Masked mixtures, one per target image.

    Parameters
    ----------
    mixture : ``[B, C, N]``.
    targets : ``[B, J, C, N]`` the target images (interference = mixture - target).
    fs : sample rate, Hz (sets the STFT, :func:`~asabench.benchmark.baselines.spectral.stft_spec`).
    kind : ``"irm"`` or ``"ibm"`` (:func:`ideal_mask`).

    Returns
    -------
    torch.Tensor
        ``[B, J, C, N]`` float32.
    """
    spec = stft_spec(fs)
    N = mixture.shape[-1]
    X = stft(mixture.to(torch.float64), spec)[:, None]            # [B, 1, C, F, T]
    S = stft(targets.to(torch.float64), spec)                     # [B, J, C, F, T]
    mask = ideal_mask(S, X - S, kind)
    return istft(mask * X, spec, N).to(torch.float32)


def reference_events(batch: dict[str, Any]) -> list[DcaseLabels]:
    """The batch's reference SELD labels as DCASE events (track = source slot)."""
    sed = batch["sed"].numpy() > 0.5                               # [B, J, T, 13]
    doa = batch["doa"].to(torch.float64).numpy()                   # [B, J, T, 3]
    out = []
    for b in range(sed.shape[0]):
        track, frame, cls = np.nonzero(sed[b])
        order = np.lexsort((track, frame))
        track, frame, cls = track[order], frame[order], cls[order]
        out.append(DcaseLabels.from_cartesian(frame, cls, track, doa[b, track, frame]))
    return out


def _target_of(suite: Any, task: str) -> Literal["full", "direct"]:
    """The target image the suite's headline ``task`` entry scores against (default full)."""
    targets = {spec.options.get("target", "full") for spec in suite.tasks if spec.task == task}
    if len(targets) > 1:
        raise BaselineError(f"{suite.path or suite.name}: the {task} entries score different target "
                            f"images ({', '.join(sorted(targets))}); an oracle can bound one of them")
    return targets.pop() if targets else "full"


class MixturePredictor:
    """The mixture as every object (USS, ``K = max_objects``) and as the extraction (TSE); no SELD events."""

    name = "mixture"

    def __init__(self, max_objects: int) -> None:
        if max_objects < 1:
            raise BaselineError(f"max_objects must be >= 1, got {max_objects}")
        self.max_objects = int(max_objects)

    def separate(self, mixture: torch.Tensor) -> torch.Tensor:
        return mixture[:, None].expand(-1, self.max_objects, -1, -1).contiguous()

    def extract(self, mixture: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        return mixture.clone()

    def detect(self, mixture: torch.Tensor) -> list[DcaseLabels]:
        empty = np.zeros(0, dtype=np.int64)
        return [DcaseLabels.from_cartesian(empty, empty, empty, np.zeros((0, 3))) for _ in range(mixture.shape[0])]

    def describe(self) -> dict[str, Any]:
        return {"kind": "baseline", "name": self.name, "class": f"{__name__}.{type(self).__name__}",
                "uss": f"the mixture as each of {self.max_objects} objects", "tse": "the mixture",
                "seld": "no events"}


class OracleMaskPredictor:
    """Ideal ratio/binary masks from the references (see the module docstring)."""

    needs_references = True

    def __init__(self, kind: str, fs: int, *, uss_target: str = "full", tse_target: str = "full") -> None:
        if kind not in MASKS:
            raise BaselineError(f"mask kind: expected one of {', '.join(MASKS)}, got {kind!r}")
        self.kind, self.fs = kind, int(fs)
        self.targets = {"uss": uss_target, "tse": tse_target}
        self.name = f"oracle-{kind}"
        self._batch: dict[str, Any] | None = None
        self._sources: list[tuple[int, int]] | None = None

    def bind_references(self, batch: dict[str, Any], sources: Sequence[tuple[int, int]] | None = None) -> None:
        """Take the references of the next calls: the loader batch, and for TSE the (scene, source) of each row."""
        for key in ("mixture", "direct", "reverb", "num_sources"):
            if key not in batch:
                raise BaselineError(f"{self.name}: the batch has no {key!r} (load the dataset with targets)")
        self._batch = batch
        self._sources = None if sources is None else [(int(b), int(k)) for b, k in sources]

    def _images(self, task: str) -> torch.Tensor:
        assert self._batch is not None
        direct = self._batch["direct"]
        return direct if self.targets[task] == "direct" else direct + self._batch["reverb"]

    def _check(self, mixture: torch.Tensor, rows: Sequence[int]) -> None:
        if self._batch is None:
            raise BaselineError(f"{self.name} needs the references: call bind_references(batch) first")
        expected = self._batch["mixture"][list(rows)]
        if mixture.shape != expected.shape or not torch.equal(mixture, expected):
            raise BaselineError(f"{self.name}: the mixture passed is not the bound batch's")

    def separate(self, mixture: torch.Tensor) -> torch.Tensor:
        B = mixture.shape[0]
        self._check(mixture, range(B))
        assert self._batch is not None
        K = max(1, int(self._batch["num_sources"].max()))
        est = oracle_mask_estimates(mixture, self._images("uss")[:, :K], self.fs, self.kind)
        counts = self._batch["num_sources"]
        for b in range(B):                       # slots beyond a scene's sources stay silent
            est[b, int(counts[b]):] = 0
        return est

    def extract(self, mixture: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
        if self._sources is None or len(self._sources) != mixture.shape[0]:
            raise BaselineError(f"{self.name}: extract() needs bind_references(batch, sources=[(b, k), ...]) "
                                "naming the source of each clue")
        rows = [b for b, _ in self._sources]
        self._check(mixture, rows)
        images = self._images("tse")
        target = torch.stack([images[b, k] for b, k in self._sources])[:, None]   # [R, 1, C, N]
        return oracle_mask_estimates(mixture, target, self.fs, self.kind)[:, 0]

    def detect(self, mixture: torch.Tensor) -> list[DcaseLabels]:
        self._check(mixture, range(mixture.shape[0]))
        assert self._batch is not None
        return reference_events(self._batch)

    def describe(self) -> dict[str, Any]:
        return {"kind": "baseline", "name": self.name, "class": f"{__name__}.{type(self).__name__}",
                "oracle": True, "stft": stft_spec(self.fs).to_dict(),
                "mask": {"irm": "sqrt(|S|^2 / (|S|^2 + |I|^2))", "ibm": "1[|S| > |I|] (0 dB)"}[self.kind],
                "target": dict(self.targets), "interference": "mixture - target image",
                "seld": "the reference labels"}


@register_baseline("mixture", tasks=("uss", "tse", "seld"), kind="reference",
                   description="the mixture as every object / extraction (the 0 dB line); SELD: no events")
def _mixture(context: BaselineContext) -> MixturePredictor:
    return MixturePredictor(context.suite.contract.max_objects)


def _oracle(kind: str):
    def make(context: BaselineContext) -> OracleMaskPredictor:
        return OracleMaskPredictor(kind, context.suite.contract.sample_rate,
                                   uss_target=_target_of(context.suite, "uss"),
                                   tse_target=_target_of(context.suite, "tse"))
    return make


register_baseline("oracle-irm", tasks=("uss", "tse", "seld"), kind="oracle",
                  description="ideal ratio masks sqrt(|S|^2/(|S|^2+|I|^2)) per source and channel "
                              "(upper bound); SELD: the reference labels")(_oracle("irm"))
register_baseline("oracle-ibm", tasks=("uss", "tse", "seld"), kind="oracle",
                  description="ideal binary masks 1[|S|>|I|] per source and channel (upper bound); "
                              "SELD: the reference labels")(_oracle("ibm"))
