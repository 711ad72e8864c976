"""The writeup: HTML + Markdown report, its links, a real browser, Snakemake's own report, reruns."""

from __future__ import annotations

import ast
import html
import json
import os
import re
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fundiff.report import render as report
from fundiff.report import sections
from fundiff.report.sections import SECTIONS
from fundiff.report.tables import cell, read_table, write_table
from tests.helpers.workflow import REPO, run_snakemake

TEMPLATES = REPO / "report"
SECTIONS_YAML = sections.SECTIONS_YAML
A_IDS = [s for s in SECTIONS if s.startswith("A")]
B_IDS = [s for s in SECTIONS if s.startswith("B")]


# ---------------------------------------------------------------------------------------------
# helpers


def heading_present(page: str, section_id: str) -> bool:
    anchor = "sec-" + section_id.replace(".", "-")
    title = html.escape(SECTIONS[section_id], quote=False)
    return (
        re.search(
            rf'<section class="section" id="{re.escape(anchor)}">\s*<h3>{re.escape(title)}</h3>',
            page,
        )
        is not None
    )


def img_targets(page_path: Path) -> set[Path]:
    """Every <img src> of an HTML page, resolved to a real path."""
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', page_path.read_text())
    return {(page_path.parent / urllib.parse.unquote(html.unescape(s))).resolve() for s in srcs}


def pipeline_figures(results: Path) -> set[Path]:
    out = set()
    for part in ("partb", "parta", "eval", "beyond"):
        for ext in ("png", "gif"):
            out |= {p.resolve() for p in (results / part).rglob(f"*.{ext}")}
    return out


