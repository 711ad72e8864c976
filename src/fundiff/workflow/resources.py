"""What each rule asks the machine or the cluster for: CPU threads, memory (MB) and time (minutes).

Every rule declares ``threads:`` and ``resources: **sized(rule)`` (rules/common.smk), which come
from here, torch-free. Locally Snakemake lowers threads to ``--cores`` and mem_mb / runtime only
count against ``--resources`` limits; on Slurm they become ``--cpus-per-task``, ``--mem`` and
``--time`` of each job (snakemake-executor-plugin-slurm), and ``gpu`` becomes ``--gpus``.

**Threads.** Never the whole ``--cores`` (on a cluster that is the sum over all jobs): a compute
rule takes config ``threads_per_job`` (:func:`compute_threads`), a training or sampling job
``partb.train_threads`` within that cap (fundiff.diffusion.settings.train_threads), and the light
rules (tables, plots, downloads, the report; ``localrules`` in the Snakefile) one thread. All are
fixed when the workflow is planned.

**Memory and time.** The data is one file, ``resources.yaml`` beside this module (:data:`TABLE`;
its header names the benchmark results each number comes from): per rule the measured peak
resident memory and wall time of its largest job on the embedded preset, whether it loads the
whole MNIST file, its GPU time limit and its DeepFloyd size. This module holds the sizing rule:
the CPU sizes are the measurement times :data:`MEM_HEADROOM` / :data:`TIME_HEADROOM`, plus the
host memory of full MNIST (``loads_mnist`` rules, torchvision source) and of CUDA (GPU-capable
rules on a GPU preset, which take the GPU time limit instead), at least :data:`MIN_MEM_MB` /
:data:`MIN_MINUTES`, rounded up; the DeepFloyd rules take their sizes as is. rules/common.smk's
``sized`` multiplies both by the attempt number, so a job that ran out of memory or time gets
twice as much on its retry (``retries:`` in profiles/slurm).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

TABLE = Path(__file__).with_name("resources.yaml")
MEM_HEADROOM = 1.5  # x the measured peak
# x the measured wall time: a cluster's CPUs may be slower than the measuring one
TIME_HEADROOM = 4.0
MIN_MEM_MB = 1000
MIN_MINUTES = 5
_RULE_KEYS = {"peak_mb", "seconds", "loads_mnist", "gpu_minutes", "deepfloyd"}


@dataclass(frozen=True)
class Size:
    """A rule's first-attempt request: memory in MB, time limit in minutes."""

    mem_mb: int
    runtime: int


@dataclass(frozen=True)
class Rule:
    """One rule's entry of the table: its measured peak (MB) and wall seconds (None for the
    deepfloyd backend's own rules), whether it loads the whole MNIST file, its GPU time limit
    (minutes; None: the table's default) and its size on the deepfloyd backend (None: as on mnist)."""

    peak_mb: float | None
    seconds: float | None
    loads_mnist: bool
    gpu_minutes: int | None
    deepfloyd: Size | None


@dataclass(frozen=True)
class Table:
    """The parsed data file: every rule's entry and the host memory added for full MNIST and for
    CUDA (MB), and the GPU time limit of a GPU-capable rule without its own (minutes)."""

    path: Path
    rules: Mapping[str, Rule]
    full_mnist_mb: int
    cuda_host_mb: int
    gpu_default_minutes: int


class ResourceTableError(ValueError):
    """The data file is malformed (the message names the file and the entry)."""


def _rule(path: Path, name: str, raw: Mapping, deepfloyd: Mapping[str, Size]) -> Rule:
    def bad(why: str) -> ResourceTableError:
        return ResourceTableError(f"{path}: rule '{name}': {why}")

    if not isinstance(raw, Mapping):
        raise bad("expected a mapping of " + ", ".join(sorted(_RULE_KEYS)))
    if unknown := set(raw) - _RULE_KEYS:
        raise bad(f"unknown key(s) {sorted(unknown)}; known: {sorted(_RULE_KEYS)}")
    if ("peak_mb" in raw) != ("seconds" in raw):
        raise bad("give both peak_mb and seconds, or neither (a deepfloyd-only rule)")
    if "peak_mb" not in raw and "deepfloyd" not in raw:
        raise bad("needs peak_mb and seconds, or a deepfloyd size")
    if "deepfloyd" in raw and raw["deepfloyd"] not in deepfloyd:
        raise bad(f"deepfloyd size '{raw['deepfloyd']}' is not in deepfloyd_sizes")
    return Rule(
        peak_mb=raw.get("peak_mb"),
        seconds=raw.get("seconds"),
        loads_mnist=bool(raw.get("loads_mnist", False)),
        gpu_minutes=raw.get("gpu_minutes"),
        deepfloyd=deepfloyd[raw["deepfloyd"]] if "deepfloyd" in raw else None,
    )


@functools.cache
def load(path: Path = TABLE) -> Table:
    """The data file at ``path`` (default: resources.yaml beside this module), parsed once."""
    path = Path(path)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    try:
        sizes = {
            k: Size(int(v["mem_mb"]), int(v["runtime"])) for k, v in raw["deepfloyd_sizes"].items()
        }
        extra, default_minutes = raw["extra_mb"], raw["gpu_default_minutes"]
        rules = {name: _rule(path, name, r, sizes) for name, r in raw["rules"].items()}
        return Table(path, rules, extra["full_mnist"], extra["cuda_host"], default_minutes)
    except (KeyError, TypeError) as e:
        raise ResourceTableError(f"{path}: missing or malformed entry {e}") from None


def _round_up(x: float, step: int) -> int:
    return int(math.ceil(x / step) * step)


def uses_gpu(config: Mapping) -> bool:
    """Whether the preset runs its models on a GPU (device cuda, or GPUs requested per job)."""
    return str(config["device"]).startswith("cuda") or config["gpus_per_job"] > 0


def size(
    config: Mapping, rule: str, gpu_capable: bool = False, table: Table | Path | None = None
) -> Size:
    """The memory and time one job of ``rule`` asks for under ``config``'s preset
    (``gpu_capable``: the rule runs its model on the GPU when the preset has one; ``table``: the
    data, a parsed :class:`Table` or a file, default :data:`TABLE`)."""
    if not isinstance(table, Table):
        table = load(Path(table) if table is not None else TABLE)
    entry = table.rules.get(rule)
    if entry is None:
        raise KeyError(f"no size for rule '{rule}': add it to {table.path}")
    if entry.deepfloyd is not None and (
        entry.peak_mb is None or config["parta"]["backend"]["name"] == "deepfloyd"
    ):
        return entry.deepfloyd
    mem = entry.peak_mb * MEM_HEADROOM
    if entry.loads_mnist and config["data"]["mnist"]["source"] == "torchvision":
        mem += table.full_mnist_mb
    if gpu_capable and uses_gpu(config):
        mem += table.cuda_host_mb
        minutes = table.gpu_default_minutes if entry.gpu_minutes is None else entry.gpu_minutes
    else:
        minutes = entry.seconds * TIME_HEADROOM / 60
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
