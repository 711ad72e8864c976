"""fundiff.plotting: PNG/GIF writers (pixel values, sizes, determinism) and the matplotlib figures."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from fundiff import plotting


def test_to_uint8_image_maps_the_value_range_and_layouts():
    x = torch.tensor([[[-1.0, 0.0, 1.0, 3.0]]])  # (1, 1, 4) in [-1, 1], one value out of range
    assert plotting.to_uint8_image(x, (-1.0, 1.0)).tolist() == [[0, 128, 255, 255]]
    rgb = torch.zeros(3, 2, 5)
    rgb[1] = 1.0
    arr = plotting.to_uint8_image(rgb)
    assert arr.shape == (2, 5, 3) and arr[..., 1].min() == 255 and arr[..., 0].max() == 0
    assert plotting.to_uint8_image(torch.ones(4, 6)).shape == (4, 6)


def test_save_image_upscales_with_nearest_pixels(tmp_path):
    x = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])
    plotting.save_image(x, tmp_path / "a.png", upscale=3)
    arr = np.asarray(Image.open(tmp_path / "a.png"))
    assert arr.shape == (6, 6)
    assert (arr[:3, :3] == 0).all() and (arr[:3, 3:] == 255).all()


def test_grid_and_save_grid_lay_out_rows_with_padding(tmp_path):
    imgs = torch.zeros(6, 1, 4, 4)
    g = plotting.grid(imgs, nrow=3, padding=1)
    assert g.shape == (3, 2 * 5 + 1, 3 * 5 + 1)  # make_grid: 3 channels, 1-pixel gutters
    assert g[:, 0, :].min() == 1.0  # the gutter is white (pad_value 1)
    plotting.save_grid(imgs, tmp_path / "g.png", nrow=3, upscale=2, padding=1)
    assert Image.open(tmp_path / "g.png").size == (2 * 16, 2 * 11)


def test_writers_are_byte_deterministic(tmp_path):
    x = torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(0))
    rows = [[x, x], [x]]
    for name in ("a", "b"):
        plotting.save_panel(
            rows, tmp_path / f"{name}.png", col_titles=["c0", "c1"], row_titles=["r"]
        )
        hist = [{"step": i, "loss": 1.0 / (i + 1)} for i in range(50)]
        plotting.save_loss_curve(hist, tmp_path / f"{name}_loss.png", "loss", smooth=5)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a_loss.png").read_bytes() == (tmp_path / "b_loss.png").read_bytes()
    assert b"Matplotlib version" not in (tmp_path / "a.png").read_bytes()


def test_save_gif_holds_the_last_frame(tmp_path):
    frames = [torch.full((2, 1, 4, 4), v) for v in (0.0, 0.5, 1.0)]
    plotting.save_gif(frames, tmp_path / "s.gif", nrow=2, fps=10, hold_last=4, upscale=1)
    arr = iio.imread(tmp_path / "s.gif", index=None)
    assert arr.shape[1:3] == (8, 14)  # one row of two 4x4 digits with 2-pixel gutters
    first, last = arr[0][2:6, 2:6], arr[-1][2:6, 2:6]
    assert first.max() == 0 and last.min() == 255
    # the held copies of the last frame are merged by the encoder into one long frame
    with Image.open(tmp_path / "s.gif") as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
        assert im.info["loop"] == 0
    assert durations == [100, 100, 100 * (1 + 4)]


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plotting.iio, "imwrite", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        plotting.save_gif([torch.zeros(1, 1, 4, 4)], tmp_path / "s.gif", nrow=1)
    assert list(tmp_path.iterdir()) == []
