"""fundiff.parta.backends and prompts: the backend protocol, mnist prompt parsing, the mnist backend from a checkpoint."""

import pytest
import torch

from fundiff.diffusion import ddpm
from fundiff.errors import UserError
from fundiff.parta import loops
from fundiff.parta.backends import Backend, load_backend
from fundiff.parta.prompts import parse_prompt
from tests.helpers.fake_backend import FakeBackend  # noqa: E402
from tests.helpers.training import tiny_class_checkpoint


def test_fake_backend_satisfies_protocol():
    assert isinstance(FakeBackend(), Backend)


@pytest.mark.parametrize(
    "prompt, label",
    [
        ("7", 7),
        ("seven", 7),
        ("a handwritten 7", 7),
        ("A Handwritten Seven", 7),
        ("  0 ", 0),
        ("", -1),
        ("a high quality photo", -1),
    ],
)
def test_mnist_prompts(prompt, label):
    assert parse_prompt(prompt) == label


@pytest.mark.parametrize("bad", ["a rocket ship", "12", "handwritten 7", "sevenn"])
def test_mnist_bad_prompt_one_line(bad):
    with pytest.raises(ValueError) as e:
        parse_prompt(bad)
    msg = str(e.value)
    assert "\n" not in msg and repr(bad) in msg and "a handwritten seven" in msg


def test_mnist_backend_from_checkpoint(tmp_path):
    ckpt = tmp_path / "epoch_001.pt"
    cfg, model = tiny_class_checkpoint(ckpt)
    b = load_backend({"name": "mnist"}, "cpu", checkpoint=str(ckpt))
    assert (b.image_size, b.channels, b.variance_type) == (28, 1, "fixed_large")
    assert b.schedule.num_timesteps == 300
    c = b.encode(["3", "a high quality photo"])
    assert c.tolist() == [3, -1]
    ts = ddpm.strided_timesteps(290, 10)
    x = loops.sample_cfg(b, c, b.uncond(2), ts, torch.Generator().manual_seed(0))
    y = loops.sample_cfg(b, c, b.uncond(2), ts, torch.Generator().manual_seed(0))
    assert x.shape == (2, 1, 28, 28) and torch.equal(x, y)
    assert b.upsample(x, ["3", "3"], 20, torch.Generator()) is None
    with pytest.raises(UserError, match="backend.name"):
        load_backend({"name": "stable-diffusion"})


@pytest.mark.parametrize("n", [1, 3, 30])
def test_mnist_a0_is_n_model_calls_ending_at_t0_without_noise(tmp_path, n):
    """A0's "N steps" on the mnist backend: exactly N model calls (each one batched CFG
    forward), the last at t = 0, and no noise after it: the result is that call's x0_hat."""
    ckpt = tmp_path / "epoch_001.pt"
    tiny_class_checkpoint(ckpt)
    b = load_backend({"name": "mnist"}, "cpu", checkpoint=str(ckpt))
    calls, predict = [], b.predict

    def spy(x_t, t, cond):
        out = predict(x_t, t, cond)
        calls.append((x_t, t, out[0]))
        return out

    b.predict = spy
    x, up = loops.a0(b, ["3", "seven"], n, 20, seed=180, scale=5.0)
    assert len(calls) == n and calls[-1][1] == 0
    assert [t for _, t, _ in calls] == [(n - 1 - i) * (300 // n) for i in range(n)]
    x_t, _, eps = calls[-1]  # [cond; uncond] halves of one forward
    eps_hat = ddpm.cfg(eps[2:], eps[:2], 5.0)
    torch.testing.assert_close(x, ddpm.predict_x0(b.schedule, x_t[:2], 0, eps_hat))
    assert up is None


# ------------------------------------------------------------------ images
