"""Part A in numbers, gathered (rule eval_parta_summary, results/eval/parta_summary.json): the
tidy CSVs of the Part A metric rules as one record. Non-finite values are left to
fundiff.io.write_json (NaN -> null, inf -> "inf")."""

from __future__ import annotations

import pandas as pd

from fundiff.evaluation.metrics import mean_std, sdedit_stats

ILLUSIONS_NOTE = "omitted: the deepfloyd backend has no digit classifier"


def records(df: pd.DataFrame) -> list[dict]:
    return df.to_dict("records")


def sdedit_summary(sd: pd.DataFrame) -> dict:
    """Mean PSNR to the original per i_start, and per section / image the fraction of
    consecutive i_start steps at which the PSNR rises (1 = the original survives ever more)."""
    mean, rising = sdedit_stats(sd)
    return {
        "mean_psnr_by_i_start": {str(i): float(v) for i, v in mean["psnr"].items()},
        "rising_fraction": {f"{s}/{im}": r for (s, im), r in rising.items()},
    }


def parta_summary(backend: str, csvs: dict) -> dict:
    """The summary of the metric CSVs ``csvs`` (denoise, sdedit, inpaint[, illusions] -> path);
    without illusions (no digit classifier) a note says why."""
    out = {
        "backend": backend,
        "denoising": records(
            mean_std(pd.read_csv(csvs["denoise"]), ["method", "t"], ["psnr", "ssim"])
        ),
        "sdedit": sdedit_summary(pd.read_csv(csvs["sdedit"])),
        "inpainting": records(pd.read_csv(csvs["inpaint"])),
        "files": dict(csvs),
        "illusions": None,
    }
    if "illusions" in csvs:
        out["illusions"] = records(pd.read_csv(csvs["illusions"]))
    else:
        out["illusions_note"] = ILLUSIONS_NOTE
    return out
