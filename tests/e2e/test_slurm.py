"""The tiny preset on a real (one-node, local) Slurm with profiles/slurm, as a user runs it: no
--max-threads, no partition given for CPU jobs (the cluster's default), GPU jobs on their own
partition (FUNDIFF_SLURM_GPU_PARTITION), light rules on the submit host.

One Snakemake run on the cluster feeds every test here. Needs root; installs slurm-wlm + munge with
apt-get if missing (see tests/helpers/slurm_cluster.py); FUNDIFF_SKIP_SYSTEM_TESTS=1 skips it. Skipped,
with the reason, only where that cannot work.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from fundiff.diffusion import settings
from fundiff.workflow import resources
from tests.helpers.dryrun import merged_config
from tests.helpers.slurm_cluster import GPU_PARTITION, PARTITION, SlurmCluster, unavailable_reason
from tests.helpers.workflow import copy_workflow, run_snakemake

pytestmark = [pytest.mark.e2e, pytest.mark.full]  # a whole Slurm run: the full tier (CI)

# Rules that declare `gpu=gpus()` (model rules of Parts A and B and the evaluation) ...
GPU_RULES = {
    "calibrate", "train", "sample", "sampling_gif",
    "train_classifier", "eval_sample_cfg", "eval_sample_time", "eval_partb",
    "parta_a0", "parta_one_step", "parta_iterative",
    "parta_sample", "parta_cfg", "parta_sdedit", "parta_inpaint", "parta_pair",
    "eval_parta_denoise", "eval_parta_illusions",
    "beyond_views_anagram", "beyond_views_judge", "beyond_repaint",  # X3, X4 (configs/tiny.yaml)
}  # fmt: skip
# ... the CPU-only cluster jobs ...
CPU_RULES = {"denoise_test", "denoise_ood", "parta_forward", "parta_blur"}  # A1.1/A1.2: no model
# ... and the light rules, run on the submit host (localrules in the Snakefile).
LOCAL_RULES = {
    "mnist", "noising_grid", "loss_curve", "parta_image", "parta_table", "report",
    "eval_parta_sdedit", "eval_parta_inpaint", "eval_parta_summary", "benchmarks_table",
}  # fmt: skip
# The tiny preset made leaner still (Slurm adds seconds per job; the work itself is not the point):
# 1 epoch per model on 200 training digits, one sample grid per model, 30 diffusion steps.
LEAN = """\
threads_per_job: 2
data: {mnist: {test_per_class: 480}}
partb:
  schedule: {num_timesteps: 30}
  denoiser: {epochs: 1, show_epochs: [1]}
  time_cond: {epochs: 1, sample_epochs: [1], num_samples: 2}
  class_cond: {epochs: 1, sample_epochs: [1]}
  gif: {num_samples: 2, frame_every: 10}
parta:
  timesteps: {start: 27, stride: 9}
  a0: {steps: [3]}
  forward: {t: [5, 20]}
  iterative: {i_start: 1, frame_every: 1}
  sdedit: {i_start: [1, 2]}
