"""fundiff.evaluation.samplers (section X2): the sampler x steps rows, their sampling and timing
(kept in its own record), scoring through the B4 scorer, the table data (no wall times) and the
quality-vs-time plot (scores joined with the times)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from fundiff.diffusion import ddpm
from fundiff.diffusion.unet import UNet
from fundiff.evaluation import samplers
from fundiff.io import save_npz


@pytest.fixture(scope="module")
def class_unet():
    torch.manual_seed(0)
    return UNet(1, 4, time_cond=True, num_classes=10).eval()


def test_rows_are_every_sampler_by_steps_most_first():
    assert samplers.rows(["ddpm", "ddim"], [10, 300, 50]) == [
        ("ddpm", 300), ("ddpm", 50), ("ddpm", 10), ("ddim", 300), ("ddim", 50), ("ddim", 10),
    ]  # fmt: skip
    assert samplers.row_name("ddim", 20) == "ddim_20"
    assert samplers.balanced_labels(12).tolist() == [*range(10), 0, 1]


def test_sample_rows_share_x_T_and_labels_and_are_timed(class_unet):
    """Every row starts from the same seed (so the same x_T): at 1 step DDPM and DDIM both return
    x0_hat of the same x_T, so they agree; more steps give other digits; every row is timed."""
    schedule = ddpm.Schedule.linear(1e-4, 0.02, 20)
    labels = samplers.balanced_labels(4)
    plan = [("ddpm", 1), ("ddim", 1), ("ddim", 5)]
    out = samplers.sample_rows(class_unet, schedule, plan, 4, 7, 0.0, labels, 3.0)
    assert [(r["sampler"], r["steps"], r["eta"]) for r in out] == [
        ("ddpm", 1, None), ("ddim", 1, 0.0), ("ddim", 5, 0.0),
    ]  # fmt: skip
    assert all(r["seconds"] > 0 and r["images"].shape == (4, 28, 28) for r in out)
    assert all(r["images"].dtype == np.uint8 and r["labels"].tolist() == [0, 1, 2, 3] for r in out)
    assert np.array_equal(out[0]["images"], out[1]["images"])  # one step: x0_hat of x_T
    assert not np.array_equal(out[1]["images"], out[2]["images"])
    again = samplers.sample_rows(class_unet, schedule, plan[2:], 4, 7, 0.0, labels, 3.0)
    assert np.array_equal(again[0]["images"], out[2]["images"])  # seeded


class FakeScorer:
    """Scores a sample file by its mean intensity (a stand-in for the classifier scorer)."""

    def score(self, path):
        z = np.load(path)
        m = float(z["images"].mean()) / 255
        labelled = "labels" in z
        return {
            "n": len(z["images"]), "accuracy": m if labelled else math.nan, "confidence": m,
            "class_entropy": 1.0, "fd": 2 * m, "fd_floor": 1.0, "fd_ratio": 2 * m,
            "fd_floor_std": 0.1, "n_floor": len(z["images"]), "diversity": None, "background": 0,
        }  # fmt: skip


def _files(tmp_path, labelled):
    paths = []
    for i, (sampler, steps) in enumerate(samplers.rows(["ddpm", "ddim"], [20, 5])):
        path = tmp_path / f"{samplers.row_name(sampler, steps)}.npz"
        extra = {"labels": np.arange(3)} if labelled else {}
        images = np.full((3, 28, 28), 40 * i, dtype=np.uint8)
        save_npz(
            path, images=images, sampler=sampler, steps=steps, eta=0.5, seed=11, bf16=False,
            threads=2, **extra,
        )  # fmt: skip
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("labelled", [True, False])
def test_score_frame_table_data_and_plot(tmp_path, labelled):
    files = _files(tmp_path, labelled)
    df = samplers.score_frame("class_cond", FakeScorer(), files)
    assert list(df.columns) == samplers.COLUMNS
    assert df[["sampler", "steps"]].values.tolist() == [
        ["ddpm", 20], ["ddpm", 5], ["ddim", 20], ["ddim", 5],
    ]  # fmt: skip
    assert df["eta"].isna().tolist() == [True, True, False, False]  # eta is DDIM's only
    assert "seconds" not in df  # the wall times are in their own file
    assert df["fd_ratio"].tolist() == pytest.approx([2 * 40 * i / 255 for i in range(4)])
    data = samplers.table_data(df)
    assert ("accuracy" in data["columns"]) == labelled
    assert data["columns"][:4] == [
        "sampler",
        "steps",
        "eta",
        "accuracy" if labelled else "confidence",
    ]
    assert not any("second" in c for c in data["columns"])
    assert [r[:3] for r in data["rows"]][2] == ["ddim", 20, 0.5]
    assert all(len(r) == len(data["columns"]) for r in data["rows"])
    assert samplers.quality_column(df)[0] == ("accuracy" if labelled else "confidence")
    # the timing record in the order sampled (not the frame's), joined by sampler and steps
    rows = [{"sampler": s, "steps": k, "eta": None, "seconds": 10.0 * k, "images": None}
            for s, k in [("ddim", 5), ("ddim", 20), ("ddpm", 5), ("ddpm", 20)]]  # fmt: skip
    timing = samplers.timing_record(rows, 3)
    assert timing["n"] == 3 and set(timing["rows"][0]) == {"sampler", "steps", "eta", "seconds"}
    timed = samplers.with_seconds(df, timing)
    assert timed["seconds"].tolist() == [200.0, 50.0, 200.0, 50.0] and "seconds" not in df
    with pytest.raises(ValueError, match=r"no measured wall time.*'ddpm', 20"):
        samplers.with_seconds(df, {"n": 3, "rows": timing["rows"][:3]})
    samplers.plot_quality_time(timed, tmp_path / "plot.png", "title")
    params = samplers.table_params({"eta": 0.5}, 20, 3.0 if labelled else 1.0, 180, files[0])
    assert params["sampling seed (every row)"] == 11 and params["evaluator seed"] == 180
    assert params["sampling precision (measured)"] == "fp32"
    assert ("guidance_scale (CFG)" in params) == labelled
    assert (tmp_path / "plot.png").stat().st_size > 1000


def test_timing_plots_keep_their_pixel_size_whatever_the_times(tmp_path):
    """The report records each image's width and height: plots of wall times must have the same
    size in every run, while what they show follows the measured times."""
    df = pd.DataFrame(
        [
            {"sampler": s, "steps": k, "fd_ratio": 1.0 + 1 / k, "accuracy": 0.9, "n": 10}
            for s in ("ddpm", "ddim")
            for k in (20, 5)
        ]  # fmt: skip
    )
    sizes, contents = set(), set()
    for i, scale in enumerate((0.0123, 4.56, 789.0)):
        timing = {"n": 10, "rows": [
            {"sampler": s, "steps": k, "eta": None, "seconds": scale * k * (1 + (s == "ddpm"))}
            for s, k in zip(df["sampler"], df["steps"], strict=True)]}  # fmt: skip
        for name in ("quality", "bars"):
            path = tmp_path / f"{name}_{i}.png"
            if name == "quality":
                samplers.plot_quality_time(samplers.with_seconds(df, timing), path, "t")
            else:
                samplers.plot_timing(timing, path, "t")
            with Image.open(path) as im:
                sizes.add((name, im.size))
            contents.add(path.read_bytes())
    assert len(sizes) == 2 and len(contents) == 6


def test_table_data_keeps_missing_values_empty():
    df = pd.DataFrame([dict.fromkeys(samplers.COLUMNS, math.nan) | {"sampler": "ddpm"}])
    df["accuracy"] = 0.5
    row = samplers.table_data(df)["rows"][0]
    assert row[0] == "ddpm" and row.count(None) == len(row) - 2
