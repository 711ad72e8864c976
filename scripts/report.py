"""Rule report: the writeup as results/report/index.html and its Markdown twin README.md."""

from pathlib import Path

from fundiff.report.render import build_context, write_report
from fundiff.workflow.runner import run


def main(smk, log):
    inp, p = smk.input, smk.params
    out_dir = Path(smk.output.html).parent
    bench_dir = Path(inp.benchmarks[0]).parent if inp.benchmarks else Path("benchmarks/rules")
    context = build_context(
        inp.tables,
        out_dir,
        inp.sections,
        preset=p.preset,
        seed=p.seed,
        device=p.device,
        parta_backend=p.parta_backend,
        checkpoints=inp.checkpoints,
        input_images=inp.input_images,
        benchmarks=inp.benchmarks,
        extra_benchmarks=sorted(bench_dir.glob("*.tsv")),
        repo_dir=Path(smk.scriptdir).parent,
        preset_notes=p.preset_notes,
        calibration=inp.calibration,
        models=getattr(inp, "models", None),  # deepfloyd: the fetch_models manifest
    )
    write_report(
        context, Path(inp.templates[0]).parent, smk.output.html, smk.output.md, smk.output.rotated
    )
    n = (len(context[k]) for k in ("tables", "images", "rotated"))
    log.info("report: %d tables, %d images, %d rotated copies", *n)


run(snakemake, main)  # noqa: F821
