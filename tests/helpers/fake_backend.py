"""A fake Part A backend on the IF schedule: the loops' unit tests need no model."""

from __future__ import annotations

import torch
from diffusers import DDPMScheduler

from fundiff.diffusion import ddpm
from fundiff.parta import loops

IF_SCHEDULER = dict(
    num_train_timesteps=1000,
    beta_schedule="squaredcos_cap_v2",
    variance_type="learned_range",
    clip_sample=False,
    thresholding=False,
)


class FakeBackend:
    """A deterministic conv "UNet" with learned-range output; cond is a per-sample scale."""

    name = "fake"
    has_stage2 = False

    def __init__(self, channels=3, size=8, learned=True, symmetric=False, T=1000):
        g = torch.Generator().manual_seed(0)
        ref = DDPMScheduler(**IF_SCHEDULER) if T == 1000 else None
        self.schedule = (
            ddpm.Schedule.from_alphas_cumprod(ref.alphas_cumprod)
            if ref is not None
            else ddpm.Schedule.linear(1e-4, 0.02, T)
        )
        self.channels, self.image_size, self.device = channels, size, torch.device("cpu")
        self.variance_type = "learned_range" if learned else "fixed_large"
        out = 2 * channels if learned else channels
        self.conv = torch.nn.Conv2d(channels, out, 3, padding=1)
        with torch.no_grad():
            w = torch.randn(self.conv.weight.shape, generator=g) * 0.3
            if symmetric:  # flip-equivariant: kernel symmetric under an H flip
                w = (w + torch.flip(w, dims=[-2])) / 2
            self.conv.weight.copy_(w)
            self.conv.bias.copy_(torch.randn(out, generator=g) * 0.1)
        self.calls = 0

    def to_model(self, x01):
        return x01 * 2 - 1

    def from_model(self, x):
        return x / 2 + 0.5

    def encode(self, prompts):
        return torch.tensor([1.0 + len(p) / 10 for p in prompts])

    def uncond(self, n):
        return torch.ones(n)

    @torch.no_grad()
    def predict(self, x_t, t, cond):
        self.calls += 1
        out = self.conv(x_t) * cond[:, None, None, None] + t / 1000
        if self.variance_type != "learned_range":
            return out, None
        eps, v = out.split(self.channels, dim=1)
        return eps, torch.tanh(v)

    def text_to_image(self, prompts, num_inference_steps, guidance_scale, generator):
        """A0 with our own loop, as the mnist backend does."""
        cond, uncond = self.encode(prompts), self.uncond(len(prompts))
        return loops.sample_a0(self, cond, uncond, num_inference_steps, generator, guidance_scale)

    def upsample(self, *a, **k):
        return None
