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
PARTA = config["parta"]
# the anagram's second view (flip | rotate180), its default read from the schema
PA_ANAGRAM_VIEW = PARTA["anagrams"]["view"]
# how the A1.8 title and column header name that view
PA_VIEW_WORDS = {"flip": "flipped upside down", "rotate180": "turned 180°"}[PA_ANAGRAM_VIEW]
PA_BACKEND = PARTA["backend"]["name"]
PA_TIMESTEPS = list(range(PARTA["timesteps"]["start"], -1, -PARTA["timesteps"]["stride"]))
PA_DIR = "results/parta"
# sections whose figure is assembled from parts (one rule per image / prompt pair / step count)
PA_SDEDIT = {"a1_7": "A1.7", "a1_7_1": "A1.7.1", "a1_7_3": "A1.7.3"}
PA_PARTED = {"a0": "A0", **PA_SDEDIT, "a1_7_2": "A1.7.2", "a1_8": "A1.8", "a1_9": "A1.9"}
PA_TITLES = {
    "a0": "Text-to-image with the pretrained model",
    "a1_7": "SDEdit: noise to timesteps[i_start], then denoise with CFG",
    "a1_7_1": "SDEdit of a web image and two hand-drawn images",
    "a1_7_3": "Text-conditional image-to-image translation",
    "a1_7_2": "Inpainting (RePaint rule, mask 1 = new content)",
    "a1_8": f"Visual anagrams (the second view is the image {PA_VIEW_WORDS})",
    "a1_9": "Hybrid images (low frequencies of prompt 1 + high frequencies of prompt 2)",
}


def pa_sdedit_images(sdir):
    sd = PARTA["sdedit"]
    return {"a1_7": sd["images"], "a1_7_1": sd["edit_images"], "a1_7_3": sd["text"]["images"]}[sdir]


def pa_parts_keys(sdir):
    """Wildcard values of a parted section: step counts, image names or pair names."""
    if sdir == "a0":
        return [str(s) for s in PARTA["a0"]["steps"]]
    if sdir in PA_SDEDIT:
        return pa_sdedit_images(sdir)
    if sdir == "a1_7_2":
        return [s["image"] for s in PARTA["inpaint"]]
    return [p["name"] for p in PARTA["anagrams" if sdir == "a1_8" else "hybrids"]["pairs"]]


def pa_image(name):
    return f"results/images/{name}.png"


def pa_backend():
    """Backend config for the scripts (plain dict); mnist adds its final-epoch checkpoint."""
    backend = dict(PARTA["backend"])
    if PA_BACKEND == "mnist":
        epochs = PARTB["class_cond"]["epochs"]
        backend["checkpoint"] = f"results/partb/class_cond/epochs/epoch_{epochs:03d}.pt"
    return backend


def pa_model_input():
    """The DAG edge to the model: Part B's class_cond weights, or the prompt-embedding cache."""
    if PA_BACKEND == "mnist":  # + the measured sampling precision (partb.sample_bf16)
        return {"model": "results/partb/class_cond/epochs", "calibration": calibration_input(None)}
    return {"prompt_embeds": f"{PA_DIR}/prompt_embeds.pt"}


def pa_model_inputs(wildcards):
    return pa_model_input()


def pa_image_inputs(wildcards):
    """Model + the input image of the rule's {image} wildcard (+ a mask image for inpainting)."""
    out = {**pa_model_input(), "image": pa_image(wildcards.image)}
    mask = pa_inpaint_spec(wildcards.image).get("mask")
    if mask:
        out["mask"] = mask
    return out


def pa_test_image_inputs(wildcards):
    return {**pa_model_input(), "image": pa_image(PARTA["forward"]["image"])}


def pa_source_inputs(wildcards):
    """What an image source needs locally: the repo file, or the MNIST cache."""
    kind, _, rest = PARTA["images"][wildcards.image]["source"].partition(":")
    if kind == "file":
        return {"file": rest}
    if kind == "mnist":
        return {"mnist": "results/data/mnist.pt"}
    return {}


def pa_source(wildcards):
    return dict(PARTA["images"][wildcards.image])


def pa_invert(wildcards):
    return PARTA["images"][wildcards.image].get("invert", "auto")


def pa_sdedit_prompt(wildcards):
    return PARTA["sdedit"]["text"]["prompt"] if wildcards.sdir == "a1_7_3" else PARTA["null_prompt"]


def pa_inpaint_spec(image):
    return next((dict(s) for s in PARTA["inpaint"] if s["image"] == image), {})


def pa_inpaint_mask(wildcards):
    return pa_inpaint_spec(wildcards.image)


def pa_pair(wildcards):
    pairs = PARTA["anagrams" if wildcards.sdir == "a1_8" else "hybrids"]["pairs"]
    return next(list(p["prompts"]) for p in pairs if p["name"] == wildcards.pair)


def pa_pair_kind(wildcards):
    return "anagram" if wildcards.sdir == "a1_8" else "hybrid"


def pa_pair_view(wildcards):
    """The anagram's second view (parta.anagrams.view: flip | rotate180); None for hybrids."""
    return PA_ANAGRAM_VIEW if wildcards.sdir == "a1_8" else None


