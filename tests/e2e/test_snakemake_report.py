"""`snakemake --report results/report.zip` on the tiny run holds every figure of the writeup
(results/report/index.html): per writeup section the same images, each captioned, under the
category of its part and the section as subcategory (rules/report_inputs.smk)."""

from __future__ import annotations

import html
import json
import re
import urllib.parse
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from fundiff.parta import layout
from fundiff.report.sections import SECTIONS, report_subcategory
from tests.helpers.workflow import planned_jobs, run_snakemake
from tests.unit.parta.test_layout import preset

pytestmark = pytest.mark.e2e
ZIP = "results/report.zip"
CONFIG = ("--configfile", "configs/tiny.yaml")
# the category of a figure, by the folder of results/ it is in
CATEGORIES = {
    "parta": "Part A",
    "partb": "Part B",
    "eval": "Measured results",
    "beyond": "Beyond the spec",
}
_SECTION = re.compile(r'<section class="section" id="([^"]+)">(.*?)</section>', re.S)
_IMG = re.compile(r'<img [^>]*src="([^"]+)"')


def writeup_figures(workdir: Path) -> dict[str, str]:
    """Every image the writeup shows (path relative to the run's folder) -> its section id."""
    page = workdir / "results/report/index.html"
    anchors = {"sec-" + sid.replace(".", "-"): sid for sid in SECTIONS}
    out = {}
    for anchor, body in _SECTION.findall(page.read_text()):
        for src in _IMG.findall(body):
            path = (page.parent / urllib.parse.unquote(html.unescape(src))).resolve()
            rel = path.relative_to(workdir.resolve()).as_posix()
            assert out.setdefault(rel, anchors[anchor]) == anchors[anchor], f"{rel}: two sections"
    return out


def script_json(page: str, name: str):
    """The JSON a Snakemake report page assigns to ``var <name>`` in its <script id="<name>">."""
    m = re.search(rf'<script id="{name}">\s*var \w+ = (.*?);\s*</script>', page, re.S)
    assert m, f"no {name} in report.html"
    return json.loads(m.group(1))


def results_state(results: Path) -> dict[str, tuple[int, int]]:
    """Every file of results/ but the zip: (mtime, size)."""
    return {
        p.relative_to(results).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in results.rglob("*")
        if p.is_file() and p.name != "report.zip"
    }


@pytest.fixture(scope="module")
def native_report(tiny_run):
    """The zip of the tiny run; it leaves the run's results as they were (other tests reuse
    them) and needs no job to run."""
    before = results_state(tiny_run / "results")
    run_snakemake(tiny_run, "--report", ZIP, *CONFIG)
    assert results_state(tiny_run / "results") == before, "--report changed the run's results"
    dry = run_snakemake(tiny_run, "-n", *CONFIG)
    assert planned_jobs(dry.stdout + dry.stderr) == {}, "the report left jobs to be run"
    with zipfile.ZipFile(tiny_run / ZIP) as z:
        files = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
    (page,) = [n for n in files if n.endswith("report.html")]
    text = files[page].decode()
    root = page.rsplit("/", 1)[0]
    return {
        "files": files,
        "root": root,
        "results": script_json(text, "results"),
        "categories": script_json(text, "categories"),
    }


def test_the_zip_holds_every_figure_of_the_writeup(tiny_run, native_report):
    shown = writeup_figures(tiny_run)
    results = native_report["results"]
    assert {p for p in shown if p.startswith("results/parta/")}, "the writeup shows no Part A?"
    assert set(results) == set(shown), (
        f"in the writeup only: {sorted(set(shown) - set(results))}; "
        f"in the zip only: {sorted(set(results) - set(shown))}"
    )
    for path, res in results.items():  # the file itself, in data/
        data = native_report["files"][f"{native_report['root']}/{res['data_uri']}"]
        assert data == (tiny_run / path).read_bytes(), path


def test_each_part_counts_the_writeups_figures_per_section(tiny_run, native_report):
    shown = writeup_figures(tiny_run)
    want = Counter((CATEGORIES[p.split("/")[1]], report_subcategory(s)) for p, s in shown.items())
    got = Counter(
        {(cat, sub): len(paths) for cat, subs in native_report["categories"].items()
         for sub, paths in subs.items()}
    )  # fmt: skip
    for category in CATEGORIES.values():
        mine = {k: n for k, n in want.items() if k[0] == category}
        assert mine, f"the writeup shows no {category} figure?"
        assert {k: n for k, n in got.items() if k[0] == category} == mine, category
    a_sections = {s for s in SECTIONS if s.startswith("A1") or s == "A0"}
    assert {sub.split()[0] for cat, sub in want if cat == "Part A"} == a_sections


def test_each_figure_is_captioned_and_filed_under_its_section(tiny_run, native_report):
    shown = writeup_figures(tiny_run)
    where = {
        path: (cat, sub)
        for cat, subs in native_report["categories"].items()
        for sub, paths in subs.items()
        for path in paths
    }
    for path, res in native_report["results"].items():
        assert where[path] == (CATEGORIES[path.split("/")[1]], report_subcategory(shown[path]))
        assert re.sub(r"<[^>]+>|\s", "", res["caption"]), f"{path}: no caption"
        assert "{{" not in res["caption"] and "{%" not in res["caption"], path
        assert "System Message" not in res["caption"], f"{path}: caption is not valid rst"


def test_labels_tell_the_figures_of_a_section_apart(native_report):
    """The report shows a subcategory as one table whose columns are all its labels (a missing
    label: empty) and keeps one figure per row: the rows must differ."""
    results = native_report["results"]
    for subs in native_report["categories"].values():
        for sub, paths in subs.items():
            labels = [results[p]["labels"] for p in paths]
            assert all(labels), f"{sub}: a figure without labels"
            columns = list(dict.fromkeys(k for d in labels for k in d))
            rows = [tuple(d.get(k, "") for k in columns) for d in labels]
            assert len(set(rows)) == len(rows), f"{sub}: two figures with the same labels"


def test_part_a_labels_are_the_layouts(native_report):
    """Each Part A cell's labels, as its rule's job resolved them, are the layout's for it."""
    config = preset("tiny")
    results = native_report["results"]
    want = {}
    for rec in layout.RECORDS.values():
        for key in rec.keys(config) if rec.parted else ["{key}"]:
            paths = layout.cells(config, rec.folder, key)
            labels = layout.cell_labels(config, rec.folder, key).values()
            want |= dict(zip(paths, labels, strict=True))
    got = {p: r["labels"] for p, r in results.items() if p.startswith("results/parta/")}
    assert got == want
