"""Part A's layout (fundiff.parta.layout) on the presets, without a DAG: the files the rules
declare, the titles, columns and params of the tables, the timesteps and frames."""

import subprocess
import sys

import pytest
import torch
import yaml

from fundiff.config import deep_merge, validate
from fundiff.diffusion import ddpm, timesteps
from fundiff.parta import layout, loops
from tests.helpers.fake_backend import FakeBackend
from tests.helpers.workflow import REPO

D = layout.PA_DIR


def preset(*names):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    for name in names:
        cfg = deep_merge(cfg, yaml.safe_load((REPO / f"configs/{name}.yaml").read_text()))
    return validate(cfg, REPO / "schemas/config.schema.yaml")


@pytest.fixture(scope="module")
def default():
    return preset()


@pytest.fixture(scope="module")
def deepfloyd():
    return preset("deepfloyd")


def test_layout_imports_no_torch():
    code = "import sys, fundiff.parta.layout; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_records_cover_every_part_a_figure_section_once():
    ids = [r.id for r in layout.RECORDS.values()]
    assert len(ids) == len(set(ids)) == 13
    assert all(r.folder == r.id.lower().replace(".", "_") for r in layout.RECORDS.values())
    assert layout.PARTED == ("a0", "a1_7", "a1_7_1", "a1_7_3", "a1_7_2", "a1_8", "a1_9")
    assert layout.record("a1_7_2").id == "A1.7.2"
    with pytest.raises(ValueError, match="no Part A section"):
        layout.record("a1_10")


def test_timesteps_and_frames_default(default):
    ts = layout.timesteps(default)
    assert ts == ddpm.strided_timesteps(290, 10) == list(range(290, -1, -10))
    assert ddpm.strided_timesteps is timesteps.strided_timesteps  # one implementation
    # i_start 10 (t = 190), every 5th step, never the last
    assert layout.frame_ts(default) == [190, 140, 90, 40]


def test_timesteps_and_frames_spec(deepfloyd):
    assert len(layout.timesteps(deepfloyd)) == 34
    assert layout.frame_ts(deepfloyd) == [690, 540, 390, 240, 90]  # the spec's 1.4 figure


@pytest.mark.parametrize(("n", "every", "want"), [(24, 5, [0, 5, 10, 15, 20]), (21, 5, [0, 5, 10, 15]),
                                                  (1, 5, [0]), (8, 0, [])])  # fmt: skip
def test_frame_steps(n, every, want):
    assert timesteps.frame_steps(n, every) == want


@pytest.mark.parametrize(("i_start", "every"), [(10, 5), (0, 7), (27, 1), (28, 3), (29, 2)])
def test_the_loop_saves_the_frames_the_layout_declares(i_start, every):
    backend = FakeBackend(channels=1, size=4, T=300)
    ts = ddpm.strided_timesteps(290, 10)
    x_t = torch.zeros(1, 1, 4, 4)
    cond = backend.encode(["x"])
    _, frames = loops.iterative_denoise(
        backend, x_t, i_start, ts, cond, torch.Generator().manual_seed(0), frame_every=every
    )
    config = {"parta": {"timesteps": {"start": 290, "stride": 10}}}
    config["parta"]["iterative"] = {"i_start": i_start, "frame_every": every}
    assert [t for t, _ in frames] == layout.frame_ts(config)


def test_cells_default(default):
    assert layout.cells(default, "a0", "20") == [
        f"{D}/a0/steps_20/prompt_{k}.png" for k in range(3)
    ]  # mnist: no stage II
    assert layout.cells(default, "a1_1") == [
        f"{D}/a1_1/original.png",
        f"{D}/a1_1/noisy_t75.png",
        f"{D}/a1_1/noisy_t150.png",
        f"{D}/a1_1/noisy_t225.png",
    ]
    assert layout.cells(default, "a1_2")[-3:] == [f"{D}/a1_2/blur_t{t}.png" for t in (75, 150, 225)]
    assert layout.cells(default, "a1_3")[-1] == f"{D}/a1_3/one_step_t225.png"
    assert layout.cells(default, "a1_4") == [
        *(f"{D}/a1_4/iter_t{t}.png" for t in (190, 140, 90, 40)),
        f"{D}/a1_4/iter_final.png",
        *(f"{D}/a1_4/{c}.png" for c in ("original", "noisy", "blur", "one_step", "iterative")),
    ]
    assert layout.cells(default, "a1_6") == [f"{D}/a1_6/sample_{k}.png" for k in range(5)]
    i_start = [1, 3, 5, 7, 10, 20]
    assert layout.cells(default, "a1_7_1", "astronaut") == [
        *(f"{D}/a1_7_1/astronaut/i_start_{i}.png" for i in i_start),
        f"{D}/a1_7_1/astronaut/original.png",
    ]
    # the parta_sdedit rule's pattern: one rule for the three SDEdit sections
    assert layout.cells(default, "a1_7", "{image}", under="{sdir}")[0] == (
        f"{D}/{{sdir}}/{{image}}/i_start_1.png"
    )
    assert layout.cells(default, "a1_7_2", "digit_c") == [
        f"{D}/a1_7_2/digit_c/{c}.png" for c in ("original", "mask", "to_replace", "inpainted")
    ]
    assert layout.cells(default, "a1_8", "six_nine") == [f"{D}/a1_8/six_nine.png"]


