"""Rule sample (B2.3 / B2.5): a grid of DDPM samples (+ raw .npz) after one epoch."""

from pathlib import Path

from fundiff import plotting as viz
from fundiff.data import to_uint8
from fundiff.device import calibrated, resolve_device, setup_torch
from fundiff.diffusion.ddpm import Schedule
from fundiff.diffusion.sample import class_grid_labels, sample
from fundiff.diffusion.train import load_model
from fundiff.io import save_npz, setup_logging
from fundiff.report.tables import cell, write_table

smk = snakemake  # noqa: F821
log = setup_logging(smk.log[0])
setup_torch(smk.threads)
device = resolve_device(smk.params.device)
bf16 = calibrated(smk.input.calibration, "sample_bf16")  # measured sampling precision
epoch = int(smk.wildcards.epoch)
p = smk.params.sample
model = load_model(
    Path(smk.input.epochs) / f"epoch_{epoch:03d}.pt", device, expect={"num_hiddens": p["hidden"]}
)
s = smk.params.schedule
schedule = Schedule.linear(s["beta_start"], s["beta_end"], s["num_timesteps"])
seed = smk.params.seed + epoch  # a fixed, documented seed per grid
if smk.wildcards.model == "class_cond":
    labels = class_grid_labels(p["samples_per_class"])
    x, _ = sample(
        model, schedule, len(labels), seed, labels, p["guidance_scale"], device=device, bf16=bf16
    )
    extra = {"labels": labels.numpy(), "guidance_scale": p["guidance_scale"]}
    title, column = "Samples with classifier-free guidance", "one column per digit 0-9"
else:
    x, _ = sample(model, schedule, p["num_samples"], seed, device=device, bf16=bf16)
    extra = {}
    title, column = "Samples", "unconditional samples"
log.info("sampled %d digits from %s epoch %d (seed %d)", len(x), smk.wildcards.model, epoch, seed)
viz.save_grid(x, smk.output.png, nrow=10)
save_npz(smk.output.npz, images=to_uint8(x).numpy(), seed=seed, **extra)
write_table(
    smk.output.json,
    smk.params.section,
    title,
    [{"label": f"epoch {epoch}", "cells": [cell(smk.output.png)]}],
    columns=["after", column],
    params={"epoch": epoch, **p, "num_timesteps": s["num_timesteps"], "seed": seed},
)
