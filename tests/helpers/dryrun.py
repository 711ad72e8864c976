"""The jobs of a Snakemake dry run as data: rule, threads, resources, benchmark file, wildcards."""

from __future__ import annotations

import re

import yaml
from snakemake.utils import update_config

from fundiff.config import validate
from tests.helpers.workflow import REPO

_HEAD = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):$")


def _value(v: str):
    try:
        return int(v)
    except ValueError:
        return v


def dry_run_jobs(text: str) -> list[dict]:
    """Every job block of ``snakemake -n`` output (Snakemake 9 format). Threads are printed only
    when above 1; resources as ``name=value, ...``; ``local`` is True for a localrule's job."""
    jobs, job = [], None
    for line in text.splitlines():
        m = _HEAD.match(line)
        if m:
            job = {"rule": m.group(1), "local": line.startswith("local"), "threads": 1,
                   "resources": {}, "benchmark": None, "wildcards": {}}  # fmt: skip
            jobs.append(job)
            continue
        if job is None or not line.startswith("    "):
            continue
        key, _, val = line.strip().partition(": ")
        if key == "threads":
            job["threads"] = int(val)
        elif key == "resources":
            for item in val.split(", "):
                name, _, v = item.partition("=")
                job["resources"][name] = _value(v)
        elif key == "benchmark":
            job["benchmark"] = val
        elif key == "wildcards":
            job["wildcards"] = dict(kv.split("=", 1) for kv in val.split(", "))
    return [j for j in jobs if j["rule"] not in {"all", "parta_all"}]


def merged_config(files: list[str], overrides: dict | None = None, root=REPO) -> dict:
    """config.yaml with ``files`` (relative to ``root``) and ``overrides`` merged over it, as
    Snakemake merges --configfile / --config, validated (schema defaults filled)."""
    config = yaml.safe_load((root / "config.yaml").read_text())
    for f in files:
        update_config(config, yaml.safe_load((root / f).read_text()))
    update_config(config, overrides or {})
    validate(config, root / "schemas/config.schema.yaml")
    return config
