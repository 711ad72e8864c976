# Measured results: a digit classifier trained on real MNIST scores the Part B samples.


rule train_classifier:
    """A small CNN on the real training digits; its held-out accuracy is part of the summary."""
    input:
        mnist="results/data/mnist.pt",
        lib=lib("evaluate", "io", "device"),
    output:
        model="results/eval/classifier.pt",
        info="results/eval/classifier.json",
    log:
        "logs/eval/train_classifier.log",
    benchmark:
        "benchmarks/rules/train_classifier.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: workflow.cores
    resources:
        gpu=gpus(),
    params:
        classifier=EVAL["classifier"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/eval_classifier.py"


rule eval_sample_time:
    """A larger sample from the final time-conditioned model (the grid has only 40 digits)."""
    input:
        epochs="results/partb/time_cond/epochs",
        lib=lib("partb", "ddpm", "train", "unet", "data", "io", "device"),
    output:
        npz="results/eval/samples/time_cond.npz",
    log:
        "logs/eval/sample_time_cond.log",
    benchmark:
        "benchmarks/rules/eval_sample_time_cond.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: workflow.cores
    resources:
        gpu=gpus(),
    params:
        epoch=PARTB["time_cond"]["epochs"],
        num_samples=EVAL["num_samples"],
        samples_per_class=None,
        scale=None,
        schedule=PARTB["schedule"],
        seed=config["seed"] + 10_000,
        device=config["device"],
    script:
        "../scripts/eval_sample.py"


rule eval_sample_cfg:
    """The final class-conditioned model at one CFG scale (balanced labels, same seed per scale)."""
    input:
        epochs="results/partb/class_cond/epochs",
        lib=lib("partb", "ddpm", "train", "unet", "data", "io", "device"),
    output:
        npz="results/eval/samples/class_cond_cfg{scale}.npz",
    log:
        "logs/eval/sample_class_cond_cfg{scale}.log",
    benchmark:
        "benchmarks/rules/eval_sample_class_cond_cfg{scale}.tsv"
    wildcard_constraints:
        scale=r"[0-9.]+",
    conda:
        "../envs/fundiff.yaml"
    threads: workflow.cores
    resources:
        gpu=gpus(),
    params:
        epoch=PARTB["class_cond"]["epochs"],
        num_samples=None,
        samples_per_class=EVAL["cfg_sweep"]["samples_per_class"],
        scale=lambda wildcards: float(wildcards.scale),
        schedule=PARTB["schedule"],
        seed=config["seed"] + 20_000,
        device=config["device"],
    script:
        "../scripts/eval_sample.py"


rule eval_partb:
    """Accuracy, confidence, classifier-feature FD (+ real-vs-real floor), class entropy and
    diversity of every Part B sample set; tidy CSVs, plots and results/eval/summary.json."""
    input:
        mnist="results/data/mnist.pt",
        classifier="results/eval/classifier.pt",
        classifier_info="results/eval/classifier.json",
        grids=eval_grid_npzs(),
        time_cond="results/eval/samples/time_cond.npz",
        sweep=expand("results/eval/samples/class_cond_cfg{scale}.npz", scale=sweep_scales()),
        lib=lib("evaluate", "viz", "io", "device", "figures"),
    output:
        epochs_csv="results/eval/partb_epochs.csv",
        epochs_png="results/eval/partb_epochs.png",
        sweep_csv="results/eval/cfg_sweep.csv",
        sweep_png="results/eval/cfg_sweep.png",
        final_csv="results/eval/partb_final.csv",
        summary="results/eval/summary.json",
        epochs_json="results/eval/partb_epochs.json",
        sweep_json="results/eval/cfg_sweep.json",
    log:
        "logs/eval/eval_partb.log",
    conda:
        "../envs/fundiff.yaml"
    threads: workflow.cores
    resources:
        gpu=gpus(),
    params:
        scales=[float(s) for s in sweep_scales()],
        guidance_scale=float(PARTB["class_cond"]["guidance_scale"]),
        targets=EVAL["targets"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/eval_partb.py"
