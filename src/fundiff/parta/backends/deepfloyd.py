"""DeepFloyd IF backend (stage I for every section, stage II to upsample A0).

Loading follows the CS180 starter: ``DiffusionPipeline.from_pretrained(id, text_encoder=None,
variant="fp16", dtype=float16)`` on CUDA (fp32, no variant, on a CPU). The T5 text
encoder is used once, by the ``encode_prompts`` rule, which caches ``{prompt: embedding}``
(diffusers ``encode_prompt`` semantics: max_length 77) so sampling never loads T5.

Sizes are read from the model (``unet.config.sample_size``, ``in_channels``, ``out_channels``)
and the schedule from ``scheduler.alphas_cumprod``. With ``out_channels == 2 * in_channels``
the last channels are the learned-range variance v in [-1, 1].

Any "cannot get the weights" failure (offline, not logged in, licence not accepted, repository
not found) becomes one RuntimeError line telling how to fix it; a Hugging Face token from the
environment is never printed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from fundiff.diffusion.ddpm import Schedule
from fundiff.errors import AccessError, CheckpointError, PromptError
from fundiff.io import torch_save
from fundiff.parta.backends import require

LICENSE_CARD = "https://huggingface.co/DeepFloyd/IF-I-XL-v1.0"
NEEDS = ("diffusers", "transformers")  # pyproject's [deepfloyd] extra


def _require() -> None:
    """diffusers and transformers installed, else one line saying how to install them."""
    require(NEEDS, "deepfloyd", "deepfloyd")


_TRUE = ("1", "true", "yes", "on")


def _redact(text: str) -> str:
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_TOKEN"):
        tok = os.environ.get(var)
        if tok:
            text = text.replace(tok, "***")
    return re.sub(r"hf_[A-Za-z0-9]{8,}", "hf_***", text)


def _reason(err: BaseException) -> str:
    from huggingface_hub import errors as hf

    chain, e = [], err
    while e is not None and len(chain) < 8:
        chain.append(e)
        e = e.__cause__ or e.__context__
    kinds = {type(c).__name__ for c in chain}
    for c in chain:
        if isinstance(c, hf.GatedRepoError):
            return "gated repository: accept the license and log in"
    for c in chain:
        if isinstance(c, hf.RepositoryNotFoundError):
            return "repository not found (or private and you are not logged in)"
    offline = {"LocalEntryNotFoundError", "OfflineModeIsEnabled"} & kinds
    if offline or "not fully cached" in str(err) or "local_files_only" in str(err):
        return "not in the local Hugging Face cache and the hub is not reachable/allowed"
    first = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
    return f"{type(err).__name__}: {_redact(first)}"


def access_error(model_id: str, err: BaseException, key: str) -> AccessError:
    """One actionable line for a model that could not be loaded."""
    return AccessError(
        f"cannot load DeepFloyd model '{model_id}' ({_reason(err)}); fix: run 'hf auth login', "
        f"accept the license on {LICENSE_CARD} (it covers all IF models), check network/"
        f"HF_HUB_OFFLINE, or set '{key}' to a local directory holding the pipeline"
    )


def load_kwargs(config: dict, device: torch.device) -> dict:
    """from_pretrained keywords: dtype/variant per device, local_files_only/HF_HUB_OFFLINE."""
    cuda = device.type == "cuda"
    variant = config.get("variant", "auto")
    if variant == "auto":
        variant = "fp16" if cuda else None
    local = bool(config.get("local_files_only")) or (
        os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE
    )
    kw = {"dtype": torch.float16 if cuda else torch.float32, "local_files_only": local}
    if variant:
        kw["variant"] = variant
    return kw


def from_pretrained(cls, model_id: str, key: str, **kw):
    """``cls.from_pretrained`` with every access failure turned into :func:`access_error`."""
    try:
        return cls.from_pretrained(model_id, **kw)
    except OSError as e:  # every huggingface_hub "cannot get it" error is an OSError
        raise access_error(model_id, e, key) from None


_NO_EXTRAS = {"safety_checker": None, "feature_extractor": None, "watermarker": None}


def encode_prompts(config: dict, prompts: list[str], path, device: torch.device) -> dict:
    """Encode every prompt once with T5 (``IFPipeline.encode_prompt``: max_length 77) and save
    ``{prompt: embedding (L, D)}`` to ``path``."""
    _require()
    from diffusers import DiffusionPipeline
    from transformers import T5EncoderModel

    model_id = config.get("text_encoder") or config["stage1"]
    kw = load_kwargs(config, device)
    text_encoder = from_pretrained(
        T5EncoderModel, model_id, "parta.backend.text_encoder", subfolder="text_encoder", **kw
    )
    pipe = from_pretrained(
        DiffusionPipeline,
        model_id,
        "parta.backend.text_encoder",
        text_encoder=text_encoder,
        unet=None,
        **_NO_EXTRAS,
        **kw,
    ).to(device)
    cache = {}
    for p in sorted(set(prompts)):
        embeds, _ = pipe.encode_prompt(p, do_classifier_free_guidance=False, device=device)
        cache[p] = embeds[0].detach().cpu()
    torch_save(cache, path)
    return cache


class DeepFloydBackend:
    name = "deepfloyd"
    has_stage2 = True

    def __init__(self, config: dict, prompt_embeds: str | Path, device: torch.device):
        _require()
        from diffusers import DiffusionPipeline

        self.config, self.device = config, torch.device(device)
        self._kw = load_kwargs(config, self.device)
        self.dtype = self._kw["dtype"]
        pipe = from_pretrained(
            DiffusionPipeline,
            config["stage1"],
            "parta.backend.stage1",
            text_encoder=None,
            **_NO_EXTRAS,
            **self._kw,
        )
        self.unet = pipe.unet.to(self.device).eval()
        self.scheduler = pipe.scheduler
        self.schedule = Schedule.from_alphas_cumprod(self.scheduler.alphas_cumprod)
        self.image_size = int(self.unet.config.sample_size)
        self.channels = int(self.unet.config.in_channels)
        learned = self.unet.config.out_channels == 2 * self.channels
        self.variance_type = "learned_range" if learned else "fixed_small"
        self.embeds_path = Path(prompt_embeds)
        try:
            self.embeds = torch.load(self.embeds_path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise CheckpointError(
                f"{self.embeds_path}: unreadable prompt cache ({type(e).__name__}); delete it and "
                "rerun (the encode_prompts rule rebuilds it)"
            ) from None
        self._stage2 = None

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

    def stage2(self):
        if self._stage2 is None:
            from diffusers import IFSuperResolutionPipeline

            pipe = from_pretrained(
                IFSuperResolutionPipeline,
                self.config["stage2"],
                "parta.backend.stage2",
                text_encoder=None,
                **_NO_EXTRAS,
                **self._kw,
            )
            pipe.set_progress_bar_config(disable=True)
            self._stage2 = pipe.to(self.device)
        return self._stage2

    @torch.no_grad()
    def upsample(self, x, prompts, num_inference_steps, generator):
        """Stage II (spec: 20 steps) on stage-I outputs in [-1, 1], with the cached embeddings."""
        out = self.stage2()(
            image=x.to(self.device, self.dtype),
            prompt_embeds=self.encode(prompts),
            negative_prompt_embeds=self.uncond(len(prompts)),
            num_inference_steps=num_inference_steps,
            generator=generator,
            output_type="pt",
        ).images
        return out.float()


def load(config: dict, device: torch.device, prompt_embeds) -> DeepFloydBackend:
    """The backend for ``load_backend``: model ids / folders from ``config``, cached embeddings."""
    return DeepFloydBackend(config, prompt_embeds, device)
