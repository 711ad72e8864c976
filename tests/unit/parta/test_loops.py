"""fundiff.parta.loops and views: the Part A loops against the ddpm math and diffusers, on fake backends."""

import pytest
import torch
from diffusers import DDPMScheduler

from fundiff.diffusion import ddpm
from fundiff.parta import loops, views
from tests.helpers.fake_backend import IF_SCHEDULER, FakeBackend  # noqa: E402


def test_forward_mean_and_variance():
    b = FakeBackend(channels=1, size=64)
    x0 = torch.full((8, 1, 64, 64), 0.6)
    for t in (250, 500, 750):
        x_t = loops.forward(b, x0, t, torch.Generator().manual_seed(t))
        abar = b.schedule.alpha_bar(t).item()
        assert abs(x_t.mean().item() - abar**0.5 * 0.6) < 0.02
        assert abs(x_t.var().item() - (1 - abar)) < 0.02
    # same seed, same noisy image (sections A1.1-A1.4 share x_t)
    a = loops.forward(b, x0, 500, torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, loops.forward(b, x0, 500, torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("i_start", [0, 10])
def test_iterative_denoise_equals_scheduler_loop(i_start):
    """Our loop through the backend interface == DDPMScheduler.step after
    set_timesteps(timesteps=strided), thresholding/clipping off, same noise generator."""
    b = FakeBackend()
    ts = ddpm.strided_timesteps(990, 30)
    x_t = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    cond = b.encode(["a photo", "a cat"])
    got, frames = loops.iterative_denoise(
        b, x_t, i_start, ts, cond, torch.Generator().manual_seed(9), frame_every=5
    )
    ref = DDPMScheduler(**IF_SCHEDULER)
    ref.set_timesteps(timesteps=ts)
    g, x = torch.Generator().manual_seed(9), x_t.clone()
    for t in ts[i_start:-1]:  # our last pair is (30, 0): the scheduler's step at t = 30
        eps, v = b.predict(x, t, cond)
        x = ref.step(torch.cat([eps, v], 1), t, x, generator=g).prev_sample
    torch.testing.assert_close(got, x, rtol=1e-4, atol=1e-4)
    assert [t for t, _ in frames] == ts[i_start:-1:5]


def test_cfg_is_one_batched_forward_equal_to_two():
    b = FakeBackend()
    x = torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    c, u = b.encode(["a", "bb", "ccc"]), b.uncond(3)
    b.calls = 0
    eps, var = loops.cfg_predict(b, x, 500, c, u, 7.0)
    assert b.calls == 1
    eps_c, var_c = b.predict(x, 500, c)
    eps_u, _ = b.predict(x, 500, u)
    torch.testing.assert_close(eps, eps_u + 7.0 * (eps_c - eps_u))
    torch.testing.assert_close(var, var_c)  # variance from the conditional branch


def test_anagram_identical_prompts_on_flip_symmetric_input_is_plain_estimate():
    b = FakeBackend(symmetric=True)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    x = (x + views.flip(x)) / 2  # flip-symmetric input
    c, u = b.encode(["p", "p"]), b.uncond(2)
    eps, var = loops.anagram_eps_fn(b, c, c, u, 7.0)(x, 300)
    want_eps, want_var = loops.cfg_predict(b, x, 300, c, u, 7.0)
    torch.testing.assert_close(eps, want_eps)
    torch.testing.assert_close(var, want_var)
    # and with a non-symmetric input and model the two views really differ (the symmetric
    # model above is flip-equivariant: for it the two estimates agree on any input)
    b = FakeBackend()
    x2 = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    assert not torch.allclose(
        loops.anagram_eps_fn(b, c, c, u, 7.0)(x2, 300)[0],
        loops.cfg_predict(b, x2, 300, c, u, 7.0)[0],
    )


def test_flip_is_upside_down():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    assert views.flip(x).flatten().tolist() == [2.0, 3.0, 0.0, 1.0]
    assert views.rotate180(x).flatten().tolist() == [3.0, 2.0, 1.0, 0.0]
    for name in ("flip", "rotate180"):  # the spec's views are their own inverses
        assert views.INVERSES[name] is views.VIEWS[name]
        assert torch.equal(views.VIEWS[name](views.VIEWS[name](x)), x)


def test_anagram_with_rotate180_view_is_the_rotated_formula():
    b = FakeBackend()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    c1, c2, u = b.encode(["p", "p"]), b.encode(["q", "q"]), b.uncond(2)
    eps, _ = loops.anagram_eps_fn(b, c1, c2, u, 7.0, view="rotate180")(x, 300)
    e1 = loops.cfg_predict(b, x, 300, c1, u, 7.0)[0]
    e2 = views.rotate180(loops.cfg_predict(b, views.rotate180(x), 300, c2, u, 7.0)[0])
    torch.testing.assert_close(eps, (e1 + e2) / 2)
    flipped, _ = loops.anagram_eps_fn(b, c1, c2, u, 7.0, view="flip")(x, 300)
    assert not torch.allclose(eps, flipped)  # the view matters


def test_lowpass_plus_highpass_reconstructs_and_hybrid_of_one_prompt():
    e = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    low = loops.blur_denoise(e, 33, 2.0)
    torch.testing.assert_close(low + loops.highpass(e, 33, 2.0), e)
    assert low.std() < 0.5 * e.std()  # it really is a low-pass filter
    b = FakeBackend()
    x = torch.randn(1, 3, 8, 8)
    c, u = b.encode(["p"]), b.uncond(1)
    eps, _ = loops.hybrid_eps_fn(b, c, c, u, 7.0, 5, 1.0)(x, 400)
    torch.testing.assert_close(eps, loops.cfg_predict(b, x, 400, c, u, 7.0)[0])


def test_inpaint_keeps_renoised_original_and_ends_at_original():
    b = FakeBackend()
    ts = ddpm.strided_timesteps(990, 30)
    x_orig = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(7)) * 2 - 1
    m = torch.zeros(1, 1, 8, 8)
    m[..., 2:5, 3:7] = 1
    seen = []
    out = loops.inpaint(
        b,
        x_orig,
        m,
        ts,
        b.encode(["p"]),
        b.uncond(1),
        torch.Generator().manual_seed(1),
        torch.Generator().manual_seed(2),
        on_step=lambda t, x: seen.append((t, x.clone())),
    )
    assert [t for t, _ in seen] == ts[1:]
    g_known = torch.Generator().manual_seed(2)
    for t, x in seen[:-1]:
        eps = torch.randn(x.shape, generator=g_known)
        known = ddpm.q_sample(b.schedule, x_orig, t, eps)
        torch.testing.assert_close((1 - m) * x, (1 - m) * known)
    assert torch.equal((1 - m) * out, (1 - m) * x_orig)
    assert not torch.allclose(m * out, m * x_orig)  # new content inside the mask


def test_sdedit_and_samplers_are_deterministic():
    b = FakeBackend()
    ts = ddpm.strided_timesteps(990, 30)
    x0 = torch.rand(1, 3, 8, 8) * 2 - 1
    c, u = b.encode(["p"]), b.uncond(1)
    runs = [loops.sdedit(b, x0, 20, ts, c, u, torch.Generator().manual_seed(0)) for _ in range(2)]
    torch.testing.assert_close(runs[0], runs[1])
    s = loops.sample_cfg(b, c, u, ts, torch.Generator().manual_seed(0))
    assert s.shape == (1, 3, 8, 8) and torch.isfinite(s).all()


def test_leading_timesteps():
    assert loops.leading_timesteps(1000, 20)[:2] == [950, 900]
    assert (
        loops.leading_timesteps(1000, 20)[-1] == 0 and len(loops.leading_timesteps(1000, 20)) == 20
    )
    with pytest.raises(ValueError):
        loops.leading_timesteps(10, 20)


@pytest.mark.parametrize("n", [1, 7, 20])
def test_sample_a0_equals_ddpm_scheduler_with_n_inference_steps(n):
    """Our A0 loop == DDPMScheduler after set_timesteps(n) ("leading" spacing), stepped over
    every one of its n timesteps, with the same noise generator: n model calls, and the step
    at t = 0 adds no noise (thresholding/clipping off, as in the fake's scheduler)."""
    b = FakeBackend()
    c, u = b.encode(["a", "bb"]), b.uncond(2)
    b.calls = 0
    got = loops.sample_a0(b, c, u, n, torch.Generator().manual_seed(4), 5.0)
    assert b.calls == n  # one batched CFG forward per step
    ref = DDPMScheduler(**IF_SCHEDULER)
    ref.set_timesteps(n)
    assert ref.timesteps.tolist() == loops.leading_timesteps(1000, n)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, 8, 8, generator=g)
    for t in ref.timesteps:
        eps, v = loops.cfg_predict(b, x, int(t), c, u, 5.0)
        x = ref.step(torch.cat([eps, v], 1), t, x, generator=g).prev_sample
    torch.testing.assert_close(got, x, rtol=1e-4, atol=1e-4)


def test_a0_timesteps_end_at_minus_one_and_strided_lists_stay_spec_exact():
    """A0's list appends -1 (the noise-free step from t = 0); the spec's 1.5 / 1.6 list is
    unchanged: 990 -> 0, 34 entries, 33 calls, the last at t = 30."""
    assert loops.a0_timesteps(1000, 4) == [750, 500, 250, 0, -1]
    assert loops.a0_timesteps(300, 1) == [0, -1]
    ts = ddpm.strided_timesteps(990, 30)
    assert len(ts) == 34 and ts[-2:] == [30, 0]
    b = FakeBackend()
    seen = []
    predict = b.predict
    b.predict = lambda x, t, c: seen.append(t) or predict(x, t, c)
    loops.sample_cfg(b, b.encode(["a"]), b.uncond(1), ts, torch.Generator().manual_seed(0))
    assert seen == ts[:-1]


# ------------------------------------------------------------------ mnist backend
