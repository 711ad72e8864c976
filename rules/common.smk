# Helpers shared by all rule files (config validation, target lists, params, library inputs).
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from fundiff.config import ConfigError, deep_merge, preset_notes, validate  # noqa: E402
from snakemake.exceptions import IncompleteCheckpointException  # noqa: E402
from fundiff.report.sections import SECTIONS  # noqa: E402
from fundiff.workflow.deps import closure, module_closure  # noqa: E402

SCHEMA = Path(workflow.basedir) / "schemas/config.schema.yaml"
try:
    validate(config, SCHEMA)
except ConfigError as e:
    raise WorkflowError(f"config error: {e}") from None

PARTB = config["partb"]


def spec_preset_notes():
    """Settings of this preset that differ from the spec (configs/fa24.yaml over config.yaml),
    each with its spec value: the report's preset notes (plain builtins)."""
    import yaml

    base = Path(workflow.basedir)
    spec = deep_merge(
        yaml.safe_load((base / "config.yaml").read_text()),
        yaml.safe_load((base / "configs/fa24.yaml").read_text()),
    )
    return preset_notes(config, validate(spec, SCHEMA))


EVAL = config["eval"]
CONDITIONED = ["time_cond", "class_cond"]
MODELS = ["denoiser"] + CONDITIONED
SRC_DIR = Path(workflow.basedir) / "src"


def script_lib(script):
    """Library files a rule's script runs, computed (fundiff.workflow.deps: the closure of its
    imports) and declared as inputs, so that editing one reruns exactly the rules that use it
    (Snakemake tracks only the script file by itself). The Part A backend is loaded by name at
    run time, so a script that reaches the backend interface gets the configured backend's
    files. Relative to the working directory, so that a moved checkout with its results/ and
    .snakemake/ stays up to date (absolute paths would change the recorded inputs)."""
    files = set(closure(Path(workflow.basedir) / "scripts" / f"{script}.py", SRC_DIR))
    if SRC_DIR / "fundiff/parta/backends/__init__.py" in files:
        backend = config["parta"]["backend"]["name"]
        files |= set(module_closure(f"fundiff.parta.backends.{backend}", SRC_DIR))
    return sorted(os.path.relpath(f) for f in files)


def gpus():
    """The `gpu` resource of the GPU-capable rules, from config gpus_per_job (0 on a CPU).
    Locally it only counts against --resources gpu=N (profiles/default: 1, so GPU jobs run one at
    a time); under Slurm it becomes `sbatch --gpus=N` (0: no GPU requested)."""
    return config["gpus_per_job"]


def gif_guidance_scale(wildcards):
    """CFG scale of the sampling GIF: only the class-conditioned model uses it (1.0 = no-op), so
    editing partb.class_cond.guidance_scale does not rerun the time-conditioned GIF."""
    return PARTB["class_cond"]["guidance_scale"] if wildcards.model == "class_cond" else 1.0


def train_settings(model):
    """A model's configured training run (plain builtins), before the measured layout."""
    schedule = PARTB["schedule"]
    m = PARTB[model]
    task = {"denoiser": "denoiser", "time_cond": "time", "class_cond": "class"}[model]
    return {
        "task": task,
        "hidden": m["hidden"],
        "batch_size": m["batch_size"],
        "epochs": m["epochs"],
        "lr": m["lr"],
        "lr_decay_to": m.get("lr_decay_to"),
        "lr_warmup_steps": m["lr_warmup_steps"],
        "ema_decay": m.get("ema_decay", 0.0),
        "ema_warmup": m["ema_warmup"],
        "min_snr_gamma": m.get("min_snr_gamma"),
        "sigma": m.get("sigma", 0.5),
        "p_uncond": m.get("p_uncond", 0.1),
        "num_timesteps": schedule["num_timesteps"],
        "beta_start": schedule["beta_start"],
        "beta_end": schedule["beta_end"],
        "seed": config["seed"],
        "channels_last": PARTB["channels_last"],
        "cuda_graph": PARTB["cuda_graph"],
    }


CALIBRATION = "results/partb/calibration.json"
# cores a measured layout may use: this machine's, never a cluster profile's whole `cores`
LAYOUT_CORES = max(1, min(workflow.cores, os.cpu_count() or 1))


def calibration_settings():
    """What the calibration times: a training step of the class-conditioned model (the largest
    step of the three) -- only the settings that change its speed, so that editing e.g. epochs
    or lr does not re-measure (and so rerun every training)."""
    t = train_settings("class_cond")
    keys = ("task", "hidden", "batch_size", "channels_last", "p_uncond", "min_snr_gamma", "seed")
    return {k: t[k] for k in keys}


def calibration_input(wildcards):
    """The measured training layout (a checkpoint: training jobs are planned once it exists)."""
    return checkpoints.calibrate.get().output[0]


def calibration_choice():
    """The measured layout; until the checkpoint has run (a dry run, or while the DAG is first
    built) a placeholder: the jobs that use it are re-planned once it exists."""
    try:
        path = checkpoints.calibrate.get().output[0]
    except IncompleteCheckpointException:
        return {
            "amp_bf16": "measured",
            "threads": LAYOUT_CORES,
            "sample_bf16": "measured",
            "sample_threads": LAYOUT_CORES,
        }
    with open(path) as f:
        return json.load(f)["choice"]


def train_threads(wildcards):
    """Threads per training job, as measured fastest (all cores, or jobs side by side)."""
    return calibration_choice()["threads"]


def sample_threads(wildcards):
    """Threads per Part B sampling / evaluation job, as measured fastest."""
    return calibration_choice().get("sample_threads", LAYOUT_CORES)


