"""The checks made while the workflow is parsed (rules/common.smk), torch-free: a bad config stops
the dry run with one line, before any job runs."""

from __future__ import annotations

from fundiff.config import check_duplicate_keys, validate
from fundiff.parta.images import check_images


def check_config(config_files, config: dict, schema, base_dir=".") -> None:
    """Duplicate keys in any of ``config_files`` (config.yaml and every --configfile), the merged
    ``config`` against ``schema`` (defaults filled in place) and the Part A images' sources and
    mask files (relative to ``base_dir``). Raises ConfigError or ImageError, one line each."""
    check_duplicate_keys(config_files)
    validate(config, schema)
    check_images(config, base_dir)
