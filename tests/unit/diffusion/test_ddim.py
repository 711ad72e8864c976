"""Fast samplers (strided DDPM, DDIM) against independent oracles: diffusers' DDIMScheduler and
DDPMScheduler, and the closed form of DDIM at eta = 1 (the posterior step with beta~ noise)."""

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from fundiff.diffusion import ddpm
from fundiff.diffusion.timesteps import spaced_timesteps, strided_timesteps

T = 300


@pytest.fixture
def schedule():
    return ddpm.Schedule.linear(1e-4, 0.02, T)


def ddim_oracle(**kw):
    kw = {
        "num_train_timesteps": T,
        "beta_start": 1e-4,
        "beta_end": 0.02,
        "beta_schedule": "linear",
        "clip_sample": False,
        "set_alpha_to_one": True,
        "timestep_spacing": "trailing",
        **kw,
    }
    return DDIMScheduler(**kw)


@pytest.mark.parametrize("steps", [300, 100, 50, 20, 10, 7, 1])
def test_spaced_timesteps_are_diffusers_trailing_spacing(steps):
    ref = ddim_oracle()
    ref.set_timesteps(steps)
    ts, want = spaced_timesteps(T, steps), ref.timesteps.tolist()
    # for N = 7 diffusers' float arange keeps a last entry round(1e-13) - 1 = -1 itself
    assert ts == (want if want[-1] == -1 else want + [-1])
    assert len(ts) == steps + 1 and ts[0] == T - 1
    assert all(a > b for a, b in zip(ts, ts[1:], strict=False))  # strictly decreasing


