# Beyond the spec, item: samplers (config beyond.samplers; section X2 of the writeup).
# Strided DDPM and DDIM over the trained schedule at fewer steps, for both conditioned models'
# final weights: one sampling job per model (every sampler x step count, each row timed; the
# times in their own timing.json), one scoring job per model (B4's classifier: grids, CSV, table
# spec; from the times the quality-vs-time plot and the seconds per row, named *timing*).
from fundiff.seeds import derived_seed  # noqa: E402

BEYOND_SAMPLERS = config["beyond"]["samplers"]
SAMPLERS_DIR = "results/beyond/samplers"
# the item's settings a job depends on (editing beyond.samplers.* reruns only this item)
SAMPLERS_OPTS = {k: BEYOND_SAMPLERS[k] for k in ("samplers", "steps", "eta", "num_samples")}
SAMPLERS_ROWS = [
    f"{s}_{k}" for s in SAMPLERS_OPTS["samplers"] for k in sorted(SAMPLERS_OPTS["steps"])[::-1]
]
# (steps <= partb.schedule.num_timesteps: fundiff.config's cross-checks)


rule beyond_samplers_sample:
    """X2: the final weights of one conditioned model sampled with every sampler and step count
    of beyond.samplers (the same n digits, seed and labels for every row), each row timed."""
    input:
        epochs="results/partb/{model}/epochs",
        calibration=CALIBRATION,
        lib=script_lib("beyond_samplers_sample"),
    output:
        npz=[f"{SAMPLERS_DIR}/{{model}}/{row}.npz" for row in SAMPLERS_ROWS],
        timing=f"{SAMPLERS_DIR}/{{model}}/timing.json",  # the measured wall times
    log:
        "logs/beyond/samplers_sample_{model}.log",
    benchmark:
        "benchmarks/rules/beyond_samplers_sample_{model}.tsv"
    wildcard_constraints:
        model="|".join(CONDITIONED),
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("beyond_samplers_sample", gpu=True),
    params:
        samplers=SAMPLERS_OPTS,
        epoch=lookup(dpath="partb/{model}/epochs", within=config),
        hidden=lookup(dpath="partb/{model}/hidden", within=config),
        guidance_scale=per_model(settings.gif_guidance_scale),
        schedule=PARTB["schedule"],
        seed=derived_seed(config["seed"], "samplers"),  # one seed for every row
        device=config["device"],
    script:
        "../scripts/beyond_samplers_sample.py"


rule beyond_samplers_eval:
    """X2: every sampler row of one model scored with the digit classifier (accuracy or
    confidence, FD over the real-vs-real floor at the same n): CSV, grids, table spec, and the
    quality-vs-time plot and seconds per row from the measured times."""
    input:
        mnist="results/data/mnist.pt",
        classifier="results/eval/classifier.pt",
        npz=lambda w: [f"{SAMPLERS_DIR}/{w.model}/{row}.npz" for row in SAMPLERS_ROWS],
        timing=f"{SAMPLERS_DIR}/{{model}}/timing.json",
        lib=script_lib("beyond_samplers_eval"),
    output:
        csv=f"{SAMPLERS_DIR}/{{model}}/samplers.csv",
        plot=report(
            f"{SAMPLERS_DIR}/{{model}}/quality_timing.png",
            caption="../report/beyond_samplers.rst",
            category="Beyond the spec",
            subcategory=report_subcategory(figure_section("samplers")),
            labels={"figure": "quality vs sampling time", "model": "{model}"},
        ),
        timing=report(
            f"{SAMPLERS_DIR}/{{model}}/timing.png",
            caption="../report/beyond_samplers.rst",
            category="Beyond the spec",
            subcategory=report_subcategory(figure_section("samplers")),
            labels={"figure": "sampling seconds per row", "model": "{model}"},
        ),
        grids=[
            report(
                f"{SAMPLERS_DIR}/{{model}}/grid_{s}.png",
                caption="../report/beyond_samplers.rst",
                category="Beyond the spec",
                subcategory=report_subcategory(figure_section("samplers")),
                labels={"figure": f"{s} samples, fewest steps", "model": "{model}"},
            )
            for s in SAMPLERS_OPTS["samplers"]
        ],
        table=f"{SAMPLERS_DIR}/{{model}}/samplers.json",
    log:
        "logs/beyond/samplers_eval_{model}.log",
    benchmark:
        "benchmarks/rules/beyond_samplers_eval_{model}.tsv"
    wildcard_constraints:
        model="|".join(CONDITIONED),
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("beyond_samplers_eval", gpu=True),
    params:
        section=figure_section("samplers"),
        samplers=SAMPLERS_OPTS,
        rows=SAMPLERS_ROWS,
        epoch=lookup(dpath="partb/{model}/epochs", within=config),
        guidance_scale=per_model(settings.gif_guidance_scale),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/beyond_samplers_eval.py"


# This item's files of each kind (figures, tables, benchmarks) for the report and rule all;
# none while beyond.samplers.enabled is false.
_SAMPLERS_ON = BEYOND_SAMPLERS["enabled"]
_SAMPLERS_FOLDERS = [f"{SAMPLERS_DIR}/{m}" for m in CONDITIONED] if _SAMPLERS_ON else []
SAMPLERS_FILES = {
    "figures": [
        f"{d}/{name}"
        for d in _SAMPLERS_FOLDERS
        for name in [
            "quality_timing.png",
            "timing.png",
            *(f"grid_{s}.png" for s in SAMPLERS_OPTS["samplers"]),
        ]
    ],
    "tables": [f"{d}/samplers.json" for d in _SAMPLERS_FOLDERS],
    "benchmarks": [
        f"benchmarks/rules/beyond_samplers_{r}_{m}.tsv"
        for m in (CONDITIONED if _SAMPLERS_ON else [])
        for r in ("sample", "eval")
    ],
}
BEYOND["samplers"] = lambda kind: SAMPLERS_FILES[kind]
