"""Config validation: JSON schema + cross-key checks, each failure one line that names the key."""

from __future__ import annotations

import difflib
from pathlib import Path

import jsonschema
import yaml

from .errors import UserError


class ConfigError(UserError, ValueError):
    """A config problem, worded as one actionable line."""


def _path(parts) -> str:
    return ".".join(str(p) for p in parts) or "<top level>"


def _subschema(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _message(err: jsonschema.ValidationError, root_schema: dict) -> str:
    where = _path(err.absolute_path)
    if err.validator == "additionalProperties":
        allowed = sorted(_subschema(err.schema, root_schema).get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        bad = extra[0] if extra else "?"
        near = difflib.get_close_matches(bad, allowed, n=1)
        hint = f"did you mean '{near[0]}'?" if near else f"allowed keys: {', '.join(allowed)}"
        key = f"{where}.{bad}" if err.absolute_path else bad
        return f"unknown config key '{key}' ({hint})"
    if err.validator == "required":
        return f"config key '{where}' is missing {err.message.split(' is a required')[0]}"
    if err.validator == "enum":
        return f"config key '{where}' = {err.instance!r} must be one of {err.validator_value}"
    if err.validator == "type":
        return f"config key '{where}' = {err.instance!r} must be of type {err.validator_value}"
    return f"config key '{where}' = {err.instance!r}: {err.message}"


def validate(config: dict, schema_path: str | Path) -> dict:
    """Validate ``config`` in place; raise ConfigError with one line for the first problem."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        raise ConfigError(_message(errors[0], schema))
    _cross_checks(config)
    return config


def _cross_checks(config: dict) -> None:
    pb = config["partb"]
    for model, key in (
        ("denoiser", "show_epochs"),
        ("time_cond", "sample_epochs"),
        ("class_cond", "sample_epochs"),
    ):
        epochs = pb[model]["epochs"]
        too_late = [e for e in pb[model][key] if e > epochs]
        if too_late:
            raise ConfigError(
                f"config key 'partb.{model}.{key}' asks for epoch {too_late[0]} but "
                f"'partb.{model}.epochs' is {epochs}: lower it or train longer"
            )
    s = pb["schedule"]
    if s["beta_start"] >= s["beta_end"]:
        raise ConfigError(
            "config key 'partb.schedule.beta_start' must be below 'beta_end' "
            f"(got {s['beta_start']} >= {s['beta_end']})"
        )
