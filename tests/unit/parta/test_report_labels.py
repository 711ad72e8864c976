"""The labels of Part A's image cells in `snakemake --report` (fundiff.parta.layout.cell_labels):
one label set per cell, in the order of layout.cells, that tells every cell of a section apart
(Snakemake's report shows a section as one table keyed by the labels: two cells with the same
labels would show as one)."""

import pytest

from fundiff.config import deep_merge
from fundiff.parta import layout
from tests.unit.parta.test_layout import preset

PRESETS = {"default": (), "tiny": ("tiny",), "deepfloyd": ("deepfloyd",), "fa24": ("fa24",)}


@pytest.fixture(scope="module", params=list(PRESETS))
def config(request):
    return preset(*PRESETS[request.param])


def section_labels(config, folder):
    """cell path -> labels of every cell of a section (all its parts)."""
    rec = layout.record(folder)
    out = {}
    for key in rec.keys(config) if rec.parted else ["{key}"]:
        paths = layout.cells(config, folder, key)
        labels = layout.cell_labels(config, folder, key)
        assert list(labels) == rec.cells(config, key)  # the order of layout.cells
        out |= dict(zip(paths, labels.values(), strict=True))
    return out


@pytest.mark.parametrize("folder", list(layout.RECORDS))
def test_every_cell_has_labels_that_tell_it_apart(config, folder):
    labels = section_labels(config, folder)
    assert labels, f"{folder}: no cells"
    names = {tuple(d) for d in labels.values()}
    assert len(names) == 1, f"{folder}: cells with different label names {names}"
    assert all(isinstance(v, str) for d in labels.values() for v in d.values())
    values = [tuple(d.values()) for d in labels.values()]
    assert len(set(values)) == len(values), f"{folder}: two cells with the same labels"


def test_labels_name_what_the_cell_shows(config):
    pa = config["parta"]
    forward = layout.cell_labels(config, "a1_2")
    t = pa["forward"]["t"][-1]
    assert forward[layout.denoised_cell("blur", t)] == {
        "image": pa["forward"]["image"],
        "kind": "blur",
        "t": str(t),
    }
    assert forward[layout.ORIGINAL]["t"] == "0"
    image = pa["sdedit"]["images"][0]
    i = pa["sdedit"]["i_start"][0]
    sdedit = layout.cell_labels(config, "a1_7", image)
    ts = layout.timesteps(config)
    assert sdedit[layout.sdedit_cell(image, i)] == {
        "image": image,
        "i_start": str(i),
        "t": str(ts[i]),
    }
    pair = pa["hybrids"]["pairs"][0]
    (hybrid,) = layout.cell_labels(config, "a1_9", pair["name"]).values()
    assert hybrid == {
        "pair": pair["name"],
        "prompt 1": pair["prompts"][0],
        "prompt 2": pair["prompts"][1],
    }
    iterative = layout.cell_labels(config, "a1_4")
    assert iterative[layout.FINAL]["table"] == "iterative"
    assert {iterative[c]["table"] for c in layout.COMPARE} == {"compare"}


def test_a0_stage_label_only_with_a_second_stage(config):
    steps = str(config["parta"]["a0"]["steps"][0])
    labels = layout.cell_labels(config, "a0", steps)
    stages = [d.get("stage") for d in labels.values()]
    n = len(config["parta"]["a0"]["prompts"])
    if config["parta"]["backend"]["name"] == "deepfloyd":
        assert stages == ["I"] * n + ["II"] * n
        assert labels[layout.a0_cell(steps, 0, stage2=True)]["stage"] == "II"
    else:
        assert stages == [None] * n
    assert {d["steps"] for d in labels.values()} == {steps}


def test_repeated_prompts_still_tell_the_cells_apart(config):
    cfg = deep_merge(config, {"parta": {"a0": {"prompts": ["seven", "seven"]}}})
    cfg = deep_merge(cfg, {"parta": {"cfg": {"num": 3, "prompts": ["seven"]}}})
    a0 = list(layout.cell_labels(cfg, "a0", "5").values())
    assert a0[0]["prompt"] != a0[1]["prompt"] and "seven" in a0[0]["prompt"]
    samples = list(layout.cell_labels(cfg, "a1_6").values())
    assert [d["prompt"] for d in samples] == ["seven"] * 3
    assert [d["sample"] for d in samples] == ["1", "2", "3"]


def test_labels_out_of_step_with_the_cells_are_an_error(config, monkeypatch):
    monkeypatch.setitem(layout._LABELS, "a1_5", lambda config, key: [])
    with pytest.raises(ValueError, match="a1_5: .* cells but 0 label sets"):
        layout.cell_labels(config, "a1_5")