def _png(path: Path, w: int, h: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    arr[: h // 4] = 255  # a white band on top: upside down it is at the bottom
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def make_synthetic_parta(results: Path) -> list[Path]:
    """Table specs + PNGs for every Part A section, shaped like the seed writeup's tables."""
    pa = results / "parta"
    specs = []
    n = 0

    def img(rel: str, w=64, h=64) -> Path:
        nonlocal n
        n += 1
        p = pa / rel
        _png(p, w, h, n)
        return p

    def table(section, title, rows, columns=(), params=None):
        path = pa / section.replace(".", "_").lower() / f"table_{len(specs)}.json"
        write_table(path, section, title, rows, columns, params or {"seed": 180})
        specs.append(path)

    prompts = ["a man wearing a hat", "a rocket ship"]
    for steps in (20, 100):
        table(
            "A0",
            "Text to image",
            [
                {
                    "label": f"{steps} steps",
                    "cells": [cell(img(f"a0/{steps}/{p}.png"), p) for p in prompts],
                }
            ],
            ["num_inference_steps", *prompts],
            {"num_inference_steps": steps, "seed": 180},
        )
    ts = [250, 500, 750]
    table(
        "A1.1",
        "Forward process",
        [{"label": "campanile", "cells": [cell(img(f"a1_1/t{t}.png"), f"t = {t}") for t in ts]}],
        [f"t = {t}" for t in ts],
        {"t": ts, "seed": 180},
    )
    for sec in ("A1.2", "A1.3"):
        table(
            sec,
            "Noisy and denoised",
            [
                {
                    "label": str(t),
                    "cells": [cell(img(f"{sec}/noisy{t}.png")), cell(img(f"{sec}/den{t}.png"))],
                }
                for t in ts
            ],
            ["t", "noisy", "denoised"],
            {"t": ts},
        )
    for sec in ("A1.4", "A1.5", "A1.6"):
        table(
            sec,
            "Samples",
            [{"cells": [cell(img(f"{sec}/s{i}.png"), f"sample {i}") for i in range(3)]}],
            [f"sample {i}" for i in range(3)],
        )
    for sec in ("A1.7", "A1.7.1", "A1.7.3"):
        for name in ("campanile", "drawn tree"):  # a space: links must be URL-encoded
            table(
                sec,
                "SDEdit",
                [
                    {
                        "label": name,
                        "cells": [
                            cell(img(f"{sec}/{name}/{i}.png"), f"i_start = {i}") for i in (1, 5)
                        ],
                    }
                ],
                ["image", "i_start = 1", "i_start = 5"],
                {"i_start": [1, 5], "image": name, "seed": 180},
            )
    table(
        "A1.7.2",
        "Inpainting",
        [
            {
                "cells": [
                    cell(img("a1_7_2/orig.png")),
                    cell(img("a1_7_2/mask.png")),
                    cell(img("a1_7_2/out.png")),
                ]
            }
        ],
        ["original", "mask", "inpainted"],
    )
    anagram = img("a1_8/campfire_man.png")
    table(
        "A1.8",
        "Visual anagrams",
        [
            {
                "label": "an oil painting of an old man / people around a campfire",
                "cells": [cell(anagram, "upright"), cell(anagram, "flipped", turn="rotate180")],
            }
        ],
        ["prompts", "image", "rotated 180°"],
        {
            "p1": "an oil painting of an old man",
            "p2": "an oil painting of people around a campfire",
        },
    )
    table(
        "A1.9",
        "Hybrid images",
        [{"label": "skull / waterfalls", "cells": [cell(img("a1_9/hybrid.png", 256, 256))]}],
        ["prompts", "hybrid"],
        {"kernel_size": 33, "sigma": 2},
    )
    return specs


def render_to(results: Path, tables, **kw) -> dict:
    out = results / "report"
    ctx = report.build_context(
        tables, out, SECTIONS_YAML, preset="synthetic", seed=180, device="cpu", **kw
    )
    report.write_report(ctx, TEMPLATES, out / "index.html", out / "README.md", out / "rotated")
    return ctx


# ---------------------------------------------------------------------------------------------
# library, no Snakemake


def test_sections_yaml_covers_every_figure_section():
    ids = [s["id"] for p in report.load_sections(SECTIONS_YAML) for s in p["sections"]]
    assert [i for i in ids if i in SECTIONS] == list(SECTIONS), "order or coverage differs"
    assert len(ids) == len(set(ids))


def test_formulas_become_mathml_and_inline_text_is_escaped():
    m = report.tex_to_mathml(r"\frac{a}{b} + \sqrt{\bar\alpha_t}")
    assert m.startswith("<math") and "<mfrac>" in m and "\\frac" not in m
    t = str(report.inline_html("x < y and $x_t$ with `code`"))
    assert "x &lt; y" in t and "<math" in t and "<code>code</code>" in t and "$" not in t


def test_merge_tables_keeps_order_and_splits_varying_params(tmp_path):
    for e in (1, 5):
        write_table(
            tmp_path / f"e{e}.json",
            "B2.3",
            "Samples",
            [{"label": f"epoch {e}", "cells": [cell(f"e{e}.png")]}],
            ["after", "samples"],
            {"epoch": e, "num_samples": 40},
        )
    (merged,) = report.merge_tables(
        report.load_tables([tmp_path / "e1.json", tmp_path / "e5.json"])
    )
    assert [r["label"] for r in merged["rows"]] == ["epoch 1", "epoch 5"]
    assert merged["params"] == {"num_samples": 40}
    assert [p["params"] for p in merged["per_row"]] == [{"epoch": 1}, {"epoch": 5}]


def test_git_info_outside_a_repository(tmp_path):
    assert report.git_info(tmp_path)["text"] == "not a git repository"


def test_synthetic_parta_renders_every_section(tmp_path):
    results = tmp_path / "results"
    specs = make_synthetic_parta(results)
    ctx = render_to(results, specs, parta_backend="mnist (embedded)")
    page = (results / "report/index.html").read_text()
    md = (results / "report/README.md").read_text()
    for sid in A_IDS:
        assert heading_present(page, sid), sid
        assert f"### {SECTIONS[sid]}" in md, sid
    # every image the specs list is shown, nothing else
    listed = {
        Path(c["path"]).resolve() for s in specs for r in read_table(s)["rows"] for c in r["cells"]
    }
    assert img_targets(results / "report/index.html") == listed
    # visual anagram: CSS rotation in HTML, a real rotated copy in Markdown
    assert 'class="px turn-rotate180"' in page
    (rot,) = ctx["rotated"]
    up = np.asarray(Image.open(results / "parta/a1_8/campfire_man.png"))
    down = np.asarray(Image.open(results / "report" / rot))
    assert np.array_equal(down, up[::-1, ::-1]) and not np.array_equal(down, up)
    assert urllib.parse.quote(rot) in md
    # links: URL-encoded spaces resolve, nothing broken, params are shown
    assert "drawn%20tree" in md and "drawn%20tree" in page
    assert report.broken_links(results / "report/README.md") == []
    assert report.broken_links(results / "report/index.html", markdown=False) == []
    assert "i_start" in page and "kernel_size" in page
    assert "embedded model" in page and "not DeepFloyd IF" in page


def test_rerun_is_identical_outside_run_info(tmp_path):
    results = tmp_path / "results"
    specs = make_synthetic_parta(results)
    out = []
    for hour in (1, 2):
        render_to(results, specs, now=datetime(2026, 1, 1, hour, tzinfo=UTC))
        out.append([(results / "report" / f).read_text() for f in ("index.html", "README.md")])
    assert out[0] != out[1]  # the timestamp differs ...
    assert [report.strip_run_info(t) for t in out[0]] == [report.strip_run_info(t) for t in out[1]]
    assert "Run information</h2>" not in report.strip_run_info(out[0][0])


# ---------------------------------------------------------------------------------------------
# end to end on the tiny preset

e2e = pytest.mark.e2e


@e2e
def test_report_shows_every_section_and_figure(tiny_run):
    results = tiny_run / "results"
    page_path = results / "report/index.html"
    page = page_path.read_text()
    parta_tables = list((results / "parta").rglob("*.json"))
    for sid in B_IDS + (A_IDS if parta_tables else []):
        assert heading_present(page, sid), f"section {sid} heading missing"
    made = pipeline_figures(results)
    shown = img_targets(page_path)
    assert made, "the pipeline made no figures?"
    assert made - shown == set(), "figures the report does not show"
    assert shown - made == set(), "images in the report that the pipeline did not make"
    # provenance
    for needle in ("preset</th><td>tiny", "torch ", "snakemake ", "sha256", "epoch_002.pt"):
        assert needle in page, needle
    assert "not a git repository" in page  # the test copy is not a repository
    run_info = re.search(r'<section id="run-info">.*?</section>', page, re.S).group(0)
    assert "train_class_cond" in run_info and "sampling_gif_time_cond_2" in run_info
    # B3: one GIF per model and sample epoch, every one shown
    import yaml

    tiny = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())["partb"]
    gifs = {p.relative_to(results.resolve()).as_posix() for p in shown if p.suffix == ".gif"}
    assert {g for g in gifs if g.startswith("partb/")} == {
        f"partb/{m}/sampling/epoch_{e}.gif"
        for m in ("time_cond", "class_cond")
        for e in tiny[m]["sample_epochs"]
    }
    # the sha256 of every input image the run read (the parta_image records), in the provenance
    provenance = re.search(r'<section id="provenance">.*?</section>', page, re.S).group(0)
    records = [json.loads(p.read_text()) for p in sorted((results / "images").glob("*.json"))]
    assert records, "no input image records"
    for r in records:
        assert re.fullmatch(r"[0-9a-f]{64}", r["sha256"]), r
        assert f"<td>{r['image']}</td>" in provenance and r["sha256"] in provenance, r


@e2e
def test_markdown_twin_has_no_broken_links(tiny_run):
    md = tiny_run / "results/report/README.md"
    links = report.local_links(md.read_text())
    assert len(links) >= len(pipeline_figures(tiny_run / "results"))
    assert report.broken_links(md) == []
    assert "$$" in md.read_text()  # formulas as TeX for the forge's renderer


@e2e
def test_page_in_headless_chromium(tiny_run):
    from tests.helpers.chromium import (
        SMALL_TOP,
        SMALL_WIDTH,
        ensure_chromium,
        inspect_page,
        system_tests_skipped,
    )

    why = system_tests_skipped()
    chromium = None
    if why is None:
        chromium, why = ensure_chromium()
    if chromium is None:
        print(f"\n\n*** SKIPPING THE BROWSER TEST: {why} ***\n")
        pytest.skip(f"NO BROWSER: {why}")
    page = tiny_run / "results/report/index.html"
    shot = tiny_run / "results/report/screenshot.png"
    small = tiny_run / "results/report/screenshot_small.png"
    state = inspect_page(chromium, page.as_uri(), shot, small_screenshot=small)
    assert state["images"], "no <img> on the page"
    broken = [i["src"] for i in state["images"] if i["naturalWidth"] <= 0]
    assert broken == [], f"images that did not load: {broken}"
    assert state["math"] >= 10 and state["mathBoxes"] == state["math"], state["math"]
    for raw in ("$$", "\\frac", "\\sqrt", "\\bar"):
        assert raw not in state["text"], f"raw TeX {raw!r} visible"
    assert state["console_errors"] == []
    offsite = [u for u in state["requests"] if not u.startswith(("file:", "data:"))]
    assert offsite == [], f"the page asked the network for {offsite}"
    assert "Provenance" in state["headings"]
    with Image.open(shot) as im:
        assert im.width == 1200 and im.height > 2000
        full_top = np.asarray(im.convert("L").crop((0, 0, 1200, SMALL_TOP)), dtype=float)
    # the small screenshot is the top of the same page, README-sized
    assert small.stat().st_size < 300_000
    with Image.open(small) as im:
        assert im.size == (SMALL_WIDTH, SMALL_TOP * SMALL_WIDTH // 1200)
        small_px = np.asarray(im.convert("L"), dtype=float)
    full_small = np.asarray(
        Image.fromarray(full_top.astype(np.uint8)).resize(im.size, Image.Resampling.BOX), float
    )
    assert small_px.std() > 10, "the small screenshot is blank"
    assert np.abs(small_px - full_small).mean() < 8, "the small screenshot is not the page's top"


@pytest.mark.parametrize(("value", "skipped"), [(None, False), ("0", False), ("1", True)])
def test_system_package_tests_skip_on_request(monkeypatch, value, skipped):
    """FUNDIFF_SKIP_SYSTEM_TESTS (README) skips the browser test before anything is installed."""
    from tests.helpers.chromium import SKIP_ENV, system_tests_skipped

    if value is None:
        monkeypatch.delenv(SKIP_ENV, raising=False)
    else:
        monkeypatch.setenv(SKIP_ENV, value)
    why = system_tests_skipped()
    assert (why is not None) == skipped
    if skipped:
        assert SKIP_ENV in why and "apt-get" in why


def job_stats(text: str) -> dict[str, int]:
    block = text.split("Job stats:", 1)[1]
    stats = {}
    for line in block.splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        stats[parts[0]] = int(parts[1])
    return stats


@e2e
def test_changing_one_figure_param_reruns_that_figure_and_the_report(tiny_run, tmp_path):
    override = tmp_path / "override.yaml"
    override.write_text("partb:\n  noising:\n    sigmas: [0.0, 0.3, 0.9]\n")
    out = run_snakemake(
        tiny_run, "-n", "--cores", "1", "--configfile", "configs/tiny.yaml", str(override)
    )
    stats = job_stats(out.stdout + out.stderr)
    assert stats == {"noising_grid": 1, "report": 1, "all": 1, "total": 3}, stats


@e2e
def test_partb_table_specs_match_config(tiny_run):
    spec = json.loads((tiny_run / "results/partb/noising/grid.json").read_text())
    assert spec["section"] == "B1.2" and spec["rows"][0]["cells"][0]["src"] == "grid.png"
    import yaml

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    assert spec["params"]["sigmas"] == cfg["partb"]["noising"]["sigmas"]
    assert os.path.isfile(tiny_run / "results/partb/class_cond/samples/epoch_2.json")


def test_data_tables_render_in_html_and_markdown(tmp_path):
    results = tmp_path / "results"
    (results / "report").mkdir(parents=True)
    spec = results / "bench.json"
    write_table(
        spec,
        "C1",
        "Speed",
        [],
        params={"files": ["a.json"]},
        caption="ratio > 1: the first variant is faster; $x_t$ stays math",
        data={
            "columns": ["benchmark", "ratio", "note"],
            "rows": [["cfg | batched", 1.23456, None], ["training", float("nan"), "x"]],
        },
    )
    raw = json.loads(spec.read_text())
    assert raw["data"]["rows"][1][1] is None  # NaN -> null: strict JSON
    ctx = report.build_context([spec], results / "report", SECTIONS_YAML, preset="t", seed=1)
    page, md = report.render(ctx, TEMPLATES)
    assert '<td class="num">1.235</td>' in page and "<math" in page
    assert "| benchmark | ratio | note |" in md and "| :--- | ---: | :--- |" in md
    assert "| cfg \\| batched | 1.235 |  |" in md
    with pytest.raises(ValueError, match="columns"):
        write_table(spec, "C1", "Speed", [], data={"columns": ["a"], "rows": [[1, 2]]})
    with pytest.raises(ValueError, match="not a number"):
        write_table(spec, "C1", "Speed", [], data={"columns": ["a"], "rows": [[{"x": 1}]]})


def test_turned_copies_for_markdown(tmp_path):
    """The Markdown twin links pre-turned copies: rotate180 and flip give the right pixels."""
    from PIL import Image

    a = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(a).save(tmp_path / "a.png")
    report.rotate_image(tmp_path / "a.png", tmp_path / "r.png", "rotate180")
    report.rotate_image(tmp_path / "a.png", tmp_path / "f.png", "flip")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "r.png")), a[::-1, ::-1])
    assert np.array_equal(np.asarray(Image.open(tmp_path / "f.png")), a[::-1])
    with pytest.raises(ValueError, match="turn must be one of"):
        report.rotate_image(tmp_path / "a.png", tmp_path / "x.png", "mirror")


