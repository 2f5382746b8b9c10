"""DeepASA system: output shapes, gradients, scale equivariance, input validation, training on
simulated scenes (asabench.simulate renderer, demo manifest at 16 kHz)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from asabench import models
from asabench.models.losses.deepasa import deepasa_loss
from asabench.models.registry import resolve_config
from asabench.models.systems.deepasa import decode_events
from asabench.simulate.geometry import dcase_to_cartesian
from asabench.simulate.manifest import parse_manifest
from asabench.simulate.scene.render import render_scene
from asabench.simulate.scene.sampling import sample_scene
from asabench.simulate.dataset.build import open_banks

ROOT = Path(__file__).resolve().parents[3]
FS = 16000


pytestmark = pytest.mark.usefixtures("one_thread")


def _micro(coi: bool = False, **stft: object):
    """The tiny preset narrowed further (D 8) so a training loop fits in a test."""
    cfg = resolve_config("deepasa-coi" if coi else "deepasa", "tiny")
    cfg.backbone.dim, cfg.backbone.head_dim = 8, 4
    for k, v in stft.items():
        setattr(cfg.stft, k, v)
    return cfg


def _synthetic_targets(b: int, j: int, n: int, t: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    active = (torch.rand(b, j, t, generator=g) > 0.5).float()
    return {"direct": 0.1 * torch.randn(b, j, 4, n, generator=g),
            "reverb": 0.05 * torch.randn(b, j, 4, n, generator=g),
            "noise": 0.01 * torch.randn(b, 4, n, generator=g),
            "class_index": torch.randint(-1, 13, (b, j), generator=g), "active": active,
            "doa": torch.nn.functional.normalize(torch.randn(b, j, t, 3, generator=g), dim=-1) * active[..., None]}


@pytest.mark.parametrize("name", ["deepasa", "deepasa-coi"])
def test_tiny_output_shapes(name: str) -> None:
    model = models.create(name, "tiny")
    x = 0.1 * torch.randn(2, 4, 8000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(x, sample_rate=FS)
    j, t_lab = 3, (8000 // 64 + 1) // 25
    expect = {"direct": (2, j, 4, 8000), "reverb": (2, j, 4, 8000), "separated": (2, j, 4, 8000),
              "noise": (2, 4, 8000), "class_logits": (2, j, 13), "sed": (2, j, t_lab, 13),
              "onoff": (2, j, t_lab), "doa": (2, j, t_lab, 3)}
    assert {k: tuple(v.shape) for k, v in out.items()} == expect
    torch.testing.assert_close(out["separated"], out["direct"] + out["reverb"])
    assert out["doa"].abs().max() <= (2.0 if name == "deepasa-coi" else 1.0)
    ev = decode_events(out)
    assert ev["sed"].shape == (2, j, t_lab, 13)
    # inference rule: one class per object, unit DoA exactly where active
    assert torch.all(ev["sed"].sum(-1) == ev["active"].float())
    norms = ev["doa"].norm(dim=-1)
    torch.testing.assert_close(norms[ev["active"]], torch.ones_like(norms[ev["active"]]))
    assert torch.all(norms[~ev["active"]] == 0)


def _force_stage1_activity(model: torch.nn.Module) -> None:
    """Make every stage-1 object active (on/off and |DoA| above 0.5) so the hard SED fed to the
    TCM is not all zero: with nothing active the SED gate blocks every TCM gradient, as in the
    released code. The DoA bias 1.0 (tanh 0.76 per axis, |DoA| about 1.3) keeps the DoA off
    tanh's flat end: at 3.0 (tanh' 0.01) every DoA trajectory is nearly the same constant, and
    the gradient of the SED-query attention's q/k weights, which lives on the differences
    between them, fell to 4e-9 (3e-8 to 1e-6 at 1.0)."""
    with torch.no_grad():
        model.sed_decoder.onoff_head.bias.fill_(5.0)
        model.doa_decoder.fc2.bias.fill_(1.0)


#: parameters whose exact gradient is zero: the score bias of the attentive statistics pooling
#: adds the same number to every frame's score, and the softmax over frames ignores it
SHIFT_INVARIANT = ("sed_decoder.asp.attn.2.bias", "sed_decoder2.asp.attn.2.bias")


def test_gradients_reach_every_trainable_parameter() -> None:
    """Every trainable parameter gets a non-zero gradient, except :data:`SHIFT_INVARIANT`.

    Those biases feed only ``softmax_t(s_t + b)``, which does not depend on ``b``: their exact
    gradient is 0 (float64: 1e-17), and float32 autograd returns the round-off of terms that
    cancel (up to 1e-8, against 4e-3 to 1e-2 for the weight beside them), which is exactly 0.0
    for some draws of the dropout masks: 10 of 300 seeds of the global generator (5 of 150 with
    the DoA bias of :func:`_force_stage1_activity`). That made this test flaky while the masks
    came from whatever state earlier tests left the global generator in. Those biases are now
    asserted to be at round-off level (the closed form), and the masks come from a fixed seed,
    one of the draws with an exact 0.0, so the test is also repeatable. The smallest other
    gradient, the SED-query attention's (3e-8 to 1e-6), agrees with float64 to 2e-5: signal.
    """
    model = models.create("deepasa-coi", _micro(coi=True), seed=0)
    _force_stage1_activity(model)
    g = torch.Generator().manual_seed(1)
    x = 0.1 * torch.randn(1, 4, 8000, generator=g)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)  # dropout masks
        out = model(x)
    res = deepasa_loss(out, _synthetic_targets(1, 3, 8000, out["sed"].shape[2], g))
    res["loss"].backward()
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in SHIFT_INVARIANT
               and (p.grad is None or p.grad.abs().sum() == 0)]
    assert missing == []
    for name in SHIFT_INVARIANT:
        weight = params[name.replace(".bias", ".weight")].grad.abs().max()
        assert weight > 1e-4 and params[name].grad.abs().max() <= 1e-4 * weight, name  # seen: 3.5e-6


def _capture(module: torch.nn.Module, store: dict, key: str, inputs: bool = False) -> None:
    def hook(mod, args, output):
        store[key] = (args[0] if inputs else output).detach().clone()
    module.register_forward_hook(hook)


def test_coi_decodes_audio_from_the_stage2_objects_and_noise_from_the_aggregated_feature() -> None:
    model = models.create("deepasa-coi", _micro(coi=True)).eval()
    _force_stage1_activity(model)
    seen: dict[str, torch.Tensor] = {}
    _capture(model.splitter, seen, "objs1")
    _capture(model.splitter2, seen, "objs2")
    _capture(model.blocks[-1], seen, "z")
    _capture(model.direct_decoder, seen, "direct_in", inputs=True)
    _capture(model.reverb_decoder, seen, "reverb_in", inputs=True)
    _capture(model.noise_decoder, seen, "noise_in", inputs=True)
    _capture(model.tcm, seen, "tcm_sed", inputs=True)
    x = 0.1 * torch.randn(2, 4, 8000, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        out = model(x)
    b, j = 2, 3
    stage2 = seen["objs2"].reshape(b * j, *seen["objs2"].shape[2:])
    torch.testing.assert_close(seen["direct_in"], stage2, atol=0, rtol=0)
    torch.testing.assert_close(seen["reverb_in"], stage2, atol=0, rtol=0)
    assert (seen["objs1"] - seen["objs2"]).abs().max() > 1e-3  # the two stages differ
    torch.testing.assert_close(seen["noise_in"], seen["z"], atol=0, rtol=0)
    # the TCM reads the hard stage-1 SED: {0, 1}, one class per active object and frame
    sed_in = seen["tcm_sed"]  # [B, T', C*J], object-minor
    assert set(sed_in.unique().tolist()) <= {0.0, 1.0} and sed_in.sum() > 0
    per_object = sed_in.reshape(b, sed_in.shape[1], 13, j).sum(2)
    assert set(per_object.unique().tolist()) <= {0.0, 1.0}
    # SED outputs: stage-1 + stage-2 probabilities (each sums to 1 over classes)
    torch.testing.assert_close(out["sed"].sum(-1), torch.full(out["sed"].shape[:-1], 2.0))


def test_coi_accepts_any_length_in_windows_of_the_configured_label_frames() -> None:
    model = models.create("deepasa-coi", "tiny").eval()
    lo, hi = model.config.coi_samples
    assert (lo, hi) == (7936, 9535)  # T = N // 64 + 1 frames, 25 per label frame, 5 label frames
    assert resolve_config("deepasa-coi", "paper").coi_samples == (63680, 65279)  # 4 s = 64000
    g = torch.Generator().manual_seed(2)
    for n in (1600, lo - 1, lo, hi + 1, 3 * 8000 + 17):  # 1 to 15 label frames
        with torch.no_grad():
            out = model(0.1 * torch.randn(1, 4, n, generator=g))
        frames = (n // 64 + 1) // 25
        assert out["sed"].shape[2] == frames and out["direct"].shape[-1] == n
        assert all(torch.isfinite(v).all() for v in out.values())


def test_tcm_windows_equal_separate_windows_joined() -> None:
    """12 label frames with windows of 5: windows [0, 5), [5, 10), [10, 12) + 3 zero frames, each
    the one-window computation; joined 25 frames per window (+ the last window's extra frame)."""
    from asabench.models.blocks.coi import TemporalCoherenceMatching

    torch.manual_seed(0)
    tcm = TemporalCoherenceMatching(n_objects=2, n_classes=3, dim=4, label_hop_frames=5, frames=5, heads=2).eval()
    g = torch.Generator().manual_seed(1)
    sed = (torch.rand(2, 12, 6, generator=g) > 0.5).float()
    doa = torch.randn(2, 12, 6, generator=g)
    with torch.no_grad():
        out = tcm(sed, doa, 61)  # 5 * 12 + 1 STFT frames
        pad = lambda t: torch.cat([t, torch.zeros(2, 3, 6)], 1)  # noqa: E731
        wins = [tcm(sed[:, :5], doa[:, :5], 26), tcm(sed[:, 5:10], doa[:, 5:10], 26),
                tcm(pad(sed[:, 10:]), pad(doa[:, 10:]), 26)]
    expect = torch.cat([wins[0][:, :25], wins[1][:, :25], wins[2][:, :11]], 1)
    assert out.shape == (2, 61, 4)
    torch.testing.assert_close(out, expect, atol=1e-6, rtol=1e-6)
    with torch.no_grad():  # exactly one window: the released single-window computation
        torch.testing.assert_close(tcm(sed[:, :5], doa[:, :5], 26), wins[0], atol=0, rtol=0)


def test_model_dropout_only_in_training_mode() -> None:
    model = models.create("deepasa-coi", "tiny")
    assert {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)} == {0.1}
    assert model.tcm.sed_query.dropout == model.tcm.doa_query.dropout == 0.1
    x = 0.1 * torch.randn(1, 4, 8000, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        a, b = model.train()(x), model(x)
        assert (a["direct"] - b["direct"]).abs().max() > 0
        c, d = model.eval()(x), model(x)
    for k in c:
        torch.testing.assert_close(c[k], d[k], atol=0, rtol=0)


def test_audio_outputs_scale_with_the_input() -> None:
    """Reference-channel normalisation + de-normalisation: outputs are linear in the input gain
    (exact with a fixed window; the dynamic window sees the raw waveform)."""
    model = models.create("deepasa", _micro(window="hann")).double().eval()
    x = 0.1 * torch.randn(1, 4, 4000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        a, b = model(x), model(7.0 * x)
    for k in ("direct", "reverb", "noise"):
        torch.testing.assert_close(b[k], 7.0 * a[k], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(b["doa"], a["doa"], rtol=1e-9, atol=1e-12)


def test_input_validation_errors() -> None:
    model = models.create("deepasa", "tiny")
    with pytest.raises(ValueError, match="4 microphone channels"):
        model(torch.zeros(1, 2, 8000))
    with pytest.raises(ValueError, match="sample_rate 44100"):
        model(torch.zeros(1, 4, 8000), sample_rate=44100)
    with pytest.raises(ValueError, match="at least 1600"):
        model(torch.zeros(1, 4, 1000))
    with pytest.raises(ValueError, match=r"\[batch, channels, samples\]"):
        model(torch.zeros(4, 8000))


def _scene_batch(n_scenes: int, seconds: float, j: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Render demo-recipe scenes at 16 kHz and turn their labels into DeepASA targets."""
    with open(ROOT / "manifests" / "demo.toml", "rb") as fh:
        raw = tomllib.load(fh)
    raw.update(fs=FS, duration_s=seconds)
    raw["motion"].update(n_points=int(round(seconds / 0.1)))
    raw["noise"].update(window=int(0.04 * FS), hop=int(0.02 * FS))
    manifest = parse_manifest(raw, "<test manifest>")
    banks = open_banks(manifest)
    n, t_lab = int(seconds * FS), int(round(seconds / 0.1))
    mix, direct, reverb, noise = [], np.zeros((n_scenes, j, 4, n), np.float32), np.zeros((n_scenes, j, 4, n), np.float32), []
    cls = -np.ones((n_scenes, j), np.int64)
    active = np.zeros((n_scenes, j, t_lab), np.float32)
    doa = np.zeros((n_scenes, j, t_lab, 3), np.float32)
    for s in range(n_scenes):
        spec, clips, noise_clip = sample_scene(manifest, "train", s, banks.sources, banks.noise)
        r = render_scene(spec, clips=clips, noise_clip=noise_clip)
        k = min(j, r.direct.shape[0])
        mix.append(r.mixture)
        noise.append(r.noise)
        direct[s, :k], reverb[s, :k] = r.direct[:k], r.reverb[:k]
        for frame, c, track, az, el, _ in r.labels:
            if track < j and frame < t_lab:
                cls[s, track] = c
                active[s, track, frame] = 1
                doa[s, track, frame] = dcase_to_cartesian(float(az), float(el))
    targets = {"direct": torch.from_numpy(direct), "reverb": torch.from_numpy(reverb),
               "noise": torch.from_numpy(np.stack(noise)), "class_index": torch.from_numpy(cls),
               "active": torch.from_numpy(active), "doa": torch.from_numpy(doa)}
    return torch.from_numpy(np.stack(mix)), targets


def test_tiny_model_loss_falls_on_simulated_scenes() -> None:
    x, targets = _scene_batch(2, 0.5, 3)
    assert targets["active"].sum() > 0 and (targets["class_index"] >= 0).sum() >= 4
    model = models.create("deepasa", _micro(), seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        res = deepasa_loss(model(x), targets)
        res["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        losses.append(float(res["loss"].detach()))
    first, last = np.mean(losses[:3]), np.mean(losses[-3:])
    assert last < first - 5.0, losses  # observed: 4.6 -> -7.9 over 20 steps


def test_paper_configuration_shapes_on_a_4s_clip() -> None:
    """Paper sizes: 4 s at 16 kHz -> T = 201 STFT frames, F = 321 bins, 40 label frames
    (shapes traced with fake tensors: no arithmetic, so the full model is cheap to check)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    model = models.create("deepasa-coi", "paper").eval()
    assert model.config.label_hop_s == pytest.approx(0.1)
    with FakeTensorMode(allow_non_fake_inputs=True) as mode, torch.no_grad():
        x = mode.from_tensor(torch.zeros(2, 4, 64000))
        out = model(x)
        spec = model.stft(x)
    assert tuple(spec.shape) == (2, 4, 201, 321)
    expect = {"direct": (2, 5, 4, 64000), "reverb": (2, 5, 4, 64000), "separated": (2, 5, 4, 64000),
              "noise": (2, 4, 64000), "class_logits": (2, 5, 13), "sed": (2, 5, 40, 13),
              "onoff": (2, 5, 40), "doa": (2, 5, 40, 3)}
    assert {k: tuple(v.shape) for k, v in out.items()} == expect


def test_block_checkpointing_gives_the_same_gradients() -> None:
    """Recomputing the blocks replays their dropout masks: gradients equal to float64 rounding."""
    x = 0.1 * torch.randn(1, 4, 3200, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    grads = []
    for ckpt in (False, True):
        cfg = _micro()
        cfg.backbone.checkpoint = ckpt
        model = models.create("deepasa", cfg, seed=1).double()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(7)  # the same dropout masks in both runs
            out = model(x)
        sum(v.pow(2).mean() for v in out.values()).backward()
        grads.append([p.grad for p in model.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
