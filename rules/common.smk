# Helpers shared by all rule files (config validation, target lists, params, library inputs).
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from fundiff.config import ConfigError, validate  # noqa: E402
from fundiff.figures import SECTIONS  # noqa: E402

try:
    validate(config, Path(workflow.basedir) / "schemas/config.schema.yaml")
except ConfigError as e:
    raise WorkflowError(f"config error: {e}") from None

PARTB = config["partb"]
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


# writeup section of each Part B figure kind (fundiff.figures.SECTIONS)
LOSS_SECTION = {"denoiser": "B1.2.1", "time_cond": "B2.2", "class_cond": "B2.4"}
SAMPLE_SECTION = {"time_cond": "B2.3", "class_cond": "B2.5"}
MODEL_NAME = {
    "denoiser": "single-step denoiser",
    "time_cond": "time-conditioned UNet",
    "class_cond": "class-conditioned UNet",
}


def section_title(section):
    """'B2.3 2.3 Sampling ...' style names for Snakemake report subcategories."""
    return f"{section[0]}{SECTIONS[section]}"


def loss_section(wildcards):
    return LOSS_SECTION[wildcards.model]


def sample_section(wildcards):
    return SAMPLE_SECTION[wildcards.model]


def loss_subcategory(wildcards):
    return section_title(LOSS_SECTION[wildcards.model])


def sample_subcategory(wildcards):
    return section_title(SAMPLE_SECTION[wildcards.model])


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


def partb_tables():
    """The JSON table spec (fundiff.figures) beside every Part B figure, in writeup order."""
    return [str(Path(f).with_suffix(".json")) for f in partb_figures()]


def partb_checkpoints():
    return expand("results/partb/{model}/epochs", model=MODELS)


def partb_benchmarks():
    """benchmark: files of the Part B jobs in the DAG (rule_wildcards.tsv)."""
    out = expand("benchmarks/rules/train_{model}.tsv", model=MODELS)
    for model in CONDITIONED:
        out += expand(
            "benchmarks/rules/sample_{model}_{epoch}.tsv",
            model=model,
            epoch=PARTB[model]["sample_epochs"],
        )
        out.append(f"benchmarks/rules/sampling_gif_{model}.tsv")
    return out


def all_targets():
    return partb_figures() + ["results/report/index.html", "results/report/README.md"]