# ---------------------------------------------------------------------------------------------
# a tighter writeup: checkpoints per model, benchmarks per machine, A1.8 names its view


def _empty_report(tmp_path, tables=(), **kw) -> tuple[dict, str, str]:
    results = tmp_path / "results"
    (results / "report").mkdir(parents=True, exist_ok=True)
    ctx = report.build_context(
        list(tables), results / "report", SECTIONS_YAML, preset="t", seed=1, device="cpu", **kw
    )
    page, md = report.render(ctx, TEMPLATES)
    return ctx, page, md


def test_checkpoints_one_row_per_model_with_the_epochs_folded(tmp_path):
    results = tmp_path / "results"
    dirs = {}
    for model, n in (("class_cond", 10), ("denoiser", 2)):
        d = dirs[model] = results / "partb" / model / "epochs"
        d.mkdir(parents=True)
        for e in range(1, n + 1):  # unpadded: epoch_10 must come after epoch_9
            (d / f"epoch_{e}.pt").write_bytes(f"{model} {e}".encode())
    single = results / "extra.pt"
    single.write_bytes(b"one")
    ctx, page, md = _empty_report(tmp_path, checkpoints=[*dirs.values(), single])
    models = ctx["provenance"]["checkpoints"]
    assert [m["model"] for m in models] == ["class_cond", "denoiser", "extra"]
    assert models[0]["final"]["path"] == "partb/class_cond/epochs/epoch_10.pt"
    assert [len(m["epochs"]) for m in models] == [10, 2, 1]
    finals = {m["final"]["sha256"] for m in models}
    others = {c["sha256"] for m in models for c in m["epochs"]} - finals
    assert len(others) == 10  # 9 + 1 earlier epochs
    for text in (page, md):
        main = text.split("Checkpoints", 1)[1]
        main, folded = main.split("<details", 1)
        # one row per model in the main table: the final hash only
        assert all(h in main for h in finals) and not any(h in main for h in others)
        assert "epoch_10.pt" in main and "epoch_9.pt" not in main
        # every epoch's hash, in a collapsed <details> (no `open`) per model
        blocks = re.findall(r"<details[^>]*>.*?</details>", "<details" + folded, re.S)
        assert len(blocks) == 3 and not any(" open" in b.split(">", 1)[0] for b in blocks)
        assert all(h in "".join(blocks) for h in others | finals)
        assert "<summary>class_cond: 10 checkpoints" in blocks[0]
    main_rows = re.search(r'<table class="data checkpoints">.*?</table>', page, re.S).group(0)
    assert main_rows.count("<tr>") == 1 + 3  # header + one per model
    assert "| class_cond | `partb/class_cond/epochs/epoch_10.pt` |" in md


