# Part B: DDPM on MNIST from scratch (spec sections B1.2 - B3).


rule noising_grid:
    """B1.2: digits with z = x + sigma * eps for each configured sigma."""
    input:
        mnist="results/data/mnist.pt",
        lib=script_lib("partb_noising"),
    output:
        png=report(
            "results/partb/noising/grid.png",
            caption="../report/noising.rst",
            category="Part B",
            subcategory=section_of("noising", subcategory=True),
            labels={"figure": "noising grid"},
        ),
        npz="results/partb/noising/grid.npz",
        json="results/partb/noising/grid.json",
    log:
        "logs/partb/noising_grid.log",
    benchmark:
        "benchmarks/rules/noising_grid.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("noising_grid"),
    params:
        section=figure_section("noising"),
        noising=PARTB["noising"],
        seed=config["seed"],
    script:
        "../scripts/partb_noising.py"


rule calibrate:
    """Training and sampling precision (fp32 / bf16 autocast), chosen by timing a few real steps
    of each at the planned threads on this machine (partb.amp_bf16 / partb.sample_bf16: auto)."""
    input:
        lib=script_lib("partb_calibrate"),
    output:
        CALIBRATION,
    log:
        "logs/partb/calibrate.log",
    benchmark:
        "benchmarks/rules/calibrate.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: THREADS
    resources:
        **sized("calibrate", gpu=True),
    params:
        amp_bf16=PARTB["amp_bf16"],
        sample_bf16=PARTB["sample_bf16"],
        threads={"train": TRAIN_THREADS, "sample": SAMPLE_THREADS},
        jobs=len(MODELS),
        train=settings.calibration_settings(config),
        device=config["device"],
    script:
        "../scripts/partb_calibrate.py"


rule train:
    """B1.2.1 / B2.2 / B2.4: train one model; weights after every epoch, per-step losses."""
    input:
        mnist="results/data/mnist.pt",
        calibration=CALIBRATION,
        lib=script_lib("partb_train"),
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
    threads: TRAIN_THREADS
    resources:
        **sized("train", gpu=True),
    params:
        train=train_params,
        device=config["device"],
    script:
        "../scripts/partb_train.py"


rule loss_curve:
    """Training loss per step, log scale."""
    input:
        losses="results/partb/{model}/losses.csv",
        calibration=CALIBRATION,
        lib=script_lib("partb_loss_curve"),
    output:
        png=report(
            "results/partb/{model}/loss.png",
            caption="../report/loss.rst",
            category="Part B",
            subcategory=section_of("loss", subcategory=True),
            labels={"figure": "training loss", "model": "{model}"},
        ),
        json="results/partb/{model}/loss.json",
    log:
        "logs/partb/loss_curve_{model}.log",
    benchmark:
        "benchmarks/rules/loss_curve_{model}.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("loss_curve"),
    params:
        section=section_of("loss"),
        train=train_params,
    script:
        "../scripts/partb_loss_curve.py"


rule denoise_test:
    """B1.2.1: test digits, noisy (sigma) and denoised, after a given epoch."""
    input:
        mnist="results/data/mnist.pt",
        epochs="results/partb/denoiser/epochs",
        lib=script_lib("partb_denoise"),
    output:
        png=report(
            "results/partb/denoiser/denoised/epoch_{epoch}.png",
            caption="../report/denoised.rst",
            category="Part B",
            subcategory=section_of("denoised", "denoiser", subcategory=True),
            labels={"figure": "denoised test digits", "epoch": "{epoch}"},
        ),
        npz="results/partb/denoiser/denoised/epoch_{epoch}.npz",
        json="results/partb/denoiser/denoised/epoch_{epoch}.json",
    log:
        "logs/partb/denoise_test_{epoch}.log",
    benchmark:
        "benchmarks/rules/denoise_test_{epoch}.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("denoise_test"),
    params:
        section=figure_section("denoised", "denoiser"),
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
        lib=script_lib("partb_ood"),
    output:
        png=report(
            "results/partb/denoiser/ood.png",
            caption="../report/ood.rst",
            category="Part B",
            subcategory=section_of("ood", "denoiser", subcategory=True),
            labels={"figure": "out-of-distribution sigmas"},
        ),
        npz="results/partb/denoiser/ood.npz",
        json="results/partb/denoiser/ood.json",
    log:
        "logs/partb/denoise_ood.log",
    benchmark:
        "benchmarks/rules/denoise_ood.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("denoise_ood"),
    params:
        section=figure_section("ood", "denoiser"),
        sigmas=PARTB["denoiser"]["ood_sigmas"],
        hidden=PARTB["denoiser"]["hidden"],
        trained_sigma=PARTB["denoiser"]["sigma"],
        epoch=PARTB["denoiser"]["epochs"],
        num_digits=3,
        seed=config["seed"],
    script:
        "../scripts/partb_ood.py"


rule sample:
    """B2.3 / B2.5: sample grid (+ raw .npz) from a model after a given epoch."""
    input:
        epochs="results/partb/{model}/epochs",
        calibration=CALIBRATION,
        lib=script_lib("partb_sample"),
    output:
        png=report(
            "results/partb/{model}/samples/epoch_{epoch}.png",
            caption="../report/samples.rst",
            category="Part B",
            subcategory=section_of("samples", subcategory=True),
            labels={"figure": "samples", "model": "{model}", "epoch": "{epoch}"},
        ),
        npz="results/partb/{model}/samples/epoch_{epoch}.npz",
        json="results/partb/{model}/samples/epoch_{epoch}.json",
    log:
        "logs/partb/sample_{model}_{epoch}.log",
    benchmark:
        "benchmarks/rules/sample_{model}_{epoch}.tsv"
    wildcard_constraints:
        model="|".join(CONDITIONED),
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("sample", gpu=True),
    params:
        section=section_of("samples"),
        sample=per_model(settings.sample_settings),
        schedule=PARTB["schedule"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/partb_sample.py"


rule sampling_gif:
    """B3: the sampling process x_T -> x_0 of a model after a given epoch as a GIF."""
    input:
        epochs="results/partb/{model}/epochs",
        calibration=CALIBRATION,
        lib=script_lib("partb_gif"),
    output:
        gif=report(
            "results/partb/{model}/sampling/epoch_{epoch}.gif",
            caption="../report/gif.rst",
            category="Part B",
            subcategory=section_of("gif", subcategory=True),
            labels={"figure": "sampling GIF", "model": "{model}", "epoch": "{epoch}"},
        ),
        json="results/partb/{model}/sampling/epoch_{epoch}.json",
    log:
        "logs/partb/sampling_gif_{model}_{epoch}.log",
    benchmark:
        "benchmarks/rules/sampling_gif_{model}_{epoch}.tsv"
    wildcard_constraints:
        model="|".join(CONDITIONED),
        epoch="[0-9]+",
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("sampling_gif", gpu=True),
    params:
        section=figure_section("gif"),
        gif=PARTB["gif"],
        hidden=lookup(dpath="partb/{model}/hidden", within=config),
        guidance_scale=per_model(settings.gif_guidance_scale),
        schedule=PARTB["schedule"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/partb_gif.py"
