# Measured results: a digit classifier trained on real MNIST scores the Part B samples.
SWEEP_SCALES = settings.sweep_scales(config)  # the CFG sweep's scales, as wildcard strings


rule train_classifier:
    """A small CNN on the real training digits; its held-out accuracy is part of the summary."""
    input:
        mnist="results/data/mnist.pt",
        lib=script_lib("eval_classifier"),
    output:
        model="results/eval/classifier.pt",
        info="results/eval/classifier.json",
    log:
        "logs/eval/train_classifier.log",
    benchmark:
        "benchmarks/rules/train_classifier.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: THREADS
    resources:
        **sized("train_classifier", gpu=True),
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
        calibration=CALIBRATION,
        lib=script_lib("eval_sample"),
    output:
        npz="results/eval/samples/time_cond.npz",
    log:
        "logs/eval/sample_time_cond.log",
    benchmark:
        "benchmarks/rules/eval_sample_time_cond.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("eval_sample_time", gpu=True),
    params:
        epoch=PARTB["time_cond"]["epochs"],
        num_samples=EVAL["num_samples"],
        samples_per_class=None,
        scale=None,
        schedule=PARTB["schedule"],
        seed=settings.eval_seed(config, "time_cond"),
        device=config["device"],
    script:
        "../scripts/eval_sample.py"


