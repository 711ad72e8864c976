"""Rule noising_grid (B1.2): z = x + sigma eps for each sigma, on a few test digits."""

import torch

from fundiff import plotting as viz
from fundiff.data import pick_digits, to_float, to_uint8
from fundiff.diffusion.sample import add_noise
from fundiff.io import save_npz
from fundiff.report.tables import cell, write_table
from fundiff.workflow.runner import run


def main(smk, log):
    p, seed = smk.params.noising, smk.params.seed
    data = torch.load(smk.input.mnist, weights_only=True)
    x = to_float(pick_digits(data["test_images"], data["test_labels"], p["num_digits"]))
    g = torch.Generator().manual_seed(seed)
    sigmas = p["sigmas"]
    noisy = [add_noise(x, s, g) for s in sigmas]  # [sigma][digit]
    rows = [[noisy[j][i] for j in range(len(sigmas))] for i in range(len(x))]
    viz.save_panel(rows, smk.output.png, col_titles=[f"σ = {s}" for s in sigmas])
    images = torch.stack([to_uint8(z) for z in noisy]).numpy()
    save_npz(smk.output.npz, images=images, sigmas=torch.tensor(sigmas).numpy())
    write_table(
        smk.output.json,
        smk.params.section,
        "Noisy test digits",
        [{"cells": [cell(smk.output.png, "one digit per row, one σ per column")]}],
        params={"sigmas": sigmas, "num_digits": p["num_digits"], "seed": seed},
    )


run(snakemake, main)  # noqa: F821
