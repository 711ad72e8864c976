"""Bad-input matrix through the real pipeline: non-zero exit, one actionable line in the rule's
log naming the file/key and the fix, and no output left looking complete."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import run_snakemake

pytestmark = pytest.mark.e2e


@pytest.fixture
def done_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the finished tiny run (workflow + results + metadata)."""
    wd = tmp_path / "wd"
    shutil.copytree(tiny_run, wd, symlinks=True, ignore=shutil.ignore_patterns("locks"))
    return wd


def _error_line(log: Path) -> str:
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
    return lines[0]


SAMPLE = "results/partb/class_cond/samples/epoch_2.png"
TINY = ("--cores", "1", "--configfile", "configs/tiny.yaml")


def test_corrupt_checkpoint(done_copy):
    ckpt = done_copy / "results/partb/class_cond/epochs/epoch_002.pt"
    ckpt.write_bytes(b"\x00 not a checkpoint")
    out = run_snakemake(done_copy, SAMPLE, *TINY, "--forcerun", "sample", check=False)
    assert out.returncode != 0
    line = _error_line(done_copy / "logs/partb/sample_class_cond_2.log")
    assert "epoch_002.pt: not a readable checkpoint" in line and "rerun the training" in line
    assert not (done_copy / SAMPLE).exists()


def test_checkpoint_of_another_width(done_copy):
    ckpt = done_copy / "results/partb/class_cond/epochs/epoch_002.pt"
    state = torch.load(ckpt)
    state["model_config"]["num_hiddens"] = 64  # as if trained with D=64; config says D=8
    torch.save(state, ckpt)
    out = run_snakemake(done_copy, SAMPLE, *TINY, "--forcerun", "sample", check=False)
    assert out.returncode != 0
    line = _error_line(done_copy / "logs/partb/sample_class_cond_2.log")
    assert "num_hiddens=64 but the config asks for 8" in line
    assert not (done_copy / SAMPLE).exists()
