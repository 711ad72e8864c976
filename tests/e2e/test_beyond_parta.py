"""Beyond the spec, items 3 and 4 on the finished tiny run (mnist backend): the anagram views
(X3) with their success rates, RePaint vs the one-pass rule (X4), the report sections, and
editing beyond.repaint.jump_length reruns only the RePaint job (and the report)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

from fundiff.report.tables import read_table
from tests.helpers.workflow import planned_jobs, run_snakemake

pytestmark = pytest.mark.e2e
TINY = ["--cores", "1", "--configfile", "configs/tiny.yaml"]


def _beyond(wd):
    return yaml.safe_load((wd / "configs/tiny.yaml").read_text())["beyond"]


def test_views_tables_and_success_rates(tiny_run):
    cfg = _beyond(tiny_run)["views"]
    r = tiny_run / "results/beyond/views"
    for view in cfg["views"]:
        spec = read_table(r / view / "table.json")
        assert spec["section"] == "X3" and spec["params"]["view"] == view
        for row in spec["rows"]:
            image, seen = (Image.open(c["path"]) for c in row["cells"])
            assert image.size == seen.size
    success = json.loads((r / "success.json").read_text())
    assert success["section"] == "X3"
    rows = success["data"]["rows"]
    assert [row[0] for row in rows] == cfg["views"]  # one row per view (one pair on tiny)
    for row in rows:
        rates = row[3:6]
        assert all(0.0 <= v <= 1.0 and math.isfinite(v) for v in rates)
        assert rates[2] <= min(rates[:2])  # both at once is never more likely than either
        assert row[6] == cfg["samples"]


def test_repaint_table(tiny_run):
    cfg = _beyond(tiny_run)["repaint"]
    spec = json.loads((tiny_run / "results/beyond/repaint/table.json").read_text())
    assert spec["section"] == "X4"
    assert spec["params"]["jump_length"] == cfg["jump_length"]
    cols = spec["data"]["columns"]
    rows = [dict(zip(cols, row, strict=True)) for row in spec["data"]["rows"]]
    assert [r["method"] for r in rows] == ["one_pass", "repaint"]
    for r in rows:
        assert r["outside error"] < 1e-6  # the kept region is the original, for both
        assert 0.0 <= r["accuracy"] <= 1.0 and r["n"] == cfg["samples"]
        assert math.isfinite(r["band error"]) and math.isfinite(r["seam"])
    assert not any("second" in c for c in cols)  # the wall times: timing.json
    assert len(spec["rows"][0]["cells"]) == 4
    timing = json.loads((tiny_run / "results/beyond/repaint/timing.json").read_text())
    assert [(t["image"], t["method"]) for t in timing] == [(r["image"], r["method"]) for r in rows]
    assert all(t["seconds"] > 0 and t["n"] == cfg["samples"] for t in timing)
    cost = read_table(tiny_run / "results/beyond/repaint/cost.json")
    assert cost["section"] == "X4" and "data" not in cost
    assert [Path(c["path"]).name for r in cost["rows"] for c in r["cells"]] == ["timing.png"]


def test_report_shows_x3_and_x4_not_x5(tiny_run):
    html = (tiny_run / "results/report/index.html").read_text()
    assert "More anagram views" in html and "RePaint resampling" in html
    assert "beyond/repaint/timing.png" in html
    assert "results/beyond/logo" not in html and not (tiny_run / "results/beyond/logo").exists()


def test_editing_jump_length_reruns_only_repaint(tiny_run, tmp_path):
    wd = tmp_path / "wf"
    shutil.copytree(tiny_run, wd, symlinks=True)
    edit = wd / "edit.yaml"
    edit.write_text("beyond: {repaint: {jump_length: 2}}\n")
    out = run_snakemake(wd, "-n", *TINY, str(edit))
    assert planned_jobs(out.stdout + out.stderr) == {"beyond_repaint": 1, "report": 1, "all": 1}
    edit.write_text("beyond: {views: {samples: 2}}\n")
    out = run_snakemake(wd, "-n", *TINY, str(edit))
    assert planned_jobs(out.stdout + out.stderr) == {"beyond_views_judge": 1, "report": 1, "all": 1}
