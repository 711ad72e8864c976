"""Part A loops against the ddpm math and diffusers, on fake backends (no weights needed)."""

import copy
import io
from dataclasses import asdict

import pytest
import torch
import yaml
from diffusers import DDPMScheduler
from PIL import Image

from fundiff.config import ConfigError, validate
from fundiff.diffusion import ddpm
from fundiff.errors import UserError
from fundiff.parta import loops, views
from fundiff.parta.backends import Backend, load_backend
from fundiff.parta.images import ImageError, image_mask, load_source, open_image, prepare, rect_mask
from fundiff.parta.prompts import parse_prompt
from tests.helpers.fake_backend import IF_SCHEDULER, FakeBackend  # noqa: E402
from tests.helpers.workflow import REPO


def test_fake_backend_satisfies_protocol():
    assert isinstance(FakeBackend(), Backend)


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
    # and with a non-symmetric input the two views really differ
    x2 = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    assert not torch.allclose(
        loops.anagram_eps_fn(b, c, c, u, 7.0)(x2, 300)[0],
        loops.cfg_predict(b, x2, 300, c, u, 7.0)[0],
    )


def test_flip_is_upside_down():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    assert views.flip(x).flatten().tolist() == [2.0, 3.0, 0.0, 1.0]
    assert views.rotate180(x).flatten().tolist() == [3.0, 2.0, 1.0, 0.0]
    for turn in views.VIEWS.values():  # each view is its own inverse
        assert torch.equal(turn(turn(x)), x)


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


# ------------------------------------------------------------------ mnist backend


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
    from fundiff.diffusion.train import TrainConfig
    from fundiff.io import torch_save

    cfg = TrainConfig(task="class", hidden=4, batch_size=2, epochs=1, lr=1e-3)
    torch.manual_seed(0)
    model = cfg.build_model().eval()
    ckpt = tmp_path / "epoch_001.pt"
    torch_save(
        {
            "config": asdict(cfg),
            "model_config": model.config(),
            "epoch": 1,
            "state_dict": model.state_dict(),
        },
        ckpt,
    )
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


# ------------------------------------------------------------------ images


def _png(im: Image.Image, path):
    im.save(path)
    return path


@pytest.mark.parametrize(
    "im",
    [
        Image.new("RGBA", (90, 50), (255, 0, 0, 0)),  # transparent -> white
        Image.new("L", (20, 64), 30),
        Image.new("RGB", (3, 5), (0, 128, 255)),  # tiny
        Image.new("P", (40, 30)),
        Image.new("I;16", (30, 30)),
    ],
)
def test_prepare_any_image(tmp_path, im):
    path = _png(im, tmp_path / "x.png")
    for size, ch in ((64, 3), (28, 1)):
        x = prepare(open_image(path), size, ch)
        assert x.shape == (ch, size, size) and 0 <= x.min() and x.max() <= 1


def test_prepare_transparent_is_white_and_mnist_inverts_light_backgrounds(tmp_path):
    x = prepare(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), 8, 3)
    assert torch.allclose(x, torch.ones_like(x))
    drawing = Image.new("L", (50, 50), 255)
    drawing.paste(0, (20, 5, 30, 45))  # black stroke on white paper
    x = prepare(drawing, 28, 1)
    assert x[0, 0, 0] < 0.1 and x[0, 14, 14] > 0.9  # white on black, like MNIST
    assert prepare(drawing, 28, 1, invert=False)[0, 0, 0] > 0.9


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(ImageError, match="nope.png does not exist"):
        open_image(tmp_path / "nope.png")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageError) as e:
        load_source("file:broken.png", base_dir=tmp_path)
    assert "broken.png" in str(e.value) and "readable" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ImageError, match="skimage:no_such"):
        load_source("skimage:no_such")
    with pytest.raises(ImageError, match="url:URL"):
        load_source("ftp:x")


def test_skimage_source():
    # downloads: tests/unit/parta/test_images.py (a local HTTP server)
    im = load_source("skimage:camera")
    assert im.size == (512, 512)


def test_masks(tmp_path):
    m = rect_mask(64, [[2, 24, 18, 18]])
    assert m.shape == (1, 64, 64) and m.sum() == 18 * 18
    with pytest.raises(ImageError) as e:
        rect_mask(28, [[20, 0, 14, 28]], "parta.inpaint (digit)")
    assert "does not fit the 28x28" in str(e.value) and "parta.inpaint (digit)" in str(e.value)
    path = _png(Image.new("L", (100, 50), 255), tmp_path / "mask.png")
    with pytest.raises(ImageError, match="must be square"):
        image_mask(path, 64)
    sq = Image.new("L", (100, 100), 0)
    sq.paste(255, (0, 0, 50, 50))
    m = image_mask(_png(sq, tmp_path / "sq.png"), 28)
    assert m.shape == (1, 28, 28) and m.sum() == 14 * 14


# ------------------------------------------------------------------ config


def _base():
    return yaml.safe_load((REPO / "config.yaml").read_text())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p["sdedit"].update(i_start=[1, 29]), "'parta.sdedit.i_start' = 29 is past"),
        (lambda p: p["iterative"].update(i_start=40), "'parta.iterative.i_start' = 40"),
        (lambda p: p["timesteps"].update(start=295), "multiple of 'stride'"),
        (lambda p: p["forward"].update(image="campanile"), "names image 'campanile'"),
        (lambda p: p["anagrams"]["pairs"][0].update(prompts=["6", "a dog"]), "'a dog'"),
        (lambda p: p["inpaint"][0].update(rects=[[20, 0, 14, 28]]), "does not fit the 28x28"),
        (lambda p: p["backend"].update(name="deepfloyd"), "'parta.backend.stage1' is missing"),
        (lambda p: p["images"]["camera"].update(source="s3:x"), "parta.images.camera.source"),
    ],
)
def test_parta_config_errors_are_one_line(edit, message):
    cfg = copy.deepcopy(_base())
    edit(cfg["parta"])
    with pytest.raises(ConfigError) as e:
        validate(cfg, REPO / "schemas/config.schema.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_image_bytes_roundtrip():
    from fundiff.parta.images import to_png_bytes

    im = Image.new("RGB", (3, 3), (1, 2, 3))
    assert Image.open(io.BytesIO(to_png_bytes(im))).getpixel((0, 0)) == (1, 2, 3)


# ---------------------------------------------------------------------------------------------
# Part A metrics: the samples come from the same loops, batched, seeded


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
