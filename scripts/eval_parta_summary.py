"""Rule eval_parta_summary: every Part A metric in one JSON (results/eval/parta_summary.json)."""

from fundiff.evaluation.parta_summary import parta_summary
from fundiff.io import write_json
from fundiff.workflow.runner import run


def main(smk, log):
    csvs = {k: v for k, v in smk.input.items() if k != "lib"}  # the metric CSVs the rule names
    write_json(smk.output[0], parta_summary(smk.params.backend, csvs))
    log.info("Part A summary written: %s", smk.output[0])


run(snakemake, main)  # noqa: F821
