"""Rule flow_sample (X1): a grid of rectified-flow samples (+ raw .npz) after one epoch, and its
sampling GIF x_0 (noise) -> x_1 (digits) with the grid's Euler steps."""

from pathlib import Path

import torch

from fundiff import plotting as viz
from fundiff.data import to_uint8
from fundiff.device import calibrated, resolve_device, setup_torch
from fundiff.diffusion import flow
from fundiff.diffusion.checkpoint import load_model
from fundiff.diffusion.sample import class_grid_labels
from fundiff.io import save_npz
from fundiff.report.sections import table_title
from fundiff.report.tables import cell, write_table
from fundiff.seeds import offset_seed
from fundiff.workflow.runner import run


def main(smk, log):
    setup_torch(smk.threads)
    device = resolve_device(smk.params.device)
    bf16 = calibrated(smk.input.calibration, "sample_bf16")  # measured sampling precision
    epoch, p, out = int(smk.wildcards.epoch), smk.params.sample, smk.output
    path = Path(smk.input.epochs) / f"epoch_{epoch:03d}.pt"
    model = load_model(path, device, expect={"num_hiddens": p["hidden"]})
    cond, scale, steps = (
        smk.wildcards.model == "class_cond",
        p.get("guidance_scale", 1.0),
        p["steps"],
    )
    seed = offset_seed(smk.params.seed, "grid", epoch)  # the DDPM grid's seed
    n = 10 * p["samples_per_class"] if cond else p["num_samples"]
    labels = class_grid_labels(p["samples_per_class"]) if cond else None
    x, _ = flow.sample(model, n, seed, steps, labels, scale, device=device, bf16=bf16)
    log.info("flow: %d digits, %s epoch %d, %d Euler steps", n, smk.wildcards.model, epoch, steps)
    viz.save_grid(x, out.png, nrow=10)
    extra = {"labels": labels.numpy(), "guidance_scale": scale} if cond else {}
    save_npz(out.npz, images=to_uint8(x).numpy(), seed=seed, **extra)
    what = "class-conditioned, one column per digit 0-9" if cond else "time-conditioned"
    params = {"epoch": epoch, **{k: v for k, v in p.items() if k != "gif"}, "seed": seed}
    row = {"label": f"{what}, epoch {epoch}", "cells": [cell(out.png)]}
    write_table(out.json, smk.params.section, table_title(smk.params.section, "samples"), [row],
                columns=["model, epoch", f"samples, {steps} Euler steps"], params=params)  # fmt: skip
    g = p["gif"]
    gif_labels = torch.arange(g["num_samples"]) % 10 if cond else None
    _, frames = flow.sample(model, g["num_samples"], smk.params.seed, steps, gif_labels, scale,
                            frame_every=g["frame_every"], device=device, bf16=bf16)  # fmt: skip
    viz.save_gif(frames, out.gif, nrow=g["num_samples"], fps=g["fps"])
    row = {"label": f"{what}, epoch {epoch}", "cells": [cell(out.gif, f"{len(frames)} frames")]}
    write_table(out.gif_json, smk.params.section, table_title(smk.params.section, "sampling"), [row],
                columns=["model, epoch", "x_0 (noise) → x_1"],
                params={"epoch": epoch, "steps": steps, **g, "seed": smk.params.seed})  # fmt: skip


run(snakemake, main)  # noqa: F821
