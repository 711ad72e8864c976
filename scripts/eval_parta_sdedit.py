"""Rule eval_parta_sdedit: distance of every SDEdit result to its original vs i_start.

Reads the raw arrays the SDEdit sections saved (results/parta/a1_7*/table.npz:
``<image>__i_start_<i>_float`` and ``<image>__original_float``), so nothing is sampled again.
"""

import re

import numpy as np
import pandas as pd

from fundiff.evaluation import metrics, plots
from fundiff.io import write_csv
from fundiff.report import tables as figures
from fundiff.workflow.script import run

KEY = re.compile(r"^(?P<image>.+)__i_start_(?P<i>\d+)_float$")


def main(smk, log):
    p = smk.params
    rows = []
    for section, path in zip(p.sections, smk.input.npz, strict=True):
        with np.load(path) as z:
            edits = {}
            for k in z.files:
                m = KEY.match(k)
                if m:
                    edits.setdefault(m["image"], {})[int(m["i"])] = z[k]
            for image, by_i in edits.items():
                for r in metrics.sdedit_distances(z[f"{image}__original_float"], by_i):
                    t = p.timesteps[r["i_start"]]
                    rows.append({"section": section, "image": image, "t": t, **r})
    df = pd.DataFrame(rows, columns=["section", "image", "i_start", "t", "psnr", "mse"])
    write_csv(df, smk.output.csv)
    plots.plot_sdedit(df, smk.output.png)
    per_image = [
        (section, image, metrics.rising_fraction(sub.sort_values("i_start")["psnr"]))
        for (section, image), sub in df.groupby(["section", "image"], sort=False)
    ]
    mean = df.groupby("i_start", sort=True)[["psnr", "mse"]].mean()
    i_starts = list(mean.index)
    table_rows = [
        [section, image]
        + [
            float(
                df[(df.section == section) & (df.image == image) & (df.i_start == i)].psnr.iloc[0]
            )
            for i in i_starts
        ]
        + [rise]
        for section, image, rise in per_image
    ]
    table_rows.append(["all", "mean"] + [float(mean.loc[i, "psnr"]) for i in i_starts] + [None])
    figures.write_table(
        smk.output.table,
        "A2",
        "SDEdit: distance to the original vs i_start",
        [{"label": "", "cells": [figures.cell(smk.output.png, "PSNR to the original")]}],
        params={
            "sections": list(p.sections),
            "i_start": i_starts,
            "t": [p.timesteps[i] for i in i_starts],
            "guidance_scale": p.guidance_scale,
        },
        caption=(
            "PSNR (dB) of each SDEdit result against the image it started from, read from the "
            "saved arrays of A1.7 (reconstruction), A1.7.1 (web / drawn images) and A1.7.3 "
            "(another prompt). A larger $i_\\text{start}$ adds less noise, so the result should "
            "stay closer to the original; 'rising' is the fraction of consecutive $i_\\text{start}$ "
            "steps where the PSNR goes up (1 = monotone)."
        ),
        data={
            "columns": ["section", "image"] + [f"i_start = {i}" for i in i_starts] + ["rising"],
            "rows": table_rows,
        },
    )
    log.info("SDEdit distances:\n%s", df.to_string())


run(snakemake, main)  # noqa: F821
