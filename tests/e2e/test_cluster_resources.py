"""Every preset planned with profiles/slurm: what each job would ask the cluster for.

A dry run of every preset with the Slurm profile and an unlimited --cores (a cluster caps nothing:
each job asks for its rule's threads), then, job by job: threads within the preset's
``threads_per_job`` (light rules: 1), mem_mb and runtime declared and equal to the sizes of
fundiff.workflow.resources, `gpu` = gpus_per_job exactly for the rules that can use a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fundiff.workflow import resources
from tests.helpers.dryrun import dry_run_jobs, merged_config
from tests.helpers.rules import benchmark_rules, rule_blocks
from tests.helpers.workflow import REPO, copy_workflow, run_snakemake

pytestmark = pytest.mark.e2e

PRESETS = {
    "embedded": [],
    "fa24": ["configs/fa24.yaml"],
    "deepfloyd": ["configs/deepfloyd.yaml"],
    "beyond": ["configs/beyond.yaml"],
    "tiny": ["configs/tiny.yaml"],
    "tiny_deepfloyd": ["configs/tiny.yaml", "configs/tiny_deepfloyd.yaml"],
}
TARGET_RULES = {"all", "parta_all"}  # rules without a job of their own
# Jobs renamed since the committed measurement (benchmark file stems): the sampling GIF of the
# final epoch (20 in the embedded preset) is now one of a GIF per sample epoch, the same work.
RENAMED = {f"sampling_gif_{m}": f"sampling_gif_{m}_20" for m in ("time_cond", "class_cond")}


def base_rule(rule: str) -> str:
    """The rule whose `resources:` a ``use rule ... with:`` rule inherits (itself when it
    declares its own)."""
    parent, body = rule_blocks()[rule]
    return base_rule(parent) if parent and "resources:" not in body else rule


@pytest.fixture(scope="module")
def planned(tmp_path_factory) -> dict:
    wd = copy_workflow(tmp_path_factory.mktemp("cluster"))
    out = {}
    for name, files in PRESETS.items():
        args = ["-n", "--forceall", "--workflow-profile", "profiles/slurm", "--cores", "100000"]
        if files:
            args += ["--configfile", *files]
        proc = run_snakemake(wd, *args, timeout=300)
        out[name] = (merged_config(files), dry_run_jobs(proc.stdout + proc.stderr))
    return out


@pytest.mark.parametrize("preset", PRESETS)
def test_no_job_asks_for_more_threads_than_its_cap(planned, preset):
    config, jobs = planned[preset]
    assert jobs, "the dry run planned no jobs"
    cap = config["threads_per_job"]
    over = [(j["rule"], j["threads"]) for j in jobs if j["threads"] > cap]
    assert not over, f"{preset}: threads above threads_per_job={cap}: {over}"
    # the compute rules use the cap (or the calibrated layout within it), never a whole machine
    assert max(j["threads"] for j in jobs) == cap


@pytest.mark.parametrize("preset", PRESETS)
def test_every_job_declares_its_measured_memory_and_time(planned, preset):
    config, jobs = planned[preset]
    for j in jobs:
        res, rule = j["resources"], base_rule(j["rule"])
        gpu_capable = "gpu" in res
        size = resources.size(config, rule, gpu_capable=gpu_capable)
        assert (res.get("mem_mb"), res.get("runtime")) == (size.mem_mb, size.runtime), (
            preset, j["rule"], res)  # fmt: skip
        if gpu_capable:
            assert res["gpu"] == config["gpus_per_job"], (preset, j["rule"], res)


def test_every_rule_is_planned_by_some_preset(planned):
    """So the tests above cover every rule of the workflow."""
    seen = {j["rule"] for _, jobs in planned.values() for j in jobs}
    assert set(rule_blocks()) - TARGET_RULES <= seen, set(rule_blocks()) - TARGET_RULES - seen


def test_light_rules_ask_for_one_thread_and_no_gpu(planned):
    """The localrules of the Snakefile run on the submit host: one thread, no GPU."""
    text = (REPO / "Snakefile").read_text()
    local = set(text.split("localrules:")[1].split("rule all:")[0].replace(",", " ").split())
    assert {"mnist", "parta_image", "report"} <= local
    _, jobs = planned["fa24"]
    for j in jobs:
        if j["rule"] in local:
            assert j["threads"] == 1 and "gpu" not in j["resources"], j


def test_gpu_jobs_ask_for_a_gpu_only_on_gpu_presets(planned):
    for preset, (config, jobs) in planned.items():
        gpus = {j["resources"].get("gpu") for j in jobs if "gpu" in j["resources"]}
        assert gpus == {config["gpus_per_job"]}, (preset, gpus)
    assert planned["fa24"][0]["gpus_per_job"] == 1 and planned["embedded"][0]["gpus_per_job"] == 0


def test_slurm_partition_and_account_come_from_the_environment(tmp_path):
    """Unset: nothing (the cluster's default partition); set: every job, GPU jobs on their own."""
    wd = copy_workflow(tmp_path)
    args = ["-n", "--forceall", "--workflow-profile", "profiles/slurm", "--cores", "64",
            "--configfile", "configs/fa24.yaml"]  # fmt: skip
    env = {"FUNDIFF_SLURM_PARTITION": "cpu", "FUNDIFF_SLURM_GPU_PARTITION": "gpu",
           "FUNDIFF_SLURM_ACCOUNT": "cs180"}  # fmt: skip
    jobs = dry_run_jobs((p := run_snakemake(wd, *args, env=env)).stdout + p.stderr)
    for j in jobs:
        res = j["resources"]
        want = "gpu" if res.get("gpu") else "cpu"
        assert (res.get("slurm_partition"), res.get("slurm_account")) == (want, "cs180"), j
    unset = {k: "" for k in env}
    jobs = dry_run_jobs((p := run_snakemake(wd, *args, env=unset)).stdout + p.stderr)
    assert not any({"slurm_partition", "slurm_account"} & set(j["resources"]) for j in jobs)


def test_profile_sets_no_cores_and_retries_with_larger_sizes():
    profile = yaml.safe_load((REPO / "profiles/slurm/profile.yaml").read_text())
    assert "cores" not in profile and "set-threads" not in profile
    assert profile["retries"] >= 1
    assert Path(REPO / "profiles/slurm/profile.yaml").read_text().count("$") == 0


def _job_sizes(text: str) -> dict[str, dict]:
    """{benchmark file stem: the job's resources} of a dry run."""
    return {Path(j["benchmark"]).stem: j["resources"] for j in dry_run_jobs(text) if j["benchmark"]}


# Committed cold runs (benchmarks/cold_run.py): the preset's config files, the run with the peaks
# and the quiet run with the wall times (the same file when one quiet run measured both).
MEASUREMENTS = {
    "embedded": ([], "cold_run_amd_epyc_rule_peaks.json", "cold_run_amd_epyc.json"),
}


@pytest.mark.parametrize("preset", MEASUREMENTS)
def test_sizes_cover_the_committed_measurement_with_headroom(tmp_path, preset):
    """Each job of the preset asks for at least MEM_HEADROOM x the peak memory and
    TIME_HEADROOM x the wall time measured for it (benchmarks/results: the peaks run, and the
    quiet run's seconds where it has the job). The layout is given, so the dry run plans every job."""
    files, peaks_file, quiet_file = MEASUREMENTS[preset]
    wd = copy_workflow(tmp_path)
    choice = {"amp_bf16": False, "threads": 1, "sample_bf16": False, "sample_threads": 1}
    (wd / "results/partb").mkdir(parents=True)
    (wd / "results/partb/calibration.json").write_text(json.dumps({"choice": choice}))
    extra = ["--configfile", *files] if files else []
    proc = run_snakemake(wd, "-n", "--cores", "2", *extra)
    sizes = _job_sizes(proc.stdout + proc.stderr)
    results = REPO / "benchmarks/results"
    peaks = json.loads((results / peaks_file).read_text())
    quiet = json.loads((results / (quiet_file or peaks_file)).read_text())["rule_seconds"]
    measured = peaks["rule_peak_rss_mb"]
    planned = {RENAMED.get(job, job) for job in measured}
    assert planned - {"calibrate"} <= set(sizes), planned - set(sizes)
    for job, peak in measured.items():
        res = sizes.get(RENAMED.get(job, job)) or (
            resources.size(merged_config(files), job, gpu_capable=True).__dict__
        )
        assert res["mem_mb"] >= peak * resources.MEM_HEADROOM, (job, peak, res)
        seconds = quiet.get(job, peaks["rule_seconds"][job])
        assert res["runtime"] * 60 >= seconds * resources.TIME_HEADROOM, (job, seconds, res)


def test_tiny_run_jobs_stayed_within_their_memory(tiny_run):
    """The session's tiny run: every job's measured peak (its benchmark: file) is below the
    mem_mb its rule declares for this preset, so on a cluster none would have been killed for
    memory. Jobs are matched to rules by the rules' benchmark file patterns."""
    config = merged_config(["configs/tiny.yaml"])
    patterns = benchmark_rules()
    checked = 0
    for tsv in sorted((tiny_run / "benchmarks/rules").glob("*.tsv")):
        row = dict(zip(*[ln.split("\t") for ln in tsv.read_text().splitlines()[:2]], strict=True))
        rule, sized_as, gpu = next((r, s, g) for p, r, s, g in patterns if p.fullmatch(tsv.stem))
        mem_mb = resources.size(config, sized_as, gpu_capable=gpu).mem_mb
        if row["max_rss"] != "NA":
            assert float(row["max_rss"]) <= mem_mb, (tsv.stem, rule, row["max_rss"], mem_mb)
            checked += 1
    assert checked >= 40, checked