rule eval_sample_cfg:
    """The final class-conditioned model at every CFG scale of the sweep, in one process (balanced
    labels, the same seed per scale: the scales differ only in gamma; more digits at the grid's
    scale, whose row is the final score)."""
    input:
        epochs="results/partb/class_cond/epochs",
        calibration=CALIBRATION,
        lib=script_lib("eval_sample"),
    output:
        npz=expand("results/eval/samples/class_cond_cfg{scale}.npz", scale=SWEEP_SCALES),
    log:
        "logs/eval/sample_class_cond_cfg.log",
    benchmark:
        "benchmarks/rules/eval_sample_class_cond_cfg.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("eval_sample_cfg", gpu=True),
    params:
        epoch=PARTB["class_cond"]["epochs"],
        num_samples=None,
        samples_per_class=[settings.sweep_samples_per_class(config, s) for s in SWEEP_SCALES],
        scale=[float(s) for s in SWEEP_SCALES],
        schedule=PARTB["schedule"],
        seed=settings.eval_seed(config, "class_cond"),
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
        grids=partb_files("grids"),
        time_cond="results/eval/samples/time_cond.npz",
        sweep=expand("results/eval/samples/class_cond_cfg{scale}.npz", scale=SWEEP_SCALES),
        lib=script_lib("eval_partb"),
    output:
        epochs_csv="results/eval/partb_epochs.csv",
        epochs_png=measured_report(
            "results/eval/partb_epochs.png", "scores", "scores of the sample grids per epoch"
        ),
        sweep_csv="results/eval/cfg_sweep.csv",
        sweep_png=measured_report(
            "results/eval/cfg_sweep.png", "scores", "classifier-free guidance sweep"
        ),
        final_csv="results/eval/partb_final.csv",
        summary="results/eval/summary.json",
        epochs_json="results/eval/partb_epochs.json",
        sweep_json="results/eval/cfg_sweep.json",
    log:
        "logs/eval/eval_partb.log",
    benchmark:
        "benchmarks/rules/eval_partb.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: THREADS
    resources:
        **sized("eval_partb", gpu=True),
    params:
        section=figure_section("scores"),
        scales=[float(s) for s in SWEEP_SCALES],
        guidance_scale=float(PARTB["class_cond"]["guidance_scale"]),
        targets=EVAL["targets"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/eval_partb.py"


# ---------------------------------------------------------------- Part A in numbers
# PSNR / SSIM of the denoisers, SDEdit distances, inpainting errors (any backend) and, with the
# mnist backend, anagram / hybrid success rates judged by the digit classifier. Tidy CSV + plot
# + table spec (section A2) each; everything in results/eval/parta_summary.json.


rule eval_parta_denoise:
    """Gaussian blur vs one-step vs iterative denoising at every Part A noise level (PSNR, SSIM),
    averaged over held-out digits (mnist) or the configured images (deepfloyd)."""
    input:
        unpack(pa_inputs(lambda w: PA.eval_denoise_inputs())),
        lib=script_lib("eval_parta_denoise"),
    output:
        csv="results/eval/parta_denoise.csv",
        png=measured_report(
            "results/eval/parta_denoise.png", "parta_scores", PA.eval_title("denoise")
        ),
        table="results/eval/parta_denoise.json",
    log:
        "logs/eval/parta_denoise.log",
    benchmark:
        "benchmarks/rules/eval_parta_denoise.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("eval_parta_denoise", gpu=True),
    params:
        **PA.model_params(guidance=False, upscale=False),
        t=PARTA["forward"]["t"],
        blur=PARTA["blur"],
        source=PA.eval_source(),
        title=PA.eval_title("denoise"),
    script:
        "../scripts/eval_parta_denoise.py"


rule eval_parta_sdedit:
    """PSNR / MSE of every SDEdit result to its original vs i_start (from the saved arrays)."""
    input:
        npz=[f"{PA_DIR}/{s}/table.npz" for s in layout.SDEDIT],
        lib=script_lib("eval_parta_sdedit"),
    output:
        csv="results/eval/parta_sdedit.csv",
        png=measured_report(
            "results/eval/parta_sdedit.png", "parta_scores", PA.eval_title("sdedit")
        ),
        table="results/eval/parta_sdedit.json",
    log:
        "logs/eval/parta_sdedit.log",
    benchmark:
        "benchmarks/rules/eval_parta_sdedit.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("eval_parta_sdedit"),
    params:
        sections=[layout.record(s).id for s in layout.SDEDIT],
        timesteps=PA.timesteps(),
        guidance_scale=PARTA["guidance_scale"],
        title=PA.eval_title("sdedit"),
    script:
        "../scripts/eval_parta_sdedit.py"


rule eval_parta_inpaint:
    """Inpainting error inside vs outside the mask (from the saved arrays)."""
    input:
        npz=f"{PA_DIR}/a1_7_2/table.npz",
        lib=script_lib("eval_parta_inpaint"),
    output:
        csv="results/eval/parta_inpaint.csv",
        png=measured_report(
            "results/eval/parta_inpaint.png", "parta_scores", PA.eval_title("inpaint")
        ),
        table="results/eval/parta_inpaint.json",
    log:
        "logs/eval/parta_inpaint.log",
    benchmark:
        "benchmarks/rules/eval_parta_inpaint.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("eval_parta_inpaint"),
    params:
        masks=[dict(s) for s in PARTA["inpaint"]],
        title=PA.eval_title("inpaint"),
    script:
        "../scripts/eval_parta_inpaint.py"


rule eval_parta_illusions:
    """mnist backend: anagram / hybrid success rates over N samples per pair (one batch each)."""
    input:
        unpack(pa_model_inputs),
        classifier="results/eval/classifier.pt",
        lib=script_lib("eval_parta_illusions"),
    output:
        csv="results/eval/parta_illusions.csv",
        png=measured_report(
            "results/eval/parta_illusions.png", "parta_scores", PA.eval_title("illusions")
        ),
        table="results/eval/parta_illusions.json",
        npz="results/eval/parta_illusions.npz",
    log:
        "logs/eval/parta_illusions.log",
    benchmark:
        "benchmarks/rules/eval_parta_illusions.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: SAMPLE_THREADS
    resources:
        **sized("eval_parta_illusions", gpu=True),
    params:
        **PA.model_params(upscale=False),
        samples=EVAL["parta"]["illusion_samples"],
        far_sigma=EVAL["parta"]["hybrid_far_sigma"],
        anagrams=PA.anagrams(),
        hybrids=dict(PARTA["hybrids"]),
        title=PA.eval_title("illusions"),
    script:
        "../scripts/eval_parta_illusions.py"


rule eval_parta_summary:
    """Every Part A metric in results/eval/parta_summary.json."""
    input:
        unpack(pa_eval_summary_inputs),
        lib=script_lib("eval_parta_summary"),
    output:
        "results/eval/parta_summary.json",
    log:
        "logs/eval/parta_summary.log",
    benchmark:
        "benchmarks/rules/eval_parta_summary.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("eval_parta_summary"),
    params:
        backend=PA_BACKEND,
    script:
        "../scripts/eval_parta_summary.py"


rule benchmarks_table:
    """The committed benchmarks/results/*.json as one table (unknown files: a logged note)."""
    input:
        results=benchmark_results(),
        lib=script_lib("benchmarks_table"),
    output:
        csv="results/benchmarks/table.csv",
        table="results/benchmarks/table.json",
    log:
        "logs/report/benchmarks_table.log",
    benchmark:
        "benchmarks/rules/benchmarks_table.tsv"
    conda:
        "../envs/fundiff.yaml"
    threads: 1
    resources:
        **sized("benchmarks_table"),
    script:
        "../scripts/benchmarks_table.py"
