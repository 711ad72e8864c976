# Beyond the spec, item: flow (config beyond.flow; section X1 of the writeup). Rectified flow beside
# each conditioned DDPM ({model}: time_cond / class_cond, the DDPM it is compared with), trained
# by the DDPM's own script with the DDPM's settings (fundiff.diffusion.settings.flow_*).
FLOW_DIR = settings.FLOW_DIR
FLOW_SECTION = figure_section("flow")
FLOW_REPORT = dict(
    caption="../report/beyond_flow.rst",
    category="Beyond the spec",
    subcategory=report_subcategory(FLOW_SECTION),
)
# files(kind) for rule all and the report: none while beyond.flow.enabled is false; plus the
# comparisons' plots of their measured sampling times (named *timing*: they differ between runs)
FLOW_TIMING_PLOTS = [
    f"{FLOW_DIR}/compare_{m}_timing.png"
    for m in (CONDITIONED if config["beyond"]["flow"]["enabled"] else [])
]
BEYOND["flow"] = lambda kind: settings.flow_files(config, kind) + (
    FLOW_TIMING_PLOTS if kind == "figures" else []
)


rule flow_train:
    """X1: train the rectified-flow model beside a DDPM (rule train's script, flow task)."""
    input:
        mnist="results/data/mnist.pt",
        calibration=CALIBRATION,
        lib=script_lib("partb_train"),
    output:
        epochs=directory(f"{FLOW_DIR}/{{model}}/epochs"),
        losses=f"{FLOW_DIR}/{{model}}/losses.csv",
    log:
        "logs/beyond/flow_train_{model}.log",
    benchmark:
        "benchmarks/rules/flow_train_{model}.tsv"
    wildcard_constraints:
        model="|".join(CONDITIONED),
    conda:
        "../envs/fundiff.yaml"
    threads: TRAIN_THREADS
    resources:
        **sized("flow_train", gpu=True),
    params:
        # the DDPM's settings with the flow task (the job adds the measured precision)
        train=per_model(settings.flow_train_settings),
        device=config["device"],
    script:
        "../scripts/partb_train.py"


rule flow_loss_curve:
    """X1: the flow model's training loss per step, log scale."""
    input:
        losses=f"{FLOW_DIR}/{{model}}/losses.csv",
        calibration=CALIBRATION,
        lib=script_lib("partb_loss_curve"),
    output:
        png=report(
            f"{FLOW_DIR}/{{model}}/loss.png",
            labels={"figure": "flow training loss", "model": "{model}"},
            **FLOW_REPORT,
        ),
        json=f"{FLOW_DIR}/{{model}}/loss.json",
    log:
        "logs/beyond/flow_loss_curve_{model}.log",
    benchmark:
        "benchmarks/rules/flow_loss_curve_{model}.tsv"
    wildcard_constraints:
        model="|".join(CONDITIONED),
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("flow_loss_curve"),
    params:
        section=FLOW_SECTION,
        train=per_model(settings.flow_train_settings),
    script:
        "../scripts/partb_loss_curve.py"


rule flow_sample:
    """X1: a flow sample grid (+ raw .npz) and its sampling GIF after one epoch."""
    input:
        epochs=f"{FLOW_DIR}/{{model}}/epochs",
        calibration=CALIBRATION,
        lib=script_lib("flow_sample"),
    output:
        png=report(
            f"{FLOW_DIR}/{{model}}/samples/epoch_{{epoch}}.png",
            labels={"figure": "flow samples", "model": "{model}", "epoch": "{epoch}"},
            **FLOW_REPORT,
        ),
        npz=f"{FLOW_DIR}/{{model}}/samples/epoch_{{epoch}}.npz",
        json=f"{FLOW_DIR}/{{model}}/samples/epoch_{{epoch}}.json",
        gif=report(
            f"{FLOW_DIR}/{{model}}/sampling/epoch_{{epoch}}.gif",
            labels={"figure": "flow sampling GIF", "model": "{model}", "epoch": "{epoch}"},
            **FLOW_REPORT,
        ),
        gif_json=f"{FLOW_DIR}/{{model}}/sampling/epoch_{{epoch}}.json",
    log:
        "logs/beyond/flow_sample_{model}_{epoch}.log",
    benchmark:
        "benchmarks/rules/flow_sample_{model}_{epoch}.tsv"
    wildcard_constraints:
        model="|".join(CONDITIONED),
        epoch="[0-9]+",
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("flow_sample", gpu=True),
    params:
        section=FLOW_SECTION,
        sample=per_model(settings.flow_sample_settings),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/flow_sample.py"


rule flow_compare:
    """X1: the final DDPM and flow models side by side (equal training steps, equal sampler
    steps), scored by the B4 evaluator with the sampling time measured in the job (kept in its
    own files: compare_{model}_timing.json and the plot of it)."""
    input:
        mnist="results/data/mnist.pt",
        classifier="results/eval/classifier.pt",
        ddpm="results/partb/{model}/epochs",
        flow=f"{FLOW_DIR}/{{model}}/epochs",
        calibration=CALIBRATION,
        lib=script_lib("flow_compare"),
    output:
        json=f"{FLOW_DIR}/compare_{{model}}.json",
        csv=f"{FLOW_DIR}/compare_{{model}}.csv",
        npz=f"{FLOW_DIR}/compare_{{model}}.npz",
        timing=f"{FLOW_DIR}/compare_{{model}}_timing.json",
        timing_png=report(
            f"{FLOW_DIR}/compare_{{model}}_timing.png",
            labels={"figure": "DDPM vs flow: sampling seconds", "model": "{model}"},
            **FLOW_REPORT,
        ),
    log:
        "logs/beyond/flow_compare_{model}.log",
    benchmark:
        "benchmarks/rules/flow_compare_{model}.tsv"
    wildcard_constraints:
        model="|".join(CONDITIONED),
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("flow_compare", gpu=True),
    params:
        section=FLOW_SECTION,
        compare=per_model(settings.flow_compare_settings),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/flow_compare.py"
