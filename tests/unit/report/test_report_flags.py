"""The helpers of rules/report_inputs.smk that flag the writeup's figures for `snakemake --report`
(parta_report_cells, measured_report), called as the rule files call them, without a DAG: the
file holds only Python (functions and a table), so it runs in a namespace that gives it what
rules/common.smk defines."""

from pathlib import Path

import pytest
from snakemake.io import get_flag_value
from snakemake.iocontainers import Wildcards

from fundiff.parta import layout
from fundiff.report.sections import figure_section, report_subcategory
from tests.helpers.workflow import REPO
from tests.unit.parta.test_layout import preset


@pytest.fixture(scope="module")
def tiny():
    return preset("tiny")


@pytest.fixture(scope="module")
def smk(tiny):
    """rules/report_inputs.smk's names, on the tiny preset."""
    ns = {
        "layout": layout,
        "PA": layout.PartA(tiny),
        "report_subcategory": report_subcategory,
        "figure_section": figure_section,
        "Path": Path,
    }
    path = REPO / "rules/report_inputs.smk"
    exec(compile(path.read_text(), str(path), "exec"), ns)
    return ns


def flag(f):
    obj = get_flag_value(f, "report")
    assert obj is not None, f"{f} is not flagged for the report"
    return obj


def caption_file(obj) -> Path:
    """The caption as the rule files name it (relative to rules/)."""
    return (REPO / "rules" / obj.caption).resolve()


def test_every_part_a_section_has_a_caption(smk):
    assert set(smk["PARTA_CAPTIONS"]) == set(layout.RECORDS)
    for name in set(smk["PARTA_CAPTIONS"].values()):
        assert (REPO / f"report/parta_{name}.rst").is_file(), name


@pytest.mark.parametrize(
    "folder, key, under, wildcards, section, part",
    [  # as rules/parta.smk calls it; part: the (section folder, key) of the job
        ("a1_1", "{key}", None, {}, "A1.1", ("a1_1", "{key}")),
        ("a0", "{steps}", None, {"steps": "10"}, "A0", ("a0", "10")),
        (
            "a1_7",
            "{image}",
            "{sdir}",
            {"sdir": "a1_7_1", "image": "drawn_house"},
            "A1.7.1",
            ("a1_7_1", "drawn_house"),
        ),
        ("a1_7_2", "{image}", None, {"image": "digit_b"}, "A1.7.2", ("a1_7_2", "digit_b")),
        (
            "a1_8",
            "{pair}",
            "{sdir}",
            {"sdir": "a1_9", "pair": "zero_one"},
            "A1.9",
            ("a1_9", "zero_one"),
        ),
    ],  # fmt: skip
)
def test_part_a_cells_are_flagged_per_job(smk, tiny, folder, key, under, wildcards, section, part):
    files = smk["parta_report_cells"](folder, key, under=under)
    assert [str(f) for f in files] == layout.cells(tiny, folder, key, under=under)
    w = Wildcards(fromdict=wildcards)
    want = layout.cell_labels(tiny, *part)
    for f, labels in zip(files, want.values(), strict=True):
        obj = flag(f)
        assert obj.category == "Part A"
        assert obj.subcategory(w) == report_subcategory(section)
        assert obj.labels(w) == labels
        assert caption_file(obj) == REPO / f"report/parta_{smk['PARTA_CAPTIONS'][folder]}.rst"


@pytest.mark.parametrize("preset_name", ["tiny", "deepfloyd"])
def test_every_part_a_metric_plot_has_a_caption(preset_name):
    for png in layout.eval_files(preset(preset_name), "png"):
        assert (REPO / f"report/eval_{Path(png).stem}.rst").is_file(), png


def test_measured_results_plot_is_flagged(smk):
    f = smk["measured_report"]("results/eval/parta_sdedit.png", "parta_scores", "SDEdit")
    obj = flag(f)
    assert str(f) == "results/eval/parta_sdedit.png"
    assert (obj.category, obj.subcategory) == ("Measured results", report_subcategory("A2"))
    assert obj.labels == {"figure": "SDEdit"}
    assert caption_file(obj) == REPO / "report/eval_parta_sdedit.rst"
    assert caption_file(obj).is_file()
