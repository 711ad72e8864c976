"""Part B rule settings, assembled from the validated config (torch-free: the workflow calls these
while parsing the Snakefile).

Each function returns the plain builtins that a rule passes as a param. Snakemake compares params
by ``repr``, so the keys, their order and their values are a contract: changing one reruns every
job that takes it (for :func:`train_settings`, every training). Defaults are filled once by
:func:`fundiff.config.validate`; only settings a model's schema does not have come from
:data:`UNSET`.
"""

from __future__ import annotations

from fundiff.seeds import offset_seed
from fundiff.workflow.resources import compute_threads, uses_gpu

MODELS = ["denoiser", "time_cond", "class_cond"]
CONDITIONED = ["time_cond", "class_cond"]  # the DDPMs: sample grids, GIFs, evaluation samples
TASK = {"denoiser": "denoiser", "time_cond": "time", "class_cond": "class"}  # TrainConfig.task

# TrainConfig's value of a setting that a model does not configure: the schema gives `sigma` only
# to the denoiser and `p_uncond` only to class_cond, and `lr_decay_to` / `ema_decay` may be left
# out (tests/unit/diffusion/test_settings.py pins these to TrainConfig's field defaults).
UNSET = {
    "lr_decay_to": None,
    "ema_decay": 0.0,
    "min_snr_gamma": None,
    "sigma": 0.5,
    "p_uncond": 0.1,
}

# What the calibration times (a class_cond training step): only the settings that change its
# speed (and the seed), so that editing e.g. epochs or lr does not re-measure (and so rerun
# every training).
CALIBRATION_KEYS = (
    "task",
    "hidden",
    "batch_size",
    "channels_last",
    "p_uncond",
    "min_snr_gamma",
    "seed",
)


def _value(model_cfg: dict, key: str):
    return model_cfg[key] if key in model_cfg else UNSET[key]


def train_threads(config: dict) -> int:
    """Threads of one training job, fixed when the workflow is planned: partb.train_threads, or for
    ``auto`` one thread on a CPU preset (the small UNets train faster side by side, one thread
    each, than one after the other on all cores: docs/benchmarks.md) and threads_per_job on a GPU
    preset; never more than threads_per_job."""
    cap = compute_threads(config)
    wanted = config["partb"]["train_threads"]
    if wanted == "auto":
        return cap if uses_gpu(config) else 1
    return max(1, min(int(wanted), cap))


def sample_threads(config: dict) -> int:
    """Threads of one Part B sampling job (grids, GIFs, evaluation samples, the Part A model
    jobs' metrics): as a training job's (:func:`train_threads`), so that on a CPU the many short
    sampling jobs run side by side, one thread each, as the trainings do."""
    return train_threads(config)


def train_settings(config: dict, model: str) -> dict:
    """A model's configured training run (the fields of TrainConfig) with its planned threads;
    the precision is measured (rule calibrate) and added by the training job
    (:func:`with_precision`)."""
    partb, m = config["partb"], config["partb"][model]
    schedule = partb["schedule"]
    return {
        "task": TASK[model],
        "hidden": m["hidden"],
        "batch_size": m["batch_size"],
        "epochs": m["epochs"],
        "lr": m["lr"],
        "lr_decay_to": _value(m, "lr_decay_to"),
        "lr_warmup_steps": m["lr_warmup_steps"],
        "ema_decay": _value(m, "ema_decay"),
        "ema_warmup": m["ema_warmup"],
        "min_snr_gamma": _value(m, "min_snr_gamma"),
        "sigma": _value(m, "sigma"),
        "p_uncond": _value(m, "p_uncond"),
        "num_timesteps": schedule["num_timesteps"],
        "beta_start": schedule["beta_start"],
        "beta_end": schedule["beta_end"],
        "seed": config["seed"],
        "channels_last": partb["channels_last"],
        "cuda_graph": partb["cuda_graph"],
        "threads": train_threads(config),
    }


def with_precision(settings: dict, calibration: str) -> dict:
    """Training settings with the measured precision (``amp_bf16`` of the calibration rule's
    JSON at ``calibration``): everything that defines a training run."""
    import json

    with open(calibration) as f:
        return {**settings, "amp_bf16": bool(json.load(f)["choice"]["amp_bf16"])}


def calibration_settings(config: dict) -> dict:
    """The class_cond training step that the calibration times (:data:`CALIBRATION_KEYS`)."""
    t = train_settings(config, "class_cond")
    return {k: t[k] for k in CALIBRATION_KEYS}


