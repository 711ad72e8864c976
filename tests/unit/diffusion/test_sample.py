"""fundiff.diffusion.sample: noising, one-step denoising, DDPM sampling with CFG, report params.

The sampler is checked against a from-the-spec reference loop (Algorithm B.2, fixed_large
variance) written out here with plain float math, so a wrong coefficient, a skipped noise draw or
a mixed-up CFG half shows as a mismatch, not only a wrong shape.
"""

import math

import pytest
import torch

from fundiff.diffusion import ddpm
from fundiff.diffusion.sample import (
    add_noise,
    class_grid_labels,
    denoise,
    sample,
    time_sampling_forward,
    train_report_params,
)
from fundiff.diffusion.unet import UNet

T = 6


@pytest.fixture(scope="module")
def schedule():
    return ddpm.Schedule.linear(1e-4, 0.02, T)


@pytest.fixture(scope="module")
def time_unet():
    torch.manual_seed(0)
    return UNet(1, 4, time_cond=True).eval()


class LabelNet(torch.nn.Module):
    """A cheap class-conditioned "UNet": rows are independent, each label shifts the output;
    records the labels of every forward."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.3))  # requires grad, like a real model
        self.calls: list[torch.Tensor] = []

    def forward(self, x, t, c=None):
        self.calls.append(None if c is None else c.clone())
        shift = 0.0 if c is None else 0.05 * (c.float() + 1)[:, None, None, None]
        return self.w * x + shift + 0.1 * t[:, None, None, None]


def eps_of(model, c=None, T=T):
    """eps_theta(x_t, t) of ``model`` with normalised time t / T and labels ``c``."""
    return lambda x, t: model(x, torch.full((x.shape[0],), t / T), c)


def reference_sample(eps_fn, schedule, n, seed, clip=None):
    """Spec Algorithm B.2 written out: returns (x_0, {t': x_t' after the step t -> t'}, x_T)."""
    T = schedule.num_timesteps
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 1, 28, 28), generator=g)
    x_T = x.clone()
    betas = schedule.betas.tolist()
    alpha_bar = [math.prod(1 - b for b in betas[: t + 1]) for t in range(T)]
    states = {}
    for t in range(T - 1, -1, -1):
        eps = eps_fn(x, t)
        ab_t = alpha_bar[t]
        ab_prev = alpha_bar[t - 1] if t > 0 else 1.0
        beta = 1 - ab_t / ab_prev
        x0 = (x - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)
        if clip is not None:
            x0 = x0.clamp(*clip)
        mean = (math.sqrt(ab_prev) * beta / (1 - ab_t)) * x0 + (
            math.sqrt(1 - beta) * (1 - ab_prev) / (1 - ab_t)
        ) * x
        if t > 0:
            x = mean + math.sqrt(beta) * torch.randn(x.shape, generator=g)
        else:
            x = mean
        states[t - 1] = x
    return x, states, x_T


# ------------------------------------------------------------------ add_noise / denoise


def test_add_noise_is_x_plus_sigma_standard_normal():
    x = torch.linspace(-1, 1, 200_000).reshape(50, 1, 4000)
    sigma = 0.5
    z = add_noise(x, sigma, torch.Generator().manual_seed(0))
    assert z.shape == x.shape and z.dtype == x.dtype
    r = (z - x) / sigma
    assert abs(r.mean().item()) < 0.01
    assert abs(r.std().item() - 1) < 0.01
    # residual independent of the signal
    assert abs(torch.corrcoef(torch.stack([r.flatten(), x.flatten()]))[0, 1].item()) < 0.01
    # eps is the generator's own N(0, I) stream (same noise on any device)
    eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z, x + sigma * eps)


