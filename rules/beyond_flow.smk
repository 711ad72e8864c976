# Beyond the spec, item: flow (config beyond.flow; section X1 of the writeup). Rectified flow beside
# each conditioned DDPM ({model}: time_cond / class_cond, the DDPM it is compared with), trained
# by the DDPM's own script with the DDPM's settings (fundiff.diffusion.settings.flow_*).
BEYOND_FLOW = config["beyond"]["flow"]
FLOW_DIR = "results/beyond/flow"
FLOW_SECTION = figure_section("flow")


def flow_report(path, figure):
    """A flow figure in Snakemake's native report (category Beyond the spec, section X1)."""
    return report(
        path,
        caption="../report/beyond_flow.rst",
        category="Beyond the spec",
        subcategory=report_subcategory(FLOW_SECTION),
        labels={"figure": figure, "model": "{model}"},
    )


def flow_train_params(wildcards):
    """The flow model's training run (the DDPM's settings, flow task) with the measured layout."""
    train = settings.flow_train_settings(config, wildcards.model)
    return settings.with_layout(train, calibration_choice())


def flow_epochs(model):
    return settings.flow_sample_epochs(config, model)


def beyond_flow_files(kind):
    """This item's files of one kind (figures, tables, benchmarks) for the report and rule all;
    none while beyond.flow.enabled is false."""
    if not BEYOND_FLOW["enabled"]:
        return []
    out = []
    for m in CONDITIONED:
        epochs = flow_epochs(m)
        if kind == "benchmarks":
            out += [
                f"benchmarks/rules/flow_train_{m}.tsv",
                f"benchmarks/rules/flow_compare_{m}.tsv",
            ]
            out += [f"benchmarks/rules/flow_sample_{m}_{e}.tsv" for e in epochs]
            continue
        ext = {"figures": ("png", "gif"), "tables": ("json", "json")}[kind]
        out.append(f"{FLOW_DIR}/{m}/loss.{ext[0]}")
        out += [f"{FLOW_DIR}/{m}/samples/epoch_{e}.{ext[0]}" for e in epochs]
        out += [f"{FLOW_DIR}/{m}/sampling/epoch_{e}.{ext[1]}" for e in epochs]
        if kind == "tables":
            out.append(f"{FLOW_DIR}/compare_{m}.json")
    return out


BEYOND["flow"] = beyond_flow_files


rule flow_train:
    """X1: train the rectified-flow model beside a DDPM (rule train's script, flow task)."""
    input:
        mnist="results/data/mnist.pt",
        calibration=calibration_input,
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
    threads: train_threads
    resources:
        **sized("flow_train", gpu=True),
    params:
        train=flow_train_params,
        device=config["device"],
    script:
        "../scripts/partb_train.py"


rule flow_loss_curve:
    """X1: the flow model's training loss per step, log scale."""
    input:
        losses=f"{FLOW_DIR}/{{model}}/losses.csv",
        calibration=calibration_input,
        lib=script_lib("partb_loss_curve"),
    output:
        png=flow_report(f"{FLOW_DIR}/{{model}}/loss.png", "flow training loss"),
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
        train=flow_train_params,
    script:
        "../scripts/partb_loss_curve.py"


rule flow_sample:
    """X1: a flow sample grid (+ raw .npz) and its sampling GIF after one epoch."""
    input:
        epochs=f"{FLOW_DIR}/{{model}}/epochs",
        calibration=calibration_input,
        lib=script_lib("flow_sample"),
    output:
        png=flow_report(f"{FLOW_DIR}/{{model}}/samples/epoch_{{epoch}}.png", "flow samples"),
        npz=f"{FLOW_DIR}/{{model}}/samples/epoch_{{epoch}}.npz",
        json=f"{FLOW_DIR}/{{model}}/samples/epoch_{{epoch}}.json",
        gif=flow_report(f"{FLOW_DIR}/{{model}}/sampling/epoch_{{epoch}}.gif", "flow sampling GIF"),
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
    threads: sample_threads
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
    steps), scored by the B4 evaluator with the sampling time measured in the job."""
    input:
        mnist="results/data/mnist.pt",
        classifier="results/eval/classifier.pt",
        ddpm="results/partb/{model}/epochs",
        flow=f"{FLOW_DIR}/{{model}}/epochs",
        calibration=calibration_input,
        lib=script_lib("flow_compare"),
    output:
        json=f"{FLOW_DIR}/compare_{{model}}.json",
        csv=f"{FLOW_DIR}/compare_{{model}}.csv",
        npz=f"{FLOW_DIR}/compare_{{model}}.npz",
    log:
        "logs/beyond/flow_compare_{model}.log",
    benchmark:
        "benchmarks/rules/flow_compare_{model}.tsv"
    wildcard_constraints:
        model="|".join(CONDITIONED),
    conda:
        "../envs/fundiff.yaml"
    threads: sample_threads
    resources:
        **sized("flow_compare", gpu=True),
    params:
        section=FLOW_SECTION,
        compare=per_model(settings.flow_compare_settings),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/flow_compare.py"
