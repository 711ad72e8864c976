"""profiles/default runs GPU jobs one at a time; without it (or with --resources gpu=0) they overlap.

A throwaway Snakefile with three fake GPU rules that record start/end times, run with a copy of the
real profiles/default (picked up automatically, as in the repository) and more cores than jobs,
so only the `gpu` resource can serialise them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.workflow import REPO

SNAKEFILE = """
rule all:
    input:
        expand("out/{i}.txt", i=range(3)),

rule fake_gpu:
    output:
        "out/{i}.txt",
    log:
        "logs/{i}.log",
    resources:
        gpu=1,
    shell:
        "(date +%s.%N; sleep 1.5; date +%s.%N) > {output} 2> {log}"
"""


def run(wd: Path, *args: str) -> list[tuple[float, float]]:
    shutil.rmtree(wd / "out", ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "4", *args],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    spans = []
    for f in sorted((wd / "out").glob("*.txt")):
        start, end = map(float, f.read_text().split())
        spans.append((start, end))
    assert len(spans) == 3
    return sorted(spans)


def overlaps(spans: list[tuple[float, float]]) -> bool:
    return any(b_start < a_end for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))


@pytest.fixture(scope="module")
def wd(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("gpu")
    (d / "Snakefile").write_text(SNAKEFILE)
    shutil.copytree(REPO / "profiles/default", d / "profiles/default")
    return d


def test_default_profile_runs_gpu_jobs_one_at_a_time(wd):
    spans = run(wd)
    assert not overlaps(spans), spans


def test_without_the_profile_gpu_jobs_overlap(wd):
    """The control: the same jobs do run concurrently when nothing limits `gpu`."""
    spans = run(wd, "--workflow-profile", "none")
    assert overlaps(spans), spans


def test_resources_gpu_0_caps_instead_of_blocking(wd):
    """Documented pitfall: gpu=0 lowers each job's request to 0, so GPU jobs all run at once."""
    spans = run(wd, "--resources", "gpu=0")
    assert overlaps(spans), spans