def test_data_table_with_a_machine_column_is_grouped_by_machine(tmp_path):
    results = tmp_path / "results"
    (results / "report").mkdir(parents=True)
    spec = results / "bench.json"
    rows = [
        ["box A (GPU model not recorded)", "training", 1.5],
        ["box B", "cfg", 2.0],
        ["box A (GPU model not recorded)", "cfg", 1.25],
        ["", "dry run", 1.1],
    ]
    write_table(
        spec, "C1", "Speed", [], data={"columns": ["machine", "benchmark", "ratio"], "rows": rows}
    )
    ctx, page, md = _empty_report(tmp_path, [spec])
    (t,) = ctx["tables"]
    assert t["data"]["columns"] == ["benchmark", "ratio"]
    assert [(g["title"], len(g["rows"])) for g in t["data"]["groups"]] == [
        ("box A (GPU model not recorded)", 2),
        ("box B", 1),
        ("machine not recorded", 1),
    ]
    assert [r[0] for r in t["data"]["rows"]] == ["training", "cfg", "cfg", "dry run"]
    for text in (page, md):
        assert text.count("model not recorded") == 1 and text.count("box B") == 1
    assert page.count('<tr class="group">') == 3
    assert '<th colspan="2" scope="colgroup">machine: box B</th>' in page
    assert "<th>machine</th>" not in page
    assert "| benchmark | ratio |\n| :--- | ---: |\n| **machine: box A" in md
    assert "| **machine: box B** |  |\n| cfg | 2 |" in md
    # a table without such a column is one untitled group, as before
    assert report.display_data({"columns": ["a"], "rows": [[1]]})["groups"] == [
        {"title": None, "rows": [["1"]]}
    ]


