"""Running the workflow from tests: a throwaway copy of it, and snakemake with a clear failure."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
WORKFLOW_FILES = [
    "Snakefile",
    "rules",
    "scripts",
    "schemas",
    "configs",
    "config.yaml",
    "profiles",
    "envs",
    "report",
    "assets",
    "src",
    "benchmarks/results",  # committed speed benchmarks: an input of the report
]


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow (not results/) into ``dest`` so a test can run and edit it freely."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def run_snakemake(
    workdir: Path, *args: str, timeout: int = 900, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir`` with the library from that copy first on the path."""
    full_env = {**os.environ, "PYTHONPATH": str(workdir / "src"), **(env or {})}
    # Own process group: on timeout kill Snakemake *and* the job scripts it started (a plain
    # subprocess.run timeout kills only Snakemake and leaves its jobs running).
    with subprocess.Popen(
        [*SNAKEMAKE, *args],
        cwd=workdir,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise
    proc = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
            f"{proc.stderr[-4000:]}"
        )
    return proc


def planned_jobs(text: str) -> dict[str, int]:
    """{rule: count} from the "Job stats" table of a dry run; {} when nothing is to be done."""
    if "Nothing to be done" in text:
        return {}
    m = re.search(r"Job stats:\njob\s+count\n[-\s]+\n(.*?)\ntotal\s+(\d+)", text, re.S)
    assert m, f"no Job stats table in:\n{text[-3000:]}"
    jobs = {rule: int(n) for rule, n in (line.split() for line in m.group(1).splitlines())}
    assert sum(jobs.values()) == int(m.group(2))
    return jobs
