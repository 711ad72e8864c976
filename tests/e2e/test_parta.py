"""End to end: the tiny preset (mnist backend) produces every Part A table, cell and array."""

import json
import re

import numpy as np
import pytest
import yaml
from PIL import Image

from fundiff.report.tables import read_table
from tests.helpers.workflow import run_snakemake

pytestmark = pytest.mark.e2e

TABLES = {
    "a0/table.json": "A0",
    "a1_1/table.json": "A1.1",
    "a1_2/table.json": "A1.2",
    "a1_3/table.json": "A1.3",
    "a1_4/iterative.json": "A1.4",
    "a1_4/compare.json": "A1.4",
    "a1_5/table.json": "A1.5",
    "a1_6/table.json": "A1.6",
    "a1_7/table.json": "A1.7",
    "a1_7_1/table.json": "A1.7.1",
    "a1_7_2/table.json": "A1.7.2",
    "a1_7_3/table.json": "A1.7.3",
    "a1_8/table.json": "A1.8",
    "a1_9/table.json": "A1.9",
}


def test_every_parta_table_and_cell(tiny_run):
    r = tiny_run / "results/parta"
    for rel, section in TABLES.items():
        spec = read_table(r / rel)
        assert spec["section"] == section, rel
        assert spec["params"]["backend"] == "mnist" if "backend" in spec["params"] else True
        z = np.load((r / rel).with_suffix(".npz"))
        for row in spec["rows"]:
            for c in row["cells"]:
                im = Image.open(c["path"])
                assert im.size == (56, 56), c["path"]  # 28 x 28, upscale 2 (tiny)
        for k in z.files:
            if not k.endswith("_float"):
                assert z[k].dtype == np.uint8 and z[k].shape == (28, 28), (rel, k)


def test_parta_params_and_layout(tiny_run):
    r = tiny_run / "results/parta"
    cfg = yaml.safe_load((tiny_run / "configs/tiny.yaml").read_text())["parta"]
    a1_1 = read_table(r / "a1_1/table.json")
    assert a1_1["columns"] == ["original", "t = 75", "t = 225"]
    assert a1_1["params"]["t"] == cfg["forward"]["t"]
    it = read_table(r / "a1_4/iterative.json")
    assert it["columns"] == ["t = 210", "t = 120", "t = 30", "final"]  # i_start 2, every 3rd
    sd = read_table(r / "a1_7/table.json")
    assert sd["columns"] == ["i_start = 1", "i_start = 5", "original"]
    assert sd["params"]["t"] == [240, 120]
    assert read_table(r / "a1_7_3/table.json")["params"]["prompt"] == "a handwritten 7"
    a0 = read_table(r / "a0/table.json")
    assert len(a0["rows"]) == 2 and "no stage II" in a0["params"]["stage2"]
    ana = read_table(r / "a1_8/table.json")
    assert [c["turn"] for c in ana["rows"][0]["cells"]] == [None, "rotate180"]  # digits: 6 <-> 9
    assert ana["params"]["view"] == "rotate180"
    hyb = read_table(r / "a1_9/table.json")
    assert hyb["params"]["kernel_size"] == 7 and hyb["rows"][0]["label"] == "zero_one"
    inp = np.load(r / "a1_7_2/table.npz")
    orig, out, mask = (inp[f"digit_b__{k}_float"] for k in ("original", "inpainted", "mask"))
    keep = mask == 0
    np.testing.assert_allclose(out[keep], orig[keep], atol=1e-6)  # kept region = original
    # the cells are relative to the JSON file, as the report expects
    raw = json.loads((r / "a1_7/table.json").read_text())
    assert raw["rows"][0]["cells"][0]["src"] == "digit_a/i_start_1.png"


def test_adding_a_pair_reruns_only_that_pair(tiny_run):
    cfg = yaml.safe_load((tiny_run / "configs/tiny.yaml").read_text())["parta"]["anagrams"]
    cfg["pairs"].append({"name": "zero_zero", "prompts": ["0", "0"]})
    extra = tiny_run / "more_pairs.yaml"
    extra.write_text(yaml.safe_dump({"parta": {"anagrams": cfg}}))
    out = run_snakemake(
        tiny_run, "-n", "--cores", "1", "--configfile", "configs/tiny.yaml", str(extra)
    )
    text = out.stdout + out.stderr
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", text, re.M))
    assert jobs.get("parta_pair") == "1" and jobs.get("parta_table") == "1", jobs
    assert "parta_sdedit" not in jobs and "train" not in jobs
