"""Part A config cross-checks (fundiff.config): one line naming the key."""

import copy

import pytest
import yaml

from fundiff.config import ConfigError, validate
from tests.helpers.workflow import REPO


def _base():
    return yaml.safe_load((REPO / "config.yaml").read_text())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p["sdedit"].update(i_start=[1, 29]), "'parta.sdedit.i_start' = 29 is past"),
        (lambda p: p["iterative"].update(i_start=40), "'parta.iterative.i_start' = 40"),
        (lambda p: p["timesteps"].update(start=295), "multiple of 'stride'"),
        (lambda p: p["forward"].update(image="campanile"), "names image 'campanile'"),
        (lambda p: p["anagrams"]["pairs"][0].update(prompts=["6", "a dog"]), "'a dog'"),
        (lambda p: p["inpaint"][0].update(rects=[[20, 0, 14, 28]]), "does not fit the 28x28"),
        (lambda p: p["backend"].update(name="deepfloyd"), "'parta.backend.stage1' is missing"),
        (lambda p: p["images"]["camera"].update(source="s3:x"), "parta.images.camera.source"),
    ],
)
def test_parta_config_errors_are_one_line(edit, message):
    cfg = copy.deepcopy(_base())
    edit(cfg["parta"])
    with pytest.raises(ConfigError) as e:
        validate(cfg, REPO / "schemas/config.schema.yaml")
    assert message in str(e.value) and "\n" not in str(e.value)
