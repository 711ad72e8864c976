"""Rule sampling_gif (B3): the reverse process x_T -> x_0 of a model after one of its sample
epochs, as a GIF (the same seed at every epoch: the same starting noise)."""

from pathlib import Path

import torch

from fundiff import plotting as viz
from fundiff.device import calibrated, resolve_device, setup_torch
from fundiff.diffusion.checkpoint import load_model
from fundiff.diffusion.ddpm import Schedule
from fundiff.diffusion.sample import sample
from fundiff.report.tables import cell, write_table
from fundiff.workflow.runner import run


def main(smk, log):
    p, g = smk.params, smk.params.gif
    setup_torch(smk.threads)
    device = resolve_device(p.device)
    bf16 = calibrated(smk.input.calibration, "sample_bf16")  # measured sampling precision
    epoch = int(smk.wildcards.epoch)
    path = Path(smk.input.epochs) / f"epoch_{epoch:03d}.pt"
    model = load_model(path, device, expect={"num_hiddens": p.hidden})
    s = p.schedule
    schedule = Schedule.linear(s["beta_start"], s["beta_end"], s["num_timesteps"])
    # class_cond: digits 0, 1, 2, ... with CFG; time_cond: unconditional samples
    cond = smk.wildcards.model == "class_cond"
    labels = torch.arange(g["num_samples"]) % 10 if cond else None
    _, frames = sample(
        model, schedule, g["num_samples"], p.seed, labels, p.guidance_scale,
        frame_every=g["frame_every"], device=device, bf16=bf16,
    )  # fmt: skip
    viz.save_gif(frames, smk.output.gif, nrow=g["num_samples"], fps=g["fps"])
    label = f"{'class-conditioned, digits 0-9' if cond else 'time-conditioned'}, epoch {epoch}"
    cells = [cell(smk.output.gif, f"x_T → x_0, {len(frames)} frames")]
    params = {"epoch": epoch, **g, **({"guidance_scale": p.guidance_scale} if cond else {})}
    write_table(
        smk.output.json,
        p.section,
        "Sampling GIFs",
        [{"label": label, "cells": cells}],
        columns=["model, epoch", "reverse process"],
        params={**params, "seed": p.seed},
    )


run(snakemake, main)  # noqa: F821
