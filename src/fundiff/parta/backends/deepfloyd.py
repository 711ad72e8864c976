"""DeepFloyd IF backend (stage I for every section, stage II to upsample A0).

Loading follows the CS180 starter: ``IFPipeline.from_pretrained(id, text_encoder=None,
variant="fp16", dtype=float16, use_safetensors=True)`` on CUDA (fp32, no variant, on a CPU).
The T5 text encoder is used once, by the ``encode_prompts`` rule, which caches
``{prompt: embedding}`` (diffusers ``encode_prompt`` semantics: max_length 77) so sampling never
loads T5.

A0 is the spec's call: stage I is ``IFPipeline`` and stage II ``IFSuperResolutionPipeline``,
both given the cached embeddings ("" as the negative prompt), a seeded generator and
``output_type="pt"``; the pipelines' schedulers apply IF's dynamic thresholding. Every other
section runs our own loops (:mod:`fundiff.parta.loops`) on the stage-I UNet.

Sizes are read from the model's config (``unet/config.json``: ``sample_size``, ``in_channels``,
``out_channels``) and the schedule from its scheduler's ``alphas_cumprod``, without loading any
weights; the stage-I pipeline (its UNet), the prompt cache and stage II are loaded on first use,
so the steps that never call the model (forward noising, the blur baseline) load none of them.
With ``out_channels == 2 * in_channels`` the last channels are the learned-range variance v in
[-1, 1].

The models come from the manifest of the ``fetch_models`` rule (``config["models"]``, see
:mod:`fundiff.parta.backends.hub`): local folders loaded with ``local_files_only``, in the
weights variant that was fetched, so no job asks the hub anything. Without a manifest the
configured ids / folders are loaded directly.

Any "cannot get the weights" failure (offline, not logged in, licence not accepted, repository
not found) becomes one RuntimeError line telling how to fix it; a Hugging Face token from the
environment is never printed.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import NamedTuple

import torch

from fundiff.diffusion.ddpm import Schedule
from fundiff.errors import AccessError, CheckpointError, PromptError
from fundiff.io import torch_save
from fundiff.parta.backends import require
from fundiff.parta.backends.hub import KEYS, access_error, hub_failure, offline, repo_ids
from fundiff.progress import bar_options

NEEDS = ("diffusers", "transformers")  # pyproject's [deepfloyd] extra

# The from_pretrained keywords load_kwargs passes -> per package, the oldest release checked to
# accept it (read in that release's from_pretrained). A release that predates ``dtype=``
# ignores it without a word: the UNet stays fp32 and the first fp16 step fails (Half/Float).
# pyproject's [deepfloyd] floors must be at least the newest of these
# (tests/unit/parta/test_deepfloyd_backend.py).
KWARGS_SINCE = {
    "dtype": {"diffusers": "0.40.0", "transformers": "4.56.0"},
    "use_safetensors": {"diffusers": "0.30.0", "transformers": "4.44.0"},
    "variant": {"diffusers": "0.30.0", "transformers": "4.44.0"},
    "local_files_only": {"diffusers": "0.30.0", "transformers": "4.44.0"},
}


def _require() -> None:
    """diffusers and transformers installed, else one line saying how to install them."""
    require(NEEDS, "deepfloyd", "deepfloyd")


def load_kwargs(config: dict, device: torch.device) -> dict:
    """from_pretrained keywords: dtype per device (fp16 on CUDA only: fp32 on a CPU and on MPS),
    safetensors weights only (never a pickled ``*.bin``), the weights variant (auto: fp16 on
    CUDA), local_files_only/HF_HUB_OFFLINE. :data:`KWARGS_SINCE` names each one's oldest release."""
    cuda = device.type == "cuda"
    variant = config.get("variant", "auto")
    if variant == "auto":
        variant = "fp16" if cuda else None
    kw = {
        "dtype": torch.float16 if cuda else torch.float32,
        "use_safetensors": True,
        "local_files_only": offline(config),
    }
    if variant:
        kw["variant"] = variant
    return kw


class Source(NamedTuple):
    """Where one model loads from: ``path`` (a folder or hub id), ``name`` for messages (the hub
    id, never a long cache path), the config ``key`` that sets it, from_pretrained ``kw``."""

    path: str
    name: str
    key: str
    kw: dict


