# Helpers shared by all rule files (config validation, target lists, params, library inputs).
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from fundiff.config import ConfigError, validate  # noqa: E402

try:
    validate(config, Path(workflow.basedir) / "schemas/config.schema.yaml")
except ConfigError as e:
    raise WorkflowError(f"config error: {e}") from None

PARTB = config["partb"]
EVAL = config["eval"]
CONDITIONED = ["time_cond", "class_cond"]
MODELS = ["denoiser"] + CONDITIONED
LIB_DIR = Path(workflow.basedir) / "src" / "fundiff"


def lib(*modules):
    """Library source files that a rule uses, declared as inputs so that editing them reruns it (Snakemake tracks
    only script files by itself)."""
    return sorted(str(LIB_DIR / f"{m}.py") for m in modules)


def gpus():
    return config["gpus_per_job"]


def train_params(wildcards):
    """Everything that defines a model's training run (plain builtins, compared by repr)."""
    schedule = PARTB["schedule"]
    model = PARTB[wildcards.model]
    task = {"denoiser": "denoiser", "time_cond": "time", "class_cond": "class"}[wildcards.model]
    return {
        "task": task,
        "hidden": model["hidden"],
        "batch_size": model["batch_size"],
        "epochs": model["epochs"],
        "lr": model["lr"],
        "lr_decay_to": model.get("lr_decay_to"),
        "ema_decay": model.get("ema_decay", 0.0),
        "sigma": model.get("sigma", 0.5),
        "p_uncond": model.get("p_uncond", 0.1),
        "num_timesteps": schedule["num_timesteps"],
        "beta_start": schedule["beta_start"],
        "beta_end": schedule["beta_end"],
        "seed": config["seed"],
        "channels_last": PARTB.get("channels_last", False),
        "amp_bf16": PARTB.get("amp_bf16", False),
    }


def epoch_checkpoint(wildcards):
    return f"results/partb/{wildcards.model}/epochs/epoch_{int(wildcards.epoch):03d}.pt"


def sample_params(wildcards):
    model = PARTB[wildcards.model]
    if wildcards.model == "class_cond":
        return {
            "samples_per_class": model["samples_per_class"],
            "guidance_scale": model["guidance_scale"],
        }
    return {"num_samples": model["num_samples"]}


def final_epoch(wildcards):
    return PARTB[wildcards.model]["epochs"]


def partb_figures():
    """Every Part B figure (PNG/GIF) the configuration asks for."""
    den = PARTB["denoiser"]
    out = ["results/partb/noising/grid.png", "results/partb/denoiser/ood.png"]
    out += expand("results/partb/{model}/loss.png", model=MODELS)
    out += expand("results/partb/denoiser/denoised/epoch_{epoch}.png", epoch=den["show_epochs"])
    for model in CONDITIONED:
        out += expand(
            "results/partb/{model}/samples/epoch_{epoch}.png",
            model=model,
            epoch=PARTB[model]["sample_epochs"],
        )
        out.append(f"results/partb/{model}/sampling.gif")
    return out


def sweep_scales():
    """CFG scales of the evaluation sweep as wildcard strings ('0', '5', '7.5'), always including
    the scale of the sample grids (its row is the class-conditioned model's final score)."""
    scales = set(map(float, EVAL["cfg_sweep"]["scales"]))
    scales.add(float(PARTB["class_cond"]["guidance_scale"]))
    return [f"{s:g}" for s in sorted(scales)]


def eval_grid_npzs():
    """The raw samples of every Part B sample grid (scored per epoch)."""
    return [
        f"results/partb/{model}/samples/epoch_{epoch}.npz"
        for model in CONDITIONED
        for epoch in PARTB[model]["sample_epochs"]
    ]


def eval_targets():
    """Measured results: classifier, per-epoch and final Part B scores, CFG sweep, summary."""
    return [
        "results/eval/summary.json",
        "results/eval/partb_epochs.png",
        "results/eval/cfg_sweep.png",
    ]


def all_targets():
    return partb_figures() + ["results/partb/index.html"] + eval_targets()