eval: {parta: {digits: 2, illusion_samples: 2}}
# the tiny preset's flow models and fast samplers would add 12 cluster jobs of rules that
# tests/e2e/test_cluster_resources.py already sizes under this profile (X3 / X4 stay on)
beyond: {flow: {enabled: false}, samplers: {enabled: false}}
"""
# The test node has two fake GPUs, 16 CPUs and 250 GB (more than the machine: Slurm here does
# not enforce them); --jobs 4 keeps the 2-core CI machine from being oversubscribed. Status checks
# every few seconds instead of the 40 s default. No --max-threads: each job asks for its rule's threads.
CONFIG_ARGS = ["--configfile", "configs/tiny.yaml", "slurm_lean.yaml", "--config", "gpus_per_job=1"]
SLURM_ARGS = [
    "--workflow-profile", "profiles/slurm",
    *CONFIG_ARGS,
    "--jobs", "4",
    "--slurm-init-seconds-before-status-checks", "2",
    "--seconds-between-status-checks", "2",
    "--latency-wait", "5",
    "--slurm-keep-successful-logs",
    "--verbose",
]  # fmt: skip
ENV = {"FUNDIFF_SLURM_PARTITION": "", "FUNDIFF_SLURM_GPU_PARTITION": GPU_PARTITION}


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"NO SLURM TEST: {reason}")
    wd = copy_workflow(tmp_path_factory.mktemp("slurm"))
    (wd / "slurm_lean.yaml").write_text(LEAN)
    with SlurmCluster() as cluster:
        t0 = time.monotonic()
        try:
            proc = run_snakemake(
                wd, *SLURM_ARGS, timeout=900, check=False,
                env=ENV,
            )  # fmt: skip
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"Snakemake on Slurm timed out\n{cluster.logs()}") from e
        wall = time.monotonic() - t0
        jobs = cluster.jobs()
        daemon_logs = cluster.logs()
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{text[-6000:]}\n{daemon_logs}"
    return {"wd": wd, "text": text, "jobs": jobs, "wall": wall}


def _rule_of(job: dict) -> str:
    m = re.fullmatch(r"rule_(\w+?)(_wildcards_.*)?", job.get("Comment", ""))
    assert m, f"job {job['JobId']} has no Snakemake rule comment: {job.get('Comment')}"
    return m.group(1)


def test_every_output_exists_and_is_up_to_date(slurm_run):
    wd = slurm_run["wd"]
    for f in [
        "results/report/index.html",
        "results/partb/class_cond/sampling/epoch_1.gif",
        "results/partb/time_cond/samples/epoch_1.npz",
        "results/partb/denoiser/ood.png",
    ]:
        assert (wd / f).is_file(), f
    out = run_snakemake(wd, "-n", *CONFIG_ARGS)  # the same config, local dry run
    assert "Nothing to be done" in out.stdout + out.stderr, out.stdout[-3000:]


def test_every_rule_ran_as_a_completed_slurm_job_or_locally(slurm_run):
    jobs = slurm_run["jobs"]
    assert {_rule_of(j) for j in jobs} == GPU_RULES | CPU_RULES
    bad = [(j["JobId"], _rule_of(j), j["JobState"]) for j in jobs if j["JobState"] != "COMPLETED"]
    assert not bad, bad
    # no partition set for CPU jobs: the cluster's default; GPU jobs on the GPU partition
    for j in jobs:
        want = GPU_PARTITION if _rule_of(j) in GPU_RULES else PARTITION
        assert j["Partition"] == want, (_rule_of(j), j["JobId"], j["Partition"])
    ran_locally = set(re.findall(r"^localrule (\w+):", slurm_run["text"], re.M)) - {"all"}
    assert ran_locally == LOCAL_RULES, ran_locally ^ LOCAL_RULES


def test_jobs_asked_slurm_for_their_rules_cpus_memory_and_time(slurm_run):
    """Slurm's own record (scontrol) of what a training, an evaluation and a CPU job asked for:
    the rule's planned threads (partb.train_threads within threads_per_job, or the cap), and
    the memory and time limit of fundiff.workflow.resources for this preset (first attempt)."""
    wd = slurm_run["wd"]
    config = merged_config(["configs/tiny.yaml", "slurm_lean.yaml"], {"gpus_per_job": 1}, root=wd)
    want_cpus = {"train": settings.train_threads(config), "train_classifier": config["threads_per_job"],
                 "eval_partb": config["threads_per_job"], "denoise_ood": 1}  # fmt: skip
    by_rule = {_rule_of(j): j for j in slurm_run["jobs"]}
    for rule, cpus in want_cpus.items():
        j = by_rule[rule]
        size = resources.size(config, rule, gpu_capable=rule in GPU_RULES)
        assert int(j["NumCPUs"]) == cpus, (rule, j["NumCPUs"], cpus)
        assert j["MinMemoryNode"] == f"{size.mem_mb}M", (rule, j["MinMemoryNode"], size)
        h, m, _ = (int(x) for x in j["TimeLimit"].split(":"))
        assert h * 60 + m == size.runtime, (rule, j["TimeLimit"], size)
    assert int(by_rule["eval_partb"]["NumCPUs"]) == 2  # threads_per_job, never a whole machine


def test_gpu_rules_asked_slurm_for_a_gpu(slurm_run):
    """Slurm's own record: exactly the GPU-capable rules were submitted with --gpus=1."""
    for j in slurm_run["jobs"]:
        rule = _rule_of(j)
        tres = j.get("TresPerJob", "")
        if rule in GPU_RULES:
            assert tres == "gres:gpu:1", (rule, j["JobId"], tres)
        else:
            assert "gpu" not in tres, (rule, j["JobId"], tres)
    sbatch = [ln for ln in slurm_run["text"].splitlines() if "sbatch call:" in ln]
    assert sbatch, "no 'sbatch call:' lines in the --verbose output"
    for ln in sbatch:
        rule = re.search(r"--comment '?rule_(\w+?)(_wildcards_|'|\s)", ln).group(1)
        assert ("--gpus=1" in ln) == (rule in GPU_RULES), ln


def test_gpu_jobs_saw_the_gpu_slurm_gave_them(slurm_run):
    """Inside the job: every script logs CUDA_VISIBLE_DEVICES and SLURM_JOB_ID at start."""
    logs = slurm_run["wd"] / "logs/partb"
    for name in ["train_class_cond", "sample_time_cond_1", "sampling_gif_class_cond_1"]:
        head = (logs / f"{name}.log").read_text()
        assert re.search(r"CUDA_VISIBLE_DEVICES=\d, SLURM_JOB_ID=\d+", head), (name, head[:500])
    head = (logs / "denoise_ood.log").read_text()  # a CPU job on the cluster
    assert re.search(r"CUDA_VISIBLE_DEVICES=unset, SLURM_JOB_ID=\d+", head), head[:500]
    head = (logs / "loss_curve_denoiser.log").read_text()  # a local rule: not a Slurm job
    assert re.search(r"SLURM_JOB_ID=none", head), head[:500]
