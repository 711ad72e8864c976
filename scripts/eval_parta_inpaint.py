"""Rule eval_parta_inpaint: error inside vs outside the inpainting mask, per image.

Reads results/parta/a1_7_2/table.npz (``<image>__original_float``, ``__inpainted_float``,
``__mask_float``): outside the mask the result must equal the original (RePaint keeps it), inside
it is new content, so its error measures how much the model changed.
"""

import re

import numpy as np
import pandas as pd

from fundiff.evaluation import metrics, plots
from fundiff.io import write_csv
from fundiff.report import tables as figures
from fundiff.workflow.script import run

KEY = re.compile(r"^(?P<image>.+)__inpainted_float$")


def main(smk, log):
    rows = []
    with np.load(smk.input.npz) as z:
        for k in sorted(z.files):
            m = KEY.match(k)
            if not m:
                continue
            image = m["image"]
            orig = np.clip(z[f"{image}__original_float"], 0, 1)
            out = np.clip(z[k], 0, 1)
            mask = z[f"{image}__mask_float"]
            e = metrics.masked_errors(out, orig, mask)
            rows.append({"image": image, "mask_fraction": float((mask > 0.5).mean()), **e})
    cols = ["image", "mask_fraction", "mse_inside", "mse_outside", "mae_inside", "mae_outside"]
    df = pd.DataFrame(rows, columns=cols)
    write_csv(df, smk.output.csv)
    plots.plot_inpaint(df, smk.output.png)
    figures.write_table(
        smk.output.table,
        "A2",
        "Inpainting: error inside vs outside the mask",
        [{"label": "", "cells": [figures.cell(smk.output.png, "MSE inside / outside")]}],
        params={"images": list(df["image"]), "masks": smk.params.masks},
        caption=(
            "Mean squared and absolute error of the inpainted image against the original, "
            "inside the mask (new content: large is expected) and outside it (must be 0: the "
            "RePaint rule puts the original back after the last step)."
        ),
        data={
            "columns": [
                "image",
                "mask fraction",
                "MSE inside",
                "MSE outside",
                "MAE inside",
                "MAE outside",
            ],
            "rows": [[r[c] for c in cols] for r in rows],
        },
    )
    log.info("inpainting errors:\n%s", df.to_string())


run(snakemake, main)  # noqa: F821
