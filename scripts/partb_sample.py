"""Rule sample (B2.3 / B2.5): a grid of DDPM samples (+ raw .npz) after one epoch."""

from pathlib import Path

from fundiff import plotting as viz
from fundiff.data import to_uint8
from fundiff.device import calibrated, resolve_device, setup_torch
from fundiff.diffusion.checkpoint import load_model
from fundiff.diffusion.ddpm import Schedule
from fundiff.diffusion.sample import class_grid_labels, sample
from fundiff.io import save_npz
from fundiff.report.tables import cell, write_table
from fundiff.seeds import offset_seed
from fundiff.workflow.runner import run


def main(smk, log):
    setup_torch(smk.threads)
    device = resolve_device(smk.params.device)
    bf16 = calibrated(smk.input.calibration, "sample_bf16")  # measured sampling precision
    epoch, p, s = int(smk.wildcards.epoch), smk.params.sample, smk.params.schedule
    path = Path(smk.input.epochs) / f"epoch_{epoch:03d}.pt"
    model = load_model(path, device, expect={"num_hiddens": p["hidden"]})
    schedule = Schedule.linear(s["beta_start"], s["beta_end"], s["num_timesteps"])
    seed = offset_seed(smk.params.seed, "grid", epoch)  # a fixed, documented seed per grid
    if smk.wildcards.model == "class_cond":
        labels, scale = class_grid_labels(p["samples_per_class"]), p["guidance_scale"]
        x, _ = sample(model, schedule, len(labels), seed, labels, scale, device=device, bf16=bf16)
        extra = {"labels": labels.numpy(), "guidance_scale": scale}
        title, column = "Samples with classifier-free guidance", "one column per digit 0-9"
    else:
        x, _ = sample(model, schedule, p["num_samples"], seed, device=device, bf16=bf16)
        extra, title, column = {}, "Samples", "unconditional samples"
    log.info(
        "sampled %d digits from %s epoch %d (seed %d)", len(x), smk.wildcards.model, epoch, seed
    )
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


run(snakemake, main)  # noqa: F821
