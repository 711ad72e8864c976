"""Rule beyond_views_judge (X3, mnist backend): anagram success rates under every view.

N anagrams per pair and view in one batch per view (fundiff.evaluation.beyond_parta.judge_views:
the view applied in model space, as the loop did), judged by the digit classifier.
"""

import pandas as pd

from fundiff.device import resolve_device
from fundiff.evaluation import beyond_parta, classifier
from fundiff.io import save_npz, write_csv
from fundiff.report.tables import write_table
from fundiff.workflow.runner import run
from fundiff.workflow.script import backend_from_rule


def main(smk, log):
    p, out = smk.params, smk.output
    backend = backend_from_rule(smk)
    clf = classifier.load_classifier(smk.input.classifier, resolve_device(p.device))
    rows, arrays = beyond_parta.judge_views(
        backend, clf, p.views["views"], p.views["pairs"], p.views["samples"],
        list(p.timesteps), p.seed, p.guidance_scale,
    )  # fmt: skip
    df = pd.DataFrame(rows)
    write_csv(df, out.csv)
    save_npz(out.npz, **arrays)
    beyond_parta.plot_views(rows, out.png)
    params = {"samples per pair and view": p.views["samples"], "seed": p.seed}
    params |= {"guidance_scale": p.guidance_scale, "timesteps": list(p.timesteps)}
    write_table(out.table, **beyond_parta.views_table(p.title, rows, out.png, params))
    log.info("view success rates:\n%s", df.to_string())


run(snakemake, main)  # noqa: F821
