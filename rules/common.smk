# Helpers for every rules/*.smk file (config validation, target lists, a few input functions).
# Rule params come from the library (fundiff.diffusion.settings, torch-free), section ids and
# titles from the section registry (fundiff.report.sections).
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from fundiff.config import ConfigError, parta_backend_label, spec_preset_notes  # noqa: E402
from fundiff.diffusion import settings  # noqa: E402
from fundiff.diffusion.settings import CONDITIONED, MODELS  # noqa: E402
from fundiff.parta.images import ImageError  # noqa: E402
from fundiff.report.sections import figure_section, report_subcategory  # noqa: E402
from fundiff.workflow import resources  # noqa: E402
from fundiff.workflow.checks import check_config  # noqa: E402
from fundiff.workflow.deps import closure, module_closure  # noqa: E402

SCHEMA = Path(workflow.basedir) / "schemas/config.schema.yaml"
try:  # image sources and mask files are relative to the working directory
    check_config(workflow.configfiles, config, SCHEMA, ".")
except (ConfigError, ImageError) as e:
    raise WorkflowError(f"config error: {e}") from None

PARTB = config["partb"]
EVAL = config["eval"]
SRC_DIR = Path(workflow.basedir) / "src"
# Job scripts import the library from this checkout's src/, installed or not (also in a conda env
# or on a cluster node): every job inherits this environment, and `envvars:` passes it on to
# jobs of a remote executor.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH")])
)


envvars:
    "PYTHONPATH",


CALIBRATION = "results/partb/calibration.json"  # the measured precisions (rule calibrate)
# Threads, fixed by the plan: a compute job takes config threads_per_job at most (locally
# Snakemake lowers it to --cores), a training or sampling job partb.train_threads (settings).
THREADS = resources.compute_threads(config)
TRAIN_THREADS = settings.train_threads(config)
SAMPLE_THREADS = settings.sample_threads(config)


def script_lib(script):
    """Library files a rule's script runs (fundiff.workflow.deps: the closure of its imports, +
    the configured Part A backend, loaded by name), as inputs: editing one reruns exactly the
    rules that use it. Relative paths, so that a moved checkout stays up to date."""
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


def sized(rule, gpu=False):
    """A rule's resources (fundiff.workflow.resources): mem_mb and runtime (minutes) for this
    preset, doubled on a retry (attempt 2) and so on; with ``gpu``, the `gpu` resource (above)
    and the GPU sizes; and the Slurm partition / account from the environment, when set."""
    size = resources.size(config, rule, gpu_capable=gpu)
    out = {
        "mem_mb": lambda wildcards, attempt: size.mem_mb * attempt,
        "runtime": lambda wildcards, attempt: size.runtime * attempt,
    }
    if gpu:
        out["gpu"] = gpus()
    return out | resources.slurm(os.environ, gpu and gpus() > 0)


def per_model(func):
    """Input function: ``func(config, model)`` (fundiff.diffusion.settings) for the {model}."""
    return lambda wildcards: func(config, wildcards.model)


def section_of(kind, model=None, subcategory=False):
    """Input function: the writeup section (or its report subcategory) that shows ``kind``
    figures of ``model`` or the rule's {model}, from the section registry."""

    def section(wildcards):
        sid = figure_section(kind, model or wildcards.get("model"))
        return report_subcategory(sid) if subcategory else sid

    return section


def train_params(wildcards):
    """A model's training run (its precision is measured: the job adds it from CALIBRATION)."""
    return settings.train_settings(config, wildcards.model)


def partb_files(kind):
    """Part B's figures, tables, grids, checkpoints or benchmarks (settings.partb_files)."""
    return settings.partb_files(config, kind)


# ---------------------------------------------------------------- Part A
# Part A's files, titles and params: fundiff.parta.layout, bound to this config (PA.f(...) is
# layout.f(config, ...)). Here only the DAG edges that need the workflow.
from functools import partial  # noqa: E402
from fundiff.parta import layout  # noqa: E402

