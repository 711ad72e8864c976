"""Rule eval_parta_summary: every Part A metric in one JSON (results/eval/parta_summary.json)."""

import json
import math

import pandas as pd

from fundiff.evaluation import metrics
from fundiff.io import setup_logging, write_text

smk = snakemake  # noqa: F821
log = setup_logging(smk.log[0])


def clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else str(v)
    return v


def records(df):
    return [{k: clean(v) for k, v in r.items()} for r in df.to_dict("records")]


den = pd.read_csv(smk.input.denoise)
sd = pd.read_csv(smk.input.sdedit)
inp = pd.read_csv(smk.input.inpaint)
summary = {
    "backend": smk.params.backend,
    "denoising": records(metrics.mean_std(den, ["method", "t"], ["psnr", "ssim"])),
    "sdedit": {
        "mean_psnr_by_i_start": {
            str(i): clean(float(v)) for i, v in sd.groupby("i_start")["psnr"].mean().items()
        },
        "rising_fraction": {
            f"{s}/{im}": clean(metrics.rising_fraction(g.sort_values("i_start")["psnr"]))
            for (s, im), g in sd.groupby(["section", "image"], sort=False)
        },
    },
    "inpainting": records(inp),
    "files": {
        k: getattr(smk.input, k)
        for k in ("denoise", "sdedit", "inpaint", "illusions")
        if hasattr(smk.input, k)
    },
}
if hasattr(smk.input, "illusions"):
    summary["illusions"] = records(pd.read_csv(smk.input.illusions))
else:
    summary["illusions"] = None
    summary["illusions_note"] = "omitted: the deepfloyd backend has no digit classifier"
write_text(smk.output[0], json.dumps(summary, indent=1, sort_keys=True) + "\n")
log.info("Part A summary written: %s", smk.output[0])
