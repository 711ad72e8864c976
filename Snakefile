# Fun With Diffusion Models (CS180 fa24 Project 5), rebuilt by one command:
#   snakemake --cores all                                  embedded preset (offline, CPU)
#   snakemake --cores all --configfile configs/fa24.yaml   the spec (Part B), on a GPU
#   snakemake --cores all --configfile configs/deepfloyd.yaml   Part A on DeepFloyd IF, on a GPU
#   ... --configfile <preset> configs/beyond.yaml           + the beyond-the-spec items
from snakemake.utils import min_version

min_version("9.20")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/report_inputs.smk"
include: "rules/data.smk"
include: "rules/partb.smk"
include: "rules/parta.smk"
include: "rules/beyond_flow.smk"
include: "rules/beyond_samplers.smk"
include: "rules/beyond_parta_common.smk"
include: "rules/beyond_views.smk"
include: "rules/beyond_repaint.smk"
include: "rules/beyond_logo.smk"
include: "rules/report.smk"
include: "rules/eval.smk"


# Light rules (downloads, tables, plots, the report) run in the Snakemake process's host under a
# cluster executor (profiles/slurm), where the network is; the others become cluster jobs.
localrules:
    all,
    parta_all,
    mnist,
    parta_image,
    fetch_models,
    noising_grid,
    loss_curve,
    parta_table,
    eval_parta_sdedit,
    eval_parta_inpaint,
    eval_parta_summary,
    benchmarks_table,
    report,


rule all:
    default_target: True
    input:
        all_targets(),
