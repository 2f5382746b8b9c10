"""DeepASA loss: PIT invariance and recovery, per-term permutations, SDR-family closed forms,
class and SED terms."""

from __future__ import annotations

import math

import torch

from asabench.models.losses.deepasa import deepasa_loss, other_channels
from asabench.models.losses.pit import apply_permutation, pit_permutation
from asabench.models.losses.sdr import sa_sdr, si_sdr, si_snr, snr


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
            "class_logits": torch.randn(b, j, c, generator=g),
            "sed": torch.softmax(torch.randn(b, j, t, c, generator=g), dim=-1),
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
    for k in ("loss", "full", "direct", "reverb", "other_channels", "noise", "cls", "sed", "doa", "onoff"):
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


def test_sdr_family_closed_forms() -> None:
    g = torch.Generator().manual_seed(2)
    s = torch.randn(1, 2, 1000, generator=g, dtype=torch.float64)
    e = torch.randn(1, 2, 1000, generator=g, dtype=torch.float64)
    expect = 10 * torch.log10(s.pow(2).sum() / e.pow(2).sum())
    torch.testing.assert_close(sa_sdr(s + e, s)[0], expect)
    torch.testing.assert_close(snr(s + e, s), 10 * torch.log10(s.pow(2).sum(-1) / e.pow(2).sum(-1)))
    # SI-SDR: scale does not matter; orthogonal error of known energy gives a known ratio
    k = torch.arange(1000, dtype=torch.float64) * 2 * math.pi * 5 / 1000
    ref, orth = torch.sin(k), torch.cos(k)
    val = si_sdr(3.0 * (ref + 0.1 * orth), ref)
    torch.testing.assert_close(val, torch.tensor(20.0, dtype=torch.float64), atol=1e-6, rtol=0)  # eps 1e-8 in the ratio
    # a DC offset: SI-SNR removes the means first (20 dB again), SI-SDR keeps it as error:
    # est = ref + 0.1 orth + 1, ref zero-mean -> alpha = 1, error energy 0.01*500 + 1000
    est = ref + 0.1 * orth + 1.0
    torch.testing.assert_close(si_snr(est, ref), torch.tensor(20.0, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(si_sdr(est, ref), 10 * torch.log10(torch.tensor(500.0 / 1005.0, dtype=torch.float64)),
                               atol=1e-6, rtol=0)


def _orthogonal(n_sig: int, n: int) -> torch.Tensor:
    """``n_sig`` orthonormal-ish signals (distinct sinusoids), ``[n_sig, n]``."""
    k = torch.arange(n, dtype=torch.float64)
    return torch.stack([torch.sin(2 * math.pi * (3 + 2 * i) * k / n) for i in range(n_sig)]) * math.sqrt(2 / n)


def test_direct_and_reverb_terms_search_their_own_permutations() -> None:
    """Hand-made: the direct estimates hold swap(0, 1) of the targets, the reverb estimates
    swap(1, 2); energies (direct [1, 1, 9], reverb [9, 1, 1]) make the identity the best
    full-image assignment, so all three permutations differ."""
    j, m, n = 3, 3, 240
    sig = _orthogonal(2 * j, n)
    amp_d, amp_r = torch.tensor([1.0, 1.0, 3.0]), torch.tensor([3.0, 1.0, 1.0])
    d = (amp_d[:, None] * sig[:j])[None, :, None, :].repeat(1, 1, m, 1)  # [1, J, M, N]
    r = (amp_r[:, None] * sig[j:])[None, :, None, :].repeat(1, 1, m, 1)
    pd, pr = torch.tensor([[1, 0, 2]]), torch.tensor([[0, 2, 1]])
    g = torch.Generator().manual_seed(7)
    # the same error on every channel: each channel's terms then equal the reference channel's
    noise = lambda: 0.01 * torch.randn(1, j, 1, n, generator=g, dtype=torch.float64).repeat(1, 1, m, 1)  # noqa: E731
    est_d, est_r = apply_permutation(d, pd) + noise(), apply_permutation(r, pr) + noise()
    t = 4
    tg = {"direct": d, "reverb": r, "noise": torch.randn(1, m, n, generator=g, dtype=torch.float64),
          "class_index": torch.tensor([[0, 1, 2]]), "active": torch.ones(1, j, t),
          "doa": torch.zeros(1, j, t, 3)}
    out = {"direct": est_d, "reverb": est_r, "separated": est_d + est_r, "noise": tg["noise"],
           "class_logits": torch.zeros(1, j, 13), "sed": torch.zeros(1, j, t, 13),
           "onoff": torch.zeros(1, j, t), "doa": torch.zeros(1, j, t, 3)}
    assert set(deepasa_loss(out, tg)) == {"loss", "full", "direct", "reverb", "other_channels", "noise", "cls",
                                          "sed", "doa", "onoff", "perm"}  # scalars + the full-image perm
    res = deepasa_loss(out, tg, permutations=True)
    assert res["perm"].tolist() == [[0, 1, 2]]
    assert res["perm_direct"].tolist() == pd.tolist() and res["perm_reverb"].tolist() == pr.tolist()
    # each term is -SA-SDR under its own permutation (estimates nearly exact: high SA-SDR)
    for key, est, ref, perm in (("direct", est_d, d, pd), ("reverb", est_r, r, pr)):
        own = -sa_sdr(apply_permutation(est, perm)[:, :, 0].float(), ref[:, :, 0].float()).mean()
        torch.testing.assert_close(res[key], own)
        with_full_perm = -sa_sdr(est[:, :, 0].float(), ref[:, :, 0].float()).mean()
        assert float(res[key]) < float(with_full_perm) - 10  # the full-image order would cost > 10 dB
    # other channels: channels 0 .. M-2 (released loop), each image with its own search;
    # the last channel's audio does not enter the loss
    assert list(other_channels(m)) == [0, 1]
    torch.testing.assert_close(res["other_channels"], 2 * (res["full"] + res["direct"] + res["reverb"]))
    out2 = {**out, "direct": est_d.clone(), "reverb": est_r.clone()}
    out2["direct"][:, :, m - 1] = 0
    out2["separated"] = out2["direct"] + out2["reverb"]
    torch.testing.assert_close(deepasa_loss(out2, tg)["loss"], res["loss"])
    expect = (res["full"] + res["direct"] + res["reverb"] + 0.1 * res["other_channels"] + 0.01 * res["noise"]
              + res["cls"] + res["sed"] + res["doa"] + res["onoff"])
    torch.testing.assert_close(res["loss"], expect)


def test_noise_term_is_si_sdr_without_mean_removal() -> None:
    g = torch.Generator().manual_seed(8)
    tg = _targets(2, 2, 3, 400, 4, 13, g)
    out = _outputs(tg, 13, g)
    out["noise"] = tg["noise"] + 0.5  # a DC offset is an error for SI-SDR, not for SI-SNR
    res = deepasa_loss(out, tg)
    torch.testing.assert_close(res["noise"], -si_sdr(out["noise"], tg["noise"]).mean().float())
    assert float(res["noise"]) > float(-si_snr(out["noise"], tg["noise"]).mean()) + 1.0


def test_sed_term_is_the_mse_over_every_element() -> None:
    g = torch.Generator().manual_seed(9)
    tg = _targets(1, 2, 1, 50, 3, 4, g)
    tg["class_index"] = torch.tensor([[2, -1]])
    tg["active"] = torch.tensor([[[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]])
    out = _outputs(tg, 4, g)
    out["separated"][:, 1] = 0  # unambiguous assignment: the empty slot's estimate is silent
    out["sed"] = torch.full((1, 2, 3, 4), 0.25)
    res = deepasa_loss(out, tg)
    assert res["perm"].tolist() == [[0, 1]]
    # 2 active frames x (0.75^2 + 3 x 0.25^2) + 4 inactive frames x 4 x 0.25^2, over 2*3*4 elements
    expect = (2 * (0.75 ** 2 + 3 * 0.25 ** 2) + 4 * 4 * 0.25 ** 2) / 24
    assert abs(float(res["sed"]) - expect) < 1e-7


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
