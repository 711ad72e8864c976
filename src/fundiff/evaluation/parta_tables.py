"""Part A in numbers (writeup section A2): each metric rule's tidy rows and its table spec.

The ``*_frame`` functions read what the Part A sections saved (the raw arrays of their tables,
named by :mod:`fundiff.parta.layout`) and return the tidy rows; the ``*_table`` functions
return the keyword arguments of :func:`fundiff.report.tables.write_table`: the plot as the one
image cell, the numbers as ``data`` and the prose that explains them as ``caption``. Titles
are the rules' params (fundiff.parta.layout.eval_title: sections.yaml, A2 ``table_titles``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fundiff.evaluation import metrics
from fundiff.parta import layout
from fundiff.report.tables import cell

SECTION = "A2"
METHOD_NAMES = {
    "noisy": "noisy x_t",
    "blur": "Gaussian blur",
    "one_step": "one-step",
    "iterative": "iterative",
}
SDEDIT_COLUMNS = ["section", "image", "i_start", "t", "psnr", "mse"]
INPAINT_COLUMNS = [
    "image",
    "mask_fraction",
    "mse_inside",
    "mse_outside",
    "mae_inside",
    "mae_outside",
]


def _spec(title: str, png, what: str, params: dict, caption: str, data: dict) -> dict:
    """An A2 table: the plot ``png`` (captioned ``what``) and the numbers."""
    return {
        "section": SECTION,
        "title": title,
        "rows": [{"label": "", "cells": [cell(png, what)]}],
        "params": params,
        "caption": caption,
        "data": data,
    }


# ------------------------------------------------------------------ denoising


def denoise_table(
    title: str, summary: pd.DataFrame, png, names: list[str], mnist: bool, params: dict
) -> dict:
    """PSNR / SSIM (mean ± std over the images) per method and t. ``summary``:
    metrics.mean_std of the denoising rows; ``names``: the images (mnist: held-out digits);
    ``params``: backend, t, kernel_size, sigma, prompt, seed."""
    rows = [
        [
            METHOD_NAMES.get(r.method, r.method),
            int(r.t),
            f"{r.psnr_mean:.2f} ± {r.psnr_std:.2f}",
            f"{r.ssim_mean:.3f} ± {r.ssim_std:.3f}",
            int(r.n),
        ]
        for r in summary.sort_values(["t"], kind="stable").itertuples()
    ]
    shown = {"backend": params["backend"]}
    shown["images"] = f"{len(names)} held-out test digits" if mnist else list(names)
    shown |= {k: params[k] for k in ("t", "kernel_size", "sigma", "prompt", "seed")}
    caption = (
        "Each clean image is noised to $x_t$ (the forward process) and denoised three ways; "
        "PSNR ($10 \\log_{10} 1/\\mathrm{MSE}$, dB, higher is better) and SSIM (structural "
        "similarity, 1 = identical) compare the result with the clean image. Iterative "
        "denoising starts at $t$ and continues down the strided timesteps. Mean ± std over "
        f"{len(names)} images."
    )
    data = {"columns": ["method", "t", "PSNR (dB)", "SSIM", "images"], "rows": rows}
    return _spec(title, png, "mean ± std over the images", shown, caption, data)


# ------------------------------------------------------------------ SDEdit


def sdedit_frame(npz_paths, sections: list[str], timesteps: list[int]) -> pd.DataFrame:
    """PSNR / MSE of every SDEdit result to its original, one row per (section, image,
    i_start), from the SDEdit sections' table arrays (``npz_paths``, one per section)."""
    rows = []
    for section, path in zip(sections, npz_paths, strict=True):
        with np.load(path) as z:
            edits: dict[str, dict[int, np.ndarray]] = {}
            for key in z.files:
                parsed = layout.parse_sdedit_key(key)
                if parsed:
                    edits.setdefault(parsed[0], {})[parsed[1]] = z[key]
            for image, by_i in edits.items():
                original = z[layout.array_key(layout.image_cell(image, layout.ORIGINAL))]
                for r in metrics.sdedit_distances(original, by_i):
                    t = timesteps[r["i_start"]]
                    rows.append({"section": section, "image": image, "t": t, **r})
    return pd.DataFrame(rows, columns=SDEDIT_COLUMNS)


