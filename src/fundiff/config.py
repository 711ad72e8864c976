"""Config validation: JSON schema + cross-key checks, each failure one line that names the key."""

from __future__ import annotations

import copy
import difflib
import functools
import math
from pathlib import Path

import jsonschema
import yaml

from fundiff.errors import UserError


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
        hint = ""
        if isinstance(err.instance, str) and _is_number(err.instance):
            hint = " (YAML read it as text: drop the quotes, and write an exponent as 1.0e-5)"
        return (
            f"config key '{where}' = {err.instance!r} must be of type {err.validator_value}{hint}"
        )
    bound = _BOUNDS.get(err.validator)
    if bound:
        return f"config key '{where}' = {err.instance!r} {bound.format(v=err.validator_value)}"
    if err.validator == "pattern" and err.schema.get("description"):
        return f"config key '{where}' = {err.instance!r} is not valid: {err.schema['description']}"
    if err.validator == "not" and err.validator_value == {"multipleOf": 2}:
        return f"config key '{where}' = {err.instance!r} must be odd (a kernel has a centre pixel)"
    return f"config key '{where}' = {err.instance!r}: {err.message}"


def _is_number(text: str) -> bool:
    """Whether ``text`` spells a finite number (``1e-5``: YAML 1.1 needs ``1.0e-5``)."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


_BOUNDS = {
    "minimum": "is below the minimum {v}; use a value >= {v}",
    "maximum": "is above the maximum {v}; use a value <= {v} (bounds: schemas/config.schema.yaml)",
    "exclusiveMinimum": "must be greater than {v}",
    "exclusiveMaximum": "must be less than {v}",
}


YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when built with it


def read_yaml(path: str | Path):
    """A YAML file through the safe loader (libyaml's C one when available: several files are
    read each time the workflow is parsed)."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=YAML_LOADER)


@functools.cache
def _schema(path: Path, mtime_ns: int) -> dict:
    return read_yaml(path)


def load_schema(schema_path: str | Path) -> dict:
    """The config schema, parsed once per process and file version (treat it as read-only)."""
    path = Path(schema_path).resolve()
    return _schema(path, path.stat().st_mtime_ns)


def validate(config: dict, schema_path: str | Path) -> dict:
    """Validate ``config`` and fill in every schema default (in place, once: nothing downstream
    repeats a default); raise ConfigError with one line for the first problem."""
    schema = load_schema(schema_path)
    check_finite(config)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        raise ConfigError(_message(errors[0], schema))
    integers_as_int(config, schema)
    fill_defaults(config, schema)
    _cross_checks(config)
    return config


