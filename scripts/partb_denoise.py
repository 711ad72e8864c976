"""Rule denoise_test (B1.2.1): clean / noisy / denoised test digits after one epoch."""

from pathlib import Path

import torch

from fundiff import plotting as viz
from fundiff.data import pick_digits, to_float, to_uint8
from fundiff.diffusion.sample import add_noise, denoise
from fundiff.diffusion.train import load_model
from fundiff.io import save_npz, setup_logging
from fundiff.report.tables import cell, write_table

smk = snakemake  # noqa: F821
setup_logging(smk.log[0])
epoch = int(smk.wildcards.epoch)
model = load_model(
    Path(smk.input.epochs) / f"epoch_{epoch:03d}.pt", expect={"num_hiddens": smk.params.hidden}
)
data = torch.load(smk.input.mnist)
x = to_float(pick_digits(data["test_images"], data["test_labels"], smk.params.num_digits))
z = add_noise(x, smk.params.sigma, torch.Generator().manual_seed(smk.params.seed))
x_hat = denoise(model, z)
rows = [list(x), list(z), list(x_hat)]
viz.save_panel(
    rows,
    smk.output.png,
    row_titles=["clean x", f"noisy z (σ={smk.params.sigma})", f"D(z), epoch {epoch}"],
)
save_npz(
    smk.output.npz,
    clean=to_uint8(x).numpy(),
    noisy=to_uint8(z).numpy(),
    denoised=to_uint8(x_hat).numpy(),
    noisy_float=z.numpy(),
    denoised_float=x_hat.numpy(),
)
write_table(
    smk.output.json,
    "B1.2.1",
    "Held-out test digits, denoised",
    [{"label": f"epoch {epoch}", "cells": [cell(smk.output.png)]}],
    columns=["after", "rows: clean x, noisy z, denoised D(z)"],
    params={
        "epoch": epoch,
        "sigma": smk.params.sigma,
        "num_digits": smk.params.num_digits,
        "seed": smk.params.seed,
    },
)
