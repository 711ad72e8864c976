"""Rule eval_parta_denoise: PSNR / SSIM of Gaussian blur vs one-step vs iterative denoising.

At every configured Part A noise level t, a batch of clean images (mnist: held-out test digits;
deepfloyd: the configured photos) is noised with parta.forward and denoised by the same
functions as A1.2 - A1.4 (fundiff.evaluation.samples.denoise_estimates); the noisy x_t is scored
too. Writes the tidy CSV (one row per image, t and method), a plot and a table spec (A2).
"""

import pandas as pd

from fundiff.evaluation import metrics, parta_tables, plots, samples
from fundiff.io import write_csv
from fundiff.report.tables import write_table
from fundiff.workflow.runner import run
from fundiff.workflow.script import backend_from_rule


def main(smk, log):
    p, out = smk.params, smk.output
    backend = backend_from_rule(smk)
    images = getattr(smk.input, "images", ())
    x01, names = samples.clean_images(backend, p.source, getattr(smk.input, "mnist", None), images)
    cond = backend.encode([p.null_prompt])
    x_0, t, ts = backend.to_model(x01), list(p.t), list(p.timesteps)
    est = samples.denoise_estimates(backend, x_0, t, ts, cond, p.blur, p.seed)
    df = pd.DataFrame(metrics.denoising_metrics(x01.clamp(0, 1), est, names))
    write_csv(df, out.csv)
    summary = metrics.mean_std(df, ["method", "t"], ["psnr", "ssim"])
    plots.plot_denoising(summary, out.png)
    shown = {"backend": backend.name, "t": t, **p.blur, "prompt": p.null_prompt, "seed": p.seed}
    mnist = p.source["kind"] == "mnist"
    write_table(
        out.table, **parta_tables.denoise_table(p.title, summary, out.png, names, mnist, shown)
    )
    log.info("denoising metrics (t = %s, %d images):\n%s", t, len(names), summary.to_string())


run(snakemake, main)  # noqa: F821
