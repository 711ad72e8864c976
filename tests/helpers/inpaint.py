"""The spec's one-pass inpainting (1.7.2) written out from the loop's parts, as the oracle that
``loops.repaint_inpaint`` with one resampling (and so ``loops.inpaint``) must equal bit for bit."""

from __future__ import annotations

import torch

from fundiff.parta import loops


@torch.no_grad()
def one_pass_inpaint(backend, x_orig, mask, timesteps, cond, uncond, generator, known, scale=7.0):
    """Pure noise, one strided DDPM step per timestep pair, after each x <- m x + (1 - m)
    q_sample(x_orig, t') (the exact original after the last)."""
    replace = loops.known_replacement(backend, x_orig, mask, timesteps[-1], known, None)
    x_T = loops.noise(backend, x_orig.shape[0], generator).to(x_orig.dtype)
    eps_fn = loops.cfg_eps_fn(backend, cond, uncond, scale)
    return loops.denoise_loop(backend, x_T, 0, timesteps, eps_fn, generator, after_step=replace)[0]
