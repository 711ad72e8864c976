"""Shared fixtures: one tiny end-to-end run per session (helpers live in tests/helpers/), and the
test tiers: the README's command runs the default tier; FUNDIFF_TEST_TIER=full (set by .ci/run)
adds the tests marked ``full`` (docs/testing.md, "Test tiers")."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers.tiers import TIER_VARIABLE, full_tier
from tests.helpers.workflow import copy_workflow, run_snakemake


def pytest_collection_modifyitems(config, items):
    """Default tier: leave out the tests marked ``full`` (reported in the summary, not skipped)."""
    if full_tier():
        return
    full = [item for item in items if item.get_closest_marker("full")]
    if full:
        config.hook.pytest_deselected(items=full)
        items[:] = [item for item in items if not item.get_closest_marker("full")]
        config._fundiff_full_left_out = len(full)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    n = getattr(config, "_fundiff_full_left_out", 0)
    if n:
        terminalreporter.write_line(
            f"default tier: {n} full-tier tests not run (deselected); "
            f"{TIER_VARIABLE}=full runs them, as CI does (docs/testing.md)"
        )


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
