"""The DDPM module against an independent oracle: diffusers' DDPMScheduler."""

import pytest
import torch
from diffusers import DDPMScheduler

from fundiff.diffusion import ddpm


@pytest.fixture
def spec_schedule():
    return ddpm.Schedule.linear(1e-4, 0.02, 300)


def oracle(**kw):
    kw = {"num_train_timesteps": 300, "beta_start": 1e-4, "beta_end": 0.02, **kw}
    return DDPMScheduler(**kw)


def test_schedule_matches_diffusers(spec_schedule):
    ref = oracle()
    torch.testing.assert_close(spec_schedule.betas.float(), ref.betas)
    torch.testing.assert_close(spec_schedule.alphas_cumprod.float(), ref.alphas_cumprod)
    assert spec_schedule.alpha_bar(-1) == 1.0
    # alpha_bar_299 ~ 0.048 (spec-facts), so x_T is not exactly pure noise
    assert abs(spec_schedule.alpha_bar(299).item() - 0.048) < 0.002


def test_from_alphas_cumprod_roundtrip():
    ref = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    sched = ddpm.Schedule.from_alphas_cumprod(ref.alphas_cumprod)
    torch.testing.assert_close(sched.alphas_cumprod.float(), ref.alphas_cumprod)
    assert abs(sched.alpha_bar(500).item() - 0.4923) < 1e-3  # spec-facts table


def test_q_sample_matches_add_noise_and_moments(spec_schedule):
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 1, 28, 28, generator=g)
    eps = torch.randn(4, 1, 28, 28, generator=g)
    t = torch.tensor([0, 10, 150, 299])
    ours = ddpm.q_sample(spec_schedule, x0, t, eps)
    torch.testing.assert_close(ours, oracle().add_noise(x0, eps, t))
    # moments: mean sqrt(abar) x0, variance (1 - abar)
    x0 = torch.full((20000,), 0.7, dtype=torch.float64)
    eps = torch.randn(20000, generator=g, dtype=torch.float64)
    xt = ddpm.q_sample(spec_schedule, x0, 150, eps)
    abar = spec_schedule.alpha_bar(150)
    assert abs(xt.mean() - abar.sqrt() * 0.7) < 0.02
    assert abs(xt.var() - (1 - abar)) < 0.02


@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("t", [299, 150, 1, 0])
def test_posterior_step_matches_ddpm_scheduler_step(spec_schedule, t, clip):
    ref = oracle(variance_type="fixed_large", clip_sample=clip)
    g = torch.Generator().manual_seed(t)
    x_t = torch.randn(3, 1, 28, 28, generator=g)
    eps = torch.randn(3, 1, 28, 28, generator=g)
    noise = torch.randn(3, 1, 28, 28, generator=g)
    want = ref.step(eps, t, x_t, generator=torch.Generator().manual_seed(7)).prev_sample
    # diffusers draws its own noise: reproduce it with the same generator
    noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(7))
    got, _ = ddpm.posterior_step(
        spec_schedule, x_t, t, t - 1, eps, noise, clip_x0=(-1.0, 1.0) if clip else None
    )
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_strided_step_matches_scheduler_with_custom_timesteps():
    """Part A's step after set_timesteps(timesteps=[990, 960, ..., 0]), thresholding off."""
    ref = DDPMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        variance_type="learned_range",
        clip_sample=False,
        thresholding=False,
    )
    ts = ddpm.strided_timesteps(990, 30)
    assert len(ts) == 34 and ts[0] == 990 and ts[-1] == 0
    ref.set_timesteps(timesteps=ts)
    sched = ddpm.Schedule.from_alphas_cumprod(ref.alphas_cumprod)
    g = torch.Generator().manual_seed(1)
    for t, t_prev in [(990, 960), (690, 660), (30, 0)]:
        x_t = torch.randn(2, 3, 8, 8, generator=g)
        eps = torch.randn(2, 3, 8, 8, generator=g)
        v = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
        model_output = torch.cat([eps, v], dim=1)
        want = ref.step(
            model_output, t, x_t, generator=torch.Generator().manual_seed(3)
        ).prev_sample
        noise = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(3))
        got, _ = ddpm.posterior_step(
            sched, x_t, t, t_prev, eps, noise, "learned_range", predicted_variance=v
        )
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_learned_range_variance_matches_get_variance():
    ref = DDPMScheduler(
        num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", variance_type="learned_range"
    )
    ts = ddpm.strided_timesteps(990, 30)
    ref.set_timesteps(timesteps=ts)
    sched = ddpm.Schedule.from_alphas_cumprod(ref.alphas_cumprod)
    v = torch.linspace(-1, 1, 12).reshape(1, 3, 2, 2)
    for t, t_prev in zip(ts[:-1], ts[1:], strict=True):
        want = ref._get_variance(t, predicted_variance=v)
        got = ddpm.step_log_variance(sched, t, t_prev, "learned_range", v)
        torch.testing.assert_close(got.float(), want, rtol=1e-4, atol=1e-5)


def test_last_step_is_noise_free(spec_schedule):
    x_t = torch.randn(2, 1, 4, 4)
    eps = torch.randn(2, 1, 4, 4)
    a, x0 = ddpm.posterior_step(spec_schedule, x_t, 0, -1, eps, torch.randn(2, 1, 4, 4))
    b, _ = ddpm.posterior_step(spec_schedule, x_t, 0, -1, eps, None)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, x0)  # alpha_bar_{-1} = 1: the step returns x0_hat
    assert ddpm.full_timesteps(300)[:2] == [299, 298] and ddpm.full_timesteps(300)[-2:] == [0, -1]


def test_bad_variance_type(spec_schedule):
    with pytest.raises(ValueError, match="variance_type"):
        ddpm.step_log_variance(spec_schedule, 5, 4, "nope")


def test_cfg_batched_equals_two_forwards():
    torch.manual_seed(0)
    net = torch.nn.Conv2d(2, 1, 3, padding=1)

    def model(x, t, c):
        return net(torch.cat([x, c[:, None, None, None].expand_as(x) * t[:, None, None, None]], 1))

    x = torch.randn(4, 1, 8, 8)
    t = torch.rand(4)
    c, u = torch.rand(4), torch.zeros(4)
    want = ddpm.cfg(model(x, t, u), model(x, t, c), 5.0)
    torch.testing.assert_close(ddpm.cfg_batched(model, x, t, c, u, 5.0), want)
    # scale 1 is the conditional estimate, scale 0 the unconditional one
    torch.testing.assert_close(ddpm.cfg_batched(model, x, t, c, u, 1.0), model(x, t, c))
    torch.testing.assert_close(ddpm.cfg_batched(model, x, t, c, u, 0.0), model(x, t, u))
