"""Every config input known when the workflow is parsed (tests/helpers/parse_time_cases.py) through
the workflow's own parse-time checks (fundiff.workflow.checks.check_config, as rules/common.smk
calls it) on config.yaml + configs/tiny.yaml + the bad overlay: one line, naming the key or image
and the fix. tests/e2e/test_bad_inputs.py runs one case of each kind through Snakemake too."""

from __future__ import annotations

import pytest
import yaml

from fundiff.config import ConfigError, deep_merge
from fundiff.parta.images import ImageError
from fundiff.workflow.checks import check_config
from tests.helpers.parse_time_cases import PARSE_TIME_CASES
from tests.helpers.workflow import REPO

SCHEMA = REPO / "schemas/config.schema.yaml"


@pytest.mark.parametrize("override, message", PARSE_TIME_CASES.values(), ids=PARSE_TIME_CASES)
def test_bad_config_is_one_line_at_parse_time(tmp_path, override, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(override)
    files = [REPO / "config.yaml", REPO / "configs/tiny.yaml", bad]
    config = {}
    for f in files:
        config = deep_merge(config, yaml.safe_load(f.read_text()) or {})
    with pytest.raises((ConfigError, ImageError)) as e:
        check_config([str(f) for f in files], config, SCHEMA, REPO)
    line = str(e.value)
    assert "\n" not in line and message in line, line


def test_the_shipped_presets_pass_the_parse_time_checks():
    for preset in ["tiny", "fa24", "beyond"]:
        files = [REPO / "config.yaml", REPO / f"configs/{preset}.yaml"]
        config = {}
        for f in files:
            config = deep_merge(config, yaml.safe_load(f.read_text()))
        check_config([str(f) for f in files], config, SCHEMA, REPO)