def test_deepfloyd_a0_has_stage2_cells(default, deepfloyd):
    cells = layout.cells(deepfloyd, "a0", "100")
    assert cells[3:] == [f"{D}/a0/steps_100/stage2_{k}.png" for k in range(3)]
    params = layout.table_params(deepfloyd, "a0")
    assert params["stage2"] == "IFSuperResolutionPipeline, 20 steps"
    assert params["stage1"].startswith("IFPipeline")
    assert "timesteps" not in params  # A0 uses the leading timesteps of each step count
    assert "CFG loop" in layout.table_params(default, "a0")["stage1"]


def test_parts_keys(default, deepfloyd):
    assert layout.parts_keys(default, "a0") == ["20", "100"]  # wildcard strings
    assert layout.parts_keys(default, "a1_7") == ["digit_a", "digit_b", "camera"]
    assert layout.parts_keys(default, "a1_7_1") == ["astronaut", "drawn_digit", "drawn_house"]
    assert layout.parts_keys(default, "a1_7_3") == ["digit_b", "drawn_digit", "camera"]
    assert layout.parts_keys(default, "a1_7_2") == ["digit_a", "digit_c", "digit_d"]
    assert layout.parts_keys(deepfloyd, "a1_9") == ["skull_waterfalls", "man_village", "dog_rocket"]
    assert layout.part_paths(default, "a1_8")[0] == f"{D}/a1_8/parts/six_nine.json"
    with pytest.raises(TypeError):
        layout.parts_keys(default, "a1_1")  # a single-rule section has no parts


def test_titles_name_the_configured_view(default, deepfloyd):
    assert layout.view_words(default) == "turned 180°"
    assert (
        layout.title(default, "a1_8")
        == "Visual anagrams (the second view is the image turned 180°)"
    )
    assert layout.columns(default, "a1_8") == ["prompt 1 (upright)", "prompt 2 (turned 180°)"]
    assert layout.columns(deepfloyd, "a1_8")[1] == "prompt 2 (flipped upside down)"
    assert layout.title(default, "a1_7_2") == "Inpainting (RePaint rule, mask 1 = new content)"
    assert layout.title(default, "a1_6") == "Classifier-free guidance (gamma = 7.0)"
    assert layout.title(default, "a1_4", "compare") == "Denoising compared at t = 190"
    assert layout.title(deepfloyd, "a1_4", "iterative") == (
        "Iterative denoising from i_start = 10 (t = 690), every 5th step"
    )
    assert layout.title(default, "a1_1") == "Forward process: the test image noised to t"
    assert layout.eval_title(default, "sdedit") == "SDEdit: distance to the original vs i_start"
    with pytest.raises(ValueError, match="no table"):
        layout.title(default, "a1_1", "compare")


def test_columns_and_params(default, deepfloyd):
    assert layout.columns(default, "a0") == ["a handwritten 3", "seven", "0"]
    assert layout.columns(default, "a1_7")[-2:] == ["i_start = 20", "original"]
    assert layout.columns(default, "a1_9") == ["hybrid"]
    p = layout.table_params(default, "a1_7_3")
    assert list(p) == ["backend", "seed", "guidance_scale", "timesteps", "i_start", "t", "images",
                       "prompt"]  # fmt: skip
    assert p["t"] == [280, 260, 240, 220, 190, 90]  # timesteps[i_start]
    assert p["prompt"] == "a handwritten 7"  # A1.7.3 edits towards its own prompt
    assert layout.table_params(default, "a1_7")["prompt"] == default["parta"]["null_prompt"]
    assert layout.table_params(default, "a1_8")["view"] == "rotate180"
    h = layout.table_params(deepfloyd, "a1_9")
    assert (h["backend"], h["kernel_size"], h["sigma"]) == ("deepfloyd", 33, 2.0)
    assert layout.table_params(default, "a1_7_2")["masks"][0] == {
        "image": "digit_a",
        "rects": [[0, 0, 14, 28]],
    }