def source(config: dict, role: str, device: torch.device) -> Source:
    """One model ("stage1", "stage2", "text_encoder"): the folder and variant the fetch_models
    manifest recorded when ``config["models"]`` names one, else the configured id or folder."""
    if not config.get("models"):
        model = repo_ids(config)[role]
        return Source(model, model, KEYS[role], load_kwargs(config, device))
    entry = json.loads(Path(config["models"]).read_text())[role]
    if not Path(entry["path"]).is_dir():
        raise AccessError(
            f"the {role} model fetched from '{entry['repo']}' is gone from its folder; delete "
            f"{config['models']} and rerun (rule fetch_models fetches it again)"
        )
    kw = load_kwargs({"variant": entry["variant"], "local_files_only": True}, device)
    return Source(entry["path"], entry["repo"], KEYS[role], kw)


def from_pretrained(cls, src: Source, **extra):
    """``cls.from_pretrained`` with every access failure turned into :func:`access_error`."""
    try:
        return cls.from_pretrained(src.path, **src.kw, **extra)
    except Exception as e:
        if hub_failure(e):
            raise access_error(src.name, e, src.key) from None
        raise


_NO_EXTRAS = {"safety_checker": None, "feature_extractor": None, "watermarker": None}


def encode_prompts(config: dict, prompts: list[str], path, device: torch.device) -> dict:
    """Encode every prompt once with T5 (``IFPipeline.encode_prompt``: max_length 77) and save
    ``{prompt: embedding (L, D)}`` to ``path``."""
    _require()
    from diffusers import DiffusionPipeline
    from transformers import T5EncoderModel

    src = source(config, "text_encoder", device)
    text_encoder = from_pretrained(T5EncoderModel, src, subfolder="text_encoder")
    pipe = from_pretrained(
        DiffusionPipeline, src, text_encoder=text_encoder, unet=None, **_NO_EXTRAS
    ).to(device)
    cache = {}
    for p in sorted(set(prompts)):
        embeds, _ = pipe.encode_prompt(p, do_classifier_free_guidance=False, device=device)
        cache[p] = embeds[0].detach().cpu()
    torch_save(cache, path)
    return cache


def stage1_configs(src: Source):
    """(scheduler, UNet config) of stage I from its config files alone: the scheduler class
    model_index.json names, built from its scheduler_config.json (the same alphas_cumprod as
    the pipeline's), and unet/config.json. Reads no weights."""
    from diffusers import DiffusionPipeline, UNet2DConditionModel

    hub = {"local_files_only": src.kw["local_files_only"]}
    try:
        index = DiffusionPipeline.load_config(src.path, **hub)
        library, name = index["scheduler"]
        cls = getattr(importlib.import_module(library), name)
        scheduler = cls.from_config(cls.load_config(src.path, subfolder="scheduler", **hub))
        unet = UNet2DConditionModel.load_config(src.path, subfolder="unet", **hub)
    except Exception as e:
        if hub_failure(e):
            raise access_error(src.name, e, src.key) from None
        raise
    return scheduler, unet


