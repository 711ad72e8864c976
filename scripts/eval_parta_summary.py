"""Rule eval_parta_summary: every Part A metric in one JSON (results/eval/parta_summary.json)."""

from fundiff.evaluation.parta_summary import parta_summary
from fundiff.io import write_json
from fundiff.workflow.runner import run


def main(smk, log):
    names = ("denoise", "sdedit", "inpaint", "illusions")
    csvs = {k: getattr(smk.input, k) for k in names if hasattr(smk.input, k)}
    write_json(smk.output[0], parta_summary(smk.params.backend, csvs))
    log.info("Part A summary written: %s", smk.output[0])


run(snakemake, main)  # noqa: F821
