"""Rule eval_partb (B4): score every Part B sample set with the real-digit classifier; tidy CSVs,
two plots, results/eval/summary.json and the two B4 table specs (fundiff.evaluation.scores)."""

import json

import torch

from fundiff.device import resolve_device, setup_torch
from fundiff.evaluation import classifier, plots, scores
from fundiff.io import write_csv, write_json
from fundiff.report.tables import cell, write_table
from fundiff.workflow.runner import run


def main(smk, log):
    p, inp, out = smk.params, smk.input, smk.output
    setup_torch(smk.threads)
    clf = classifier.load_classifier(inp.classifier, resolve_device(p.device))
    scorer = scores.Scorer(clf, torch.load(inp.mnist, weights_only=True), p.seed)
    log.info("reference: %s", scorer.reference())
    # the grids after each saved epoch; the CFG sweep and the larger sample of the final models
    grids, sweep = scorer.grid_rows(inp.grids), scorer.sweep_rows(p.scales, inp.sweep)
    final_class, final_time = scores.final_rows(
        sweep, scorer.score(inp.time_cond), p.guidance_scale
    )
    epochs, sweep_df = scores.epochs_frame(grids), scores.sweep_frame(sweep)
    write_csv(epochs, out.epochs_csv)
    plots.plot_epochs(epochs, out.epochs_png)
    write_csv(sweep_df, out.sweep_csv)
    plots.plot_cfg_sweep(sweep_df, out.sweep_png)
    write_csv(scores.final_frame(final_class, final_time), out.final_csv)
    info = json.loads(open(inp.classifier_info).read())
    files = {k: getattr(out, k) for k in ("epochs_csv", "final_csv", "epochs_png")}
    files |= {"cfg_sweep_csv": out.sweep_csv, "cfg_sweep_png": out.sweep_png}
    targets = scores.targets_met(p.targets, final_class, final_time, epochs)
    summary = scores.summary(
        info, scorer.reference(), final_class, final_time, sweep, targets, files
    )
    log.info("summary: %s", json.dumps(summary["class_cond"]))
    params = scores.epochs_table_params(summary, final_class, final_time, p.guidance_scale)
    title = "Scores of the sample grids per epoch"
    cells = [cell(out.epochs_png, "per-epoch scores")]
    write_table(out.epochs_json, p.section, title, [{"label": "", "cells": cells}], params=params)
    title = "Classifier-free guidance sweep (class-conditioned model)"
    cells = [cell(out.sweep_png, "CFG sweep")]
    params = scores.sweep_table_params(sweep)
    write_table(out.sweep_json, p.section, title, [{"label": "", "cells": cells}], params=params)
    write_json(out.summary, summary)


run(snakemake, main)  # noqa: F821
