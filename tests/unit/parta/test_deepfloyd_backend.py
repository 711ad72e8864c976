"""The DeepFloyd backend on the tiny offline IF pipeline: A0 is the spec's call (diffusers'
IFPipeline + IFSuperResolutionPipeline, called directly here as the oracle), the models load only
where a step calls them, and the version floors in pyproject cover the from_pretrained keywords
the backend passes."""

from __future__ import annotations

import logging
import runpy
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from packaging.requirements import Requirement
from packaging.version import Version

from fundiff.diffusion.ddpm import Schedule
from fundiff.errors import AccessError, PromptError
from fundiff.parta import loops
from fundiff.parta.backends import deepfloyd, load_backend
from fundiff.seeds import offset_seed
from fundiff.workflow import runner
from tests.helpers import tiny_if
from tests.helpers.workflow import REPO

PROMPTS = ["a rocket ship", "a man wearing a hat"]
NONE = {"safety_checker": None, "feature_extractor": None, "watermarker": None}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny IF folders and the prompt cache the encode_prompts rule would write."""
    root = tiny_if.build(tmp_path_factory.mktemp("tiny_if"))
    config = {
        "name": "deepfloyd",
        "stage1": str(root / "stage1"),
        "stage2": str(root / "stage2"),
        "local_files_only": True,
    }
    embeds = root / "prompt_embeds.pt"
    deepfloyd.encode_prompts(config, ["", *PROMPTS], embeds, torch.device("cpu"))
    return root, config, embeds


@pytest.mark.parametrize("steps", [2, 5])
def test_a0_equals_diffusers_if_pipelines(tiny, steps):
    """loops.a0 (what rule parta_a0 runs) == IFPipeline then IFSuperResolutionPipeline on IFPipeline's
    unclamped "pt" output, with the same embeddings and seeds (CPU fp32)."""
    from diffusers import IFPipeline, IFSuperResolutionPipeline

    root, config, embeds = tiny
    seed, stage2_steps, scale = 180, 3, 7.0
    backend = load_backend(config, "cpu", prompt_embeds=str(embeds))
    x, up = loops.a0(backend, PROMPTS, steps, stage2_steps, seed, scale)

    cache = torch.load(embeds, weights_only=True)
    pe = torch.stack([cache[p] for p in PROMPTS])
    ne = torch.stack([cache[""]] * len(PROMPTS))
    stage1 = IFPipeline.from_pretrained(root / "stage1", text_encoder=None, **NONE)
    stage2 = IFSuperResolutionPipeline.from_pretrained(root / "stage2", text_encoder=None, **NONE)
    ref1 = stage1(
        prompt_embeds=pe,
        negative_prompt_embeds=ne,
        num_inference_steps=steps,
        guidance_scale=scale,
        generator=torch.Generator().manual_seed(seed),
        output_type="pt",
    ).images
    ref2 = stage2(
        image=ref1,
        prompt_embeds=pe,
        negative_prompt_embeds=ne,
        num_inference_steps=stage2_steps,
        generator=torch.Generator().manual_seed(offset_seed(seed, "stage2")),
        output_type="pt",
    ).images
    assert x.shape == (2, 3, 32, 32) and up.shape == (2, 3, 64, 64)
    torch.testing.assert_close(x, ref1, rtol=0, atol=1e-5)
    torch.testing.assert_close(up, ref2, rtol=0, atol=1e-5)
    assert x.abs().max() <= 1.0  # the scheduler's dynamic thresholding bounds x0 at t = 0


@pytest.fixture
def pretrained_calls(monkeypatch):
    """The classes the backend calls ``from_pretrained`` on (weights loaded), in order."""
    calls, real = [], deepfloyd.from_pretrained

    def spy(cls, src, **extra):
        calls.append(cls.__name__)
        return real(cls, src, **extra)

    monkeypatch.setattr(deepfloyd, "from_pretrained", spy)
    return calls


def test_schedule_and_shape_come_from_the_configs_without_loading_a_model(tiny, pretrained_calls):
    """Built, the backend has stage I's schedule, image size, channels and variance type (equal
    to the loaded pipeline's) and no model; the first UNet call loads stage I, once, and stage II
    loads when asked for (A0's upsampling)."""
    from diffusers import IFPipeline

    root, config, embeds = tiny
    backend = load_backend(config, "cpu", prompt_embeds=str(embeds))
    assert pretrained_calls == [] and not any(backend.loaded.values())
    pipe = IFPipeline.from_pretrained(root / "stage1", text_encoder=None, **NONE)
    schedule = Schedule.from_alphas_cumprod(pipe.scheduler.alphas_cumprod)
    assert torch.equal(backend.scheduler.alphas_cumprod, pipe.scheduler.alphas_cumprod)
    assert torch.equal(backend.schedule.betas, schedule.betas)
    unet = pipe.unet.config
    assert (backend.image_size, backend.channels) == (unet.sample_size, unet.in_channels) == (32, 3)
    assert backend.variance_type == "learned_range" and unet.out_channels == 6

    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    eps, var = backend.predict(x, 500, backend.encode(["a rocket ship"]))
    assert backend.loaded == {"stage1": True, "stage2": False, "embeds": True}
    backend.predict(x, 400, backend.uncond(1))
    assert pretrained_calls == ["IFPipeline"]
    ref = pipe.unet(x, 500, encoder_hidden_states=backend.encode(["a rocket ship"]))[0]
    torch.testing.assert_close(torch.cat([eps, var], dim=1), ref, rtol=0, atol=0)
    backend.stage2()
    assert backend.loaded["stage2"]
    assert pretrained_calls == ["IFPipeline", "IFSuperResolutionPipeline"]


def _noisy_rule(tmp_path, config, section, **inputs):
    """The params and inputs rules/parta.smk gives scripts/parta_noisy.py for ``section``."""
    from PIL import Image

    png = tmp_path / "test.png"
    if not png.exists():
        gen = torch.Generator().manual_seed(0)
        pixels = torch.randint(0, 256, (40, 48, 3), dtype=torch.uint8, generator=gen)
        Image.fromarray(pixels.numpy()).save(png)
    table = tmp_path / section / "table.json"
    return SimpleNamespace(
        threads=1,
        params=SimpleNamespace(
            backend=dict(config),
            device="cpu",
            seed=180,
            null_prompt="",
            upscale=1,
            image_name="test",
            invert="auto",
            resize="crop",
            section=section,
            title=section,
            t=[250, 500, 750],
            blur={"kernel_size": 5, "sigma": 2.0},
        ),
        input=SimpleNamespace(image=str(png), **inputs),
        output=SimpleNamespace(table=str(table)),
        log=[],
    )


def _run_noisy(monkeypatch, smk) -> dict:
    monkeypatch.setattr(runner, "setup_logging", lambda path: logging.getLogger("test"))
    runpy.run_path(str(REPO / "scripts/parta_noisy.py"), init_globals={"snakemake": smk})
    with np.load(Path(smk.output.table).with_suffix(".npz")) as z:
        return {k: z[k] for k in z.files}


def test_forward_and_blur_rules_load_no_model(
    tiny, tmp_path, monkeypatch, pretrained_calls, restore_torch
):
    """scripts/parta_noisy.py as rules parta_forward and parta_blur run it (no prompt cache among
    their inputs) never loads the stage-I UNet; as parta_one_step it does, and its noisy row is
    the very x_t of the other two."""
    _, config, embeds = tiny
    monkeypatch.chdir(tmp_path)
    forward = _run_noisy(monkeypatch, _noisy_rule(tmp_path, config, "A1.1"))
    blur = _run_noisy(monkeypatch, _noisy_rule(tmp_path, config, "A1.2"))
    assert pretrained_calls == []
    one_step = _run_noisy(
        monkeypatch, _noisy_rule(tmp_path, config, "A1.3", prompt_embeds=str(embeds))
    )
    assert pretrained_calls == ["IFPipeline"]
    noisy = [k for k in forward if k.startswith("noisy")]
    assert len(noisy) == 6  # three t, each uint8 and float
    for k in noisy:
        np.testing.assert_array_equal(forward[k], blur[k])
        np.testing.assert_array_equal(forward[k], one_step[k])
    assert any(k.startswith("blur") for k in blur) and any(
        k.startswith("one_step") for k in one_step
    )


def test_a_step_that_encodes_without_the_prompt_cache_is_one_line(tiny):
    _, config, _ = tiny
    backend = load_backend(config, "cpu")
    with pytest.raises(PromptError) as e:
        backend.encode([""])
    msg = str(e.value)
    assert "\n" not in msg and "prompt_embeds" in msg and "encode_prompts" in msg


def _floors() -> dict[str, Version | None]:
    """{package: the lowest version pyproject's [deepfloyd] extra allows, or None}."""
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["deepfloyd"]
    floors = {}
    for line in extra:
        req = Requirement(line)
        lows = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
        floors[req.name] = max(lows, default=None)
    return floors


def _pins() -> dict[str, Version]:
    """{package: version} of requirements.txt's ``name==version`` lines."""
    lines = (REPO / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(x.split("#", 1)[0]) for x in lines if x.split("#", 1)[0].strip()]
    return {r.name: Version(next(iter(r.specifier)).version) for r in reqs if r.specifier}


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_version_floors_cover_every_from_pretrained_keyword(device):
    """Every keyword load_kwargs passes has a documented oldest release per package, and
    pyproject's floor (and requirements.txt's pin) is at least that release."""
    kw = deepfloyd.load_kwargs({"variant": "auto"}, torch.device(device))
    assert kw["use_safetensors"] is True and "torch_dtype" not in kw
    floors, pins = _floors(), _pins()
    for package in deepfloyd.NEEDS:
        missing = [k for k in kw if package not in deepfloyd.KWARGS_SINCE.get(k, {})]
        assert not missing, f"no oldest {package} release recorded for {missing}"
        need = max(Version(deepfloyd.KWARGS_SINCE[k][package]) for k in kw)
        assert floors[package] is not None and floors[package] >= need, (package, need)
        assert pins[package] >= need, (package, pins[package], need)


def test_installed_packages_honour_dtype_and_use_safetensors(tiny, tmp_path):
    """The keywords reach the installed diffusers and transformers: ``dtype`` loads the UNet and
    T5 in fp16 (a release without it would leave fp32), and a folder that holds only a pickled
    ``*.bin`` UNet is refused instead of unpickled."""
    import shutil

    from diffusers import IFPipeline, UNet2DConditionModel
    from transformers import T5EncoderModel

    root, _, _ = tiny
    kw = deepfloyd.load_kwargs({"variant": None, "local_files_only": True}, torch.device("cuda"))
    assert kw["dtype"] == torch.float16 and "variant" not in kw
    src = deepfloyd.Source(str(root / "stage1"), "tiny", "parta.backend.stage1", kw)
    pipe = deepfloyd.from_pretrained(IFPipeline, src, text_encoder=None, **NONE)
    assert pipe.unet.dtype == torch.float16
    t5 = deepfloyd.from_pretrained(T5EncoderModel, src, subfolder="text_encoder")
    assert t5.dtype == torch.float16

    pickled = tmp_path / "stage1"
    shutil.copytree(root / "stage1", pickled)
    unet = UNet2DConditionModel.from_pretrained(pickled / "unet")
    (pickled / "unet/diffusion_pytorch_model.safetensors").unlink()
    unet.save_pretrained(pickled / "unet", safe_serialization=False)
    assert (pickled / "unet/diffusion_pytorch_model.bin").is_file()
    cpu = deepfloyd.load_kwargs({"variant": None, "local_files_only": True}, torch.device("cpu"))
    src = deepfloyd.Source(str(pickled), "tiny", "parta.backend.stage1", cpu)
    with pytest.raises(AccessError) as e:
        deepfloyd.from_pretrained(IFPipeline, src, text_encoder=None, **NONE)
    msg = str(e.value)
    assert "no *.safetensors of the set variant" in msg and "parta.backend.variant" in msg
    assert "\n" not in msg and len(msg) <= 200 and "hf auth login" not in msg
