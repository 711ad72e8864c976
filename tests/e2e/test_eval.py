"""End to end: the tiny preset produces the evaluation tables, plots and summary."""

import json
import math

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.e2e


def test_eval_outputs(tiny_run):
    r = tiny_run / "results/eval"
    for name in ("partb_epochs.csv", "cfg_sweep.csv", "partb_final.csv", "summary.json"):
        assert (r / name).is_file(), name
    for name in ("partb_epochs.png", "cfg_sweep.png"):
        assert (r / name).stat().st_size > 1000, name
    epochs = pd.read_csv(r / "partb_epochs.csv")
    assert sorted(set(epochs["model"])) == ["class_cond", "time_cond"]
    assert sorted(epochs["epoch"].unique()) == [1, 2]
    assert (epochs["fd"] >= 0).all() and (epochs["fd_floor"] > 0).all()
    sweep = pd.read_csv(r / "cfg_sweep.csv")
    assert sweep["guidance_scale"].tolist() == [0.0, 5.0]
    assert sweep["n"].tolist() == [20, 20] and sweep["accuracy"].between(0, 1).all()
    s = json.loads((r / "summary.json").read_text())
    assert 0.5 < s["classifier"]["test_accuracy"] <= 1.0  # a 2-epoch classifier on real digits
    assert s["class_cond"]["guidance_scale"] == 5.0 and s["class_cond"]["n"] == 20
    assert 0 <= s["time_cond"]["class_entropy"] <= math.log(10) + 1e-9
    assert s["time_cond"]["n"] == 20
    assert set(s["targets"]) >= {"class_cond_accuracy_met", "class_cond_fd_ratio_met"}
    assert len(s["cfg_sweep"]) == 2


def test_parta_metric_outputs(tiny_run):
    r = tiny_run / "results/eval"
    cfg = yaml.safe_load((tiny_run / "configs/tiny.yaml").read_text())["parta"]
    ts = cfg["forward"]["t"]
    den = pd.read_csv(r / "parta_denoise.csv")
    assert list(den.columns) == ["image", "t", "method", "psnr", "ssim"]
    assert len(den) == 8 * len(ts) * 4  # 8 digits (default) x t x noisy/blur/one-step/iterative
    assert sorted(den["t"].unique()) == ts
    assert set(den["method"]) == {"noisy", "blur", "one_step", "iterative"}
    assert den["psnr"].between(0, 60).all() and den["ssim"].between(-1, 1).all()
    noisy = den[den.method == "noisy"].groupby("t")["psnr"].mean()
    assert noisy[ts[0]] > noisy[ts[-1]]  # more noise, lower PSNR
    sd = pd.read_csv(r / "parta_sdedit.csv")
    assert list(sd.columns) == ["section", "image", "i_start", "t", "psnr", "mse"]
    assert len(sd) == 3 * len(cfg["sdedit"]["i_start"])  # 3 sections x 1 image each
    assert sd["mse"].between(0, 1).all() and set(sd["section"]) == {"A1.7", "A1.7.1", "A1.7.3"}
    inp = pd.read_csv(r / "parta_inpaint.csv")
    assert inp["image"].tolist() == ["digit_b"] and inp["mask_fraction"].tolist() == [0.5]
    assert inp["mse_outside"].max() < 1e-10 and (inp["mse_inside"] > 0).all()  # RePaint keeps
    ill = pd.read_csv(r / "parta_illusions.csv")
    assert ill[["kind", "pair"]].values.tolist() == [
        ["anagram", "six_nine"],
        ["hybrid", "zero_one"],
    ]
    assert (ill["n"] == 16).all()
    assert ill[["view1", "view2", "both"]].stack().between(0, 1).all()
    assert (ill["both"] <= ill[["view1", "view2"]].min(axis=1)).all()
    for name in ("denoise", "sdedit", "inpaint", "illusions"):
        assert (r / f"parta_{name}.png").stat().st_size > 1000, name
        spec = json.loads((r / f"parta_{name}.json").read_text())
        assert spec["section"] == "A2" and spec["caption"] and spec["data"]["rows"], name
        assert (tiny_run / f"benchmarks/rules/eval_parta_{name}.tsv").is_file(), name
    s = json.loads((r / "parta_summary.json").read_text())
    assert s["backend"] == "mnist" and len(s["illusions"]) == 2
    assert len(s["denoising"]) == 4 * len(ts) and len(s["inpainting"]) == 1
    # the report shows the measured Part A results and the committed benchmarks
    page = (tiny_run / "results/report/index.html").read_text()
    md = (tiny_run / "results/report/README.md").read_text()
    for text in (page, md):
        assert "Measured results: Part A in numbers" in text
        assert "Denoising quality" in text and "trained on real MNIST digits only" in text
        assert "Speed benchmarks" in text and "dryrun_overhead.json" in text
    assert "| method | t | PSNR (dB) | SSIM | images |" in md
    bench = pd.read_csv(tiny_run / "results/benchmarks/table.csv")
    assert "h200.json" in set(bench["file"]) and bench["ratio"].dropna().gt(0).all()


def test_bad_eval_key_is_one_line(tmp_path):
    from tests.helpers.workflow import copy_workflow, run_snakemake

    wd = copy_workflow(tmp_path)
    (wd / "bad.yaml").write_text("eval:\n  cfg_sweep:\n    scale: [1]\n")
    out = run_snakemake(wd, "-n", "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert out.returncode != 0
    assert "unknown config key 'eval.cfg_sweep.scale' (did you mean 'scales'?)" in (
        out.stdout + out.stderr
    )
