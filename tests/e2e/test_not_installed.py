"""The workflow runs with the fundiff library NOT installed, as in a conda env built from
envs/fundiff.yaml (conda channels are out of reach here, so this is the tested equivalent): every
e2e run, the session's tiny run included, uses an interpreter with the dependencies only
(tests.helpers.workflow.bare_python), and the workflow gives its jobs the copy's src/."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers.workflow import (
    REPO,
    bare_python,
    copy_workflow,
    run_snakemake,
    without_pythonpath,
)

pytestmark = pytest.mark.e2e

TINY = ("--cores", "1", "--configfile", "configs/tiny.yaml")

# A rule beside the workflow's (same common.smk): where its script and a child process the
# script starts (as calibration starts its workers) find the interpreter and the library.
PROBE_RULES = """
include: "Snakefile"


rule probe:
    output:
        "probe.json",
    conda:
        "envs/fundiff.yaml"
    script:
        "probe.py"
"""
PROBE_SCRIPT = """
import json, subprocess, sys
import fundiff

child = subprocess.run([sys.executable, "-c", "import fundiff; print(fundiff.__file__)"],
                       capture_output=True, text=True, check=True)
with open(snakemake.output[0], "w") as f:
    json.dump({"executable": sys.executable, "library": fundiff.__file__,
               "child_library": child.stdout.strip()}, f)
"""


def test_the_runs_interpreter_has_the_dependencies_but_not_fundiff():
    python = bare_python()
    env = without_pythonpath(os.environ)
    probe = "import snakemake, torch, torchvision, pandas, skimage, mlxtend"
    ok = subprocess.run([python, "-c", probe], cwd=python.parent, env=env, capture_output=True)
    assert ok.returncode == 0, ok.stderr.decode()[-2000:]
    out = subprocess.run(
        [python, "-c", "import fundiff"], cwd=python.parent, env=env, capture_output=True, text=True
    )
    assert "No module named 'fundiff'" in out.stderr, out.stderr[-2000:]


def test_tiny_run_was_made_without_fundiff_installed(tiny_run):
    """The session's tiny run (made by run_snakemake) is complete: the job scripts ran (a
    training log, the report) and the same interpreter finds nothing left to do."""
    assert "epoch 2/2" in (tiny_run / "logs/partb/train_class_cond.log").read_text()
    assert (tiny_run / "results/report/index.html").is_file()
    out = run_snakemake(tiny_run, "-n", *TINY)
    assert out.args[0] == str(bare_python())
    assert "Nothing to be done" in out.stdout + out.stderr, out.stdout[-3000:]


def test_job_scripts_and_their_children_import_the_copys_src(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    (wd / "probe.smk").write_text(PROBE_RULES)
    (wd / "probe.py").write_text(PROBE_SCRIPT)
    run_snakemake(wd, "-s", "probe.smk", "probe.json", *TINY, timeout=300)
    found = json.loads((wd / "probe.json").read_text())
    assert Path(found["executable"]) == bare_python()
    for key in ("library", "child_library"):
        lib = Path(found[key]).resolve()
        assert lib == (wd / "src/fundiff/__init__.py").resolve(), (key, lib)
        assert not lib.is_relative_to(REPO), (key, lib)
