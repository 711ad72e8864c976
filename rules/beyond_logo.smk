# Beyond the spec, item: logo (config beyond.logo; section X5 of the writeup).
# DeepFloyd only: the configured logo prompts through A0's code path (stage I + stage II); with
# the mnist backend the item makes nothing (the section says why).
BEYOND_LOGO = config["beyond"]["logo"]


BEYOND["logo"] = partial(BY.logo_files, config)


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