def train_params(wildcards):
    """Everything that defines a model's training run, with the measured precision and threads
    (plain builtins, compared by repr: a new choice reruns the training)."""
    choice = calibration_choice()
    return {
        **train_settings(wildcards.model),
        "amp_bf16": choice["amp_bf16"],
        "threads": choice["threads"],
    }


def epoch_checkpoint(wildcards):
    return f"results/partb/{wildcards.model}/epochs/epoch_{int(wildcards.epoch):03d}.pt"


def sample_params(wildcards):
    model = PARTB[wildcards.model]
    if wildcards.model == "class_cond":
        return {
            "hidden": model["hidden"],
            "samples_per_class": model["samples_per_class"],
            "guidance_scale": model["guidance_scale"],
        }
    return {"hidden": model["hidden"], "num_samples": model["num_samples"]}


def hidden(wildcards):
    return PARTB[wildcards.model]["hidden"]


def final_epoch(wildcards):
    return PARTB[wildcards.model]["epochs"]


# writeup section of each Part B figure kind (fundiff.report.tables.SECTIONS)
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


# ---------------------------------------------------------------- Part A
# Part A's files, titles and params: fundiff.parta.layout, bound to this config (PA.f(...) is
# layout.f(config, ...)). Here only the DAG edges that need the workflow (the checkpoint).
from functools import partial  # noqa: E402
from fundiff.parta import layout  # noqa: E402

PARTA = config["parta"]
PA = layout.PartA(config)
PA_DIR = layout.PA_DIR
PA_BACKEND = PARTA["backend"]["name"]


def pa_model_inputs(wildcards=None):
    """The DAG edge to the model: Part B's class_cond weights (+ the measured sampling
    precision, partb.sample_bf16), or the prompt-embedding cache."""
    if PA_BACKEND == "mnist":
        return {"model": "results/partb/class_cond/epochs", "calibration": calibration_input(None)}
    return {"prompt_embeds": f"{PA_DIR}/prompt_embeds.pt"}


def pa_inputs(files):
    """Input function: the model + ``files(wildcards)`` (the images, from the layout)."""
    return lambda wildcards: {**pa_model_inputs(), **files(wildcards)}


def pa_pair_param(key):
    """Input function: ``key`` of the params of the {sdir} section's prompt {pair}."""
    return lambda w: PA.pair_params(w.sdir, w.pair)[key]


def pa_eval_summary_inputs(wildcards):
    return dict(zip(PA.eval_names(), PA.eval_files("csv")))


parta_tables, parta_figures = PA.tables, PA.figures
parta_eval_tables = partial(PA.eval_files, "json")
parta_eval_figures = partial(PA.eval_files, "png")
parta_eval_benchmarks = partial(PA.eval_files, "tsv")


# ---------------------------------------------------------------- Part B and report targets
def partb_tables():
    """The JSON table spec (fundiff.report.tables) beside every Part B figure, in writeup order."""
    return [str(Path(f).with_suffix(".json")) for f in partb_figures()]


def partb_checkpoints():
    return expand("results/partb/{model}/epochs", model=MODELS)


def partb_benchmarks():
    """benchmark: files of the Part B jobs in the DAG (rule_wildcards.tsv)."""
    out = expand("benchmarks/rules/train_{model}.tsv", model=MODELS)
    for model in CONDITIONED:
        epochs = PARTB[model]["sample_epochs"]
        out += expand("benchmarks/rules/sample_{m}_{epoch}.tsv", m=model, epoch=epochs)
        out.append(f"benchmarks/rules/sampling_gif_{model}.tsv")
    return out


def sweep_scales():
    """CFG scales of the evaluation sweep as wildcard strings ('0', '5', '7.5'), always including
    the scale of the sample grids (its row is the class-conditioned model's final score)."""
    scales = set(map(float, EVAL["cfg_sweep"]["scales"]))
    scales.add(float(PARTB["class_cond"]["guidance_scale"]))
    return [f"{s:g}" for s in sorted(scales)]


def sweep_samples_per_class(scale):
    """Digits per class at one sweep scale: more at the grids' scale (the final score)."""
    sweep = EVAL["cfg_sweep"]
    guided = sweep["guided_samples_per_class"] or sweep["samples_per_class"]
    main = float(scale) == float(PARTB["class_cond"]["guidance_scale"])
    return guided if main else sweep["samples_per_class"]


def eval_grid_npzs():
    """The raw samples of every Part B sample grid (scored per epoch)."""
    epochs = {m: PARTB[m]["sample_epochs"] for m in CONDITIONED}
    return [f"results/partb/{m}/samples/epoch_{e}.npz" for m in CONDITIONED for e in epochs[m]]


def eval_files(ext):
    """The measured results' plots (png) and table specs (json, section B4 of the report)."""
    return [f"results/eval/{name}.{ext}" for name in ("partb_epochs", "cfg_sweep")]


eval_tables, eval_figures = partial(eval_files, "json"), partial(eval_files, "png")


def all_targets():
    evals = ["results/eval/summary.json", *eval_figures(), "results/eval/parta_summary.json"]
    pages = ["results/report/index.html", "results/report/README.md"]
    return partb_figures() + parta_tables() + evals + ["results/benchmarks/table.json"] + pages


def benchmark_results():
    """The committed speed benchmarks (benchmarks/results/*.json), relative to the workdir;
    a file added later changes this input set, so the benchmark table is rebuilt."""
    folder = Path(workflow.basedir) / "benchmarks" / "results"
    return sorted(os.path.relpath(p) for p in folder.glob("*.json"))