class DeepFloydBackend:
    """Stage I's schedule and image shape are read from its config files when the backend is
    built; the UNet (the whole stage-I pipeline), the prompt cache and stage II are loaded on
    first use, so a step that never calls the model (A1.1 forward noising, A1.2 blur) loads
    none of them and needs neither a GPU nor ``prompt_embeds``."""

    name = "deepfloyd"
    has_stage2 = True

    def __init__(self, config: dict, prompt_embeds: str | Path | None, device: torch.device):
        _require()
        self.config, self.device = config, torch.device(device)
        self.src = source(config, "stage1", self.device)
        self.dtype = self.src.kw["dtype"]
        self.scheduler, unet_config = stage1_configs(self.src)
        self.schedule = Schedule.from_alphas_cumprod(self.scheduler.alphas_cumprod)
        self.image_size = int(unet_config["sample_size"])
        self.channels = int(unet_config["in_channels"])
        learned = unet_config["out_channels"] == 2 * self.channels
        self.variance_type = "learned_range" if learned else "fixed_small"
        self.embeds_path = None if prompt_embeds is None else Path(prompt_embeds)
        self._embeds = self._stage1 = self._stage2 = None

    @property
    def loaded(self) -> dict[str, bool]:
        """Which of the lazily loaded parts are in memory (stage1 holds the UNet)."""
        parts = {"stage1": self._stage1, "stage2": self._stage2, "embeds": self._embeds}
        return {k: v is not None for k, v in parts.items()}

    @property
    def stage1(self):
        """Stage I's ``IFPipeline`` (without T5), loaded on first use."""
        if self._stage1 is None:
            from diffusers import IFPipeline

            pipe = from_pretrained(IFPipeline, self.src, text_encoder=None, **_NO_EXTRAS)
            pipe.set_progress_bar_config(**bar_options("DeepFloyd stage I"))
            pipe.unet.eval()
            self._stage1 = pipe.to(self.device)
        return self._stage1

    @property
    def unet(self):
        return self.stage1.unet

    @property
    def embeds(self) -> dict:
        """The ``{prompt: embedding}`` cache of the encode_prompts rule, read on first use."""
        if self._embeds is None:
            if self.embeds_path is None:
                raise PromptError(
                    "this step encodes prompts but was given no prompt cache; its rule needs "
                    "the input prompt_embeds (written by the encode_prompts rule)"
                )
            try:
                self._embeds = torch.load(self.embeds_path, map_location="cpu", weights_only=True)
            except Exception as e:
                raise CheckpointError(
                    f"{self.embeds_path}: unreadable prompt cache ({type(e).__name__}); delete "
                    "it and rerun (the encode_prompts rule rebuilds it)"
                ) from None
        return self._embeds

    def to_model(self, x01: torch.Tensor) -> torch.Tensor:
        """[0, 1] -> [-1, 1] (spec: Normalize(0.5, 0.5))."""
        return (x01 * 2.0 - 1.0).to(self.device)

    def from_model(self, x: torch.Tensor) -> torch.Tensor:
        return x / 2.0 + 0.5

    def encode(self, prompts: list[str]) -> torch.Tensor:
        missing = [p for p in prompts if p not in self.embeds]
        if missing:
            raise PromptError(
                f"prompt {missing[0]!r} is not in {self.embeds_path}; add it to the config so "
                "the encode_prompts rule encodes it"
            )
        return torch.stack([self.embeds[p] for p in prompts]).to(self.device, self.dtype)

    def uncond(self, n: int) -> torch.Tensor:
        return self.encode([""] * n)

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor):
        out = self.unet(
            x_t.to(self.dtype), t, encoder_hidden_states=cond.to(self.dtype), return_dict=False
        )[0].float()
        if self.variance_type != "learned_range":
            return out, None
        eps_hat, predicted_variance = out.split(self.channels, dim=1)
        return eps_hat, predicted_variance

    @torch.no_grad()
    def text_to_image(self, prompts, num_inference_steps, guidance_scale, generator):
        """A0 stage I as the spec calls it: ``IFPipeline`` with the cached embeddings, N steps
        (N UNet calls, the last at t = 0), its scheduler's dynamic thresholding; the raw
        samples in [-1, 1] (``output_type="pt"``)."""
        out = self.stage1(
            prompt_embeds=self.encode(prompts),
            negative_prompt_embeds=self.uncond(len(prompts)),
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            generator=generator,
            output_type="pt",
        ).images
        return out.float()

    def stage2(self):
        if self._stage2 is None:
            from diffusers import IFSuperResolutionPipeline

            src = source(self.config, "stage2", self.device)
            pipe = from_pretrained(IFSuperResolutionPipeline, src, text_encoder=None, **_NO_EXTRAS)
            pipe.set_progress_bar_config(**bar_options("DeepFloyd stage II"))
            self._stage2 = pipe.to(self.device)
        return self._stage2

    @torch.no_grad()
    def upsample(self, x, prompts, num_inference_steps, generator):
        """Stage II (spec: 20 steps) on stage-I outputs as they are (not clamped), with the
        cached embeddings."""
        out = self.stage2()(
            image=x.to(self.device, self.dtype),
            prompt_embeds=self.encode(prompts),
            negative_prompt_embeds=self.uncond(len(prompts)),
            num_inference_steps=num_inference_steps,
            generator=generator,
            output_type="pt",
        ).images
        return out.float()


def load(config: dict, device: torch.device, prompt_embeds=None) -> DeepFloydBackend:
    """The backend for ``load_backend``: model ids / folders from ``config``, cached embeddings
    (None for the steps that encode no prompt)."""
    return DeepFloydBackend(config, prompt_embeds, device)