def test_model_params_fa24():
    fa24 = preset("fa24")
    p = layout.model_params(fa24)
    assert p["backend"]["checkpoint"] == "results/partb/class_cond/epochs/epoch_020.pt"
    assert p["device"] == "cuda"
    assert list(p) == ["backend", "device", "seed", "timesteps", "null_prompt", "upscale",
                       "guidance_scale"]  # fmt: skip
    assert "guidance_scale" not in layout.model_params(fa24, guidance=False)
    assert "upscale" not in layout.model_params(fa24, upscale=False)
    assert layout.eval_names(fa24)[-1] == "illusions"  # mnist backend: the classifier judges


def test_targets(default, deepfloyd):
    tables = layout.tables(default)
    assert len(tables) == 14 and f"{D}/a1_4/compare.json" in tables
    figures = layout.figures(default)
    assert figures == sorted(set(figures))
    assert f"{D}/a1_7_3/camera/i_start_20.png" in figures
    assert f"{D}/a1_9/eight_three.png" in figures
    assert not any("{" in f for f in figures)
    # every figure lies in the folder of a table
    folders = {t.rsplit("/", 1)[0] for t in tables}
    assert all(f.split("/")[2] in {d.split("/")[2] for d in folders} for f in figures)
    assert layout.eval_files(deepfloyd, "json") == [
        f"results/eval/parta_{k}.json" for k in ("denoise", "sdedit", "inpaint")
    ]
    assert layout.eval_files(default, "tsv")[-1] == "benchmarks/rules/eval_parta_illusions.tsv"


def test_array_keys_round_trip():
    cell = layout.sdedit_cell("drawn_digit", 10)
    assert layout.array_key(cell) == "drawn_digit__i_start_10_float"
    assert layout.array_key(cell, raw=False) == "drawn_digit__i_start_10"
    assert layout.parse_sdedit_key(layout.array_key(cell)) == ("drawn_digit", 10)
    assert layout.parse_sdedit_key(layout.array_key(cell, raw=False)) is None
    assert layout.parse_sdedit_key("drawn_digit__original_float") is None


def test_rule_inputs(default, deepfloyd):
    assert layout.image_inputs(default, "digit_a") == {"image": "results/images/digit_a.png"}
    cfg = {"parta": {"inpaint": [{"image": "x", "mask": "assets/m.png"}]}}
    assert layout.image_inputs(cfg, "x") == {
        "image": "results/images/x.png",
        "mask": "assets/m.png",
    }
    assert layout.image_inputs(cfg, "x", mask=False) == {"image": "results/images/x.png"}
    assert layout.eval_denoise_inputs(default) == {"mnist": "results/data/mnist.pt"}
    assert layout.eval_denoise_inputs(deepfloyd)["images"][0] == "results/images/campanile.png"
    assert layout.source_inputs(default, "drawn_digit") == {"file": "assets/drawings/digit.png"}
    assert layout.source_inputs(default, "digit_a") == {"mnist": "results/data/mnist.pt"}
    assert layout.source_inputs(default, "camera") == {}


def test_eval_source(default, deepfloyd):
    assert layout.eval_source(default) == {"kind": "mnist", "digits": 8}
    src = layout.eval_source(deepfloyd)
    assert src["names"] == ["campanile", "cat", "coffee"]  # the test image + A1.7's, once each
    assert src["invert"] == ["auto"] * 3
    assert src["resize"] == ["squash", "crop", "crop"]  # the preset squashes the campanile


def test_images_resize_and_provenance_records(default, deepfloyd):
    assert layout.forward_image(deepfloyd) == {
        "image_name": "campanile",
        "invert": "auto",
        "resize": "squash",
    }
    assert layout.forward_image(default)["resize"] == "crop"  # the schema default
    assert layout.resize(deepfloyd, "cat") == "crop"
    # every image some section reads, in config order; eval images count for deepfloyd only
    assert layout.used_images(default) == list(default["parta"]["images"])
    cfg = preset("tiny")
    cfg["parta"]["images"]["unused"] = {"source": "skimage:coffee", "resize": "crop"}
    assert "unused" not in layout.used_images(cfg)
    # the preset's own images; the embedded config's digits (merged in, unused) are left out
    used = {"campanile", "cat", "coffee", "rocket", "astronaut", "drawn_digit", "drawn_house"}
    records = layout.image_records(deepfloyd)
    assert sorted(records) == sorted(f"results/images/{name}.json" for name in used)


def test_bound_layout(default):
    pa = layout.PartA(default)
    assert pa.cells("a1_7_2", "digit_a") == layout.cells(default, "a1_7_2", "digit_a")
    assert pa.pair_params("a1_9", "one_seven") == {
        "kind": "hybrid",
        "prompts": ["1", "7"],
        "view": None,
        "hybrid": {"kernel_size": 7, "sigma": 2.0},
    }
    with pytest.raises(AttributeError):
        pa.record  # noqa: B018 -- takes a folder, not the config
    with pytest.raises(AttributeError):
        pa.no_such_function  # noqa: B018
