"""Rule denoise_ood (B1.2.2): the final denoiser at noise levels it was not trained on."""

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
    p = smk.params
    path = Path(smk.input.epochs) / f"epoch_{p.epoch:03d}.pt"
    model = load_model(path, expect={"num_hiddens": p.hidden})
    data = torch.load(smk.input.mnist, weights_only=True)
    x = to_float(pick_digits(data["test_images"], data["test_labels"], p.num_digits))
    g = torch.Generator().manual_seed(p.seed)
    noisy = [add_noise(x, s, g) for s in p.sigmas]
    denoised = [denoise(model, z) for z in noisy]
    rows = [[z[i] for z in zs] for i in range(len(x)) for zs in (noisy, denoised)]
    titles = [t for _ in x for t in ("noisy", "denoised")]
    col_titles = [f"σ = {s}" for s in p.sigmas]
    viz.save_panel(rows, smk.output.png, col_titles=col_titles, row_titles=titles)
    save_npz(
        smk.output.npz,
        clean=to_uint8(x).numpy(),
        sigmas=torch.tensor(p.sigmas).numpy(),
        noisy=torch.stack([to_uint8(z) for z in noisy]).numpy(),
        denoised=torch.stack([to_uint8(d) for d in denoised]).numpy(),
    )
    params = {"sigmas": p.sigmas, "trained_sigma": p.trained_sigma, "epoch": p.epoch}
    write_table(
        smk.output.json,
        p.section,
        "The final denoiser at other noise levels",
        [{"cells": [cell(smk.output.png, "rows: noisy / denoised pairs; columns: σ")]}],
        params={**params, "num_digits": p.num_digits, "seed": p.seed},
    )


run(snakemake, main)  # noqa: F821