def sample_settings(config: dict, model: str) -> dict:
    """What a sample grid of ``model`` draws: the class-conditioned grid has samples_per_class
    rows of digits 0-9 at the configured guidance scale; the time-conditioned one num_samples."""
    m = config["partb"][model]
    if model == "class_cond":
        keys = ("hidden", "samples_per_class", "guidance_scale")
    else:
        keys = ("hidden", "num_samples")
    return {k: m[k] for k in keys}


def gif_guidance_scale(config: dict, model: str) -> float:
    """CFG scale of the sampling GIF: only the class-conditioned model uses it (1.0 = no-op), so
    editing partb.class_cond.guidance_scale does not rerun the time-conditioned GIF."""
    return config["partb"]["class_cond"]["guidance_scale"] if model == "class_cond" else 1.0


def scale_wildcard(scale) -> str:
    """A CFG scale as a file-name string that reads back as the same float: the short ``:g``
    form where it is exact ('0', '5', '7.5', '1e-05'), else the shortest round-trip repr
    ('0.3333333', where ``:g`` would round to '0.333333')."""
    scale = float(scale) + 0.0  # -0.0 -> 0.0
    short = f"{scale:g}"
    return short if float(short) == scale else repr(scale)


def sweep_scales(config: dict) -> list[str]:
    """CFG scales of the evaluation sweep as wildcard strings (:func:`scale_wildcard`: '0', '5',
    '7.5'; ``float()`` of each is the configured value exactly), always including the scale of
    the sample grids (its row is the class-conditioned model's final score)."""
    scales = {float(s) + 0.0 for s in config["eval"]["cfg_sweep"]["scales"]}
    scales.add(float(config["partb"]["class_cond"]["guidance_scale"]) + 0.0)
    return [scale_wildcard(s) for s in sorted(scales)]


def sweep_samples_per_class(config: dict, scale) -> int:
    """Digits per class at one sweep scale (a number or its wildcard string): more at the grids'
    scale (the final score)."""
    sweep = config["eval"]["cfg_sweep"]
    guided = sweep["guided_samples_per_class"] or sweep["samples_per_class"]
    main = float(scale) == float(config["partb"]["class_cond"]["guidance_scale"])
    return guided if main else sweep["samples_per_class"]


def eval_seed(config: dict, model: str) -> int:
    """Seed of a final model's evaluation sample (fundiff.seeds: eval_time_cond / eval_class_cond)."""
    return offset_seed(config["seed"], f"eval_{model}")


# ---------------------------------------------------------------- beyond the spec: rectified flow
# The flow model trained beside each DDPM (rules/beyond_flow.smk, config beyond.flow): results
# under results/beyond/flow/{model}/ with {model} the DDPM it is compared with.
FLOW_TASK = {"time_cond": "flow_time", "class_cond": "flow_class"}  # TrainConfig.task
# DDPM-only training settings: the noise schedule (flow has none) and the Min-SNR weight (an SNR
# of that schedule); left at TrainConfig's defaults, so editing them does not retrain flow.
_DDPM_ONLY = ("num_timesteps", "beta_start", "beta_end", "min_snr_gamma")


def flow_train_settings(config: dict, model: str) -> dict:
    """The flow model's training run: the DDPM ``model``'s own settings (same width, batch,
    epochs, LR schedule, EMA, digits and seed: equal training steps by construction), with only
    the task changed and the DDPM-only settings left out."""
    ddpm = train_settings(config, model)
    out = {k: v for k, v in ddpm.items() if k not in _DDPM_ONLY}
    return {**out, "task": FLOW_TASK[model]}


def flow_sample_epochs(config: dict, model: str) -> list[int]:
    """Epochs with a flow grid and GIF: beyond.flow.sample_epochs, null = the DDPM's."""
    epochs = config["beyond"]["flow"]["sample_epochs"]
    return list(config["partb"][model]["sample_epochs"] if epochs is None else epochs)


def flow_guidance_scale(config: dict, model: str) -> float:
    """CFG gamma of the class-conditioned flow model (beyond.flow.guidance_scale; null = the
    DDPM's partb.class_cond.guidance_scale); 1.0 (no-op) for the time-conditioned one."""
    if model != "class_cond":
        return 1.0
    scale = config["beyond"]["flow"]["guidance_scale"]
    return float(config["partb"]["class_cond"]["guidance_scale"] if scale is None else scale)


