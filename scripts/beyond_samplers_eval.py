"""Rule beyond_samplers_eval (X2): every sampler row of one model scored with the real-digit
classifier (B4's evaluator); tidy CSV, a grid per sampler at the fewest steps and the table spec
with every row (scores only), and from the measured wall times (timing.json) the quality-vs-time
plot and the seconds per row (both named *timing*: they differ from run to run)."""

import json

import numpy as np
import torch

from fundiff import plotting as viz
from fundiff.device import resolve_device, setup_torch
from fundiff.evaluation import classifier, samplers, scores
from fundiff.io import write_csv
from fundiff.report.sections import table_title
from fundiff.report.tables import cell, write_table
from fundiff.workflow.runner import run


def main(smk, log):
    p, inp, out, model = smk.params, smk.input, smk.output, smk.wildcards.model
    setup_torch(smk.threads)
    clf = classifier.load_classifier(inp.classifier, resolve_device(p.device))
    scorer = scores.Scorer(clf, torch.load(inp.mnist, weights_only=True), p.seed)
    df = samplers.score_frame(model, scorer, inp.npz)
    log.info("scores:\n%s", df.to_string())
    write_csv(df, out.csv)
    title = table_title(p.section, "samplers", model=model)
    with open(inp.timing) as f:
        timing = json.load(f)
    samplers.plot_quality_time(samplers.with_seconds(df, timing), out.plot, title)
    samplers.plot_timing(timing, out.timing, f"{title}: sampling seconds per row")
    fewest, by_row = min(p.samplers["steps"]), dict(zip(p.rows, inp.npz, strict=True))
    grids = []
    for grid, sampler in zip(out.grids, p.samplers["samplers"], strict=True):
        images = np.load(by_row[f"{sampler}_{fewest}"])["images"][:40]  # 4 rows of 0-9
        viz.save_grid(torch.from_numpy(images).float().div(255).unsqueeze(1), grid, nrow=10)
        grids.append(cell(grid, f"{sampler}, {fewest} steps"))
    timed = [cell(out.plot, "one line per sampler"), cell(out.timing, "seconds per row")]
    rows = [
        {"label": "quality vs time", "cells": timed},
        {"label": f"{fewest} steps", "cells": grids},
    ]
    params = samplers.table_params(p.samplers, p.epoch, p.guidance_scale, p.seed, inp.npz[0])
    write_table(out.table, p.section, title, rows, params=params, caption=samplers.effect(df),
                data=samplers.table_data(df))  # fmt: skip


run(snakemake, main)  # noqa: F821
