"""Writeup sections as `snakemake --report` subcategories (fundiff.report.sections): id and title,
the number once, for every section that has figures; and the section of the Part A metric plots."""

import pytest

from fundiff.report import sections


@pytest.mark.parametrize(
    "sid, want",
    [
        ("A0", "A0 Part 0: text-to-image with the pretrained model"),  # title without the id
        ("A1.7.2", "A1.7.2 Inpainting"),  # "1.7.2 Inpainting": the number once
        ("A2", "A2 Measured results: Part A in numbers"),
        ("B1.2", "B1.2 Adding noise"),
        ("C1", "C1 Speed benchmarks (benchmarks/results/)"),
    ],
)
def test_subcategory_is_id_and_title(sid, want):
    assert sections.report_subcategory(sid) == want


def test_every_figure_section_has_its_own_subcategory_in_page_order():
    for part in sections.parts():
        ids = [s.id for s in part.sections if s.figures]
        names = [sections.report_subcategory(sid) for sid in ids]
        assert [n.split(" ", 1)[0] for n in names] == ids  # the id is the first word
        assert sorted(names) == names, f"part {part.id}: subcategories sort out of page order"


def test_part_a_metric_plots_are_shown_in_a2():
    assert sections.figure_section("parta_scores") == "A2"
    assert sections.figure_section("scores") == "B4"