def _section(ctx: dict, sid: str) -> dict:
    (sec,) = [s for p in ctx["parts"] for s in p["sections"] if s["id"] == sid]
    return sec


def _anagram_spec(tmp_path, view, name="a1_8.json"):
    img = tmp_path / "results" / "parta" / "a1_8" / "pair.png"
    _png(img, 28, 28, 1)
    spec = tmp_path / "results" / "parta" / "a1_8" / name
    write_table(
        spec,
        "A1.8",
        "Visual anagrams",
        [{"label": "six_nine", "cells": [cell(img, "6"), cell(img, "9", turn=view)]}],
        ["prompt 1", "prompt 2"],
        {"seed": 1, "view": view} if view else {"seed": 1},
    )
    return spec


@pytest.mark.parametrize(
    ("view", "op", "words"),
    [("rotate180", "rot", "turned 180 degrees"), ("flip", "flip", "flipped upside down")],
)
def test_anagram_formula_and_text_name_the_recorded_view(tmp_path, view, op, words):
    ctx, page, md = _empty_report(tmp_path, [_anagram_spec(tmp_path, view)])
    sec = _section(ctx, "A1.8")
    assert sec["variant"] == view
    (f,) = sec["formulas"]
    other = "flip" if op == "rot" else "rot"
    assert f"\\operatorname{{{op}}}" in f["tex"] and f"\\operatorname{{{other}}}" not in f["tex"]
    assert f"<mo>{op}</mo>" in str(f["mathml"]) and f"<mo>{other}</mo>" not in str(f["mathml"])
    assert f"the second view is the image {words}" in sec["text"]
    a18 = md.split("### 1.8 Visual anagrams", 1)[1].split("### ", 1)[0]
    assert f"\\operatorname{{{op}}}" in a18 and words in a18
    a18 = page.split('id="sec-A1-8"', 1)[1].split("</section>", 1)[0]
    assert f"<mo>{op}</mo>" in a18 and words in a18