def flow_sample_settings(config: dict, model: str) -> dict:
    """What a flow sample grid and GIF draw: the DDPM grid's digits (:func:`sample_settings`)
    with the flow's Euler steps and CFG scale, and the GIF's frames."""
    f = config["beyond"]["flow"]
    grid = sample_settings(config, model)
    grid.pop("guidance_scale", None)
    if model == "class_cond":
        grid["guidance_scale"] = flow_guidance_scale(config, model)
    gif = config["partb"]["gif"]
    return {
        **grid,
        "steps": f["sample_steps"],
        "gif": {
            "num_samples": gif["num_samples"],
            "frame_every": f["gif_frame_every"],
            "fps": gif["fps"],
        },
    }


def flow_compare_settings(config: dict, model: str) -> dict:
    """The DDPM-vs-flow comparison of one conditioning (rule flow_compare): the same n digits
    (balanced classes for class_cond) from each final model, DDPM at its full T steps and
    strided to each of compare_steps, flow at sample_steps and each of compare_steps."""
    f, partb = config["beyond"]["flow"], config["partb"]
    return {
        "num_samples": f["num_samples"],
        "compare_steps": sorted(set(f["compare_steps"])),
        "sample_steps": f["sample_steps"],
        "guidance_scale": flow_guidance_scale(config, model),
        "ddpm_guidance_scale": float(partb["class_cond"]["guidance_scale"])
        if model == "class_cond"
        else 1.0,
        "epochs": partb[model]["epochs"],
        "hidden": partb[model]["hidden"],
        "schedule": dict(partb["schedule"]),
        "seed": eval_seed(config, model),  # the B4 evaluation's seed: its noise, its n
    }


FLOW_DIR = "results/beyond/flow"


def flow_files(config: dict, kind: str) -> list[str]:
    """beyond.flow's files of one kind for rule all and the report (rules/beyond_flow.smk):
    "figures" (loss curves, grids, GIFs), "tables" (their JSON specs + the comparisons) or
    "benchmarks" (the benchmark: files of its training, sampling and comparison jobs); none
    while beyond.flow.enabled is false."""
    if not config["beyond"]["flow"]["enabled"]:
        return []
    out = []
    for m in CONDITIONED:
        epochs = flow_sample_epochs(config, m)
        if kind == "benchmarks":
            out += [f"benchmarks/rules/flow_{r}_{m}.tsv" for r in ("train", "compare")]
            out += [f"benchmarks/rules/flow_sample_{m}_{e}.tsv" for e in epochs]
            continue
        image, gif = {"figures": ("png", "gif"), "tables": ("json", "json")}[kind]
        out.append(f"{FLOW_DIR}/{m}/loss.{image}")
        out += [f"{FLOW_DIR}/{m}/samples/epoch_{e}.{image}" for e in epochs]
        out += [f"{FLOW_DIR}/{m}/sampling/epoch_{e}.{gif}" for e in epochs]
        if kind == "tables":
            out.append(f"{FLOW_DIR}/compare_{m}.json")
    return out


def partb_files(config: dict, kind: str) -> list[str]:
    """Part B's files of one kind, in writeup order, for rule all, the evaluation and the report
    (rules/common.smk): "figures" (every PNG/GIF), "tables" (the JSON table spec beside each
    figure), "grids" (the raw samples of every sample grid, scored per epoch), "checkpoints"
    (each model's epochs folder) or "benchmarks" (the benchmark: files of the trainings and the
    sampling jobs)."""
    partb = config["partb"]
    epochs = {m: partb[m]["sample_epochs"] for m in CONDITIONED}
    if kind == "checkpoints":
        return [f"results/partb/{m}/epochs" for m in MODELS]
    if kind == "grids":
        return [f"results/partb/{m}/samples/epoch_{e}.npz" for m in CONDITIONED for e in epochs[m]]
    if kind == "benchmarks":
        out = [f"benchmarks/rules/train_{m}.tsv" for m in MODELS]
        for m in CONDITIONED:
            out += [
                f"benchmarks/rules/{r}_{m}_{e}.tsv"
                for r in ("sample", "sampling_gif")
                for e in epochs[m]
            ]
        return out
    if kind not in ("figures", "tables"):
        raise ValueError(f"unknown kind of Part B file: {kind!r}")
    out = ["results/partb/noising/grid.png", "results/partb/denoiser/ood.png"]
    out += [f"results/partb/{m}/loss.png" for m in MODELS]
    out += [
        f"results/partb/denoiser/denoised/epoch_{e}.png" for e in partb["denoiser"]["show_epochs"]
    ]
    for m in CONDITIONED:
        out += [f"results/partb/{m}/samples/epoch_{e}.png" for e in epochs[m]]
        out += [f"results/partb/{m}/sampling/epoch_{e}.gif" for e in epochs[m]]
    if kind == "tables":
        out = [f.rsplit(".", 1)[0] + ".json" for f in out]
    return out
