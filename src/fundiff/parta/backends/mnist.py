"""The embedded Part A backend: our class-conditioned MNIST UNet from Part B.

Prompts name a digit class. Accepted forms (case-insensitive, surrounding spaces ignored):
``"7"``, ``"seven"``, ``"a handwritten 7"``, ``"a handwritten seven"``; ``""`` is unconditional.
The spec's "a high quality photo" (its conditional prompt for *unconditional generation*) is
also mapped to unconditional. Anything else is a ValueError listing the accepted forms.

The model was trained on images in [0, 1] (spec B: ToTensor, no rescale), with the linear
schedule stored in its checkpoint; it predicts eps only, so sampling uses "fixed_large"
variance (sigma_t^2 = beta_t, spec Algorithm B.2). A0 is our own CFG loop (there is no
pipeline to call); there is no stage II. The schedule and shape come from the checkpoint's
configs; the UNet is built on first use.
"""

from __future__ import annotations

from pathlib import Path

import torch

from fundiff.diffusion.checkpoint import load_model, read_epoch
from fundiff.diffusion.ddpm import Schedule
from fundiff.diffusion.unet import forward_chunked
from fundiff.errors import CheckpointError
from fundiff.parta import loops
from fundiff.parta.prompts import parse_prompt


class MnistBackend:
    name = "mnist"
    variance_type = "fixed_large"
    has_stage2 = False

    def __init__(self, checkpoint: str | Path, device: torch.device, bf16: bool = False):
        self.checkpoint, self.device = Path(checkpoint), torch.device(device)
        self.bf16 = bf16  # UNet under bf16 autocast (the calibration rule measured it faster)
        ckpt = read_epoch(self.checkpoint, need=("config", "model_config"))
        if not ckpt["model_config"].get("num_classes"):
            raise CheckpointError(f"{checkpoint}: Part A needs the class-conditioned model")
        cfg = ckpt["config"]
        self.schedule = Schedule.linear(cfg["beta_start"], cfg["beta_end"], cfg["num_timesteps"])
        self.channels = int(ckpt["model_config"]["in_channels"])
        self.image_size = 28  # the spec UNet's Flatten (AvgPool 7) fixes 28 x 28 inputs
        self._model = None

    @property
    def loaded(self) -> dict[str, bool]:
        return {"model": self._model is not None}

    @property
    def model(self):
        """The UNet, built from the checkpoint on first use (forward noising and the blur
        baseline need only the schedule and the image shape)."""
        if self._model is None:
            self._model = load_model(self.checkpoint, self.device)
        return self._model

    def to_model(self, x01: torch.Tensor) -> torch.Tensor:
        return x01.to(self.device)

    def from_model(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def encode(self, prompts: list[str]) -> torch.Tensor:
        return torch.tensor([parse_prompt(p) for p in prompts], dtype=torch.long).to(self.device)

    def uncond(self, n: int) -> torch.Tensor:
        return torch.full((n,), -1, dtype=torch.long, device=self.device)

    @torch.no_grad()
    def predict(self, x_t: torch.Tensor, t: int, cond: torch.Tensor):
        """eps_theta(x_t, t/T, c); the model was trained with normalised time t/T."""
        t_in = torch.full((x_t.shape[0],), t / self.schedule.num_timesteps, device=self.device)
        return forward_chunked(self.model, x_t, t_in, cond, bf16=self.bf16), None

    def text_to_image(self, prompts, num_inference_steps, guidance_scale, generator):
        """A0 with our own CFG loop: exactly ``num_inference_steps`` model calls, the last at
        t = 0 (:func:`fundiff.parta.loops.sample_a0`)."""
        cond, uncond = self.encode(prompts), self.uncond(len(prompts))
        return loops.sample_a0(self, cond, uncond, num_inference_steps, generator, guidance_scale)

    def upsample(self, x, prompts, num_inference_steps, generator):
        return None


def load(config: dict, device: torch.device, checkpoint) -> MnistBackend:
    """The backend for ``load_backend``: ``config["bf16"]`` = the measured sampling precision."""
    return MnistBackend(checkpoint, device, bf16=bool(config.get("bf16", False)))
