"""Shared fixtures: one tiny end-to-end run per session (helpers live in tests/helpers/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers.workflow import copy_workflow, run_snakemake


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole workflow (Parts A and B) on configs/tiny.yaml, once per test session.

    A few minutes on 2 idle cores; the generous timeout covers CPUs shared with other jobs."""
    wd = copy_workflow(tmp_path_factory.mktemp("tiny"))
    run_snakemake(wd, "--cores", "2", "--configfile", "configs/tiny.yaml", timeout=2400)
    return wd


@pytest.fixture
def restore_torch():
    """Put back torch's process-wide settings (threads, deterministic mode, cudnn benchmark)
    that setup_torch / backend_from_rule pin."""
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    warn = torch.is_deterministic_algorithms_warn_only_enabled()
    bench = torch.backends.cudnn.benchmark
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(det, warn_only=warn)
    torch.backends.cudnn.benchmark = bench
