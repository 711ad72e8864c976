# Beyond the spec, item: repaint (config beyond.repaint; section X4 of the writeup).
# RePaint resampling (fundiff.parta.loops.repaint_inpaint) vs the spec's one-pass inpainting on
# every parta.inpaint image, same seeds, measured side by side (fundiff.evaluation.beyond_parta).
BEYOND_REPAINT = config["beyond"]["repaint"]


def beyond_repaint_files(kind):
    """This item's files of one kind (figures, tables, benchmarks) for the report and rule all;
    none while beyond.repaint.enabled is false."""
    return BY.repaint_files(config, kind)


BEYOND["repaint"] = beyond_repaint_files


def beyond_repaint_inputs(wildcards):
    """The model, the images (and mask files) and, on mnist, the digit classifier."""
    out = {**pa_model_inputs(), **BY.repaint_inputs(config)}
    return out | ({"classifier": "results/eval/classifier.pt"} if BY.mnist(config) else {})


def beyond_repaint_cells():
    """Every image's cells, flagged for Snakemake's report (labels: image and cell)."""
    shown = [(i, c) for i in BY.repaint_images(config) for c in BY.REPAINT_CELLS]
    return [
        report_flag(
            path,
            caption="../report/beyond_repaint.rst",
            category="Beyond the spec",
            subcategory=report_subcategory(figure_section("repaint")),
            labels={"image": image, "cell": cell.replace("_", " ")},
        )
        for path, (image, cell) in zip(BY.repaint_cells(config), shown)
    ]


rule beyond_repaint:
    """X4: one-pass (spec) and RePaint inpainting of every parta.inpaint image, N samples each."""
    input:
        unpack(beyond_repaint_inputs),
        lib=script_lib("beyond_repaint"),
    output:
        cells=beyond_repaint_cells(),
        table=f"{BY.REPAINT_DIR}/table.json",
        npz=f"{BY.REPAINT_DIR}/table.npz",
    log:
        "logs/beyond/repaint.log",
    benchmark:
        "benchmarks/rules/beyond_repaint.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: sample_threads
    resources:
        **sized("beyond_repaint", gpu=True),
    params:
        **PA.model_params(),
        repaint=BY.repaint_params(config),
        prompt=PARTA["null_prompt"],
        invert={i: PA.invert(i) for i in BY.repaint_images(config)},
        resize={i: PA.resize(i) for i in BY.repaint_images(config)},
        title=BY.repaint_title(config),
    script:
        "../scripts/beyond_repaint.py"
