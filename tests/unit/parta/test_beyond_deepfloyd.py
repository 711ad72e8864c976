"""Beyond the spec, items 3-5 through the DeepFloyd backend on the tiny offline IF pipeline
(tests/helpers/tiny_if.py): every new anagram view, RePaint resampling and the logo's A0 path
run on IF's 32 px (tiny) images, learned variance and two stages."""

from __future__ import annotations

import pytest
import torch

from fundiff.diffusion import ddpm
from fundiff.parta import loops, views
from fundiff.parta.backends import deepfloyd, load_backend
from tests.helpers import tiny_if
from tests.helpers.inpaint import one_pass_inpaint

PROMPTS = ["a rocket ship", "a man wearing a hat", "a lithograph of a bear holding a camera"]


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    root = tiny_if.build(tmp_path_factory.mktemp("tiny_if"))
    config = {
        "name": "deepfloyd",
        "stage1": str(root / "stage1"),
        "stage2": str(root / "stage2"),
        "local_files_only": True,
    }
    embeds = root / "prompt_embeds.pt"
    deepfloyd.encode_prompts(config, ["", *PROMPTS], embeds, torch.device("cpu"))
    return load_backend(config, "cpu", prompt_embeds=str(embeds))


@pytest.mark.parametrize("view", ["rotate90", "negate", "jigsaw"])
def test_new_views_make_anagrams_on_if(backend, view):
    ts = ddpm.strided_timesteps(990, 330)
    c1, c2, u = backend.encode(PROMPTS[:1]), backend.encode(PROMPTS[1:2]), backend.uncond(1)
    x = loops.visual_anagram(backend, c1, c2, u, ts, torch.Generator().manual_seed(0), 7.0, view)
    assert x.shape == (1, 3, backend.image_size, backend.image_size) and torch.isfinite(x).all()
    seen = views.view(view)(x)
    assert torch.equal(views.inverse(view)(seen), x)


def test_repaint_on_if_keeps_the_original_and_r1_is_the_spec(backend):
    ts = ddpm.strided_timesteps(990, 330)  # 4 entries, 3 steps
    s = backend.image_size
    x_orig = torch.rand(1, 3, s, s, generator=torch.Generator().manual_seed(1)) * 2 - 1
    m = torch.zeros(1, 1, s, s)
    m[..., : s // 2, :] = 1
    c, u = backend.encode([""]), backend.uncond(1)
    g = lambda k: torch.Generator().manual_seed(k)  # noqa: E731
    out = loops.repaint_inpaint(backend, x_orig, m, ts, c, u, g(1), g(2), 7.0, 1, 2)
    assert torch.equal((1 - m) * out, (1 - m) * x_orig)
    assert torch.isfinite(out).all()
    one = loops.repaint_inpaint(backend, x_orig, m, ts, c, u, g(1), g(2), 7.0, 1, 1)
    assert torch.equal(one, one_pass_inpaint(backend, x_orig, m, ts, c, u, g(1), g(2), 7.0))


def test_logo_prompt_through_both_stages(backend):
    x, up = loops.a0(backend, PROMPTS[2:], 2, 2, 5, 7.0)
    assert x.shape[0] == up.shape[0] == 1 and up.shape[-1] > x.shape[-1]  # stage II upsamples
