"""Rule eval_parta_inpaint: error inside vs outside the inpainting mask, per image.

Reads results/parta/a1_7_2/table.npz (the original, inpainted and mask arrays of every image,
named by fundiff.parta.layout): outside the mask the result must equal the original (RePaint
keeps it), inside it is new content, so its error measures how much the model changed.
"""

from fundiff.evaluation import parta_tables, plots
from fundiff.io import write_csv
from fundiff.report.tables import write_table
from fundiff.workflow.runner import run


def main(smk, log):
    masks, out = smk.params.masks, smk.output
    df = parta_tables.inpaint_frame(smk.input.npz, [m["image"] for m in masks])
    write_csv(df, out.csv)
    plots.plot_inpaint(df, out.png)
    write_table(out.table, **parta_tables.inpaint_table(smk.params.title, df, out.png, masks))
    log.info("inpainting errors:\n%s", df.to_string())


run(snakemake, main)  # noqa: F821
