"""fundiff.parta.images: preparing any image for a backend, local sources, masks, PNG bytes."""

import io

import pytest
import torch
from PIL import Image

from fundiff.parta.images import ImageError, image_mask, load_source, open_image, prepare, rect_mask


def _png(im: Image.Image, path):
    im.save(path)
    return path


@pytest.mark.parametrize(
    "im",
    [
        Image.new("RGBA", (90, 50), (255, 0, 0, 0)),  # transparent -> white
        Image.new("L", (20, 64), 30),
        Image.new("RGB", (3, 5), (0, 128, 255)),  # tiny
        Image.new("P", (40, 30)),
        Image.new("I;16", (30, 30)),
    ],
)
def test_prepare_any_image(tmp_path, im):
    path = _png(im, tmp_path / "x.png")
    for size, ch in ((64, 3), (28, 1)):
        x = prepare(open_image(path), size, ch)
        assert x.shape == (ch, size, size) and 0 <= x.min() and x.max() <= 1


def test_prepare_transparent_is_white_and_mnist_inverts_light_backgrounds(tmp_path):
    x = prepare(Image.new("RGBA", (10, 10), (0, 0, 0, 0)), 8, 3)
    assert torch.allclose(x, torch.ones_like(x))
    drawing = Image.new("L", (50, 50), 255)
    drawing.paste(0, (20, 5, 30, 45))  # black stroke on white paper
    x = prepare(drawing, 28, 1)
    assert x[0, 0, 0] < 0.1 and x[0, 14, 14] > 0.9  # white on black, like MNIST
    assert prepare(drawing, 28, 1, invert=False)[0, 0, 0] > 0.9


def test_missing_and_corrupt_files_name_the_file(tmp_path):
    with pytest.raises(ImageError, match="nope.png does not exist"):
        open_image(tmp_path / "nope.png")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageError) as e:
        load_source("file:broken.png", base_dir=tmp_path)
    assert "broken.png" in str(e.value) and "readable" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ImageError, match="skimage:no_such"):
        load_source("skimage:no_such")
    with pytest.raises(ImageError, match="url:URL"):
        load_source("ftp:x")


def test_skimage_source():
    # downloads: tests/unit/parta/test_images.py (a local HTTP server)
    im = load_source("skimage:camera")
    assert im.size == (512, 512)


def test_masks(tmp_path):
    m = rect_mask(64, [[2, 24, 18, 18]])
    assert m.shape == (1, 64, 64) and m.sum() == 18 * 18
    with pytest.raises(ImageError) as e:
        rect_mask(28, [[20, 0, 14, 28]], "parta.inpaint (digit)")
    assert "does not fit the 28x28" in str(e.value) and "parta.inpaint (digit)" in str(e.value)
    path = _png(Image.new("L", (100, 50), 255), tmp_path / "mask.png")
    with pytest.raises(ImageError, match="must be square"):
        image_mask(path, 64)
    sq = Image.new("L", (100, 100), 0)
    sq.paste(255, (0, 0, 50, 50))
    m = image_mask(_png(sq, tmp_path / "sq.png"), 28)
    assert m.shape == (1, 28, 28) and m.sum() == 14 * 14


# ------------------------------------------------------------------ config


def test_image_bytes_roundtrip():
    from fundiff.parta.images import to_png_bytes

    im = Image.new("RGB", (3, 3), (1, 2, 3))
    assert Image.open(io.BytesIO(to_png_bytes(im))).getpixel((0, 0)) == (1, 2, 3)


# ---------------------------------------------------------------------------------------------
# Part A metrics: the samples come from the same loops, batched, seeded
