"""Rule loss_curve: per-step training loss on a log scale."""

import csv

from fundiff import plotting as viz
from fundiff.diffusion.sample import LOSS_TITLES, train_report_params
from fundiff.diffusion.settings import with_precision
from fundiff.report.tables import cell, write_table
from fundiff.workflow.runner import run


def main(smk, log):
    with open(smk.input.losses) as f:
        history = [{"step": int(r["step"]), "loss": float(r["loss"])} for r in csv.DictReader(f)]
    title = LOSS_TITLES[smk.params.train["task"]]
    viz.save_loss_curve(history, smk.output.png, title, smooth=max(1, len(history) // 50))
    write_table(
        smk.output.json,
        smk.params.section,
        "Training loss",
        [{"cells": [cell(smk.output.png, f"{len(history)} steps, log scale")]}],
        params=train_report_params(with_precision(smk.params.train, smk.input.calibration)),
    )


run(snakemake, main)  # noqa: F821
