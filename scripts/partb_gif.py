"""Rule sampling_gif (B3): the reverse process of the final model, x_T -> x_0, as a GIF."""

from pathlib import Path

import torch

from fundiff import plotting as viz
from fundiff.device import calibrated, resolve_device, setup_torch
from fundiff.diffusion.ddpm import Schedule
from fundiff.diffusion.sample import sample
from fundiff.diffusion.train import load_model
from fundiff.io import setup_logging
from fundiff.report.tables import cell, write_table

smk = snakemake  # noqa: F821
setup_logging(smk.log[0])
setup_torch(smk.threads)
device = resolve_device(smk.params.device)
bf16 = calibrated(smk.input.calibration, "sample_bf16")  # measured sampling precision
model = load_model(
    Path(smk.input.epochs) / f"epoch_{smk.params.epoch:03d}.pt",
    device,
    expect={"num_hiddens": smk.params.hidden},
)
s = smk.params.schedule
schedule = Schedule.linear(s["beta_start"], s["beta_end"], s["num_timesteps"])
g = smk.params.gif
# class_cond: digits 0, 1, 2, ... with CFG; time_cond: unconditional samples
labels = torch.arange(g["num_samples"]) % 10 if smk.wildcards.model == "class_cond" else None
_, frames = sample(
    model,
    schedule,
    g["num_samples"],
    smk.params.seed,
    labels,
    smk.params.guidance_scale,
    frame_every=g["frame_every"],
    device=device,
    bf16=bf16,
)
viz.save_gif(frames, smk.output.gif, nrow=g["num_samples"], fps=g["fps"])
cond = smk.wildcards.model == "class_cond"
write_table(
    smk.output.json,
    "B3",
    "Sampling GIFs",
    [
        {
            "label": "class-conditioned, digits 0-9" if cond else "time-conditioned",
            "cells": [cell(smk.output.gif, f"x_T → x_0, {len(frames)} frames")],
        }
    ],
    columns=["model", "reverse process"],
    params={
        "epoch": smk.params.epoch,
        **g,
        **({"guidance_scale": smk.params.guidance_scale} if cond else {}),
        "seed": smk.params.seed,
    },
)
