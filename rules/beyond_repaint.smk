# Beyond the spec, item: repaint (config beyond.repaint; section X4 of the writeup).
# RePaint resampling (fundiff.parta.loops.repaint_inpaint) vs the spec's one-pass inpainting on
# every parta.inpaint image, same seeds, measured side by side (fundiff.evaluation.beyond_parta);
# the measured wall times in their own files (timing.json, timing.png: they differ between runs).
BEYOND_REPAINT = config["beyond"]["repaint"]


BEYOND["repaint"] = partial(BY.repaint_files, config)


rule beyond_repaint:
    """X4: one-pass (spec) and RePaint inpainting of every parta.inpaint image, N samples each."""
    input:
        unpack(beyond_repaint_inputs),
        lib=script_lib("beyond_repaint"),
    output:
        cells=beyond_repaint_cells(),
        table=f"{BY.REPAINT_DIR}/table.json",
        npz=f"{BY.REPAINT_DIR}/table.npz",
        timing=f"{BY.REPAINT_DIR}/timing.json",
        timing_png=report(
            BY.REPAINT_TIMING_PLOT,
            caption="../report/beyond_repaint.rst",
            category="Beyond the spec",
            subcategory=report_subcategory(figure_section("repaint")),
            labels={"image": "every image", "cell": "wall time per method"},
        ),
        cost=f"{BY.REPAINT_DIR}/cost.json",
    log:
        "logs/beyond/repaint.log",
    benchmark:
        "benchmarks/rules/beyond_repaint.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("beyond_repaint", gpu=True),
    params:
        **PA.model_params(),
        repaint=BY.repaint_params(config),
        prompt=PARTA["null_prompt"],
        invert={i: PA.invert(i) for i in BY.repaint_images(config)},
        resize={i: PA.resize(i) for i in BY.repaint_images(config)},
        title=BY.repaint_title(config),
        cost_title=BY.repaint_cost_title(config),
    script:
        "../scripts/beyond_repaint.py"
