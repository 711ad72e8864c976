"""Which writeup section shows which Part B figure (sections.yaml `shows` / `model`): the rules ask
fundiff.report.sections instead of spelling section ids."""

import pytest

from fundiff.report import sections

# (figure kind, model) -> section, as the rules of rules/partb.smk and rules/eval.smk ask
EXPECTED = {
    ("noising", None): "B1.2",
    ("loss", "denoiser"): "B1.2.1",
    ("denoised", "denoiser"): "B1.2.1",
    ("ood", "denoiser"): "B1.2.2",
    ("loss", "time_cond"): "B2.2",
    ("samples", "time_cond"): "B2.3",
    ("loss", "class_cond"): "B2.4",
    ("samples", "class_cond"): "B2.5",
    ("gif", None): "B3",
    ("gif", "time_cond"): "B3",  # a section without `model` shows the kind for every model
    ("gif", "class_cond"): "B3",
    ("scores", None): "B4",
}


@pytest.mark.parametrize("kind, model", list(EXPECTED))
def test_figure_section(kind, model):
    sid = sections.figure_section(kind, model)
    assert sid == EXPECTED[kind, model]
    assert sid in sections.SECTIONS  # a section a table spec may name


def test_unknown_figure_or_model_is_an_error():
    with pytest.raises(ValueError, match="no writeup section shows 'samples'"):
        sections.figure_section("samples", "denoiser")
    with pytest.raises(ValueError):
        sections.figure_section("loss")  # the loss curves are per model


def test_report_subcategory_is_part_letter_and_title():
    assert sections.report_subcategory("B2.3") == "B2.3 Sampling from the time-conditioned UNet"
    assert sections.report_subcategory("B3").startswith("B3 Bells & whistles")
    with pytest.raises(ValueError, match="unknown writeup section"):
        sections.report_subcategory("B9")
