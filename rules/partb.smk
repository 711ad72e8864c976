# Part B: DDPM on MNIST from scratch (spec sections B1.2 - B3).


rule noising_grid:
    """B1.2: digits with z = x + sigma * eps for each configured sigma."""
    input:
        mnist="results/data/mnist.pt",
        lib=lib("partb", "viz", "io", "data"),
    output:
        png="results/partb/noising/grid.png",
        npz="results/partb/noising/grid.npz",
    log:
        "logs/partb/noising_grid.log",
    conda:
        "../envs/fundiff.yaml"
    params:
        noising=PARTB["noising"],
        seed=config["seed"],
    script:
        "../scripts/partb_noising.py"


rule train:
    """B1.2.1 / B2.2 / B2.4: train one model; weights after every epoch, per-step losses."""
    input:
        mnist="results/data/mnist.pt",
        lib=lib("train", "unet", "ddpm", "io", "device"),
    output:
        epochs=directory("results/partb/{model}/epochs"),
        losses="results/partb/{model}/losses.csv",
    log:
        "logs/partb/train_{model}.log",
    benchmark:
        "benchmarks/rules/train_{model}.tsv"
    wildcard_constraints:
        model="|".join(MODELS),
    conda:
        "../envs/fundiff.yaml"
    threads: workflow.cores
    resources:
        gpu=gpus(),
    params:
        train=train_params,
        device=config["device"],
    script:
        "../scripts/partb_train.py"


rule loss_curve:
    """Training loss per step, log scale."""
    input:
        losses="results/partb/{model}/losses.csv",
        lib=lib("viz"),
    output:
        "results/partb/{model}/loss.png",
    log:
        "logs/partb/loss_curve_{model}.log",
    conda:
        "../envs/fundiff.yaml"
    script:
        "../scripts/partb_loss_curve.py"


rule denoise_test:
    """B1.2.1: test digits, noisy (sigma) and denoised, after a given epoch."""
    input:
        mnist="results/data/mnist.pt",
        epochs="results/partb/denoiser/epochs",
        lib=lib("partb", "train", "unet", "viz", "io", "data"),
    output:
        png="results/partb/denoiser/denoised/epoch_{epoch}.png",
        npz="results/partb/denoiser/denoised/epoch_{epoch}.npz",
    log:
        "logs/partb/denoise_test_{epoch}.log",
    conda:
        "../envs/fundiff.yaml"
    params:
        sigma=PARTB["denoiser"]["sigma"],
        hidden=PARTB["denoiser"]["hidden"],
        num_digits=PARTB["denoiser"]["num_test_digits"],
        seed=config["seed"],
    script:
        "../scripts/partb_denoise.py"


rule denoise_ood:
    """B1.2.2: the final denoiser on fixed test digits at noise levels it was not trained for."""
    input:
        mnist="results/data/mnist.pt",
        epochs="results/partb/denoiser/epochs",
        lib=lib("partb", "train", "unet", "viz", "io", "data"),
    output:
        png="results/partb/denoiser/ood.png",
        npz="results/partb/denoiser/ood.npz",
    log:
        "logs/partb/denoise_ood.log",
    conda:
        "../envs/fundiff.yaml"
    params:
        sigmas=PARTB["denoiser"]["ood_sigmas"],
        hidden=PARTB["denoiser"]["hidden"],
        epoch=PARTB["denoiser"]["epochs"],
        num_digits=3,
        seed=config["seed"],
    script:
        "../scripts/partb_ood.py"


rule sample:
    """B2.3 / B2.5: sample grid (+ raw .npz) from a model after a given epoch."""
    input:
        epochs="results/partb/{model}/epochs",
        lib=lib("partb", "ddpm", "train", "unet", "viz", "io", "device"),
    output:
        png="results/partb/{model}/samples/epoch_{epoch}.png",
        npz="results/partb/{model}/samples/epoch_{epoch}.npz",
    log:
        "logs/partb/sample_{model}_{epoch}.log",
    wildcard_constraints:
        model="|".join(CONDITIONED),
    conda:
        "../envs/fundiff.yaml"
    threads: workflow.cores
    resources:
        gpu=gpus(),
    params:
        sample=sample_params,
        schedule=PARTB["schedule"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/partb_sample.py"


rule sampling_gif:
    """B3: the sampling process x_T -> x_0 of the final model as a GIF."""
    input:
        epochs="results/partb/{model}/epochs",
        lib=lib("partb", "ddpm", "train", "unet", "viz", "io", "device"),
    output:
        gif="results/partb/{model}/sampling.gif",
    log:
        "logs/partb/sampling_gif_{model}.log",
    wildcard_constraints:
        model="|".join(CONDITIONED),
    conda:
        "../envs/fundiff.yaml"
    threads: workflow.cores
    resources:
        gpu=gpus(),
    params:
        gif=PARTB["gif"],
        epoch=final_epoch,
        hidden=hidden,
        guidance_scale=gif_guidance_scale,
        schedule=PARTB["schedule"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/partb_gif.py"


rule partb_page:
    """A minimal page listing Part B's figures (the full writeup is the report rule)."""
    input:
        figures=partb_figures(),
    output:
        "results/partb/index.html",
    log:
        "logs/partb/page.log",
    conda:
        "../envs/fundiff.yaml"
    script:
        "../scripts/partb_page.py"
