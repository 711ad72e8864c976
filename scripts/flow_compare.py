"""Rule flow_compare (X1): the final DDPM and flow models of one conditioning side by side at equal
training steps and equal sampler steps, scored by the B4 evaluator (fundiff.evaluation.flow_compare).
The measured sampling times go to their own files (compare_<model>_timing.json / .png)."""

import pandas as pd
import torch

from fundiff.device import calibrated, resolve_device, setup_torch
from fundiff.diffusion.checkpoint import load_model
from fundiff.evaluation import classifier, scores
from fundiff.evaluation.flow_compare import COLUMNS, compare, effect, plot_timing
from fundiff.io import save_npz, write_csv, write_json
from fundiff.report.sections import table_title
from fundiff.report.tables import cell, write_table
from fundiff.workflow.runner import run


def main(smk, log):
    p, inp, out = smk.params, smk.input, smk.output
    setup_torch(smk.threads)
    device = resolve_device(p.device)
    bf16 = calibrated(inp.calibration, "sample_bf16")  # measured sampling precision
    c = p.compare
    final = f"epoch_{c['epochs']:03d}.pt"
    expect = {"num_hiddens": c["hidden"]}
    ddpm_model = load_model(f"{inp.ddpm}/{final}", device, expect=expect)
    flow_model = load_model(f"{inp.flow}/{final}", device, expect=expect)
    clf = classifier.load_classifier(inp.classifier, device)
    scorer = scores.Scorer(clf, torch.load(inp.mnist, weights_only=True), p.seed)
    cond = smk.wildcards.model == "class_cond"
    table, records, images, timing = compare(ddpm_model, flow_model, c, scorer, cond, device,
                                             bf16, log)  # fmt: skip
    write_csv(pd.DataFrame(records), out.csv)
    save_npz(out.npz, **images)
    what = "Class-conditioned" if cond else "Time-conditioned"
    title = table_title(p.section, "compare", what=what, n=c["num_samples"])
    write_json(out.timing, timing)
    plot_timing(timing, out.timing_png, f"{what}: sampling seconds per row")
    shown = [{"label": "", "cells": [cell(out.timing_png, "sampling seconds per row (all n)")]}]
    params = {k: v for k, v in c.items() if k not in ("schedule",)}
    params |= {"num_timesteps": c["schedule"]["num_timesteps"], "device": device.type}
    params["sampling precision"] = "bf16 autocast" if bf16 else "fp32"
    write_table(out.json, p.section, title, shown, params=params, caption=effect(table, cond),
                data={"columns": COLUMNS, "rows": table})  # fmt: skip


run(snakemake, main)  # noqa: F821
