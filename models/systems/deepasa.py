"""DeepASA: one object-oriented network for separation, dereverberation, SED, DoA and class.

Pipeline on a mixture ``x: [B, M, N]`` (M = 4 microphones, 16 kHz), following the authors'
released code:

1. dynamic STFT -> ``X: [B, M, T, F]``; per-frequency normalisation by the reference
   channel's RMS magnitude over time; real/imaginary stacking -> ``[B, 2M, T, F]``;
2. encoder ``Conv2d(2M, D) + GroupNorm`` and ``n_blocks`` DeFT-Mamba blocks -> the
   aggregated feature ``z``;
3. object splitter -> ``J`` object features (``GroupNorm(1, J*D)``; no noise object);
4. parameter-shared decoders per object: SED/class, DoA (stage 1); the noise decoder reads
   ``z`` itself;
5. optional chain-of-inference: the hard stage-1 SED (``sigmoid(onoff) > 0.5`` and
   ``|doa| > 0.5``, times the one-hot argmax class) and the stage-1 DoA go through TCM; FiLM
   of ``z``; a second object splitter; second SED/DoA decoders whose outputs are added to
   stage 1's;
6. direct/reverb audio decoders (spectral mapping, de-normalised, iSTFT) on the last stage's
   objects (stage 2 with CoI).

Outputs (``forward``): ``direct``, ``reverb``, ``separated`` ``[B, J, M, N]``; ``noise``
``[B, M, N]``; ``class_logits`` ``[B, J, C]``; ``sed`` ``[B, J, T', C]`` (frame class
probabilities; with CoI the sum of both stages', in [0, 2]); ``onoff`` ``[B, J, T']``
(activity logits); ``doa`` ``[B, J, T', 3]`` (Cartesian, DCASE axes; with CoI a sum of two
tanh outputs). ``T' = T // label_hop_frames`` (40 for 4 s in the paper configuration). With
CoI any length is accepted: the TCM attends over windows of ``coi.frames`` label frames (the
released code takes only clips of exactly that many, :attr:`DeepASAConfig.coi_samples`,
which are one window here and computed as released; see
:class:`~asabench.models.blocks.coi.TemporalCoherenceMatching`).

References
----------
D. Lee, Y. Kwon, J.-W. Choi, "DeepASA: An object-oriented one-for-all network for auditory
scene analysis", NeurIPS 2025.
"""

from __future__ import annotations

import torch
from torch import nn

from asabench.models.blocks.atst import ATSTBranch
from asabench.models.blocks.coi import TemporalCoherenceMatching
from asabench.models.blocks.decoders import AudioDecoder, DoADecoder, ObjectSplitter, SEDDecoder
from asabench.models.blocks.deft import DeFTMambaBlock, MambaSpec, reference_scale, run_blocks
from asabench.models.blocks.encoder import SpectralEncoder, complex_to_channels
from asabench.models.blocks.film import FrameFiLM
from asabench.models.blocks.stft import DynamicSTFT
from asabench.models.config import DeepASAConfig
from asabench.models.registry import register

__all__ = ["DeepASA", "decode_events", "hard_sed", "validate_mixture"]


def validate_mixture(x: torch.Tensor, n_mics: int, min_samples: int, sample_rate: int,
                     given_rate: int | None, who: str) -> None:
    """Raise ``ValueError`` with a clear message for a mixture the model cannot take."""
    if given_rate is not None and int(given_rate) != sample_rate:
        raise ValueError(f"{who}: sample_rate {given_rate} Hz given, the model is configured for "
                         f"{sample_rate} Hz (config field sample_rate); resample the input")
    if not torch.is_tensor(x) or x.dim() != 3:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{who}: expected a [batch, channels, samples] tensor, got {shape}")
    if x.shape[1] != n_mics:
        raise ValueError(f"{who}: expected {n_mics} microphone channels (config field n_mics), "
                         f"got {x.shape[1]} (input shape {tuple(x.shape)})")
    if x.shape[2] < min_samples:
        raise ValueError(f"{who}: input has {x.shape[2]} samples; at least {min_samples} "
                         f"({min_samples / sample_rate:.3f} s, one label frame) are needed")
    if not torch.is_floating_point(x):
        raise ValueError(f"{who}: expected a floating-point waveform, got {x.dtype}")


