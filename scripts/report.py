"""Rule report: the writeup as results/report/index.html and its Markdown twin README.md."""

from pathlib import Path

from fundiff.io import setup_logging
from fundiff.report.render import build_context, write_report

smk = snakemake  # noqa: F821
log = setup_logging(smk.log[0])
workflow_dir = Path(smk.scriptdir).parent
template_dir = Path(smk.input.templates[0]).parent
out_dir = Path(smk.output.html).parent
bench_dir = (
    Path(smk.input.benchmarks[0]).parent if smk.input.benchmarks else Path("benchmarks/rules")
)
context = build_context(
    smk.input.tables,
    out_dir,
    smk.input.sections,
    preset=smk.params.preset,
    seed=smk.params.seed,
    device=smk.params.device,
    parta_backend=smk.params.parta_backend,
    checkpoints=smk.input.checkpoints,
    benchmarks=smk.input.benchmarks,
    extra_benchmarks=sorted(bench_dir.glob("*.tsv")),
    repo_dir=workflow_dir,
    preset_notes=smk.params.preset_notes,
    calibration=smk.input.calibration,
)
write_report(context, template_dir, smk.output.html, smk.output.md, smk.output.rotated)
log.info(
    "report: %d tables, %d images, %d rotated copies",
    len(context["tables"]),
    len(context["images"]),
    len(context["rotated"]),
)
