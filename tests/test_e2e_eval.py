"""End to end: the tiny preset produces the evaluation tables, plots and summary."""

import json
import math

import pandas as pd
import pytest

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


def test_bad_eval_key_is_one_line(tmp_path):
    from tests.conftest import copy_workflow, run_snakemake

    wd = copy_workflow(tmp_path)
    (wd / "bad.yaml").write_text("eval:\n  cfg_sweep:\n    scale: [1]\n")
    out = run_snakemake(wd, "-n", "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert out.returncode != 0
    assert "unknown config key 'eval.cfg_sweep.scale' (did you mean 'scales'?)" in (
        out.stdout + out.stderr
    )