def test_anagram_without_a_recorded_view_keeps_the_general_formula(tmp_path):
    for tables in ([], [_anagram_spec(tmp_path, None)]):
        ctx, _, _ = _empty_report(tmp_path, tables)
        sec = _section(ctx, "A1.8")
        assert sec["variant"] is None
        (f,) = sec["formulas"]
        assert "V\\big(" in f["tex"] and "flip" not in f["tex"] and "rot" not in f["tex"]
    # two specs with different views: no single view to name
    mixed = [_anagram_spec(tmp_path, "flip", "f.json"), _anagram_spec(tmp_path, "rotate180")]
    ctx, _, _ = _empty_report(tmp_path, mixed)
    assert _section(ctx, "A1.8")["variant"] is None


@pytest.mark.parametrize(
    ("configfile", "words"),
    [("configs/tiny.yaml", "turned 180°"), ("configs/tiny_deepfloyd.yaml", "flipped upside down")],
)
def test_anagram_table_title_and_header_name_the_configured_view(tmp_path, configfile, words):
    """The A1.8 title and column header as the workflow asks the Part A layout (parsed only)."""
    for name in ("Snakefile", "rules", "schemas", "configs", "config.yaml", "src", "scripts"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / "check.smk").write_text(
        'include: "Snakefile"\n'
        'print("A18", repr((PA.title("a1_8"), PA.columns("a1_8"), PA.table_params("a1_8")["view"])))\n'
    )
    out = run_snakemake(tmp_path, "-s", "check.smk", "--configfile", configfile, "--list-rules")
    line = next(x for x in out.stdout.splitlines() if x.startswith("A18 "))
    title, columns, view = ast.literal_eval(line[4:])
    assert title == f"Visual anagrams (the second view is the image {words})"
    assert columns[1] == f"prompt 2 ({words})"
    assert view == ("rotate180" if "180" in words else "flip")
