"""Rule eval_parta_illusions (mnist backend): success rates of visual anagrams and hybrids.

N samples of every configured pair are made in one batch by the same Part A loops as A1.8 / A1.9
and judged by the digit classifier trained on real digits
(fundiff.evaluation.samples.judge_illusions: what counts as a success).
"""

import pandas as pd

from fundiff.device import resolve_device
from fundiff.evaluation import classifier, parta_tables, plots, samples
from fundiff.io import save_npz, write_csv
from fundiff.report.tables import write_table
from fundiff.workflow.runner import run
from fundiff.workflow.script import backend_from_rule


def main(smk, log):
    p, out = smk.params, smk.output
    backend = backend_from_rule(smk)
    clf = classifier.load_classifier(smk.input.classifier, resolve_device(p.device))
    rows, arrays = samples.judge_illusions(
        backend, clf, p.anagrams, p.hybrids, p.samples, list(p.timesteps), p.seed,
        p.guidance_scale, p.far_sigma,
    )  # fmt: skip
    df = pd.DataFrame(rows)
    write_csv(df, out.csv)
    save_npz(out.npz, **arrays)
    plots.plot_illusions(df, out.png)
    write_table(out.table, **parta_tables.illusions_table(p.title, rows, out.png, p.samples, p))
    log.info("illusion success rates:\n%s", df.to_string())


run(snakemake, main)  # noqa: F821