def test_spaced_timesteps_reuse_the_existing_lists():
    assert spaced_timesteps(T, T) == ddpm.full_timesteps(T)
    for steps in (100, 50, 20, 10):
        assert spaced_timesteps(T, steps) == strided_timesteps(T - 1, T // steps) + [-1]
    for bad in (0, T + 1):
        with pytest.raises(ValueError, match="1 to 300 steps"):
            spaced_timesteps(T, bad)


@pytest.mark.parametrize("eta", [0.0, 1.0, 0.5])
@pytest.mark.parametrize("steps", [10, 50])
def test_ddim_step_equals_ddim_scheduler_step(schedule, eta, steps):
    """Every step of an N-step list, the same x_t, eps_hat and z (variance_noise), clip off."""
    ref = ddim_oracle()
    ref.set_timesteps(steps)
    ts = spaced_timesteps(T, steps)
    g = torch.Generator().manual_seed(steps)
    for t, t_prev in zip(ts[:-1], ts[1:], strict=True):
        x_t = torch.randn(3, 1, 28, 28, generator=g)
        eps = torch.randn(3, 1, 28, 28, generator=g)
        z = torch.randn(3, 1, 28, 28, generator=g)
        want = ref.step(eps, t, x_t, eta=eta, variance_noise=z)
        got, x0 = ddpm.ddim_step(schedule, x_t, t, t_prev, eps, eta, z)
        torch.testing.assert_close(got, want.prev_sample, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(x0, want.pred_original_sample, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_step_with_clipping_equals_scheduler(schedule, eta):
    """clip_x0 re-derives eps from the clipped x0: clip_sample + use_clipped_model_output."""
    ref = ddim_oracle(clip_sample=True)
    ref.set_timesteps(20)
    g = torch.Generator().manual_seed(5)
    for t, t_prev in [(299, 284), (149, 134), (14, -1)]:
        x_t = 2 * torch.randn(2, 1, 8, 8, generator=g)
        eps = torch.randn(2, 1, 8, 8, generator=g)
        z = torch.randn(2, 1, 8, 8, generator=g)
        want = ref.step(eps, t, x_t, eta=eta, use_clipped_model_output=True, variance_noise=z)
        got, _ = ddpm.ddim_step(schedule, x_t, t, t_prev, eps, eta, z, clip_x0=(-1.0, 1.0))
        torch.testing.assert_close(got, want.prev_sample, rtol=1e-5, atol=1e-5)


def test_ddim_eta_one_is_the_posterior_step_with_beta_tilde(schedule):
    """Closed form: at eta = 1, sigma^2 = beta~ and the DDIM mean is the DDPM posterior mean,
    for any stride t -> t' (so strided DDPM with fixed_small noise)."""
    g = torch.Generator().manual_seed(2)
    for t, t_prev in [(299, 298), (299, 269), (150, 20), (5, 0), (3, -1)]:
        x_t = torch.randn(4, 1, 6, 6, generator=g, dtype=torch.float64)
        eps = torch.randn(4, 1, 6, 6, generator=g, dtype=torch.float64)
        z = torch.randn(4, 1, 6, 6, generator=g, dtype=torch.float64)
        want, _ = ddpm.posterior_step(schedule, x_t, t, t_prev, eps, z, "fixed_small")
        got, _ = ddpm.ddim_step(schedule, x_t, t, t_prev, eps, 1.0, z)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_ddim_eta_zero_is_deterministic_and_ends_at_x0(schedule):
    g = torch.Generator().manual_seed(3)
    x_t, eps = torch.randn(2, 1, 4, 4, generator=g), torch.randn(2, 1, 4, 4, generator=g)
    a, _ = ddpm.ddim_step(schedule, x_t, 100, 50, eps, 0.0, None)
    b, _ = ddpm.ddim_step(schedule, x_t, 100, 50, eps, 0.0, torch.randn(2, 1, 4, 4))
    torch.testing.assert_close(a, b)
    last, x0 = ddpm.ddim_step(schedule, x_t, 9, -1, eps, 1.0, torch.randn(2, 1, 4, 4))
    torch.testing.assert_close(last, x0)  # alpha_bar_{-1} = 1, sigma = 0
    assert float(ddpm.ddim_sigma(schedule, 9, -1, 1.0)) == 0.0
    with pytest.raises(ValueError, match="needs noise"):
        ddpm.ddim_step(schedule, x_t, 100, 50, eps, 0.5, None)


def _linear_eps_fn(schedule):
    """A fixed "model" whose eps is a linear function of x_t and t (no network needed)."""

    def eps_fn(x, t):
        return 0.3 * x + 1e-3 * t, None

    return eps_fn


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_loop_equals_ddim_scheduler_loop(schedule, eta):
    """A whole 10-step DDIM loop through sample_loop equals diffusers' loop: the same model, x_T
    and generator (both draw z from it at every step that adds noise)."""
    steps = 10
    ts = spaced_timesteps(T, steps)
    eps_fn = _linear_eps_fn(schedule)
    x_T = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    got = ddpm.sample_loop(eps_fn, schedule, x_T.clone(), ts, g, sampler="ddim", eta=eta)
    ref, g, x = ddim_oracle(), torch.Generator().manual_seed(1), x_T.clone()
    ref.set_timesteps(steps)
    for t in ref.timesteps.tolist():
        x = ref.step(eps_fn(x, t)[0], t, x, eta=eta, generator=g).prev_sample
    torch.testing.assert_close(got, x, rtol=1e-4, atol=1e-5)


def test_strided_ddpm_step_equals_ddpm_scheduler_with_custom_timesteps(schedule):
    """Strided DDPM: posterior_step along spaced_timesteps(T, 20) equals DDPMScheduler.step after
    set_timesteps(timesteps=...) at every step that keeps noise (t' >= 0; our last step to
    alpha_bar_{-1} = 1 is noise-free, test_ddpm.test_last_step_is_noise_free)."""
    ts = spaced_timesteps(T, 20)
    ref = DDPMScheduler(
        num_train_timesteps=T, beta_start=1e-4, beta_end=0.02, clip_sample=False,
        variance_type="fixed_large",
    )  # fmt: skip
    ref.set_timesteps(timesteps=ts[:-1])
    g = torch.Generator().manual_seed(6)
    for t, t_prev in zip(ts[:-2], ts[1:-1], strict=True):
        x_t = torch.randn(2, 1, 8, 8, generator=g)
        eps = torch.randn(2, 1, 8, 8, generator=g)
        want = ref.step(eps, t, x_t, generator=torch.Generator().manual_seed(t)).prev_sample
        z = torch.randn(x_t.shape, generator=torch.Generator().manual_seed(t))
        got, _ = ddpm.posterior_step(schedule, x_t, t, t_prev, eps, z)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_full_step_count_equals_the_spec_loop(schedule):
    """sample_loop over spaced_timesteps(T, T) with "ddpm" is the spec's Algorithm B.2 loop."""
    eps_fn = _linear_eps_fn(schedule)
    x_T = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    a = ddpm.sample_loop(
        eps_fn, schedule, x_T, spaced_timesteps(T, T), torch.Generator().manual_seed(4)
    )
    b = ddpm.sample_loop(
        eps_fn, schedule, x_T, ddpm.full_timesteps(T), torch.Generator().manual_seed(4)
    )
    assert torch.equal(a, b)


def test_unknown_sampler(schedule):
    with pytest.raises(ValueError, match="sampler must be one of"):
        ddpm.sample_loop(
            _linear_eps_fn(schedule), schedule, torch.zeros(1), [1, 0], None, sampler="x"
        )
