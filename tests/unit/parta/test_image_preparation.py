"""fundiff.parta.images: preparing any image for a backend, local sources, masks, PNG bytes."""

import io

import numpy as np
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


def _tall_image_with_top_marker() -> Image.Image:
    """A 100 x 400 gray photo stand-in with a red band in its top 5% (rows 0-19): the spire of a
    tall test image."""
    im = Image.new("RGB", (100, 400), (128, 128, 128))
    im.paste((255, 0, 0), (0, 0, 100, 20))
    return im


def _is_red(x: torch.Tensor) -> torch.Tensor:
    """(H, W) bool: the pixels of a (3, H, W) image in [0, 1] that are clearly red."""
    return (x[0] > 0.8) & (x[1] < 0.3) & (x[2] < 0.3)


def test_squash_keeps_the_top_of_a_tall_image_and_crop_cuts_it():
    """The issue's acceptance test: ``squash`` (the starter's ``.resize((64, 64))`` of its test
    image) keeps a marker in the top 5%; ``crop`` (Resize + CenterCrop) cuts it away."""
    im = _tall_image_with_top_marker()
    squashed = prepare(im, 64, 3, resize="squash")
    cropped = prepare(im, 64, 3, resize="crop")
    assert squashed.shape == cropped.shape == (3, 64, 64)
    red = _is_red(squashed)
    assert red[0].all() and red[:2].all()  # the band squashed to ~3 of 64 rows, full width
    assert not red[8:].any()  # and nowhere below it: the aspect is what changed, not the order
    assert not _is_red(cropped).any()
    assert torch.equal(prepare(im, 64, 3), cropped)  # crop is the default


def test_squash_is_the_starter_resize_and_crop_keeps_the_aspect():
    im = _tall_image_with_top_marker()
    starter = torch.from_numpy(np.array(im.resize((64, 64)))).permute(2, 0, 1) / 255.0
    assert torch.allclose(prepare(im, 64, 3, resize="squash"), starter)
    wide = Image.new("L", (120, 40), 0)
    wide.paste(255, (0, 0, 10, 40))  # a white stripe at the left edge, cut by a centre crop
    assert prepare(wide, 28, 1, invert=False, resize="squash")[0, :, 0].min() > 0.9
    assert prepare(wide, 28, 1, invert=False, resize="crop").max() < 0.1
    with pytest.raises(ImageError, match="resize 'stretch' must be one of crop, squash"):
        prepare(wide, 28, 1, resize="stretch")


def test_config_resize_defaults_to_crop_and_a_bad_value_is_one_line_naming_the_key():
    import yaml

    from fundiff.config import ConfigError, deep_merge, validate
    from tests.helpers.workflow import REPO

    def config(**campanile):
        raw = deep_merge(
            yaml.safe_load((REPO / "config.yaml").read_text()),
            yaml.safe_load((REPO / "configs/deepfloyd.yaml").read_text()),
        )
        raw["parta"]["images"]["campanile"] |= campanile
        return validate(raw, REPO / "schemas/config.schema.yaml")

    images = config()["parta"]["images"]
    assert images["campanile"]["resize"] == "squash"  # the preset: the starter's test image
    assert images["cat"]["resize"] == "crop"  # the schema default: the starter's web images
    with pytest.raises(ConfigError) as e:
        config(resize="stretch")
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("config key 'parta.images.campanile.resize' = 'stretch' must be one of")
    assert "crop" in msg and "squash" in msg


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