def test_add_noise_seeded():
    x = torch.zeros(4, 1, 28, 28)
    a = add_noise(x, 1.0, torch.Generator().manual_seed(5))
    b = add_noise(x, 1.0, torch.Generator().manual_seed(5))
    c = add_noise(x, 1.0, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    g = torch.Generator().manual_seed(5)
    assert not torch.equal(add_noise(x, 1.0, g), add_noise(x, 1.0, g))  # the stream advances
    assert torch.equal(add_noise(x + 3, 0.0, g), x + 3)
    assert torch.equal(x, torch.zeros_like(x))  # input untouched


def test_denoise_is_the_model_without_grad():
    torch.manual_seed(0)
    model = UNet(1, 4).eval()
    z = torch.randn(3, 1, 28, 28, requires_grad=True)
    out = denoise(model, z)
    assert out.shape == (3, 1, 28, 28)
    assert not out.requires_grad and out.grad_fn is None
    with torch.no_grad():
        torch.testing.assert_close(out, model(z))


# ------------------------------------------------------------------ sample


def test_sample_matches_the_spec_loop(time_unet, schedule):
    x, frames = sample(time_unet, schedule, n=3, seed=11)
    with torch.no_grad():
        ref, _, _ = reference_sample(eps_of(time_unet), schedule, 3, 11)
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32
    assert frames == []  # no frame_every: nothing recorded
    torch.testing.assert_close(x, ref, rtol=1e-4, atol=1e-4)


def test_sample_seeded(time_unet, schedule):
    a, _ = sample(time_unet, schedule, n=2, seed=3)
    b, _ = sample(time_unet, schedule, n=2, seed=3)
    c, _ = sample(time_unet, schedule, n=2, seed=4)
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 0.1


def test_sample_keeps_no_grad(time_unet, schedule):
    assert any(p.requires_grad for p in time_unet.parameters())
    x, frames = sample(time_unet, schedule, n=1, seed=0, frame_every=2)
    assert not x.requires_grad and x.grad_fn is None
    assert all(f.grad_fn is None for f in frames)


def test_sample_clip_x0(time_unet, schedule):
    clip = (-0.05, 0.05)  # tight enough to bite at every step
    x, _ = sample(time_unet, schedule, n=2, seed=1, clip_x0=clip)
    free, _ = sample(time_unet, schedule, n=2, seed=1)
    with torch.no_grad():
        ref, _, _ = reference_sample(eps_of(time_unet), schedule, 2, 1, clip=clip)
    torch.testing.assert_close(x, ref, rtol=1e-4, atol=1e-4)
    assert (x - free).abs().max() > 1e-3


def test_sample_frames_every_k_steps_plus_last():
    model, schedule = LabelNet(), ddpm.Schedule.linear(1e-4, 0.02, 7)
    x, frames = sample(model, schedule, n=2, seed=0, frame_every=3)
    with torch.no_grad():
        ref, states, x_T = reference_sample(eps_of(model, T=7), schedule, 2, 0)
    # x_T, then x_t' after the steps to t' = 3 and t' = 0 (multiples of 3 below T - 1 = 6),
    # then the final sample (t' = -1)
    assert len(frames) == 4
    assert all(f.shape == (2, 1, 28, 28) and f.device.type == "cpu" for f in frames)
    torch.testing.assert_close(frames[0], x_T)
    torch.testing.assert_close(frames[1], states[3], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(frames[2], states[0], rtol=1e-4, atol=1e-4)
    assert torch.equal(frames[-1], x)
    torch.testing.assert_close(x, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 3.0])
def test_sample_cfg_matches_the_guided_reference(schedule, gamma):
    n = 4
    labels = torch.tensor([0, 3, 7, 9])
    model = LabelNet()
    x, _ = sample(model, schedule, n=n, seed=2, labels=labels, guidance_scale=gamma)
    uncond = torch.full((n,), -1)
    with torch.no_grad():
        eps_c, eps_u = eps_of(LabelNet(), labels), eps_of(LabelNet(), uncond)
        ref, _, _ = reference_sample(
            lambda x, t: eps_u(x, t) + gamma * (eps_c(x, t) - eps_u(x, t)), schedule, n, 2
        )
    torch.testing.assert_close(x, ref, rtol=1e-4, atol=1e-4)
    # one forward per step; the labels it saw
    assert len(model.calls) == T
    if gamma == 0.0:  # only the unconditional half is needed
        assert all(torch.equal(c, uncond) for c in model.calls)
    elif gamma == 1.0:  # only the conditional half
        assert all(torch.equal(c, labels) for c in model.calls)
    else:  # conditional and unconditional halves in one batch
        assert all(torch.equal(c, torch.cat([labels, uncond])) for c in model.calls)


def test_sample_cfg_depends_on_labels_and_scale(schedule):
    net = LabelNet()
    a, _ = sample(net, schedule, n=3, seed=0, labels=torch.tensor([1, 1, 1]), guidance_scale=3)
    b, _ = sample(net, schedule, n=3, seed=0, labels=torch.tensor([8, 8, 8]), guidance_scale=3)
    c, _ = sample(net, schedule, n=3, seed=0, labels=torch.tensor([1, 1, 1]), guidance_scale=5)
    u, _ = sample(net, schedule, n=3, seed=0)  # no labels: the model sees c=None
    assert (a - b).abs().max() > 1e-3 and (a - c).abs().max() > 1e-3
    assert net.calls[-1] is None
    # gamma = 0 is the unconditional model whatever the labels
    z1, _ = sample(net, schedule, n=3, seed=0, labels=torch.tensor([1, 1, 1]), guidance_scale=0)
    z8, _ = sample(net, schedule, n=3, seed=0, labels=torch.tensor([8, 8, 8]), guidance_scale=0)
    assert torch.equal(z1, z8)
    assert torch.equal(z1, u)  # LabelNet gives label -1 ("no class") the shift of no labels


def test_sample_cfg_large_batch_is_chunked_row_for_row(schedule):
    """A CFG batch over 50 rows runs in CPU row chunks: same result as one batched forward."""
    labels = class_grid_labels(3)  # 30 rows: the CFG batch has 60
    net = LabelNet()
    x, _ = sample(net, schedule, n=30, seed=9, labels=labels, guidance_scale=2.0)
    assert len(net.calls) > T  # more than one forward per step
    assert all(c.shape[0] <= 50 for c in net.calls)
    ref_net = LabelNet()
    with torch.no_grad():
        eps_c, eps_u = eps_of(ref_net, labels), eps_of(ref_net, torch.full((30,), -1))
        ref, _, _ = reference_sample(
            lambda x, t: eps_u(x, t) + 2.0 * (eps_c(x, t) - eps_u(x, t)), schedule, 30, 9
        )
    torch.testing.assert_close(x, ref, rtol=1e-4, atol=1e-4)


def test_sample_bf16_autocast_is_close_in_float32(schedule):
    torch.manual_seed(0)
    model = UNet(1, 4, time_cond=True, num_classes=10).eval()
    labels = torch.tensor([2, 5])
    fp32, _ = sample(model, schedule, n=2, seed=0, labels=labels, guidance_scale=2.0)
    bf16, _ = sample(model, schedule, n=2, seed=0, labels=labels, guidance_scale=2.0, bf16=True)
    assert bf16.dtype == torch.float32
    assert not torch.equal(fp32, bf16)  # autocast did run
    torch.testing.assert_close(bf16, fp32, rtol=0.05, atol=0.05)


# ------------------------------------------------------------------ helpers


def test_class_grid_labels_rows_are_digits():
    labels = class_grid_labels(3)
    assert labels.dtype == torch.int64 and labels.shape == (30,)
    assert all(row.tolist() == list(range(10)) for row in labels.reshape(3, 10))
    assert class_grid_labels(2, num_classes=4).tolist() == [0, 1, 2, 3, 0, 1, 2, 3]


TRAIN = dict(
    hidden=8,
    batch_size=4,
    epochs=2,
    lr=1e-3,
    lr_decay_to=0.1,
    sigma=0.5,
    seed=3,
    ema_decay=0.99,
    p_uncond=0.1,
    num_timesteps=300,
    beta_start=1e-4,
    beta_end=0.02,
    lr_warmup_steps=0,  # off: not shown
    ema_warmup=True,
    min_snr_gamma=5.0,
    unrelated="not shown",
)


def test_train_report_params_denoiser():
    out = train_report_params({**TRAIN, "task": "denoiser"})
    keys = ["hidden", "batch_size", "epochs", "lr", "lr_decay_to", "sigma", "seed"]
    assert list(out) == keys + ["ema_warmup", "min_snr_gamma"]  # no schedule for the denoiser
    assert all(out[k] == TRAIN[k] for k in out)


def test_train_report_params_time_and_class_show_the_schedule():
    sched = ["num_timesteps", "beta_start", "beta_end"]
    common = ["hidden", "batch_size", "epochs", "lr", "lr_decay_to", "ema_decay"]
    time = train_report_params({**TRAIN, "task": "time"})
    assert list(time) == common + ["seed"] + sched + ["ema_warmup", "min_snr_gamma"]
    cls = train_report_params({**TRAIN, "task": "class"})
    assert list(cls) == common + ["p_uncond"] + sched + ["seed", "ema_warmup", "min_snr_gamma"]
    assert cls["p_uncond"] == 0.1 and cls["num_timesteps"] == 300


def test_train_report_params_measured_layout_last_and_missing_keys_skipped():
    train = {k: v for k, v in TRAIN.items() if k != "ema_decay"}
    out = train_report_params({**train, "task": "time", "amp_bf16": True, "threads": 2})
    assert "ema_decay" not in out
    assert list(out)[-2:] == ["precision", "threads per job"]
    assert out["precision"] == "bf16 autocast"
    assert out["threads per job"] == 2
    fp32 = train_report_params({**TRAIN, "task": "time", "amp_bf16": False, "threads": 0})
    assert fp32["precision"] == "fp32"
    assert "threads per job" not in fp32


def test_time_sampling_forward_is_a_positive_rate():
    rate = time_sampling_forward(4, bf16=False, rows=3, reps=1, rounds=1)
    assert isinstance(rate, float) and math.isfinite(rate) and rate > 0


# ------------------------------------------------------------------ fast samplers (beyond)


def test_sample_fast_samplers_walk_the_spaced_list(time_unet, schedule):
    """sampler / steps / eta reach the loop: N steps over spaced_timesteps(T, N) with the same
    x_T; the full-step "ddpm" default is the spec's loop, DDIM at eta 0 is deterministic in z."""
    spec, _ = sample(time_unet, schedule, n=2, seed=5)
    full, _ = sample(time_unet, schedule, n=2, seed=5, sampler="ddpm", steps=T)
    assert torch.equal(spec, full)
    ts = ddpm.spaced_timesteps(T, 3)
    g = torch.Generator().manual_seed(5)
    x_T = torch.randn((2, 1, 28, 28), generator=g)

    def eps_fn(x, t):
        return eps_of(time_unet)(x, t), None

    with torch.no_grad():
        want = ddpm.sample_loop(eps_fn, schedule, x_T, ts, g, sampler="ddim", eta=0.0)
    got, _ = sample(time_unet, schedule, n=2, seed=5, sampler="ddim", steps=3, eta=0.0)
    torch.testing.assert_close(got, want)
    strided, _ = sample(time_unet, schedule, n=2, seed=5, steps=3)
    assert (strided - got).abs().max() > 1e-3  # strided DDPM adds noise, DDIM(0) does not
