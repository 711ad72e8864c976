"""End to end: beyond.samplers (section X2) on the tiny preset: every configured sampler and step
count sampled, timed and scored for both conditioned models, and shown in the writeup."""

import json
import math

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
        for col in ("confidence", "fd", "fd_floor", "fd_ratio"):
            assert df[col].map(math.isfinite).all(), (model, col)
        assert (df["fd_floor"] > 0).all() and "seconds" not in df
        assert df["confidence"].between(0, 1).all()
        if model == "class_cond":
            assert df["accuracy"].between(0, 1).all()
        else:
            assert df["accuracy"].isna().all()  # no requested class to be right about
        assert df.loc[df.sampler == "ddpm", "eta"].isna().all()  # eta is DDIM's only
        # the wall times in their own file, one per row, and in the log
        timing = json.loads((tiny_run / f"results/beyond/samplers/{model}/timing.json").read_text())
        assert timing["n"] == cfg["num_samples"]
        assert {(r["sampler"], r["steps"]) for r in timing["rows"]} == want
        assert all(r["seconds"] > 0 and math.isfinite(r["seconds"]) for r in timing["rows"])
        log = (tiny_run / f"logs/beyond/samplers_sample_{model}.log").read_text()
        for r in timing["rows"]:
            s, k, sec = r["sampler"], r["steps"], r["seconds"]
            assert (
                f"{s}, {k} steps (eta {r['eta']}): {cfg['num_samples']} digits in {sec:.3f} s"
                in log
            )


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
        assert {"quality_timing.png", "timing.png"} <= set(cells)
        assert all((folder / c).is_file() for c in cells)
        assert (folder / "quality_timing.png").stat().st_size > 1000
        assert not any("second" in c for c in spec["data"]["columns"])


def test_report_section_x2_shows_the_curves_and_tables(tiny_run):
    page = (tiny_run / "results/report/index.html").read_text()
    x2 = page.split('id="sec-X2"', 1)[1].split("</section>", 1)[0]
    assert "Placeholder" not in x2
    for model in MODELS:
        assert f"beyond/samplers/{model}/quality_timing.png" in x2
        assert f"beyond/samplers/{model}/timing.png" in x2
        assert f"Quality vs sampling time: {model}" in x2
    assert "<math" in x2  # the step formulas
    md = (tiny_run / "results/report/README.md").read_text()
    assert "beyond/samplers/class_cond/quality_timing.png" in md
