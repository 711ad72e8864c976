"""Rule loss_curve: per-step training loss on a log scale."""

import csv

from fundiff import plotting as viz
from fundiff.diffusion.sample import train_report_params
from fundiff.io import setup_logging
from fundiff.report.tables import cell, write_table

smk = snakemake  # noqa: F821
setup_logging(smk.log[0])
with open(smk.input.losses) as f:
    history = [{"step": int(r["step"]), "loss": float(r["loss"])} for r in csv.DictReader(f)]
titles = {
    "denoiser": "Single-step denoiser (L2 to the clean digit)",
    "time_cond": "Time-conditioned DDPM (L2 to the noise)",
    "class_cond": "Class-conditioned DDPM (L2 to the noise)",
}
viz.save_loss_curve(
    history, smk.output.png, titles[smk.wildcards.model], smooth=max(1, len(history) // 50)
)
write_table(
    smk.output.json,
    smk.params.section,
    "Training loss",
    [{"cells": [cell(smk.output.png, f"{len(history)} steps, log scale")]}],
    params=train_report_params(smk.params.train),
)
