"""Rule parta_table: merge the per-image / per-pair parts of a section into its table spec."""

from fundiff.workflow.runner import run
from fundiff.workflow.script import merge_parts


def main(smk, log):
    p = smk.params
    merge_parts(smk.input.parts, smk.output.table, p.section, p.title, p.columns, p.table_params)
    log.info("%s: merged %d parts", p.section, len(smk.input.parts))


run(snakemake, main)  # noqa: F821