def check_finite(node, where=()) -> None:
    """Reject NaN and infinity anywhere in the config (YAML ``.nan``, ``.inf``, ``-.inf``): no
    setting has a use for them, and the schema's bounds do not catch NaN."""
    if isinstance(node, dict):
        for k, v in node.items():
            check_finite(v, (*where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            check_finite(v, (*where, i))
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(
            f"config key '{_path(where)}' = {node!r} is not a finite number; give a finite value"
        )


def _integer_only(schema: dict, root: dict) -> bool:
    """Whether ``schema`` accepts integers but no other numbers (``type: integer``, possibly with
    null, or a oneOf / anyOf of such), so that an integral float there means an integer."""
    schema = _subschema(schema, root)
    types = schema.get("type", [])
    types = {types} if isinstance(types, str) else set(types)
    for key in ("oneOf", "anyOf"):
        for sub in schema.get(key, []):
            sub = _subschema(sub, root)
            t = sub.get("type", [])
            types |= {t} if isinstance(t, str) else set(t)
    return "integer" in types and "number" not in types


def integers_as_int(node, schema: dict, root: dict | None = None):
    """Turn every integral float (``epochs: 20.0``; the schema already accepts it as an integer)
    where the schema wants an integer into an int, in place, so that file names, ranges and rule
    params see ``20``, never ``20.0``. Returns the (converted) node."""
    root = schema if root is None else root
    schema = _subschema(schema, root)
    if isinstance(node, float) and node.is_integer() and _integer_only(schema, root):
        return int(node)
    if isinstance(node, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, value in node.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                node[key] = integers_as_int(value, sub, root)
    elif isinstance(node, list) and isinstance(schema.get("items"), dict):
        node[:] = [integers_as_int(item, schema["items"], root) for item in node]
    return node


def _duplicate_keys(node, where=()):
    """(dotted key, line, first line) of the first mapping key repeated in a composed YAML node."""
    if isinstance(node, yaml.MappingNode):
        seen = {}
        for key_node, value in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            line = key_node.start_mark.line + 1
            if key in seen and key != "<<":
                return _path((*where, key)), line, seen[key]
            seen[key] = line
            found = _duplicate_keys(value, (*where, key))
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_keys(item, (*where, i))
            if found:
                return found
    return None


def check_duplicate_keys(paths) -> None:
    """Reject a key given twice in one mapping of a config file (YAML or JSON). Snakemake's
    loader silently keeps the last one; the workflow calls this on ``workflow.configfiles``."""
    for path in paths:
        try:
            node = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=YAML_LOADER)
        except (OSError, yaml.YAMLError):
            continue  # unreadable or not YAML: Snakemake's own loader has said so already
        found = _duplicate_keys(node)
        if found:
            key, line, first = found
            raise ConfigError(
                f"config file {path}: key '{key}' is given twice (lines {first} and {line}); "
                "keep one (YAML would silently use the last)"
            )


def fill_defaults(node, schema: dict, root: dict | None = None):
    """Set every missing property that has a schema ``default`` (deep-copied), recursing into
    objects (a missing object whose properties have defaults is created) and array items."""
    root = schema if root is None else root
    schema = _subschema(schema, root)
    if isinstance(node, dict):
        for key, sub in schema.get("properties", {}).items():
            sub = _subschema(sub, root)
            if key not in node:
                if "default" in sub:
                    node[key] = copy.deepcopy(sub["default"])
                elif sub.get("type") == "object" and any(
                    "default" in _subschema(v, root) for v in sub.get("properties", {}).values()
                ):
                    node[key] = {}
            if key in node:
                fill_defaults(node[key], sub, root)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in set(node) - set(schema.get("properties", {})):
                fill_defaults(node[key], extra, root)
    elif isinstance(node, list) and isinstance(schema.get("items"), dict):
        for item in node:
            fill_defaults(item, schema["items"], root)
    return node


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
    beyond = config.get("beyond", {})
    # step counts over the DDPM schedule (fast samplers; the DDPM side of the flow comparison)
    for item, key in (("samplers", "steps"), ("flow", "compare_steps")):
        too_many = [n for n in beyond.get(item, {}).get(key, []) if n > s["num_timesteps"]]
        if beyond.get(item, {}).get("enabled") and too_many:
            raise ConfigError(
                f"config key 'beyond.{item}.{key}' asks for {too_many[0]} DDPM steps but "
                f"'partb.schedule.num_timesteps' is {s['num_timesteps']}: use 1 to "
                f"{s['num_timesteps']} steps"
            )
    flow = beyond.get("flow", {})
    for model in ("time_cond", "class_cond"):
        late = [e for e in flow.get("sample_epochs") or [] if e > pb[model]["epochs"]]
        if flow.get("enabled") and late:
            raise ConfigError(
                f"config key 'beyond.flow.sample_epochs' asks for epoch {late[0]} but "
                f"'partb.{model}.epochs' (the flow models' too) is {pb[model]['epochs']}"
            )
    if "parta" in config:
        _parta_checks(config)


def _parta_checks(config: dict) -> None:
    """Cross-key checks of the Part A section (timesteps, i_start, image names, prompts)."""
    pa = config["parta"]
    start, stride = pa["timesteps"]["start"], pa["timesteps"]["stride"]
    if start % stride:
        raise ConfigError(
            f"config key 'parta.timesteps.start' = {start} must be a multiple of 'stride' = "
            f"{stride} so that the strided list ends at t = 0"
        )
    n = start // stride + 1
    i_starts = [("parta.iterative.i_start", pa["iterative"]["i_start"])]
    i_starts += [("parta.sdedit.i_start", i) for i in pa["sdedit"]["i_start"]]
    for key, i in i_starts:
        if i > n - 2:
            raise ConfigError(
                f"config key '{key}' = {i} is past the strided timestep list ({start} -> 0 "
                f"stride {stride}, {n} entries): use 0..{n - 2}"
            )
    names = set(pa["images"])
    used = [("parta.forward.image", pa["forward"]["image"])]
    for key in ("images", "edit_images"):
        used += [(f"parta.sdedit.{key}", name) for name in pa["sdedit"][key]]
    used += [("parta.sdedit.text.images", name) for name in pa["sdedit"]["text"]["images"]]
    used += [("parta.inpaint", spec["image"]) for spec in pa["inpaint"]]
    for key, name in used:
        if name not in names:
            raise ConfigError(
                f"config key '{key}' names image '{name}', which is not in 'parta.images' "
                f"(known: {', '.join(sorted(names))})"
            )
    if len({spec["image"] for spec in pa["inpaint"]}) != len(pa["inpaint"]):
        raise ConfigError("config key 'parta.inpaint' lists an image twice; list each once")
    for section in ("anagrams", "hybrids"):
        names = [pair["name"] for pair in pa[section]["pairs"]]
        if len(set(names)) != len(names):
            raise ConfigError(
                f"config key 'parta.{section}.pairs' repeats a name; names must differ"
            )
    for spec in pa["inpaint"]:
        name = spec["image"]
        if ("rects" in spec) == ("mask" in spec):
            raise ConfigError(
                f"config key 'parta.inpaint' entry '{name}' needs exactly one of 'rects' "
                "(rectangles [top, left, height, width]) or 'mask' (an image file)"
            )
    eval_images = (config.get("eval", {}).get("parta") or {}).get("images") or []
    for name in eval_images:
        if name not in pa["images"]:
            raise ConfigError(
                f"config key 'eval.parta.images' names image '{name}', which is not in "
                f"'parta.images' (known: {', '.join(sorted(pa['images']))})"
            )
    backend = pa["backend"]
    if backend["name"] == "deepfloyd":
        for key in ("stage1", "stage2"):
            if not backend.get(key):
                raise ConfigError(
                    f"config key 'parta.backend.{key}' is missing: give a model id such as "
                    "'DeepFloyd/IF-I-L-v1.0' or a local directory"
                )
        # IF's schedule is fixed; its image size is read from the model, known here only for
        # the hub's stage I models (a local directory: checked when the model is loaded)
        _timestep_checks(pa, DEEPFLOYD_TIMESTEPS, "DeepFloyd IF model's")
        size = IF_STAGE1_SIZE if str(backend["stage1"]).startswith(IF_STAGE1_IDS) else None
        _rect_checks(pa, size, "DeepFloyd IF stage I")
        if size:
            _kernel_checks(config, size, far_sigma=False)
        return
    # mnist: the model's schedule and image size are known from the config already
    _timestep_checks(pa, config["partb"]["schedule"]["num_timesteps"], "MNIST model's")
    _rect_checks(pa, MNIST_SIZE, "MNIST")
    _kernel_checks(config, MNIST_SIZE)
    from fundiff.parta.prompts import parse_prompt

    prompts = [("parta.null_prompt", pa["null_prompt"])]
    prompts += [("parta.a0.prompts", p) for p in pa["a0"]["prompts"]]
    prompts += [(f"parta.{s}.prompts", p) for s in ("sample", "cfg") for p in pa[s]["prompts"]]
    prompts.append(("parta.sdedit.text.prompt", pa["sdedit"]["text"]["prompt"]))
    for section in ("anagrams", "hybrids"):
        for pair in pa[section]["pairs"]:
            prompts += [(f"parta.{section}.pairs.{pair['name']}", p) for p in pair["prompts"]]
    for key, p in prompts:
        try:
            parse_prompt(p)
        except ValueError as e:
            raise ConfigError(f"config key '{key}': {e}") from None


MNIST_SIZE = 28  # the mnist backend's image (the spec UNet's AvgPool 7 fixes 28 x 28)
DEEPFLOYD_TIMESTEPS = 1000  # DeepFloyd IF's training schedule (num_train_timesteps)
IF_STAGE1_IDS, IF_STAGE1_SIZE = "DeepFloyd/IF-I-", 64  # the hub's stage I models: 64 x 64


def _timestep_checks(pa: dict, T: int, model: str) -> None:
    """Part A's timesteps, forward noise levels and A0 step counts against the model's T."""
    too_big = [("parta.timesteps.start", pa["timesteps"]["start"])]
    too_big += [("parta.forward.t", t) for t in pa["forward"]["t"]]
    for key, t in too_big:
        if t >= T:
            raise ConfigError(f"config key '{key}' = {t} must be below the {model} {T} timesteps")
    for s in pa["a0"]["steps"]:
        if s > T:
            raise ConfigError(
                f"config key 'parta.a0.steps' = {s} exceeds the {model} {T} timesteps; "
                f"use at most {T}"
            )


def _rect_checks(pa: dict, size: int | None, model: str) -> None:
    """Inpainting rectangles: non-empty, inside the image (``size``; None: known only when the
    model is loaded, so only the signs are checked here)."""
    for spec in pa["inpaint"]:
        name = spec["image"]
        for r in spec.get("rects", []):
            top, left, h, w = r
            where = f"config key 'parta.inpaint' rects of '{name}': rectangle {r}"
            where += " [top, left, height, width]"
            if h <= 0 or w <= 0:
                raise ConfigError(f"{where} is empty; give a height and width of at least 1")
            if min(top, left) < 0:
                raise ConfigError(f"{where} starts outside the image; use top, left >= 0")
            if size and (top + h > size or left + w > size):
                raise ConfigError(
                    f"{where} does not fit the {size}x{size} {model} image; keep top + height "
                    f"and left + width <= {size}"
                )


def _kernel_checks(config: dict, size: int, far_sigma: bool = True) -> None:
    """Gaussian blurs of a ``size`` x ``size`` image: torchvision pads by reflection, which needs
    the kernel's half width below the image size (kernel <= 2 * size - 1); ``far_sigma``: also
    the blur of the hybrid evaluation (mnist backend only)."""
    pa, most = config["parta"], 2 * size - 1
    for key in ("blur", "hybrids"):
        k = pa[key]["kernel_size"]
        if k > most:
            raise ConfigError(
                f"config key 'parta.{key}.kernel_size' = {k} is too large for the {size}x{size} "
                f"image (reflect padding needs a kernel <= {most}); use an odd size <= {most}"
            )
    sigma = config["eval"]["parta"]["hybrid_far_sigma"]  # kernel 2 * ceil(3 sigma) + 1
    if far_sigma and math.ceil(3 * sigma) > size - 1:
        raise ConfigError(
            f"config key 'eval.parta.hybrid_far_sigma' = {sigma} is too large for the "
            f"{size}x{size} image (its blur kernel 2 * ceil(3 sigma) + 1 must be <= {most}); "
            f"use at most {(size - 1) / 3:g}"
        )


def _flatten(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def deep_merge(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base`` key by key, as Snakemake merges --configfile."""
    out = dict(base)
    for k, v in (over or {}).items():
        out[k] = (
            deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


def preset_notes(config: dict, spec: dict, sections=("data", "partb")) -> list[dict]:
    """Every setting of ``sections`` where ``config`` differs from the spec preset ``spec``
    (configs/fa24.yaml over config.yaml): [{"key", "value", "spec"}], sorted by key. Keys the
    spec leaves unset show the schema's spec default as given in ``spec`` (None if absent)."""
    ours = _flatten({s: config.get(s) for s in sections})
    theirs = _flatten({s: spec.get(s) for s in sections})
    return [
        {"key": k, "value": ours.get(k), "spec": theirs.get(k)}
        for k in sorted(set(ours) | set(theirs))
        if ours.get(k) != theirs.get(k)
    ]


def spec_preset_notes(config: dict, base_dir: str | Path, schema_path: str | Path) -> list[dict]:
    """:func:`preset_notes` of ``config`` against the spec preset of the workflow in
    ``base_dir`` (configs/fa24.yaml over config.yaml, validated so its defaults are filled):
    the report's preset notes (plain builtins)."""
    base = Path(base_dir)
    spec = deep_merge(
        read_yaml(base / "config.yaml"),
        read_yaml(base / "configs/fa24.yaml"),
    )
    return preset_notes(config, validate(spec, schema_path))


def parta_backend_label(config: dict) -> str:
    """Which model made Part A, as the report names it ("mnist", "deepfloyd (stage I + II)")."""
    backend = config["parta"]["backend"]
    if backend["name"] == "deepfloyd":
        return f"deepfloyd ({backend['stage1']} + {backend['stage2']})"
    return backend["name"]
