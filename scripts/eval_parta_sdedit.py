"""Rule eval_parta_sdedit: distance of every SDEdit result to its original vs i_start.

Reads the raw arrays the SDEdit sections saved (results/parta/a1_7*/table.npz, named by
fundiff.parta.layout), so nothing is sampled again.
"""

from fundiff.evaluation import parta_tables, plots
from fundiff.io import write_csv
from fundiff.report.tables import write_table
from fundiff.workflow.runner import run


def main(smk, log):
    p, out = smk.params, smk.output
    df = parta_tables.sdedit_frame(smk.input.npz, p.sections, p.timesteps)
    write_csv(df, out.csv)
    plots.plot_sdedit(df, out.png)
    spec = parta_tables.sdedit_table(
        p.title, df, out.png, p.sections, p.timesteps, p.guidance_scale
    )
    write_table(out.table, **spec)
    log.info("SDEdit distances:\n%s", df.to_string())


run(snakemake, main)  # noqa: F821
