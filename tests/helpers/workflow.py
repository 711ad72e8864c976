"""Running the workflow from tests: a throwaway copy of it, and snakemake with a clear failure.

Snakemake runs under an interpreter that has every dependency but NOT the fundiff library
(`bare_python`), so every e2e run is also a run of the project without installing it: job scripts
must import the library from the copy's src/ as the workflow arranges, as in a conda env built from
envs/fundiff.yaml (which does not install it either)."""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import signal
import site
import subprocess
import sysconfig
import tempfile
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The test process's own interpreter, fundiff installed (for runs that must not use bare_python).
# What bare_python must (and must not) be able to import; run once when it is built.
_PROBE = """
import importlib.util, json, snakemake, torch
print(json.dumps({m: getattr(importlib.util.find_spec(m), "origin", None)
                  for m in ("fundiff", "snakemake", "torch")}))
"""
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


def without_pythonpath(env: dict) -> dict:
    """``env`` less PYTHONPATH: where the library comes from is then up to the workflow alone."""
    return {k: v for k, v in env.items() if k != "PYTHONPATH"}


@functools.cache
def bare_python() -> Path:
    """An interpreter with the test process's dependencies but without fundiff, built once per
    session in a temporary folder removed at exit: a venv whose .pth file names this
    interpreter's site-packages. A folder named in a .pth joins sys.path, but the .pth files
    inside it (such as fundiff's editable-install hook) are not run, so ``import fundiff`` fails."""
    root = Path(tempfile.mkdtemp(prefix="fundiff-bare-python-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    venv.EnvBuilder(symlinks=True, with_pip=False).create(root)
    purelib = sysconfig.get_path("purelib", "venv", vars={"base": str(root), "platbase": str(root)})
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "test_dependencies.pth").write_text("".join(f"{p}\n" for p in deps))
    python = root / "bin" / "python"
    probe = subprocess.run(
        [python, "-c", _PROBE],
        cwd=root,
        env=without_pythonpath(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, f"{python} cannot import the dependencies:\n{probe.stderr}"
    found = json.loads(probe.stdout)
    assert found["fundiff"] is None, (
        f"fundiff is importable without being installed ({found['fundiff']}): it must be an "
        f"editable install (pip install -e .), not a copy inside {deps}"
    )
    return python


def run_snakemake(
    workdir: Path, *args: str, timeout: int = 900, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir`` under `bare_python`, with no PYTHONPATH but ``env``'s: the
    workflow itself must give its jobs the library of that copy (its src/)."""
    full_env = {**without_pythonpath(os.environ), **(env or {})}
    # Own process group: on timeout kill Snakemake *and* the job scripts it started (a plain
    # subprocess.run timeout kills only Snakemake and leaves its jobs running).
    with subprocess.Popen(
        [str(bare_python()), "-m", "snakemake", *args],
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
