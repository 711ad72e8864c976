"""Rule denoise_ood (B1.2.2): the final denoiser at noise levels it was not trained on."""

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
model = load_model(
    Path(smk.input.epochs) / f"epoch_{smk.params.epoch:03d}.pt",
    expect={"num_hiddens": smk.params.hidden},
)
data = torch.load(smk.input.mnist)
x = to_float(pick_digits(data["test_images"], data["test_labels"], smk.params.num_digits))
sigmas = smk.params.sigmas
g = torch.Generator().manual_seed(smk.params.seed)
noisy = [add_noise(x, s, g) for s in sigmas]
denoised = [denoise(model, z) for z in noisy]
rows = []
for i in range(len(x)):
    rows.append([z[i] for z in noisy])
    rows.append([d[i] for d in denoised])
viz.save_panel(
    rows,
    smk.output.png,
    col_titles=[f"σ = {s}" for s in sigmas],
    row_titles=[t for _ in x for t in ("noisy", "denoised")],
)
save_npz(
    smk.output.npz,
    clean=to_uint8(x).numpy(),
    sigmas=torch.tensor(sigmas).numpy(),
    noisy=torch.stack([to_uint8(z) for z in noisy]).numpy(),
    denoised=torch.stack([to_uint8(d) for d in denoised]).numpy(),
)
write_table(
    smk.output.json,
    "B1.2.2",
    "The final denoiser at other noise levels",
    [{"cells": [cell(smk.output.png, "rows: noisy / denoised pairs; columns: σ")]}],
    params={
        "sigmas": sigmas,
        "trained_sigma": smk.params.trained_sigma,
        "epoch": smk.params.epoch,
        "num_digits": smk.params.num_digits,
        "seed": smk.params.seed,
    },
)
