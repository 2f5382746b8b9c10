"""The deepasa separation convention, SA-SDR, and matching J references among more estimates."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
import torch

from asabench.benchmark.metrics.separation import (SEPARATION_CONVENTIONS, sa_sdr, separation_deepasa,
                                                   separation_family, separation_family_reference, si_sdr)


def _scene(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ref = torch.randn(3, 2, 600, generator=g, dtype=torch.float64)
    noise = lambda: torch.randn(2, 600, generator=g, dtype=torch.float64)  # noqa: E731
    # 5 estimates: source 0 at 3, source 1 at 4, source 2 at 1, noise at 0 and 2
    est = torch.stack([noise(), ref[2] + 0.1 * noise(), noise(), ref[0] + 0.2 * noise(), ref[1] + 0.3 * noise()])
    return est, ref, ref.sum(0)


def test_conventions_are_named():
    assert SEPARATION_CONVENTIONS == ("pooled", "deepasa")


def test_sa_sdr_by_hand():
    ref = torch.ones(2, 1, 4, dtype=torch.float64)
    est = ref.clone()
    est[1] *= 0.9  # error energy 4 * 0.01 over total energy 8
    assert float(sa_sdr(est, ref)) == pytest.approx(10 * np.log10(8 / 0.04), abs=1e-12)
    assert float(sa_sdr(est, ref, channels=0)) == pytest.approx(10 * np.log10(8 / 0.04), abs=1e-12)


def test_best_three_of_five_estimates_pooled_and_deepasa():
    est, ref, mix = _scene()
    fam = separation_family(est[None], ref[None], mix[None], permute=True)
    assert fam["perm"].tolist() == [[3, 4, 1]]
    # the search over injective maps, by brute force on pooled SI-SDR
    pair = si_sdr(est[:, None], ref[None])
    best = max(permutations(range(5), 3), key=lambda p: float(sum(pair[p[j], j] for j in range(3))))
    assert list(best) == [3, 4, 1]
    np.testing.assert_allclose(fam["si_sdr"][0].numpy(), [float(pair[3, 0]), float(pair[4, 1]), float(pair[1, 2])],
                               atol=1e-9)
    refv = separation_family_reference(est, ref, mix, permute=True)
    assert refv["perm"].tolist() == [3, 4, 1]
    np.testing.assert_allclose(fam["si_sdr_i"][0].numpy(), refv["si_sdr_i"].numpy(), atol=1e-9)
    out = separation_deepasa(est, ref, mix)
    assert out["perm"].tolist() == [3, 4, 1]
    with pytest.raises(ValueError, match="estimates"):
        separation_family(est[None], ref[None], mix[None], permute=False)


def test_deepasa_values_from_the_definition():
    est, ref, mix = _scene(1)
    out = separation_deepasa(est[[3, 4, 1]], ref, mix, permute=False)
    for j in range(3):
        e, r, m = est[[3, 4, 1][j], 0].numpy(), ref[j, 0].numpy(), mix[0].numpy()

        def si_snr(x):
            xc, rc = x - x.mean(), r - r.mean()
            a = xc @ rc / (rc @ rc)
            return 10 * np.log10(np.sum((a * rc) ** 2) / np.sum((a * rc - xc) ** 2))

        def snr(x):
            return 10 * np.log10(np.sum(r ** 2) / np.sum((r - x) ** 2))

        assert float(out["si_snr_ref0"][j]) == pytest.approx(si_snr(e), abs=1e-9)
        assert float(out["snr_ref0"][j]) == pytest.approx(snr(e), abs=1e-9)
        assert float(out["si_snr_i_ref0"][j]) == pytest.approx(si_snr(e) - si_snr(m), abs=1e-9)
        assert float(out["snr_i_ref0"][j]) == pytest.approx(snr(e) - snr(m), abs=1e-9)
    # the mixture as the one estimate improves by exactly 0
    zero = separation_deepasa(mix[None], ref, mix)
    assert zero["si_snr_i_ref0"].tolist() == [0.0] * 3 and zero["snr_i_ref0"].tolist() == [0.0] * 3


def test_deepasa_permutation_is_sa_sdr_at_channel_0_not_pooled_si_sdr():
    # Channel 1 favours one assignment by pooled SI-SDR, channel 0 (SA-SDR) the other.
    g = torch.Generator().manual_seed(5)
    ref = torch.randn(2, 2, 400, generator=g, dtype=torch.float64)
    ref[:, 1] *= 10.0  # channel 1 dominates the pooled energies
    est = torch.empty_like(ref)
    est[0, 0], est[0, 1] = ref[0, 0], ref[1, 1]  # est 0: source 0 at channel 0, source 1 at channel 1
    est[1, 0], est[1, 1] = ref[1, 0], ref[0, 1]
    pooled = separation_family(est[None], ref[None], ref.sum(0)[None], permute=True)["perm"][0].tolist()
    assert pooled == [1, 0] and separation_deepasa(est, ref, ref.sum(0))["perm"].tolist() == [0, 1]
