"""End to end: beyond.samplers (section X2) on the tiny preset: every configured sampler and step
count sampled, timed and scored for both conditioned models, and shown in the writeup."""

import json
import math
import re

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.e2e

MODELS = ("time_cond", "class_cond")


def _tiny(tiny_run) -> dict:
    return yaml.safe_load((tiny_run / "configs/tiny.yaml").read_text())["beyond"]["samplers"]


def test_every_sampler_row_is_present_and_finite(tiny_run):
    cfg = _tiny(tiny_run)
    assert cfg["enabled"], "configs/tiny.yaml turns beyond.samplers on"
    samplers = cfg.get("samplers", ["ddpm", "ddim"])
    want = {(s, k) for s in samplers for k in cfg["steps"]}
    for model in MODELS:
        df = pd.read_csv(tiny_run / f"results/beyond/samplers/{model}/samplers.csv")
        assert set(zip(df["sampler"], df["steps"], strict=True)) == want and len(df) == len(want)
        assert (df["model"] == model).all() and (df["n"] == cfg["num_samples"]).all()
        for col in ("seconds", "confidence", "fd", "fd_floor", "fd_ratio"):
            assert df[col].map(math.isfinite).all(), (model, col)
        assert (df["seconds"] > 0).all() and (df["fd_floor"] > 0).all()
        assert df["confidence"].between(0, 1).all()
        if model == "class_cond":
            assert df["accuracy"].between(0, 1).all()
        else:
            assert df["accuracy"].isna().all()  # no requested class to be right about
        assert df.loc[df.sampler == "ddpm", "eta"].isna().all()  # eta is DDIM's only
        # the log reports every row with its seconds (the number in the CSV)
        log = (tiny_run / f"logs/beyond/samplers_sample_{model}.log").read_text()
        for s, k in want:
            assert re.search(rf"{s}, {k} steps \(eta [^)]+\): \d+ digits in [0-9.]+ s", log)


def test_table_spec_lists_every_row_and_the_settings(tiny_run):
    cfg = _tiny(tiny_run)
    for model in MODELS:
        folder = tiny_run / f"results/beyond/samplers/{model}"
        spec = json.loads((folder / "samplers.json").read_text())
        assert spec["section"] == "X2" and model in spec["title"]
        assert len(spec["data"]["rows"]) == len(cfg["steps"]) * len(cfg.get("samplers", [0, 0]))
        assert spec["params"]["steps"] == cfg["steps"]
        assert spec["params"]["num_samples"] == cfg["num_samples"]
        cells = [c["src"] for r in spec["rows"] for c in r["cells"]]
        assert "quality_time.png" in cells and all((folder / c).is_file() for c in cells)
        assert (folder / "quality_time.png").stat().st_size > 1000


def test_report_section_x2_shows_the_curves_and_tables(tiny_run):
    page = (tiny_run / "results/report/index.html").read_text()
    x2 = page.split('id="sec-X2"', 1)[1].split("</section>", 1)[0]
    assert "Placeholder" not in x2
    for model in MODELS:
        assert f"beyond/samplers/{model}/quality_time.png" in x2
        assert f"Quality vs sampling time: {model}" in x2
    assert "<math" in x2  # the step formulas
    md = (tiny_run / "results/report/README.md").read_text()
    assert "beyond/samplers/class_cond/quality_time.png" in md
