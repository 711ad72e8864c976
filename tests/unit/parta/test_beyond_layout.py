"""Beyond the spec, Part A items (fundiff.parta.beyond): which files each item declares on
each backend, the params its rules carry (exactly the item's keys) and the prompt cache."""

import subprocess
import sys

import pytest
import yaml

from fundiff.config import ConfigError, deep_merge, validate
from fundiff.parta import beyond, layout
from tests.helpers.workflow import REPO

KINDS = ("figures", "tables", "benchmarks")


def preset(*names, extra=None):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    for name in names:
        cfg = deep_merge(cfg, yaml.safe_load((REPO / f"configs/{name}.yaml").read_text()))
    return validate(deep_merge(cfg, extra or {}), REPO / "schemas/config.schema.yaml")


def test_beyond_imports_no_torch():
    code = "import sys, fundiff.parta.beyond; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_off_by_default_and_on_with_the_beyond_preset():
    off, on = preset(), preset("beyond")
    for kind in KINDS:
        assert beyond.views_files(off, kind) == beyond.repaint_files(off, kind) == []
        assert beyond.logo_files(on, kind) == []  # mnist backend: no logo, and no failure
    assert on["beyond"]["views"]["pairs"] is None
    assert beyond.view_pairs(on) == [dict(p) for p in on["parta"]["anagrams"]["pairs"]]
    names, pairs = beyond.view_names(on), beyond.view_pairs(on)
    figures = beyond.views_files(on, "figures")
    assert len(figures) == 2 * len(names) * len(pairs) + 1  # two cells per pair + the plot
    assert "results/beyond/views/jigsaw/six_nine/jigsaw.png" in figures
    assert beyond.views_files(on, "tables")[-1] == "results/beyond/views/success.json"
    figures = beyond.repaint_files(on, "figures")
    assert len(figures) == 4 * len(on["parta"]["inpaint"]) + 1  # four cells per image + timing
    assert figures[-1] == beyond.REPAINT_TIMING_PLOT and "timing" in figures[-1]
    assert beyond.repaint_files(on, "tables") == [
        "results/beyond/repaint/table.json",
        "results/beyond/repaint/cost.json",
    ]
    assert str(on["beyond"]["repaint"]["samples"]) in beyond.repaint_cost_title(on)


def test_deepfloyd_has_the_logo_and_no_judge():
    cfg = preset("deepfloyd", "beyond")
    assert beyond.logo_files(cfg, "tables") == ["results/beyond/logo/table.json"]
    n = len(cfg["beyond"]["logo"]["prompts"])
    assert len(beyond.logo_files(cfg, "figures")) == 2 * n  # stage I and stage II per prompt
    assert not any("success" in f for f in beyond.views_files(cfg, "figures"))
    # the logo prompts join the prompt-embedding cache only when the item is on
    assert set(cfg["beyond"]["logo"]["prompts"]) <= set(layout.prompts(cfg))
    assert not set(cfg["beyond"]["logo"]["prompts"]) & set(layout.prompts(preset("deepfloyd")))
    assert beyond.logo_params(cfg)["seed"] == cfg["seed"]  # null = the config's seed


def test_rule_params_carry_exactly_the_item_keys():
    cfg = preset("beyond")
    rp = beyond.repaint_params(cfg)
    assert set(rp) == {"jump_length", "resamplings", "samples", "band", "cases"}
    edited = preset("beyond", extra={"beyond": {"repaint": {"jump_length": 3}}})
    assert beyond.repaint_params(edited)["jump_length"] == 3
    assert beyond.views_params(edited) == beyond.views_params(cfg)  # views untouched
    assert set(beyond.views_params(cfg)) == {"views", "pairs", "samples"}


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"views": {"views": ["spin"]}}, "views"),
        ({"repaint": {"jump_length": 0}}, "jump_length"),
        ({"logo": {"prompts": []}}, "prompts"),
    ],
)
def test_bad_beyond_config_names_the_key(extra, key):
    with pytest.raises(ConfigError, match=key):
        preset("beyond", extra={"beyond": extra})
