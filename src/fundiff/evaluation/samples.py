"""Part A in numbers: the samples the metric rules score, made with the Part A loops.

Everything here calls the same functions as the Part A figure rules (:mod:`fundiff.parta.loops`:
``forward``, ``blur_denoise``, ``one_step_denoise``, ``iterative_denoise``, ``visual_anagram``,
``hybrid``) on a batch of images or seeds at once; every random draw comes from a seeded CPU
generator passed in explicitly. The scores themselves are in :mod:`fundiff.evaluation.metrics`.
"""

from __future__ import annotations

import torch
from PIL import Image

from fundiff.data import pick_digits
from fundiff.evaluation import metrics
from fundiff.parta import loops, views
from fundiff.parta.backends import Backend
from fundiff.parta.images import load_image, prepare
from fundiff.parta.loops import generator
from fundiff.parta.prompts import parse_prompt
from fundiff.plotting import to_uint8_image
from fundiff.seeds import offset_seed

METHODS = ("noisy", "blur", "one_step", "iterative")


def clean_images(backend: Backend, source: dict, mnist=None, images=()) -> tuple:
    """The clean images of the denoising metrics, (N, C, S, S) in [0, 1], and their names.

    ``source`` (the rule's param): {"kind": "mnist", "digits": n}: n held-out test digits of the
    MNIST cache ``mnist``, prepared like a configured "mnist:INDEX" image; {"kind": "images",
    "names", "invert", "resize"}: the PNGs ``images`` (the image rules' outputs), as the sections
    load them.
    """
    if source["kind"] == "mnist":
        data = torch.load(mnist, weights_only=True)
        digits = pick_digits(data["test_images"], data["test_labels"], source["digits"])
        size, channels = backend.image_size, backend.channels
        x01 = torch.stack(
            [prepare(Image.fromarray(d.numpy(), mode="L"), size, channels) for d in digits]
        )
        return x01, [f"test digit {k}" for k in range(len(x01))]
    x01 = torch.cat(
        [
            backend.from_model(load_image(backend, path, invert, resize)).float().cpu()
            for path, invert, resize in zip(images, source["invert"], source["resize"], strict=True)
        ]
    )
    return x01, list(source["names"])


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

    x_t = forward(x_0, t) with the "noisy" seed at t (fundiff.seeds; as A1.1 - A1.3 do); then the
    Gaussian blur of x_t (``blur`` = {kernel_size, sigma}), the one-step estimate, and
    iterative denoising from t down the strided list (the "iterative" seed at t).
    ``x_0`` is a batch (N, C, H, W) in model space; ``cond`` the prompt for one image or N.
    """
    cond = repeat_cond(cond, x_0.shape[0])
    out = {}
    for t in noise_levels:
        x_t = loops.forward(backend, x_0, t, generator(offset_seed(seed, "noisy", t)))
        blurred = loops.blur_denoise(x_t, blur["kernel_size"], blur["sigma"])
        one_step = loops.one_step_denoise(backend, x_t, t, cond)
        steps = timesteps_from(t, timesteps)
        g = generator(offset_seed(seed, "iterative", t))
        desc = f"iterative denoising from t {t}"
        iterative, _ = loops.iterative_denoise(backend, x_t, 0, steps, cond, g, desc=desc)
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


def judge_illusions(
    backend: Backend,
    classifier,
    anagrams: dict,
    hybrids: dict,
    n: int,
    timesteps: list[int],
    seed: int,
    scale: float,
    far_sigma: float,
) -> tuple[list[dict], dict]:
    """Success rates of ``n`` visual anagrams and ``n`` hybrids of every configured pair (one
    batch per kind, :func:`illusion_samples`), judged by the digit ``classifier``:

    * anagram: upright read as prompt 1 (view1) and turned by ``anagrams["view"]`` (the view
      the loop denoised for prompt 2) as prompt 2 (view2)
    * hybrid: blurred ("seen from afar", Gaussian ``far_sigma``) read as the low-frequency prompt
      1 (view1), as is ("up close") as the high-frequency prompt 2 (view2)

    Returns one row per pair {kind, pair, prompt1, prompt2, n, view1, view2, both} and the
    samples as uint8 arrays {"<kind>__<pair>": (n, H, W[, C])}.
    """
    rows, arrays = [], {}
    for kind, spec in (("anagram", anagrams), ("hybrid", hybrids)):
        pairs = [list(pair["prompts"]) for pair in spec["pairs"]]
        if kind == "anagram":
            opts = {"view": spec["view"]}
        else:
            opts = {"kernel_size": spec["kernel_size"], "sigma": spec["sigma"]}
        kind_seed = offset_seed(seed, f"{kind}_eval")
        x = illusion_samples(backend, kind, pairs, n, timesteps, kind_seed, scale, **opts)
        for j, pair in enumerate(spec["pairs"]):
            xs = x[j * n : (j + 1) * n]
            c1, c2 = ([parse_prompt(q)] * n for q in pair["prompts"])
            arrays[f"{kind}__{pair['name']}"] = to_uint8_image(xs)
            if kind == "anagram":
                turn = views.VIEWS[spec["view"]]
                r = metrics.anagram_success(classifier, xs, c1, c2, flip=turn)
                rates = {"view1": r["upright"], "view2": r["flipped"], "both": r["both"]}
            else:
                r = metrics.hybrid_success(classifier, xs, c1, c2, blur_sigma=far_sigma)
                rates = {"view1": r["far"], "view2": r["near"], "both": r["both"]}
            p1, p2 = pair["prompts"]
            rows.append({"kind": kind, "pair": pair["name"], "prompt1": p1, "prompt2": p2, "n": n})
            rows[-1].update(rates)
    return rows, arrays