def pa_hybrid_filter(wildcards):
    h = PARTA["hybrids"]
    return {"kernel_size": h["kernel_size"], "sigma": h["sigma"]}


def pa_prompts():
    """Every prompt the configuration uses (the encode_prompts cache), sorted."""
    prompts = {"", PARTA["null_prompt"], PARTA["sdedit"]["text"]["prompt"]}
    prompts |= set(PARTA["a0"]["prompts"]) | set(PARTA["sample"]["prompts"])
    prompts |= set(PARTA["cfg"]["prompts"])
    for section in ("anagrams", "hybrids"):
        for pair in PARTA[section]["pairs"]:
            prompts |= set(pair["prompts"])
    return sorted(prompts)


def pa_frame_ts():
    """Timesteps shown by A1.4: i_start and every frame_every-th step after it (not the last)."""
    i0, k = PARTA["iterative"]["i_start"], PARTA["iterative"]["frame_every"]
    return [PA_TIMESTEPS[i0 + j] for j in range(0, len(PA_TIMESTEPS) - i0 - 1, k)]


def pa_cells(sdir, key="{key}"):
    """Image cells of one part (``key`` = step count / image / pair) or single-rule section."""
    d = f"{PA_DIR}/{sdir}"
    if sdir == "a0":
        n = range(len(PARTA["a0"]["prompts"]))
        out = [f"{d}/steps_{key}/prompt_{k}.png" for k in n]
        if PA_BACKEND == "deepfloyd":
            out += [f"{d}/steps_{key}/stage2_{k}.png" for k in n]
        return out
    if sdir in PA_SDEDIT or sdir == "{sdir}":  # "{sdir}": the sdedit rule's output pattern
        cells = [f"i_start_{i}" for i in PARTA["sdedit"]["i_start"]] + ["original"]
        return [f"{d}/{key}/{c}.png" for c in cells]
    if sdir == "a1_7_2":
        return [f"{d}/{key}/{c}.png" for c in ("original", "mask", "to_replace", "inpainted")]
    if sdir in ("a1_8", "a1_9"):
        return [f"{d}/{key}.png"]
    ts = PARTA["forward"]["t"]
    if sdir == "a1_1":
        return [f"{d}/original.png"] + [f"{d}/noisy_t{t}.png" for t in ts]
    if sdir in ("a1_2", "a1_3"):
        prefix = "blur" if sdir == "a1_2" else "one_step"
        out = [f"{d}/original.png"] + [f"{d}/noisy_t{t}.png" for t in ts]
        return out + [f"{d}/{prefix}_t{t}.png" for t in ts]
    if sdir == "a1_4":
        out = [f"{d}/iter_t{t}.png" for t in pa_frame_ts()] + [f"{d}/iter_final.png"]
        return out + [
            f"{d}/{c}.png" for c in ("original", "noisy", "blur", "one_step", "iterative")
        ]
    n = PARTA["sample" if sdir == "a1_5" else "cfg"]["num"]
    return [f"{d}/sample_{k}.png" for k in range(n)]


def pa_part_inputs(wildcards):
    return [f"{PA_DIR}/{wildcards.sdir}/parts/{k}.json" for k in pa_parts_keys(wildcards.sdir)]


def pa_table_section(wildcards):
    return PA_PARTED[wildcards.sdir]


def pa_table_title(wildcards):
    return PA_TITLES[wildcards.sdir]


def pa_table_columns(wildcards):
    sdir = wildcards.sdir
    if sdir == "a0":
        return list(PARTA["a0"]["prompts"])
    if sdir in PA_SDEDIT:
        return [f"i_start = {i}" for i in PARTA["sdedit"]["i_start"]] + ["original"]
    if sdir == "a1_7_2":
        return ["original", "mask", "to replace", "inpainted"]
    if sdir == "a1_8":
        return ["prompt 1 (upright)", f"prompt 2 ({PA_VIEW_WORDS})"]
    return ["hybrid"]


def pa_table_params(wildcards):
    """The values a parted table was made with (shown by the report)."""
    sdir = wildcards.sdir
    out = {"backend": PA_BACKEND, "seed": config["seed"], "guidance_scale": PARTA["guidance_scale"]}
    if sdir == "a0":
        out.update(prompts=list(PARTA["a0"]["prompts"]), steps=list(PARTA["a0"]["steps"]))
        out["stage2"] = (
            f"IFSuperResolutionPipeline, {PARTA['a0']['stage2_steps']} steps"
            if PA_BACKEND == "deepfloyd"
            else "none: the mnist backend has no stage II"
        )
        return out
    out["timesteps"] = PA_TIMESTEPS
    if sdir in PA_SDEDIT:
        i_start = list(PARTA["sdedit"]["i_start"])
        out.update(i_start=i_start, t=[PA_TIMESTEPS[i] for i in i_start])
        out.update(images=pa_sdedit_images(sdir), prompt=pa_sdedit_prompt(wildcards))
    elif sdir == "a1_7_2":
        out.update(masks=[dict(s) for s in PARTA["inpaint"]], prompt=PARTA["null_prompt"])
    elif sdir == "a1_8":
        out["pairs"] = [dict(p) for p in PARTA["anagrams"]["pairs"]]
        out["view"] = PA_ANAGRAM_VIEW
    else:
        h = PARTA["hybrids"]
        out.update(
            pairs=[dict(p) for p in h["pairs"]], kernel_size=h["kernel_size"], sigma=h["sigma"]
        )
    return out


