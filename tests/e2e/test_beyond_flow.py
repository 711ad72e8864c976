"""End to end (tiny preset, beyond.flow on): section X1 shows the rectified-flow figures and the
DDPM-vs-flow tables with finite numbers, and a beyond.flow edit reruns only flow jobs."""

import json
import math
import shutil

import pandas as pd
import pytest
import yaml

from tests.helpers.workflow import planned_jobs, run_snakemake

pytestmark = pytest.mark.e2e

FLOW = "results/beyond/flow"
MODELS = ("time_cond", "class_cond")


def tiny_flow(tiny_run) -> dict:
    return yaml.safe_load((tiny_run / "configs/tiny.yaml").read_text())["beyond"]["flow"]


def test_flow_figures_and_tables(tiny_run):
    cfg = tiny_flow(tiny_run)
    assert cfg["enabled"]
    for m in MODELS:
        d = tiny_run / FLOW / m
        assert (d / "loss.png").stat().st_size > 1000
        assert sorted(p.name for p in (d / "epochs").glob("epoch_*.pt")) == [
            "epoch_001.pt",
            "epoch_002.pt",
        ]
        for e in cfg["sample_epochs"]:
            assert (d / f"samples/epoch_{e}.png").stat().st_size > 100
            assert (d / f"sampling/epoch_{e}.gif").read_bytes()[:3] == b"GIF"
            spec = json.loads((d / f"samples/epoch_{e}.json").read_text())
            assert spec["section"] == "X1" and spec["params"]["steps"] == cfg["sample_steps"]
        loss = json.loads((d / "loss.json").read_text())
        assert loss["section"] == "X1" and "num_timesteps" not in loss["params"]


@pytest.mark.parametrize("model", MODELS)
def test_comparison_rows_are_finite_and_at_equal_n(tiny_run, model):
    cfg = tiny_flow(tiny_run)
    df = pd.read_csv(tiny_run / FLOW / f"compare_{model}.csv")
    T = 300  # the tiny preset's schedule
    assert sorted(df[df.model == "DDPM"]["steps"]) == sorted(set(cfg["compare_steps"]) | {T})
    assert sorted(df[df.model == "flow"]["steps"]) == sorted(
        set(cfg["compare_steps"]) | {cfg["sample_steps"]}
    )
    assert (df["n"] == cfg["num_samples"]).all() and "seconds" not in df
    for col in ("fd_ratio", "confidence"):
        assert df[col].map(math.isfinite).all(), col
    assert (df["fd_ratio"] > 0).all()
    if model == "class_cond":
        assert df["accuracy"].between(0, 1).all()
    # the wall times in their own file, one per row; DDPM at T steps takes longer than at 2
    timing = json.loads((tiny_run / FLOW / f"compare_{model}_timing.json").read_text())
    assert timing["n"] == cfg["num_samples"]
    rows = timing["rows"]
    assert [(r["model"], r["steps"]) for r in rows] == list(
        zip(df["model"], df["steps"], strict=True)
    )
    assert all(r["seconds"] > 0 and math.isfinite(r["seconds"]) for r in rows)
    ddpm = {r["steps"]: r["seconds"] for r in rows if r["model"] == "DDPM"}
    assert ddpm[T] > ddpm[min(cfg["compare_steps"])]
    spec = json.loads((tiny_run / FLOW / f"compare_{model}.json").read_text())
    assert spec["section"] == "X1" and len(spec["data"]["rows"]) == len(df)
    assert not any("second" in c for c in spec["data"]["columns"])
    assert [c["src"] for r in spec["rows"] for c in r["cells"]] == [f"compare_{model}_timing.png"]
    assert (tiny_run / FLOW / f"compare_{model}_timing.png").stat().st_size > 1000


def test_report_section_x1(tiny_run):
    html = (tiny_run / "results/report/index.html").read_text()
    start = html.index('id="sec-X1"')
    x1 = html[start : html.index('<section class="section"', start + 1)]
    for m in MODELS:
        assert f"flow/{m}/loss.png" in x1
        assert f"flow/{m}/samples/epoch_2.png" in x1 and "samples/epoch_1" not in x1
        assert f"flow/{m}/sampling/epoch_2.gif" in x1
        assert f"flow/compare_{m}_timing.png" in x1
    assert "DDPM vs rectified flow" in x1 and "Euler" in x1
    md = (tiny_run / "results/report/README.md").read_text()
    assert "DDPM vs rectified flow" in md


@pytest.fixture(scope="module")
def done(tiny_run, tmp_path_factory):
    wd = tmp_path_factory.mktemp("flow_incremental") / "wf"
    shutil.copytree(tiny_run, wd, symlinks=True)
    return wd


PAGE = {"report": 1, "all": 1}


@pytest.mark.parametrize(
    "overlay,expected",
    [
        # the comparison's n: only the two comparisons
        ("beyond: {flow: {num_samples: 20}}", {"flow_compare": 2, **PAGE}),
        # the grids' and GIFs' Euler steps are also a comparison row
        ("beyond: {flow: {sample_steps: 3}}", {"flow_sample": 2, "flow_compare": 2, **PAGE}),
        ("beyond: {flow: {gif_frame_every: 2}}", {"flow_sample": 2, **PAGE}),
        # the class-conditioned flow's gamma: its grids and its comparison only
        ("beyond: {flow: {guidance_scale: 2.0}}", {"flow_sample": 1, "flow_compare": 1, **PAGE}),
    ],
    ids=["num_samples", "sample_steps", "gif_frame_every", "guidance_scale"],
)
def test_flow_edit_reruns_only_flow_jobs(done, overlay, expected):
    cfg = done / "edit.yaml"
    cfg.write_text(overlay + "\n")
    out = run_snakemake(done, "-n", "--cores", "1", "--configfile", "configs/tiny.yaml", str(cfg))
    assert planned_jobs(out.stdout + out.stderr) == expected
