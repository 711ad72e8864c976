"""fundiff.evaluation.samples: the samples the Part A metrics score, made with the Part A loops."""

import pytest
import torch

from fundiff.diffusion import ddpm
from fundiff.parta import loops
from tests.helpers.fake_backend import FakeBackend  # noqa: E402


def test_denoise_estimates_reuse_the_part_a_loops():
    from fundiff.evaluation import samples as parta_eval

    be = FakeBackend(channels=3, size=8)
    x01 = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    x_0 = be.to_model(x01)
    ts = ddpm.strided_timesteps(990, 30)
    cond = be.encode(["a high quality photo"])
    blur = {"kernel_size": 3, "sigma": 1.0}
    est = parta_eval.denoise_estimates(be, x_0, [250, 750], ts, cond, blur, seed=7)
    assert set(est) == {(m, t) for m in parta_eval.METHODS for t in (250, 750)}
    assert all(v.shape == x01.shape and 0 <= v.min() and v.max() <= 1 for v in est.values())
    # the noisy image is loops.forward with the generator seeded seed + t (as A1.1 - A1.3) ...
    x_t = loops.forward(be, x_0, 250, torch.Generator().manual_seed(7 + 250))
    torch.testing.assert_close(est[("noisy", 250)], be.from_model(x_t).clamp(0, 1))
    one = loops.one_step_denoise(be, x_t, 250, cond.repeat(4))
    torch.testing.assert_close(est[("one_step", 250)], be.from_model(one).clamp(0, 1))
    # ... and iterative denoising continues down the strided list below t
    assert parta_eval.timesteps_from(250, ts)[:3] == [250, 240, 210]
    again = parta_eval.denoise_estimates(be, x_0, [250, 750], ts, cond, blur, seed=7)
    assert all(torch.equal(est[k], again[k]) for k in est)


def test_illusion_samples_batch_every_pair():
    from fundiff.evaluation import samples as parta_eval

    be = FakeBackend(channels=1, size=8, learned=False, T=300)
    ts = ddpm.strided_timesteps(290, 10)
    pairs = [["ab", "c"], ["d", "efg"]]
    x = parta_eval.illusion_samples(be, "anagram", pairs, 3, ts, seed=1, scale=7.0)
    assert x.shape == (6, 1, 8, 8) and 0 <= x.min() and x.max() <= 1
    h = parta_eval.illusion_samples(be, "hybrid", pairs, 2, ts, 1, 7.0, kernel_size=3, sigma=1.0)
    assert h.shape == (4, 1, 8, 8)
    with pytest.raises(ValueError, match="kind"):
        parta_eval.illusion_samples(be, "collage", pairs, 1, ts, 1, 7.0)