def pa_common(cfg=True):
    """Params shared by every Part A model rule (plain builtins); ``cfg=False`` for the rules
    without classifier-free guidance, so that editing parta.guidance_scale does not rerun them."""
    out = {
        "backend": pa_backend(),
        "device": config["device"],
        "seed": config["seed"],
        "timesteps": PA_TIMESTEPS,
        "null_prompt": PARTA["null_prompt"],
        "upscale": PARTA["upscale"],
    }
    if cfg:
        out["guidance_scale"] = PARTA["guidance_scale"]
    return out


def parta_tables():
    """Every Part A table spec (JSON; each has a sibling .npz with the raw arrays)."""
    singles = ["a1_1", "a1_2", "a1_3", "a1_5", "a1_6"]
    out = [f"{PA_DIR}/{s}/table.json" for s in ["a0", *singles, *list(PA_PARTED)[1:]]]
    out += [f"{PA_DIR}/a1_4/iterative.json", f"{PA_DIR}/a1_4/compare.json"]
    return sorted(set(out))


def parta_figures():
    """Every Part A image cell the configuration asks for."""
    out = []
    for sdir in PA_PARTED:
        for key in pa_parts_keys(sdir):
            out += pa_cells(sdir, key)
    for sdir in ("a1_1", "a1_2", "a1_3", "a1_4", "a1_5", "a1_6"):
        out += pa_cells(sdir)
    return sorted(set(out))


def partb_tables():
    """The JSON table spec (fundiff.report.tables) beside every Part B figure, in writeup order."""
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


def eval_tables():
    """Table specs of the measured results (section B4 of the report)."""
    return ["results/eval/partb_epochs.json", "results/eval/cfg_sweep.json"]


def eval_figures():
    return ["results/eval/partb_epochs.png", "results/eval/cfg_sweep.png"]


def all_targets():
    return (
        partb_figures()
        + parta_tables()
        + eval_targets()
        + ["results/eval/parta_summary.json", "results/benchmarks/table.json"]
        + ["results/report/index.html", "results/report/README.md"]
    )


# ---------------------------------------------------------------- Part A metrics, benchmarks
EVAL_PA = EVAL["parta"]


def pa_eval_images():
    """deepfloyd: the images the denoising metrics average over (configured or default)."""
    names = EVAL_PA["images"] or [PARTA["forward"]["image"], *PARTA["sdedit"]["images"]]
    return list(dict.fromkeys(names))


def pa_eval_denoise_inputs(wildcards):
    out = dict(pa_model_input())
    if PA_BACKEND == "mnist":
        out["mnist"] = "results/data/mnist.pt"
    else:
        out["images"] = [pa_image(n) for n in pa_eval_images()]
    return out


def pa_eval_source():
    """Where the clean images of the denoising metrics come from (a rule param)."""
    if PA_BACKEND == "mnist":
        return {"kind": "mnist", "digits": EVAL_PA["digits"]}
    names = pa_eval_images()
    invert = [PARTA["images"][n].get("invert", "auto") for n in names]
    return {"kind": "images", "names": names, "invert": invert}


def pa_eval_model_params(cfg=True):
    """Params of the Part A metric rules that run the model (plain builtins); ``cfg=False``
    for those without guidance."""
    return {k: v for k, v in pa_common(cfg).items() if k != "upscale"}


def pa_eval_has_illusions():
    """Anagram / hybrid success rates need the digit classifier: mnist backend only."""
    return PA_BACKEND == "mnist"


def pa_eval_summary_inputs(wildcards):
    out = {k: f"results/eval/parta_{k}.csv" for k in ("denoise", "sdedit", "inpaint")}
    if pa_eval_has_illusions():
        out["illusions"] = "results/eval/parta_illusions.csv"
    return out


def parta_eval_names():
    return ["denoise", "sdedit", "inpaint"] + (["illusions"] if pa_eval_has_illusions() else [])


def parta_eval_tables():
    """Table specs of the Part A measured results (section A2 of the report)."""
    return [f"results/eval/parta_{k}.json" for k in parta_eval_names()]


def parta_eval_figures():
    return [f"results/eval/parta_{k}.png" for k in parta_eval_names()]


def parta_eval_benchmarks():
    return [f"benchmarks/rules/eval_parta_{k}.tsv" for k in parta_eval_names()]


def benchmark_results():
    """The committed speed benchmarks (benchmarks/results/*.json), relative to the workdir;
    a file added later changes this input set, so the benchmark table is rebuilt."""
    folder = Path(workflow.basedir) / "benchmarks" / "results"
    return sorted(os.path.relpath(p) for p in folder.glob("*.json"))
