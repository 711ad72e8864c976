"""An optional part (X, beyond the spec): absent from a build, it shows its intro and how to switch
it on, without empty section headings; present, its sections render like any other."""

from __future__ import annotations

from fundiff.report import render
from fundiff.report.sections import SECTIONS_YAML, registry
from fundiff.report.tables import cell, write_table

TEMPLATES = SECTIONS_YAML.parents[3] / "report"


def _png(path):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (4, 4), 128).save(path)
    return path


def _build(tmp_path, section):
    results = tmp_path / "results"
    img = _png(results / "figs/a.png")
    spec = results / "figs/a.json"
    write_table(spec, section, "A figure", [{"label": "row", "cells": [cell(img)]}], ["x"])
    out = results / "report"
    ctx = render.build_context([spec], out, SECTIONS_YAML, preset="t", seed=1, device="cpu")
    render.write_report(ctx, TEMPLATES, out / "index.html", out / "README.md", out / "rotated")
    part_x = next(p for p in ctx["parts"] if p["id"] == "X")
    return part_x, (out / "index.html").read_text(), (out / "README.md").read_text()


def test_optional_part_absent_shows_how_to_switch_it_on(tmp_path):
    part_x, page, md = _build(tmp_path, "B1.2")
    assert not part_x["present"] and part_x["sections"] == []
    for text in (page, md):
        assert "Beyond the spec" in text and "configs/beyond.yaml" in text
    x_titles = [s.title for s in registry().values() if s.part == "X"]
    assert x_titles and not any(t in page or t in md for t in x_titles)


def test_optional_part_present_renders_its_sections(tmp_path):
    part_x, page, md = _build(tmp_path, "X1")
    assert part_x["present"] and [s["id"] for s in part_x["sections"]][0] == "X1"
    assert registry()["X1"].title in page and f"### {registry()['X1'].title}" in md
    assert "configs/beyond.yaml` (after" not in md  # no absent note when present
    # the other X sections say they have no figure in this build
    assert page.count("No figure for this section in this build.") >= 4
