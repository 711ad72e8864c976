"""Rule denoise_test (B1.2.1): clean / noisy / denoised test digits after one epoch."""

from pathlib import Path

import torch

from fundiff import plotting as viz
from fundiff.data import pick_digits, to_float, to_uint8
from fundiff.diffusion.checkpoint import load_model
from fundiff.diffusion.sample import add_noise, denoise
from fundiff.io import save_npz
from fundiff.report.tables import cell, write_table
from fundiff.workflow.runner import run


def main(smk, log):
    p, epoch = smk.params, int(smk.wildcards.epoch)
    path = Path(smk.input.epochs) / f"epoch_{epoch:03d}.pt"
    model = load_model(path, expect={"num_hiddens": p.hidden})
    data = torch.load(smk.input.mnist, weights_only=True)
    x = to_float(pick_digits(data["test_images"], data["test_labels"], p.num_digits))
    z = add_noise(x, p.sigma, torch.Generator().manual_seed(p.seed))
    x_hat = denoise(model, z)
    titles = ["clean x", f"noisy z (σ={p.sigma})", f"D(z), epoch {epoch}"]
    viz.save_panel([list(x), list(z), list(x_hat)], smk.output.png, row_titles=titles)
    arrays = {"clean": x, "noisy": z, "denoised": x_hat}
    arrays = {k: to_uint8(v).numpy() for k, v in arrays.items()}
    save_npz(smk.output.npz, **arrays, noisy_float=z.numpy(), denoised_float=x_hat.numpy())
    write_table(
        smk.output.json,
        p.section,
        "Held-out test digits, denoised",
        [{"label": f"epoch {epoch}", "cells": [cell(smk.output.png)]}],
        columns=["after", "rows: clean x, noisy z, denoised D(z)"],
        params={"epoch": epoch, "sigma": p.sigma, "num_digits": p.num_digits, "seed": p.seed},
    )


run(snakemake, main)  # noqa: F821
