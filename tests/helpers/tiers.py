"""The test tiers (docs/testing.md, "Test tiers"): the README's command runs the default tier;
with FUNDIFF_TEST_TIER=full (as .ci/run sets it) the session also runs the tests marked ``full``
and the exhaustive parametrizations that the default tier samples."""

from __future__ import annotations

import os

TIER_VARIABLE = "FUNDIFF_TEST_TIER"


def full_tier() -> bool:
    """Whether this session runs the full tier (CI) rather than the default one."""
    return os.environ.get(TIER_VARIABLE, "").strip().lower() == "full"
