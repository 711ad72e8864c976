"""Rule eval_parta_denoise: PSNR / SSIM of Gaussian blur vs one-step vs iterative denoising.

At every configured Part A noise level t, a batch of clean images (mnist: held-out test digits;
deepfloyd: the configured photos) is noised with parta.forward and denoised by the same
functions as A1.2 - A1.4 (fundiff.evaluation.samples.denoise_estimates); the noisy x_t is scored too.
Writes the tidy CSV (one row per image, t and method), a plot and a table spec.
"""

import json

import pandas as pd
import torch
from PIL import Image

from fundiff.data import pick_digits
from fundiff.evaluation import metrics, plots
from fundiff.evaluation import samples as parta_eval
from fundiff.io import write_csv
from fundiff.parta.images import prepare
from fundiff.report import tables as figures
from fundiff.workflow.script import backend_from_rule, load_image, run

NAMES = {
    "noisy": "noisy x_t",
    "blur": "Gaussian blur",
    "one_step": "one-step",
    "iterative": "iterative",
}


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    if p.source["kind"] == "mnist":
        data = torch.load(smk.input.mnist, weights_only=True)
        digits = pick_digits(data["test_images"], data["test_labels"], p.source["digits"])
        # the same preprocessing as a configured "mnist:INDEX" image (parta_image + load_image)
        x01 = torch.stack(
            [
                prepare(Image.fromarray(d.numpy(), mode="L"), backend.image_size, backend.channels)
                for d in digits
            ]
        )
        names = [f"test digit {k}" for k in range(len(x01))]
    else:
        x01 = torch.cat(
            [
                backend.from_model(load_image(backend, path, inv)).float().cpu()
                for path, inv in zip(smk.input.images, p.source["invert"], strict=True)
            ]
        )
        names = list(p.source["names"])
    x_0 = backend.to_model(x01)
    cond = backend.encode([p.null_prompt])
    est = parta_eval.denoise_estimates(
        backend, x_0, list(p.t), list(p.timesteps), cond, p.blur, p.seed
    )
    df = pd.DataFrame(metrics.denoising_metrics(x01.clamp(0, 1), est, names))
    write_csv(df, smk.output.csv)
    summary = metrics.mean_std(df, ["method", "t"], ["psnr", "ssim"])
    plots.plot_denoising(summary, smk.output.png)
    rows = [
        [
            NAMES.get(r.method, r.method),
            int(r.t),
            f"{r.psnr_mean:.2f} ± {r.psnr_std:.2f}",
            f"{r.ssim_mean:.3f} ± {r.ssim_std:.3f}",
            int(r.n),
        ]
        for r in summary.sort_values(["t"], kind="stable").itertuples()
    ]
    figures.write_table(
        smk.output.table,
        "A2",
        "Denoising quality: Gaussian blur vs one-step vs iterative (PSNR, SSIM)",
        [{"label": "", "cells": [figures.cell(smk.output.png, "mean ± std over the images")]}],
        params={
            "backend": backend.name,
            "images": names
            if p.source["kind"] != "mnist"
            else f"{len(names)} held-out test digits",
            "t": list(p.t),
            "kernel_size": p.blur["kernel_size"],
            "sigma": p.blur["sigma"],
            "prompt": p.null_prompt,
            "seed": p.seed,
        },
        caption=(
            "Each clean image is noised to $x_t$ (the forward process) and denoised three ways; "
            "PSNR ($10 \\log_{10} 1/\\mathrm{MSE}$, dB, higher is better) and SSIM (structural "
            "similarity, 1 = identical) compare the result with the clean image. Iterative "
            "denoising starts at $t$ and continues down the strided timesteps. Mean ± std over "
            f"{len(names)} images."
        ),
        data={"columns": ["method", "t", "PSNR (dB)", "SSIM", "images"], "rows": rows},
    )
    log.info("denoising metrics:\n%s", summary.to_string())
    log.info("params: %s", json.dumps({"t": list(p.t), "n": len(names)}))


run(snakemake, main)  # noqa: F821
