"""Part A in numbers: the samples the metric rules score, made with the Part A loops.

Everything here calls the same functions as the Part A figure rules (:mod:`fundiff.parta.loops`:
``forward``, ``blur_denoise``, ``one_step_denoise``, ``iterative_denoise``, ``visual_anagram``,
``hybrid``) on a batch of images or seeds at once; every random draw comes from a seeded CPU
generator passed in explicitly. The scores themselves are in :mod:`fundiff.evaluation.metrics`.
"""

from __future__ import annotations

import torch

from fundiff.parta import loops
from fundiff.parta.backends import Backend

METHODS = ("noisy", "blur", "one_step", "iterative")


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def repeat_cond(cond: torch.Tensor, n: int) -> torch.Tensor:
    """A condition batched for one image, repeated for ``n`` (labels (1,) or embeddings (1, ...))."""
    return cond if cond.shape[0] == n else torch.cat([cond] * n)


def timesteps_from(t: int, timesteps: list[int]) -> list[int]:
    """[t] followed by the strided timesteps below it: iterative denoising from any t."""
    return [int(t)] + [s for s in timesteps if s < t]


@torch.no_grad()
def denoise_estimates(
    backend: Backend,
    x_0: torch.Tensor,
    noise_levels: list[int],
    timesteps: list[int],
    cond: torch.Tensor,
    blur: dict,
    seed: int,
) -> dict:
    """{(method, t): images in [0, 1]} for every t in ``noise_levels`` and every METHOD.

    x_t = forward(x_0, t) with the generator seeded ``seed + t`` (as A1.1 - A1.3 do); then the
    Gaussian blur of x_t (``blur`` = {kernel_size, sigma}), the one-step estimate, and
    iterative denoising from t down the strided list (generator ``seed + 1000 + t``).
    ``x_0`` is a batch (N, C, H, W) in model space; ``cond`` the prompt for one image or N.
    """
    cond = repeat_cond(cond, x_0.shape[0])
    out = {}
    for t in noise_levels:
        x_t = loops.forward(backend, x_0, t, generator(seed + t))
        blurred = loops.blur_denoise(x_t, blur["kernel_size"], blur["sigma"])
        one_step = loops.one_step_denoise(backend, x_t, t, cond)
        steps = timesteps_from(t, timesteps)
        iterative, _ = loops.iterative_denoise(
            backend, x_t, 0, steps, cond, generator(seed + 1000 + t)
        )
        for method, x in zip(METHODS, (x_t, blurred, one_step, iterative), strict=True):
            out[(method, int(t))] = backend.from_model(x).float().clamp(0, 1).cpu()
    return out


@torch.no_grad()
def illusion_samples(
    backend: Backend,
    kind: str,
    pairs: list[list[str]],
    n: int,
    timesteps: list[int],
    seed: int,
    scale: float,
    kernel_size: int | None = None,
    sigma: float | None = None,
    view: str = "flip",
) -> torch.Tensor:
    """``n`` visual anagrams (``kind`` "anagram") or hybrid images ("hybrid") of every prompt
    pair, all in ONE batch through the Part A loop: rows [pair 0 x n, pair 1 x n, ...], in
    [0, 1]. One generator seeded ``seed`` draws the start noise and every step's noise."""
    p1 = [p[0] for p in pairs for _ in range(n)]
    p2 = [p[1] for p in pairs for _ in range(n)]
    cond1, cond2, uncond = backend.encode(p1), backend.encode(p2), backend.uncond(len(p1))
    g = generator(seed)
    if kind == "anagram":
        x = loops.visual_anagram(backend, cond1, cond2, uncond, timesteps, g, scale, view)
    elif kind == "hybrid":
        x = loops.hybrid(backend, cond1, cond2, uncond, timesteps, g, scale, kernel_size, sigma)
    else:
        raise ValueError(f"kind must be 'anagram' or 'hybrid', got {kind!r}")
    return backend.from_model(x).float().clamp(0, 1).cpu()
