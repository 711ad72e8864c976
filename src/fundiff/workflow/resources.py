"""What each rule asks the machine or the cluster for: CPU threads, memory (MB) and time (minutes).

Every rule declares ``threads:`` and ``resources: **sized(rule)`` (rules/common.smk), which come
from here, torch-free. Locally Snakemake lowers threads to ``--cores`` and mem_mb / runtime only
count against ``--resources`` limits; on Slurm they become ``--cpus-per-task``, ``--mem`` and
``--time`` of each job (snakemake-executor-plugin-slurm), and ``gpu`` becomes ``--gpus``.

**Threads.** Never the whole ``--cores`` (on a cluster that is the sum over all jobs): a compute
rule takes config ``threads_per_job`` at most (:func:`compute_threads`), the training and sampling
rules the layout that the ``calibrate`` checkpoint measured within that cap, and the light rules
(tables, plots, downloads, the report; ``localrules`` in the Snakefile) one thread.

**Memory and time.** The CPU numbers are each job's measured peak resident memory and wall time on
the embedded preset (:data:`MEASURED`: ``python benchmarks/cold_run.py``, Snakemake ``benchmark:``
files, ``benchmarks/results/cold_run_amd_epyc_rule_peaks.json``, 2-core AMD EPYC), with headroom
(:data:`MEM_HEADROOM`, :data:`TIME_HEADROOM`); a preset that loads full MNIST or runs on a GPU adds
what that costs in host memory (:data:`FULL_MNIST_MB`, :data:`CUDA_HOST_MB`) and takes GPU time
limits (:data:`GPU_MINUTES`); the DeepFloyd rules take sizes from the model sizes
(the published sizes: T5-XXL 9.8 GB in fp16, IF-I-L 1.8 GB, IF-II-L 2.5 GB). Both
are multiplied by the attempt number, so a job that ran out of memory or time gets twice as much
on its retry (``retries:`` in profiles/slurm).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

MEM_HEADROOM = 1.5  # x the measured peak
TIME_HEADROOM = 4.0  # x the measured wall time (slower CPUs: our two 2-core kinds differ ~2x)
MIN_MEM_MB = 1000
MIN_MINUTES = 5
FULL_MNIST_MB = 1500  # 70,000 digits as float32 (220 MB) and its copies, for rules that load them
CUDA_HOST_MB = 3000  # CUDA context, cuDNN / cuBLAS and the allocator's host side

# Per rule: (peak resident MB, wall seconds) of its largest job in the embedded preset. Peaks:
# cold_run_amd_epyc_rule_peaks.json (Snakemake benchmark: max_rss, a job's processes together:
# calibrate times two training processes at once). Seconds: the quiet run cold_run_amd_epyc.json
# where it has the rule, else the peaks run (measured beside other work: an upper bound).
MEASURED: dict[str, tuple[float, float]] = {
    "mnist": (770, 6),
    "parta_image": (560, 12),
    "noising_grid": (730, 13),
    "calibrate": (2380, 47),
    "train": (890, 336),
    "loss_curve": (720, 21),
    "denoise_test": (860, 12),
    "denoise_ood": (750, 11),
    "sample": (780, 39),
    "sampling_gif": (760, 14),
    "train_classifier": (770, 10),
    "eval_sample_time": (740, 82),
    "eval_sample_cfg": (750, 236),
    "eval_partb": (820, 6),
    "parta_a0": (740, 30),
    "parta_forward": (740, 16),
    "parta_iterative": (740, 11),
    "parta_sample": (750, 23),
    "parta_sdedit": (750, 27),
    "parta_inpaint": (750, 21),
    "parta_pair": (750, 24),
    "parta_table": (830, 16),
    "eval_parta_denoise": (790, 6),
    "eval_parta_sdedit": (740, 5),
    "eval_parta_inpaint": (740, 5),
    "eval_parta_illusions": (800, 20),
    "eval_parta_summary": (710, 4),
    "benchmarks_table": (580, 4),
    "report": (530, 3),
    # beyond the spec, item 1: rectified flow (rules/beyond_flow.smk). flow_train is the DDPM's
    # training with another loss (same UNet, batch, steps): its peak and time are train's (an
    # embedded-size flow and DDPM class_cond training side by side: 870 vs 850 MB RSS, 159.0 vs
    # 155.9 s per epoch, on a machine loaded ~10x). The others: tiny-run peaks (745 MB at most),
    # and times estimated from the sampling rules' per-row cost (sample: 40 digits x 300 steps
    # with CFG in 39 s): the comparison's class_cond job runs 720 sampler steps of 2 x 100 rows.
    "flow_train": (890, 345),
    "flow_loss_curve": (720, 21),
    "flow_sample": (780, 20),
    "flow_compare": (850, 240),
    # beyond the spec, item 2: fast samplers (rules/beyond_samplers.smk)
    # (peaks: benchmark: max_rss of both jobs, n = 50, 2-core AMD EPYC under load; seconds: the
    # class_cond job's 109 s of CPU for 720 steps x 50 digits (CFG) scaled to configs/beyond.yaml's
    # 1,920 steps x 100 digits at one thread; the wall time under load was 487 s for 720 steps)
    "beyond_samplers_sample": (780, 580),
    "beyond_samplers_eval": (840, 23),
    # beyond the spec, items 3-5: anagram views, RePaint, logo (rules/beyond_{views,repaint,logo}.smk)
    # (peak RSS of the benchmark: files, CPU seconds: the 2-core EPYC was shared with ~5 other
    # jobs, load 10-15, so wall times were 3-5x these; configs/beyond.yaml over the embedded
    # preset with a 3-epoch class_cond of the same width, fp32 sampling; judge at 32 samples per
    # pair and view, RePaint at 16 per image: twice today's defaults, so upper bounds)
    "beyond_views_anagram": (830, 8),
    "beyond_views_judge": (850, 175),
    "beyond_repaint": (770, 80),
    "beyond_logo": (740, 30),  # deepfloyd only (DEEPFLOYD_A0 there): never runs on mnist
}

# Rules that read the whole MNIST tensor file (host memory grows with torchvision's 70,000 digits).
LOADS_MNIST = {"mnist", "noising_grid", "calibrate", "train", "denoise_test", "denoise_ood",
               "train_classifier", "eval_partb", "eval_parta_denoise", "flow_train",
               "flow_compare"}  # fmt: skip

# Time limits (minutes) on a GPU for the rules that can use one (fa24: D=128 / D=64 on 60,000
# digits; 81 s for the three trainings on an H200 with CUDA graphs, much longer on a small GPU
# or eager): generous, as a queue wait costs less than a job killed at its limit.
GPU_MINUTES = {
    "train": 120,
    "flow_train": 120,
    "train_classifier": 30,
    "eval_sample_cfg": 60,
    "eval_sample_time": 30,
}
GPU_DEFAULT_MINUTES = 20

# DeepFloyd IF (Part A on the deepfloyd backend): host memory while weights are loaded (fp16
# safetensors are read on the host before they move to the GPU) and time per job.
DEEPFLOYD = {
    "encode_prompts": (24000, 60),  # T5-XXL encoder, 9.8 GB in fp16
    "fetch_models": (4000, 240),  # downloads ~14 GB (stage I L, stage II L, T5-XXL)
}
# Model rules: IF-I-L (1.8 GB) + IF-II-L (2.5 GB) UNets, no T5; A0 holds both pipelines at once.
# Peaks of the CPU rehearsal (benchmarks/results/if_rehearsal_cpu_amd_epyc.json, real-size UNets,
# fp32): A0 11.9 GB, the other model rules 6.5 GB at most; x MEM_HEADROOM, rounded up.
DEEPFLOYD_A0 = (18000, 60)
DEEPFLOYD_MODEL_RULE = (10000, 60)
PARTA_MODEL_RULES = {"parta_a0", "parta_forward", "parta_iterative", "parta_sample",
                     "parta_sdedit", "parta_inpaint", "parta_pair", "eval_parta_denoise"}  # fmt: skip
# beyond the spec, items 3-5: their Part A model rules; X5 (the logo) holds both pipelines, as A0
PARTA_MODEL_RULES |= {"beyond_views_anagram", "beyond_views_judge", "beyond_repaint", "beyond_logo"}
A0_RULES = {"parta_a0", "beyond_logo"}


@dataclass(frozen=True)
class Size:
    """A rule's first-attempt request: memory in MB, time limit in minutes."""

    mem_mb: int
    runtime: int


