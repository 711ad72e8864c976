# The writeup: results/report/index.html + README.md from every figure's table spec
# (its inputs: rules/report_inputs.smk).


rule report:
    """The writeup (HTML + Markdown twin) with provenance; images linked relative to results/."""
    input:
        unpack(lambda w: {"models": PA_MODELS} if PA_BACKEND == "deepfloyd" else {}),
        tables=report_tables(),
        figures=report_figures(),
        checkpoints=partb_files("checkpoints"),
        input_images=PA.image_records(),
        calibration=CALIBRATION,
        benchmarks=report_benchmarks(),
        templates=[
            "report/index.html.j2",
            "report/README.md.j2",
            "report/style.css",
        ],
        sections="src/fundiff/report/sections.yaml",
        lib=script_lib("report"),
    output:
        html="results/report/index.html",
        md="results/report/README.md",
        rotated=directory("results/report/rotated"),
    log:
        "logs/report/report.log",
    benchmark:
        "benchmarks/rules/report.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("report"),
    params:
        preset=config["preset"],
        seed=config["seed"],
        device=config["device"],
        parta_backend=parta_backend_label(config),
        preset_notes=spec_preset_notes(config, workflow.basedir, SCHEMA),
    script:
        "../scripts/report.py"
