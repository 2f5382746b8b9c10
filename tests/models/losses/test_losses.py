"""DeepASA loss: PIT invariance and recovery, SA-SDR/SI-SDR closed forms, class terms."""

from __future__ import annotations

import math

import torch

from asabench.models.losses.deepasa import (
    apply_permutation,
    deepasa_loss,
    pit_permutation,
    sa_sdr,
    si_sdr,
)


def _targets(b: int, j: int, m: int, n: int, t: int, c: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    cls = torch.randint(0, c, (b, j), generator=g)
    cls[:, -1] = -1  # one empty slot per example
    active = (torch.rand(b, j, t, generator=g) > 0.3).float()
    direct = torch.randn(b, j, m, n, generator=g)
    reverb = 0.3 * torch.randn(b, j, m, n, generator=g)
    direct[:, -1] = 0
    reverb[:, -1] = 0
    active[:, -1] = 0
    doa = torch.nn.functional.normalize(torch.randn(b, j, t, 3, generator=g), dim=-1) * active[..., None]
    return {"direct": direct, "reverb": reverb, "noise": torch.randn(b, m, n, generator=g),
            "class_index": cls, "active": active, "doa": doa}


def _outputs(tg: dict[str, torch.Tensor], c: int, g: torch.Generator) -> dict[str, torch.Tensor]:
    b, j, m, n = tg["direct"].shape
    t = tg["active"].shape[-1]
    direct = tg["direct"] + 0.5 * torch.randn(b, j, m, n, generator=g)
    reverb = tg["reverb"] + 0.5 * torch.randn(b, j, m, n, generator=g)
    return {"direct": direct, "reverb": reverb, "separated": direct + reverb,
            "noise": tg["noise"] + 0.1 * torch.randn(b, m, n, generator=g),
            "class_logits": torch.randn(b, j, c, generator=g), "sed": torch.randn(b, j, t, c, generator=g),
            "onoff": torch.randn(b, j, t, generator=g), "doa": torch.tanh(torch.randn(b, j, t, 3, generator=g))}


def _permute_targets(tg: dict[str, torch.Tensor], perm: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: (apply_permutation(v, perm) if k != "noise" else v) for k, v in tg.items()}


def test_loss_is_invariant_to_permuting_the_targets() -> None:
    g = torch.Generator().manual_seed(0)
    tg = _targets(3, 4, 4, 200, 6, 13, g)
    out = _outputs(tg, 13, g)
    base = deepasa_loss(out, tg)
    perm = torch.stack([torch.randperm(4, generator=g) for _ in range(3)])
    shuffled = deepasa_loss(out, _permute_targets(tg, perm))
    for k in ("loss", "full", "direct", "reverb", "cls", "sed", "doa", "onoff"):
        torch.testing.assert_close(shuffled[k], base[k], rtol=1e-5, atol=1e-5)


def test_permutation_of_the_outputs_is_recovered() -> None:
    g = torch.Generator().manual_seed(1)
    tg = _targets(2, 5, 4, 300, 4, 13, g)
    full = (tg["direct"] + tg["reverb"])[:, :, 0]
    true = torch.stack([torch.randperm(5, generator=g) for _ in range(2)])
    # estimate slot true[b, j] holds target j (plus noise); the search must find it
    inv = torch.argsort(true, dim=1)
    est = apply_permutation(full, inv) + 0.1 * torch.randn(2, 5, 300, generator=g)
    perm = pit_permutation(est, full)
    nonempty = slice(0, 4)  # the empty slot is zero: any leftover estimate fits it
    assert torch.equal(perm[:, nonempty], true[:, nonempty])


def test_sa_sdr_and_si_sdr_closed_forms() -> None:
    g = torch.Generator().manual_seed(2)
    s = torch.randn(1, 2, 1000, generator=g, dtype=torch.float64)
    e = torch.randn(1, 2, 1000, generator=g, dtype=torch.float64)
    expect = 10 * torch.log10(s.pow(2).sum() / e.pow(2).sum())
    torch.testing.assert_close(sa_sdr(s + e, s)[0], expect)
    # SI-SDR: scale does not matter; orthogonal error of known energy gives a known ratio
    ref = torch.sin(torch.arange(1000, dtype=torch.float64) * 2 * math.pi * 5 / 1000)
    orth = torch.cos(torch.arange(1000, dtype=torch.float64) * 2 * math.pi * 5 / 1000)
    val = si_sdr(3.0 * (ref + 0.1 * orth), ref)
    torch.testing.assert_close(val, torch.tensor(20.0, dtype=torch.float64), atol=1e-6, rtol=0)  # eps 1e-8 in the ratio


def test_class_terms_closed_form() -> None:
    g = torch.Generator().manual_seed(3)
    tg = _targets(1, 2, 1, 50, 3, 4, g)
    out = _outputs(tg, 4, g)
    out["class_logits"] = torch.tensor([[[2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])
    tg["class_index"] = torch.tensor([[0, -1]])
    # make the PIT choice unambiguous: the empty slot's estimate is silent
    out["separated"][:, 1] = 0
    res = deepasa_loss(out, tg)
    ce = -math.log(math.exp(2) / (math.exp(2) + 3))
    # uniform logits on the empty slot: KL to uniform is zero
    assert abs(float(res["cls"]) - ce / 2) < 1e-6
    assert res["perm"].tolist() == [[0, 1]]
