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


def test_mnist_backend_builds_its_unet_on_first_use(tmp_path, monkeypatch):
    """Forward noising and the blur baseline need only the schedule and the image shape (both
    from the checkpoint's configs): the UNet is built at the first model call, once, and then
    predicts as the trained model does."""
    from fundiff.parta.backends import mnist

    ckpt = tmp_path / "epoch_001.pt"
    tiny_class_checkpoint(ckpt)
    built, real = [], mnist.load_model
    monkeypatch.setattr(mnist, "load_model", lambda *a, **k: built.append(a) or real(*a, **k))
    b = load_backend({"name": "mnist"}, "cpu", checkpoint=str(ckpt))
    x_0 = b.to_model(torch.rand(1, b.channels, b.image_size, b.image_size))
    x_t = loops.forward(b, x_0, 150, torch.Generator().manual_seed(0))
    loops.blur_denoise(x_t, 5, 2.0)
    assert built == [] and b.loaded == {"model": False}
    cond = b.encode(["3"])
    eps, _ = b.predict(x_t, 150, cond)
    b.predict(x_t, 100, cond)
    assert len(built) == 1 and b.loaded == {"model": True}
    model = real(ckpt)
    with torch.no_grad():
        ref = model(x_t, torch.full((1,), 150 / b.schedule.num_timesteps), cond)
    torch.testing.assert_close(eps, ref, rtol=0, atol=0)


@pytest.mark.parametrize("bad", ["garbage", "not_fundiff", "unconditional"])
def test_mnist_backend_rejects_a_bad_checkpoint_when_built(tmp_path, bad):
    """Checked when the backend is built, before any model is: one line each."""
    from fundiff.errors import CheckpointError
    from fundiff.io import torch_save

    ckpt = tmp_path / "epoch_001.pt"
    if bad == "garbage":
        ckpt.write_bytes(b"not a checkpoint")
    elif bad == "not_fundiff":
        torch_save({"weights": torch.zeros(1)}, ckpt)
    else:
        tiny_class_checkpoint(ckpt)
        state = torch.load(ckpt, weights_only=True)
        state["model_config"]["num_classes"] = 0
        torch_save(state, ckpt)
    with pytest.raises(CheckpointError) as e:
        load_backend({"name": "mnist"}, "cpu", checkpoint=str(ckpt))
    msg = str(e.value)
    assert "\n" not in msg and str(ckpt) in msg


# ------------------------------------------------------------------ images
