"""Reliability: byte-identical reruns, and exact resume after a hard kill mid-training."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from fundiff.report.render import strip_run_info
from tests.helpers.workflow import bare_python, copy_workflow, run_snakemake, without_pythonpath

pytestmark = pytest.mark.e2e

# Not compared: the browser test's screenshots and the native-report test's zip, which those
# tests write into the shared tiny run (whether they are there depends on the order the tests ran).
WRITTEN_BY_OTHER_TESTS = ("screenshot.png", "screenshot_small.png", "report.zip")


def compared(path: Path) -> bool:
    """Whether two cold runs must agree on ``path`` byte for byte: every result file except the
    measured wall times, which live in files whose names contain "timing" (timing.json,
    quality_timing.png, compare_<model>_timing.png ...), and files other tests add."""
    name = path.name
    return not (
        name.startswith(".snakemake_timestamp")
        or "timing" in name
        or name in WRITTEN_BY_OTHER_TESTS
    )


def _digest_tree(root: Path) -> dict[str, bytes]:
    """Every compared result file's bytes; the report's run-info block (per-rule wall times,
    date, commit) is left out."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and compared(p):
            data = p.read_bytes()
            if p.parent.name == "report" and p.suffix in (".html", ".md"):
                data = strip_run_info(data.decode()).encode()
            out[str(p.relative_to(root))] = data
    return out


def test_only_timing_files_and_other_tests_files_are_skipped():
    skipped = [
        "results/beyond/samplers/class_cond/timing.json",
        "results/beyond/samplers/class_cond/quality_timing.png",
        "results/beyond/flow/compare_time_cond_timing.png",
        "results/report/screenshot.png",
        "results/report/screenshot_small.png",
        "results/report.zip",
    ]
    kept = [
        "results/beyond/samplers/class_cond/samplers.json",
        "results/beyond/samplers/class_cond/ddim_20.npz",
        "results/beyond/repaint/cost.json",
        "results/report/index.html",
        "results/report/screenshot_large.png",
    ]
    assert not any(compared(Path(p)) for p in skipped)
    assert all(compared(Path(p)) for p in kept)


@pytest.mark.full  # a second cold run: full tier (CI)
def test_two_cold_runs_are_byte_identical(tiny_run, tmp_path):
    other = copy_workflow(tmp_path / "second")
    run_snakemake(other, "--cores", "2", "--configfile", "configs/tiny.yaml")
    a, b = _digest_tree(tiny_run / "results"), _digest_tree(other / "results")
    assert sorted(a) == sorted(b)
    different = [name for name in a if a[name] != b[name]]
    assert not different, f"files differ between two cold runs: {different}"


CRASH_CONFIG = """
partb:
  class_cond:
    epochs: 6
    sample_epochs: [6]
"""


def _train_target(wd: Path) -> list[str]:
    return [
        "results/partb/class_cond/losses.csv",
        "--cores",
        "2",
        "--configfile",
        "configs/tiny.yaml",
        "crash.yaml",
    ]


@pytest.mark.full  # two trainings and a kill: full tier (CI)
def test_hard_kill_then_rerun_resumes_bit_identical(tmp_path):
    ref = copy_workflow(tmp_path / "uninterrupted")
    (ref / "crash.yaml").write_text(CRASH_CONFIG)
    run_snakemake(ref, *_train_target(ref))

    wd = copy_workflow(tmp_path / "crashed")
    (wd / "crash.yaml").write_text(CRASH_CONFIG)
    env = without_pythonpath(os.environ)  # as run_snakemake: the workflow finds its src/
    proc = subprocess.Popen(
        [str(bare_python()), "-m", "snakemake", *_train_target(wd)],
        cwd=wd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    log = wd / "logs/partb/train_class_cond.log"
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            if log.exists() and "epoch 2/6" in log.read_text():
                break
            assert proc.poll() is None, "training finished before it could be killed"
            time.sleep(0.2)
        else:
            pytest.fail("training never reached epoch 2")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # snakemake and the training job, no cleanup
        proc.wait()
    assert (wd / "results/partb/class_cond/_training/resume.pt").exists()
    assert not (wd / "results/partb/class_cond/losses.csv").exists()

    # Snakemake itself was SIGKILLed, so its directory lock is stale: the same command refuses
    # with Snakemake's own message; `--unlock` (documented in the README) clears it.
    refused = run_snakemake(wd, *_train_target(wd), check=False)
    assert refused.returncode != 0 and "cannot be locked" in refused.stdout + refused.stderr
    run_snakemake(wd, "--unlock", *_train_target(wd))
    run_snakemake(wd, *_train_target(wd))  # the same command again
    text = log.read_text()
    m = re.search(r"resuming class training from epoch (\d+)", text)
    assert m and int(m.group(1)) >= 2, text[-2000:]
    for e in range(1, 7):
        name = f"results/partb/class_cond/epochs/epoch_{e:03d}.pt"
        a = torch.load(ref / name)["state_dict"]
        b = torch.load(wd / name)["state_dict"]
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)
    assert (ref / "results/partb/class_cond/losses.csv").read_bytes() == (
        wd / "results/partb/class_cond/losses.csv"
    ).read_bytes()