def sdedit_table(title: str, df: pd.DataFrame, png, sections, timesteps, guidance_scale) -> dict:
    """Per section and image: the PSNR at every i_start and the fraction of i_start steps where
    it rises; a last row averages every image."""
    mean, rising = metrics.sdedit_stats(df)
    i_starts = list(mean.index)
    rows = []
    for (section, image), sub in df.groupby(["section", "image"], sort=False):
        by_i = sub.set_index("i_start")["psnr"]
        psnr = [float(by_i.loc[i]) for i in i_starts]
        rows.append([section, image, *psnr, rising[section, image]])
    rows.append(["all", "mean", *(float(mean.loc[i, "psnr"]) for i in i_starts), None])
    params = {
        "sections": list(sections),
        "i_start": i_starts,
        "t": [timesteps[i] for i in i_starts],
        "guidance_scale": guidance_scale,
    }
    caption = (
        "PSNR (dB) of each SDEdit result against the image it started from, read from the "
        "saved arrays of A1.7 (reconstruction), A1.7.1 (web / drawn images) and A1.7.3 "
        "(another prompt). A larger $i_\\text{start}$ adds less noise, so the result should "
        "stay closer to the original; 'rising' is the fraction of consecutive $i_\\text{start}$ "
        "steps where the PSNR goes up (1 = monotone)."
    )
    columns = ["section", "image", *(f"i_start = {i}" for i in i_starts), "rising"]
    data = {"columns": columns, "rows": rows}
    return _spec(title, png, "PSNR to the original", params, caption, data)


# ------------------------------------------------------------------ inpainting


def inpaint_frame(npz_path, images: list[str]) -> pd.DataFrame:
    """Error inside vs outside the mask of every inpainted image (A1.7.2's table arrays):
    outside, RePaint keeps the original (error 0); inside is new content."""
    rows = []
    with np.load(npz_path) as z:
        for image in images:
            original, inpainted, mask = (
                z[layout.array_key(layout.image_cell(image, name))]
                for name in ("original", "inpainted", "mask")
            )
            errors = metrics.masked_errors(np.clip(inpainted, 0, 1), np.clip(original, 0, 1), mask)
            rows.append({"image": image, "mask_fraction": float((mask > 0.5).mean()), **errors})
    return pd.DataFrame(rows, columns=INPAINT_COLUMNS)


def inpaint_table(title: str, df: pd.DataFrame, png, masks: list[dict]) -> dict:
    params = {"images": list(df["image"]), "masks": masks}
    caption = (
        "Mean squared and absolute error of the inpainted image against the original, "
        "inside the mask (new content: large is expected) and outside it (must be 0: the "
        "RePaint rule puts the original back after the last step)."
    )
    columns = ["image", "mask fraction", "MSE inside", "MSE outside", "MAE inside", "MAE outside"]
    data = {
        "columns": columns,
        "rows": [[r[c] for c in INPAINT_COLUMNS] for r in df.to_dict("records")],
    }
    return _spec(title, png, "MSE inside / outside", params, caption, data)


# ------------------------------------------------------------------ optical illusions


def illusions_table(title: str, rows: list[dict], png, n: int, p) -> dict:
    """Success rates per prompt pair (``rows``: samples.judge_illusions, ``n`` samples each);
    ``p``: the rule's params (seed, guidance_scale, anagrams, hybrids, far_sigma)."""
    params = {
        "samples per pair": n,
        "seed": p.seed,
        "guidance_scale": p.guidance_scale,
        "hybrid kernel_size": p.hybrids["kernel_size"],
        "hybrid sigma": p.hybrids["sigma"],
        "far_sigma": p.far_sigma,
    }
    view = p.anagrams["view"]
    caption = (
        f"{n} samples per prompt pair, made by the same loops as 1.8 and 1.9 and classified "
        "by the CNN trained on real MNIST digits only (never on generated ones). Anagram: "
        f"view 1 = upright classified as prompt 1, view 2 = turned ({view}, the "
        "view the loop denoised for prompt 2) classified as prompt 2, both = both at once. "
        "Hybrid: view 1 = blurred (seen from afar) "
        "classified as the low-frequency prompt 1, view 2 = as is (up close) classified as "
        "the high-frequency prompt 2."
    )
    return _spec(title, png, "success rates per pair", params, caption, success_data(rows, "kind"))


def success_data(rows: list[dict], first: str) -> dict:
    """A success-rate table's ``data`` (A2's illusions by ``kind``, X3's anagrams by ``view``):
    per pair its prompts, the rates of view 1, view 2 and both, and n."""
    columns = [first, "pair", "prompts", "view 1", "view 2", "both", "n"]
    data_rows = [
        [
            r[first],
            r["pair"],
            f"{r['prompt1']} / {r['prompt2']}",
            r["view1"],
            r["view2"],
            r["both"],
            r["n"],
        ]  # fmt: skip
        for r in rows
    ]
    return {"columns": columns, "rows": data_rows}
