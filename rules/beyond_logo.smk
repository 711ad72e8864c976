# Beyond the spec, item: logo (config beyond.logo; section X5 of the writeup).
# DeepFloyd only: the configured logo prompts through A0's code path (stage I + stage II); with
# the mnist backend the item makes nothing (the section says why).
BEYOND_LOGO = config["beyond"]["logo"]


def beyond_logo_files(kind):
    """This item's files of one kind (figures, tables, benchmarks) for the report and rule all;
    none while beyond.logo.enabled is false or the backend is mnist."""
    return BY.logo_files(config, kind)


BEYOND["logo"] = beyond_logo_files


def beyond_logo_cells():
    """The stage I and II images of every prompt, flagged for Snakemake's report."""
    prompts = list(enumerate(BEYOND_LOGO["prompts"], 1))
    shown = [(s, f"{k}: {q}") for s in ("I", "II") for k, q in prompts]
    return [
        report_flag(
            path,
            caption="../report/beyond_logo.rst",
            category="Beyond the spec",
            subcategory=report_subcategory(figure_section("logo")),
            labels={"stage": stage, "prompt": prompt},
        )
        for path, (stage, prompt) in zip(BY.logo_cells(config), shown)
    ]


rule beyond_logo:
    """X5 (deepfloyd): every beyond.logo prompt through stage I and stage II, as A0 does."""
    input:
        unpack(pa_model_inputs),
        lib=script_lib("beyond_logo"),
    output:
        cells=beyond_logo_cells(),
        table=f"{BY.LOGO_DIR}/table.json",
        npz=f"{BY.LOGO_DIR}/table.npz",
    log:
        "logs/beyond/logo.log",
    benchmark:
        "benchmarks/rules/beyond_logo.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("beyond_logo", gpu=True),
    params:
        **PA.model_params(),
        logo=BY.logo_params(config),
        title=BY.logo_title(config),
    script:
        "../scripts/beyond_logo.py"