def _round_up(x: float, step: int) -> int:
    return int(math.ceil(x / step) * step)


def uses_gpu(config: Mapping) -> bool:
    """Whether the preset runs its models on a GPU (device cuda, or GPUs requested per job)."""
    return str(config["device"]).startswith("cuda") or config["gpus_per_job"] > 0


def size(config: Mapping, rule: str, gpu_capable: bool = False) -> Size:
    """The memory and time one job of ``rule`` asks for under ``config``'s preset
    (``gpu_capable``: the rule runs its model on the GPU when the preset has one)."""
    if rule in DEEPFLOYD:  # the deepfloyd backend's own rules
        return Size(*DEEPFLOYD[rule])
    if rule in PARTA_MODEL_RULES and config["parta"]["backend"]["name"] == "deepfloyd":
        return Size(*(DEEPFLOYD_A0 if rule in A0_RULES else DEEPFLOYD_MODEL_RULE))
    if rule not in MEASURED:
        raise KeyError(f"no size for rule '{rule}': add it to fundiff.workflow.resources.MEASURED")
    peak_mb, seconds = MEASURED[rule]
    mem = peak_mb * MEM_HEADROOM
    if rule in LOADS_MNIST and config["data"]["mnist"]["source"] == "torchvision":
        mem += FULL_MNIST_MB
    if gpu_capable and uses_gpu(config):
        mem += CUDA_HOST_MB
        minutes = GPU_MINUTES.get(rule, GPU_DEFAULT_MINUTES)
    else:
        minutes = seconds * TIME_HEADROOM / 60
    return Size(_round_up(max(mem, MIN_MEM_MB), 500), _round_up(max(minutes, MIN_MINUTES), 5))


def compute_threads(config: Mapping) -> int:
    """CPU threads of one compute job: config ``threads_per_job`` (the cap of every rule)."""
    return int(config["threads_per_job"])


def slurm(env: Mapping[str, str], gpu: bool) -> dict:
    """Slurm placement from the environment, for the rules' resources (empty when unset, so the
    cluster's default partition and the user's default account apply):
    FUNDIFF_SLURM_PARTITION, FUNDIFF_SLURM_GPU_PARTITION (jobs that ask for a GPU; falls back to
    the first) and FUNDIFF_SLURM_ACCOUNT."""
    out = {}
    partition = env.get("FUNDIFF_SLURM_PARTITION", "").strip()
    if gpu:
        partition = env.get("FUNDIFF_SLURM_GPU_PARTITION", "").strip() or partition
    if partition:
        out["slurm_partition"] = partition
    account = env.get("FUNDIFF_SLURM_ACCOUNT", "").strip()
    if account:
        out["slurm_account"] = account
    return out
