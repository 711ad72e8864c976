"""Shared fixtures: one tiny end-to-end run per session (helpers live in tests/helpers/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.workflow import copy_workflow, run_snakemake


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole workflow (Parts A and B) on configs/tiny.yaml, once per test session.

    A few minutes on 2 idle cores; the generous timeout covers CPUs shared with other jobs."""
    wd = copy_workflow(tmp_path_factory.mktemp("tiny"))
    run_snakemake(wd, "--cores", "2", "--configfile", "configs/tiny.yaml", timeout=2400)
    return wd
