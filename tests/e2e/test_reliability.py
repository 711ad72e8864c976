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
from tests.helpers.wall_time import mask_wall_times
from tests.helpers.workflow import bare_python, copy_workflow, run_snakemake, without_pythonpath

pytestmark = pytest.mark.e2e


def _digest_tree(root: Path) -> dict[str, bytes]:
    """Every result file's bytes; the report's run-info block (wall times, date) is left out, and
    so are the sampling seconds some tables measure (tests/helpers/wall_time.py)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if (
            p.is_file()
            and not p.name.startswith(".snakemake_timestamp")
            and p.name
            not in (
                "screenshot.png",  # written into the shared tiny run by the browser test
                "report.zip",  # written by the native-report test
            )
        ):
            data = p.read_bytes()
            if p.parent.name == "report" and p.suffix in (".html", ".md"):
                data = strip_run_info(data.decode()).encode()
            out[str(p.relative_to(root))] = mask_wall_times(p, data)
    return out


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
