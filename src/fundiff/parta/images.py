"""Part A input images: sources, preprocessing to the backend, inpainting masks.

Sources (``parta.images.<name>.source``):

* ``url:URL``          downloaded (retries; sha256 checked when given, a null sha256 skips it)
* ``skimage:NAME``     a photo shipped with scikit-image (astronaut, chelsea, coffee, rocket ...)
* ``file:PATH``        a file in the repository, e.g. the drawings in ``assets/drawings/``
* ``mnist:INDEX``      a held-out test digit from ``results/data/mnist.pt``

Preprocessing (``prepare``): alpha composited on white, then RGB (IF: spec Resize(size) ->
CenterCrop(size)) or grayscale for a 1-channel model. MNIST digits are white on black, so a
1-channel image whose border is light is inverted (``invert: auto``; true/false force it).
"""

from __future__ import annotations

import io
import time
import urllib.request
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms import functional as TF

from fundiff.errors import UserError
from fundiff.io import sha256 as file_sha256
from fundiff.io import write_bytes

SOURCE_KINDS = ("url", "skimage", "file", "mnist")


class ImageError(UserError, ValueError):
    """An input image problem, worded as one line naming the file or key."""


def parse_source(source: str) -> tuple[str, str]:
    kind, sep, rest = source.partition(":")
    if not sep or kind not in SOURCE_KINDS or not rest:
        raise ImageError(
            f"image source {source!r} must look like url:URL, skimage:NAME, file:PATH or "
            "mnist:INDEX"
        )
    return kind, rest


def download(url: str, dest, sha256: str | None = None, retries: int = 3, timeout=30) -> None:
    """Fetch ``url`` to ``dest`` atomically; check ``sha256`` when given."""
    last = None
    for attempt in range(retries):
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "fundiff/0.1"})
            with urllib.request.urlopen(req, timeout=timeout) as r:
                data = r.read()
            break
        except OSError as e:
            last = e
            time.sleep(min(2**attempt, 5))
    else:
        raise ImageError(
            f"could not download {url} after {retries} tries ({type(last).__name__}: {last}); "
            "check the network or use a file: / skimage: source"
        )
    if sha256:
        import hashlib

        got = hashlib.sha256(data).hexdigest()
        if got != sha256.lower():
            raise ImageError(
                f"{url}: sha256 {got} does not match the configured {sha256}; update the "
                "config's sha256 (or set it to null to skip the check)"
            )
    write_bytes(dest, data)


def open_image(path) -> Image.Image:
    """Open and fully decode an image file; a missing/corrupt file is one line naming it."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"image file {path} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageError(
            f"image file {path} is not a readable image ({type(e).__name__}); replace it with "
            "a PNG or JPEG, or point the image's source at another file"
        ) from None


def load_source(source: str, base_dir=".", mnist_path=None, sha256=None, cache=None) -> Image.Image:
    """The source image as PIL (any mode). ``cache`` is where a url: download is kept."""
    kind, rest = parse_source(source)
    if kind == "file":
        path = Path(rest)
        return open_image(path if path.is_absolute() else Path(base_dir) / path)
    if kind == "skimage":
        import skimage.data

        fn = getattr(skimage.data, rest, None)
        if fn is None or not callable(fn):
            raise ImageError(f"image source {source!r}: scikit-image has no photo {rest!r}")
        return Image.fromarray(np.asarray(fn()))
    if kind == "mnist":
        if mnist_path is None:
            raise ImageError(f"image source {source!r} needs results/data/mnist.pt")
        test = torch.load(mnist_path, weights_only=True)["test_images"]
        if not rest.isdigit() or int(rest) >= len(test):
            raise ImageError(
                f"image source {source!r}: INDEX must be 0..{len(test) - 1} (held-out digits)"
            )
        return Image.fromarray(test[int(rest)].numpy(), mode="L")
    cache = Path(cache) if cache else Path(base_dir) / "resources/images/download.bin"
    if sha256 and cache.is_file() and file_sha256(cache) == sha256.lower():
        return open_image(cache)
    download(rest, cache, sha256)
    return open_image(cache)


def _flatten(im: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB or L, transparent pixels composited on white."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        return Image.fromarray((arr * 255).round().astype(np.uint8), mode="L")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGB")
    return im


def prepare(im: Image.Image, size: int, channels: int, invert="auto") -> torch.Tensor:
    """PIL image -> (channels, size, size) float in [0, 1]: Resize(size) then CenterCrop(size)."""
    im = _flatten(im)
    im = im.convert("RGB" if channels == 3 else "L")
    x = TF.to_tensor(im)
    x = TF.resize(x, size, antialias=True)
    x = TF.center_crop(x, [size, size]).clamp(0, 1)
    if channels == 1:
        border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)
        if invert is True or (invert == "auto" and border.mean() > 0.5):
            x = 1.0 - x
    elif channels != 3:
        raise ImageError(f"cannot prepare images for a {channels}-channel model")
    return x


def load_image(backend, path, invert="auto") -> torch.Tensor:
    """A source PNG (the image rule's output) as a (1, C, S, S) tensor in ``backend``'s model
    space (any fundiff.parta.backends.Backend)."""
    x01 = prepare(open_image(path), backend.image_size, backend.channels, invert)
    return backend.to_model(x01[None])


def rect_mask(size: int, rects: list, key: str = "mask") -> torch.Tensor:
    """(1, size, size) mask, 1 inside any [top, left, height, width] rectangle (model pixels)."""
    m = torch.zeros(1, size, size)
    for r in rects:
        if len(r) != 4 or any(not isinstance(v, int) for v in r):
            raise ImageError(f"{key}: rectangle {r} must be 4 integers [top, left, height, width]")
        top, left, h, w = r
        if top < 0 or left < 0 or h <= 0 or w <= 0 or top + h > size or left + w > size:
            raise ImageError(
                f"{key}: rectangle {r} [top, left, height, width] does not fit the "
                f"{size}x{size} model image; use values within 0..{size}"
            )
        m[:, top : top + h, left : left + w] = 1.0
    if not m.any():
        raise ImageError(f"{key}: the mask is empty; give at least one rectangle")
    return m


def image_mask(path, size: int, key: str = "mask") -> torch.Tensor:
    """Mask from an image file (white = 1 = new content); must be square (resized to size)."""
    im = _flatten(open_image(path)).convert("L")
    if im.width != im.height:
        raise ImageError(
            f"{key}: mask image {path} is {im.width}x{im.height}; it must be square (it is "
            f"resized to the {size}x{size} model image)"
        )
    x = TF.to_tensor(im.resize((size, size), Image.NEAREST))
    return (x > 0.5).float()


def to_png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()