class DeepASA(nn.Module):
    """DeepASA system (see the module docstring); built from a :class:`DeepASAConfig`."""

    def __init__(self, config: DeepASAConfig | None = None) -> None:
        super().__init__()
        cfg = config or DeepASAConfig()
        self.config = cfg
        s, bb = cfg.stft, cfg.backbone
        self.stft = DynamicSTFT(s.n_fft, s.hop, s.window, s.feat_channels, s.init_sigma_frac, s.frozen)
        n_freq = s.n_fft // 2 + 1
        self.encoder = SpectralEncoder(2 * cfg.n_mics, bb.dim, bb.kernel)
        mamba = MambaSpec(**{k: getattr(bb.mamba, k) for k in MambaSpec.__dataclass_fields__})
        self.blocks = nn.ModuleList(
            DeFTMambaBlock(bb.dim, bb.n_heads, bb.head_dim, bb.kernel, bb.ffn_mult, mamba, bb.dropout)
            for _ in range(bb.n_blocks))
        self.splitter = ObjectSplitter(bb.dim, cfg.n_objects)
        self.direct_decoder = AudioDecoder(bb.dim, cfg.n_mics)
        self.reverb_decoder = AudioDecoder(bb.dim, cfg.n_mics)
        self.noise_decoder = AudioDecoder(bb.dim, cfg.n_mics)
        self.sed_decoder = self._sed_decoder(n_freq)
        self.doa_decoder = self._doa_decoder(n_freq)
        if cfg.coi.enabled:
            self.tcm = TemporalCoherenceMatching(cfg.n_objects, cfg.n_classes, bb.dim, cfg.label_hop_frames,
                                                 cfg.coi.frames, cfg.coi.heads, cfg.coi.fusion, bb.dropout)
            self.film = FrameFiLM(bb.dim)
            self.splitter2 = ObjectSplitter(bb.dim, cfg.n_objects)
            self.sed_decoder2 = self._sed_decoder(n_freq)
            self.doa_decoder2 = self._doa_decoder(n_freq)

    def _sed_decoder(self, n_freq: int) -> SEDDecoder:
        cfg, sd, at = self.config, self.config.sed, self.config.atst
        atst = None
        if at.enabled:
            atst = ATSTBranch(n_freq, at.weights, at.dim, at.layers, at.heads, at.ffn_dim,
                              at.n_mels, at.patch_frames, at.max_patches, at.out_dim)
        return SEDDecoder(cfg.backbone.dim, n_freq, cfg.n_classes, sd.t_channels, sd.t_pools,
                          sd.hidden, sd.gru_layers, sd.asp_hidden, sd.f_channels, sd.f_pools,
                          sd.f_hidden, sd.use_fcrnn, atst, at.out_dim)

    def _doa_decoder(self, n_freq: int) -> DoADecoder:
        d = self.config.doa
        return DoADecoder(self.config.backbone.dim, n_freq, d.channels, d.pools, d.hidden, d.gru_layers)

    def _objects_to_outputs(self, feats: torch.Tensor, sed: SEDDecoder, doa: DoADecoder,
                            b: int, j: int) -> dict[str, torch.Tensor]:
        flat = feats.reshape(b * j, *feats.shape[2:])
        ev = sed(flat)
        out = {k: v.reshape(b, j, *v.shape[1:]) for k, v in ev.items()}
        d = doa(flat)
        out["doa"] = d.reshape(b, j, *d.shape[1:])
        return out

    def forward(self, x: torch.Tensor, sample_rate: int | None = None) -> dict[str, torch.Tensor]:
        """Analyse a mixture ``x: [B, M, N]`` (see the module docstring for the outputs)."""
        cfg = self.config
        validate_mixture(x, cfg.n_mics, cfg.min_samples, cfg.sample_rate, sample_rate, "DeepASA")
        b, m, n = x.shape
        j = cfg.n_objects
        spec = self.stft(x)  # [B, M, T, F]
        scale = reference_scale(spec, cfg.ref_channel)  # [B, 1, 1, F]; outputs are mapped back with it
        z = run_blocks(self.blocks, self.encoder(complex_to_channels(spec / scale)), cfg.backbone.checkpoint)
        t, f = z.shape[-2:]
        objs = self.splitter(z)  # [B, J, D, T, F]
        out = self._objects_to_outputs(objs, self.sed_decoder, self.doa_decoder, b, j)
        if cfg.coi.enabled:
            # released layout: [B, J, T', K] -> [B, T', K, J] -> [B, T', K*J] (object-minor)
            sed_in = hard_sed(out).permute(0, 2, 3, 1).reshape(b, -1, cfg.n_classes * j)
            doa_in = out["doa"].permute(0, 2, 3, 1).reshape(b, -1, 3 * j)
            objs = self.splitter2(self.film(z, self.tcm(sed_in, doa_in, t)))  # stage-2 objects
            out2 = self._objects_to_outputs(objs, self.sed_decoder2, self.doa_decoder2, b, j)
            out = {k: out[k] + out2[k] for k in out}
        sources = objs.reshape(b * j, *objs.shape[2:])

        def audio(dec: AudioDecoder, feat: torch.Tensor, groups: int) -> torch.Tensor:
            y = dec(feat).reshape(b, groups, m, t, f) * scale[:, None]
            return self.stft.inverse(y, n)

        direct = audio(self.direct_decoder, sources, j)
        reverb = audio(self.reverb_decoder, sources, j)
        noise = audio(self.noise_decoder, z, 1)[:, 0]
        out.update(direct=direct, reverb=reverb, separated=direct + reverb, noise=noise)
        return out