PARTA = config["parta"]
PA = layout.PartA(config)
PA_DIR = layout.PA_DIR
PA_BACKEND = PARTA["backend"]["name"]


PA_MODELS = f"{PA_DIR}/models.json"  # deepfloyd: the fetch_models rule's manifest


def pa_after_fetch(wildcards=None):
    """deepfloyd: the manifest as an order-only input (ancient: a newer manifest does not rerun
    the job) of the Part A jobs that never load the models (the images). With the model rules
    (pa_model_inputs) and encode_prompts every Part A job waits for fetch_models, so an access
    problem stops the run before any of them starts. Part B does not wait: it never loads them
    (and a new input would rerun it in a workdir that ran another preset)."""
    return {"models": ancient(PA_MODELS)} if PA_BACKEND == "deepfloyd" else {}


def pa_model_inputs(wildcards=None):
    """The DAG edge to the model: Part B's class_cond weights (+ the measured sampling
    precision, partb.sample_bf16), or the prompt-embedding cache and the fetched models."""
    if PA_BACKEND == "mnist":
        return {"model": "results/partb/class_cond/epochs", "calibration": CALIBRATION}
    return {"prompt_embeds": f"{PA_DIR}/prompt_embeds.pt", "models": PA_MODELS}


def pa_schedule_inputs(wildcards=None):
    """What a backend reads for its schedule and image shape alone (A1.1, A1.2): mnist's
    checkpoint folder, deepfloyd's fetched-models manifest."""
    return {k: v for k, v in pa_model_inputs().items() if k in ("model", "models")}


def pa_inputs(files, model=pa_model_inputs):
    """Input function: the model (``model()``: pa_model_inputs, or pa_schedule_inputs for the
    steps that never call it) + ``files(wildcards)`` (the images, from the layout)."""
    return lambda wildcards: {**model(), **files(wildcards)}


def pa_pair_param(key):
    """Input function: ``key`` of the params of the {sdir} section's prompt {pair}."""
    return lambda w: PA.pair_params(w.sdir, w.pair)[key]


def pa_eval_summary_inputs(wildcards):
    return dict(zip(PA.eval_names(), PA.eval_files("csv")))


parta_tables, parta_figures = PA.tables, PA.figures
parta_eval_tables = partial(PA.eval_files, "json")
parta_eval_figures = partial(PA.eval_files, "png")
parta_eval_benchmarks = partial(PA.eval_files, "tsv")


# ---------------------------------------------------------------- Evaluation and report targets
def eval_files(ext):
    """The measured results' plots (png) and table specs (json, section B4 of the report)."""
    return [f"results/eval/{name}.{ext}" for name in ("partb_epochs", "cfg_sweep")]


eval_tables, eval_figures = partial(eval_files, "json"), partial(eval_files, "png")


# ---------------------------------------------------------------- Beyond the spec
# Each rules/beyond_<item>.smk registers BEYOND[item] = files(kind): the item's figures, tables
# (JSON table specs) and benchmarks (benchmark: files shown in the report), empty while its config
# beyond.<item>.enabled is false (configs/beyond.yaml turns every item on).
BEYOND = {}


def beyond_files(kind):
    return [f for files in BEYOND.values() for f in files(kind)]


def all_targets():
    evals = ["results/eval/summary.json", *eval_figures(), "results/eval/parta_summary.json"]
    pages = ["results/report/index.html", "results/report/README.md"]
    out = partb_files("figures") + parta_tables() + evals + ["results/benchmarks/table.json"]
    return out + beyond_files("figures") + beyond_files("tables") + pages


def benchmark_results():
    """The committed speed benchmarks (benchmarks/results/*.json), relative to the workdir;
    a file added later changes this input set, so the benchmark table is rebuilt."""
    folder = Path(workflow.basedir) / "benchmarks" / "results"
    return sorted(os.path.relpath(p) for p in folder.glob("*.json"))