@torch.no_grad()
def hard_sed(outputs: dict[str, torch.Tensor], activity_threshold: float = 0.5,
             doa_threshold: float = 0.5) -> torch.Tensor:
    """The stage-1 SED the chain of inference reads: ``active x one-hot(argmax class)``.

    ``active = sigmoid(onoff) > activity_threshold and |doa| > doa_threshold``; returns
    ``[B, J, T', C]`` in {0, 1} (no gradient, as in the released code).
    """
    return decode_events(outputs, activity_threshold, doa_threshold)["sed"]


@torch.no_grad()
def decode_events(outputs: dict[str, torch.Tensor], activity_threshold: float = 0.5,
                  doa_threshold: float = 0.5) -> dict[str, torch.Tensor]:
    """DeepASA's inference rule on the raw outputs.

    ``active = sigmoid(onoff) > activity_threshold and |doa| > doa_threshold`` per object and
    label frame; the object's class is ``argmax`` of its clip logits.

    Returns
    -------
    dict with ``active`` ``[B, J, T']`` bool, ``class_index`` ``[B, J]`` long, ``sed``
    ``[B, J, T', C]`` (active x one-hot class) and ``doa`` ``[B, J, T', 3]`` unit vectors
    (zero where inactive).
    """
    doa = outputs["doa"]
    norm = doa.norm(dim=-1)
    active = (torch.sigmoid(outputs["onoff"]) > activity_threshold) & (norm > doa_threshold)
    cls = outputs["class_logits"].argmax(dim=-1)
    n_classes = outputs["class_logits"].shape[-1]
    onehot = torch.nn.functional.one_hot(cls, n_classes).to(doa.dtype)
    sed = active[..., None].to(doa.dtype) * onehot[:, :, None, :]
    unit = doa / norm.clamp_min(1e-8)[..., None] * active[..., None]
    return {"active": active, "class_index": cls, "sed": sed, "doa": unit}


register("deepasa", config_cls=DeepASAConfig,
         description="DeepASA without chain-of-inference (released configuration, no ATST)")(DeepASA)
register("deepasa-coi", config_cls=DeepASAConfig,
         description="DeepASA with chain-of-inference / temporal coherence matching")(DeepASA)
