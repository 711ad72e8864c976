"""Part A input images: sources, preprocessing to the backend, inpainting masks.

Sources (``parta.images.<name>.source``):

* ``url:URL``          downloaded over http(s) only (see *Downloads*); sha256 checked when given
                       (a null sha256 skips it)
* ``skimage:NAME``     a photo shipped inside scikit-image, from :data:`SKIMAGE_PHOTOS` only
                       (astronaut, chelsea, coffee, rocket ...); nothing else in skimage.data runs
* ``file:PATH``        a file in the repository, e.g. the drawings in ``assets/drawings/``
* ``mnist:INDEX``      a held-out test digit from ``results/data/mnist.pt``

Local paths (``file:PATH`` and ``parta.inpaint[].mask``) are resolved against the working
directory (the repository) and must stay inside it (``..`` or an absolute path elsewhere is an
error) unless the image sets ``allow_external: true`` (which also covers its inpainting mask).
The check is lexical: a symlink placed inside the repository is followed.

Image files: formats :data:`FORMATS` only (PNG, JPEG, GIF, BMP, TIFF, WebP) and at most
:data:`MAX_PIXELS` (50 megapixels); a larger image (or a decompression bomb, a tiny file claiming
huge dimensions) is one error line naming the file, checked before the pixels are decoded.

Downloads (:func:`download`): http and https only (also after redirects), at most
:data:`MAX_DOWNLOAD_BYTES` (16 MiB, from Content-Length and while reading), one overall deadline
per try (:data:`DOWNLOAD_DEADLINE_S`) besides the per-read timeout; transient failures
(timeouts, connection errors, HTTP 5xx and 429, truncated bodies) are retried, others (404 ...)
fail at once. ``user:password@`` in a URL is sent as HTTP basic auth (not to redirect targets);
errors and logs show URLs with the credentials and the query string replaced by ``***``
(:func:`redact_url`).

Preprocessing (``prepare``): alpha composited on white, then RGB or grayscale for a
1-channel model, then made square at the model's size as the image's ``resize`` says (:data:`RESIZE`):
``crop`` (the default) = Resize(size) -> CenterCrop(size), the starter's treatment of web images
(aspect kept, the long side cut); ``squash`` = both sides to the size, the starter's
``.resize((64, 64))`` of its test image (nothing cut, aspect lost). Inpainting rectangles are in
these model pixels. MNIST digits are white on black, so a 1-channel image whose border is light
is inverted (``invert: auto``; true/false force it).

Provenance (:func:`source_record`): the image rule records the sha256 and size of what it read
(the downloaded bytes, the file's bytes, or the decoded pixels of a bundled skimage photo or an
MNIST digit) beside its PNG, for the report.

Importing this module is torch-free (:func:`check_images` runs while the Snakefile is parsed);
torch and torchvision are imported by the functions that use them.
"""

from __future__ import annotations

import base64
import http.client
import io
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from fundiff.errors import UserError

SOURCE_KINDS = ("url", "skimage", "file", "mnist")
RESIZE = ("crop", "squash")  # how an image becomes the model's square (see prepare)
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")  # PIL format names an image file may have
MAX_PIXELS = 50_000_000  # width * height of any input image or mask file
MAX_DOWNLOAD_BYTES = 16 * 2**20  # a url: body (photos are a few MiB)
DOWNLOAD_DEADLINE_S = 120.0  # one try of a url: download, connect to last byte
DOWNLOAD_TIMEOUT_S = 30.0  # one socket read (and the connect)
# The 2-D photos and test images bundled inside scikit-image (no download needed).
SKIMAGE_PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "cat",
    "cell",
    "checkerboard",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "shepp_logan_phantom",
    "text",
)


class ImageError(UserError, ValueError):
    """An input image problem, worded as one line naming the file or key."""


def _at(key: str | None) -> str:
    return f"{key}: " if key else ""


def parse_source(source: str, key: str | None = None) -> tuple[str, str]:
    kind, sep, rest = source.partition(":")
    if not sep or kind not in SOURCE_KINDS or not rest:
        raise ImageError(
            f"{_at(key)}image source {source!r} must look like url:URL, skimage:NAME, "
            "file:PATH or mnist:INDEX"
        )
    return kind, rest


# ------------------------------------------------------------------ sources checked up front


def redact_url(url: str) -> str:
    """``url`` fit for a log line: ``user:password@`` and the query string become ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "***" if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def describe_source(source: str) -> str:
    """A source for logs and messages (a url: source redacted by :func:`redact_url`)."""
    kind, _, rest = source.partition(":")
    return f"url:{redact_url(rest)}" if kind == "url" else source


def check_url(url: str, key: str | None = None) -> urllib.parse.SplitResult:
    """An http(s) URL with a host, else one line naming ``key``."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        got = f"scheme '{parts.scheme}'" if parts and parts.scheme else "no scheme"
        raise ImageError(
            f"{_at(key)}url:{redact_url(url)} is not an http(s) URL ({got}); an http:// or "
            "https:// URL is expected (put a local image in the repository and use file:PATH)"
        )
    return parts


def check_skimage(name: str, key: str | None = None) -> str:
    if name not in SKIMAGE_PHOTOS:
        raise ImageError(
            f"{_at(key)}skimage:{name} is not one of the photos bundled with scikit-image; "
            f"use one of: {', '.join(SKIMAGE_PHOTOS)}"
        )
    return name


def local_path(path: str, base_dir=".", key: str | None = None, allow_external=False) -> Path:
    """``path`` (relative to ``base_dir``, the repository) as a Path to open; outside
    ``base_dir`` (``..``, an absolute path elsewhere) is an error unless ``allow_external``."""
    p = Path(path)
    full = p if p.is_absolute() else Path(base_dir) / p
    root = os.path.abspath(base_dir)
    if not allow_external:
        resolved = os.path.normpath(os.path.join(root, path))
        if os.path.commonpath([resolved, root]) != root:
            raise ImageError(
                f"{_at(key)}{path} is outside the repository ({root}); copy the file into it "
                "(e.g. assets/) or set 'allow_external: true' on the image"
            )
    return full


def mask_key(image: str) -> str:
    return f"parta.inpaint mask of '{image}'"


def check_images(config: dict, base_dir=".") -> None:
    """Parse-time checks of every ``parta.images`` source and ``parta.inpaint`` mask file:
    source syntax, http(s) URLs, bundled scikit-image photos, local paths inside ``base_dir``
    (unless ``allow_external``), and readable, non-empty mask images. Torch-free. A missing
    file is left to Snakemake (it names the missing input)."""
    pa = config["parta"]
    for name, spec in pa["images"].items():
        key = f"parta.images.{name}"
        kind, rest = parse_source(spec["source"], key)
        if kind == "url":
            check_url(rest, key)
        elif kind == "skimage":
            check_skimage(rest, key)
        elif kind == "file":
            local_path(rest, base_dir, key, spec.get("allow_external", False))
        elif not rest.isdigit():
            raise ImageError(f"{key}: mnist:{rest} must be mnist:INDEX, a held-out digit's index")
    for spec in pa["inpaint"]:
        if "mask" not in spec:
            continue
        image = pa["images"].get(spec["image"], {})
        key = mask_key(spec["image"])
        path = local_path(spec["mask"], base_dir, key, image.get("allow_external", False))
        if path.is_file():
            check_mask_pixels(np.asarray(_flatten(open_image(path)).convert("L")), path, key)


# ------------------------------------------------------------------ downloads


class _Transient(Exception):
    """A failed try worth retrying (the reason is a short, redacted phrase)."""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) URLs only (urllib alone would follow ftp:)."""

    def http_error_302(self, req, fp, code, msg, headers):
        new = headers.get("location") or headers.get("uri") or ""
        scheme = urllib.parse.urlsplit(urllib.parse.urljoin(req.full_url, new)).scheme.lower()
        if scheme not in ("http", "https"):
            raise ImageError(
                f"{redact_url(req.full_url)} redirects to a {scheme or 'non-URL'}: URL; only "
                "http(s) redirects are followed (use the image's direct http(s) URL)"
            )
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _request(url: str) -> urllib.request.Request:
    """The request for ``url``, its ``user:password@`` moved into a basic-auth header."""
    parts = urllib.parse.urlsplit(url)
    headers = {"User-Agent": "fundiff/0.1"}
    if parts.username is not None or parts.password is not None:
        netloc = parts.netloc.rpartition("@")[2]
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req = urllib.request.Request(url, headers=headers)
        req.add_unredirected_header("Authorization", f"Basic {token}")
        return req
    return urllib.request.Request(url, headers=headers)


def _fetch_once(url: str, timeout: float, deadline: float, max_bytes: int, where: str) -> bytes:
    """One try: the body, or ImageError (permanent) / _Transient (worth another try)."""
    opener = urllib.request.build_opener(_HttpOnlyRedirects)
    start = time.monotonic()
    late = f"took longer than the {deadline:g} s deadline"
    too_big = f"{where}: the download is larger than the {max_bytes // 2**20} MiB limit"
    try:
        with opener.open(_request(url), timeout=min(timeout, deadline)) as r:
            length = r.headers.get("Content-Length")
            length = int(length) if length and length.strip().isdigit() else None
            if length is not None and length > max_bytes:
                raise ImageError(f"{too_big} ({length} bytes); use a smaller image")
            ctype = (r.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype == "text/html":
                raise ImageError(
                    f"{where}: the server sent an HTML page, not an image (a login or error "
                    "page?); use the image's direct URL"
                )
            chunks, total = [], 0
            while True:
                if time.monotonic() - start > deadline:
                    raise _Transient(late)
                chunk = r.read1(65536)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise ImageError(f"{too_big}; use a smaller image")
                chunks.append(chunk)
            if length is not None and total < length:
                raise _Transient(f"truncated body: {total} of {length} bytes")
            return b"".join(chunks)
    except urllib.error.HTTPError as e:
        reason = f"HTTP {e.code} {http.client.responses.get(e.code, '')}".rstrip()
        if e.code == 429 or e.code >= 500:
            raise _Transient(reason) from None
        raise ImageError(
            f"{where}: the server answered {reason}; check the URL (a 401/403 needs access)"
        ) from None
    except http.client.IncompleteRead as e:
        raise _Transient(f"truncated body: {len(e.partial)} bytes read") from None
    except TimeoutError:
        raise _Transient("timed out") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise _Transient("timed out") from None
        raise _Transient(f"{type(e.reason).__name__}: {e.reason}") from None
    except (http.client.HTTPException, OSError) as e:
        raise _Transient(f"{type(e).__name__}") from None


def download(
    url: str,
    dest,
    sha256: str | None = None,
    retries: int = 3,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    deadline: float = DOWNLOAD_DEADLINE_S,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    key: str | None = None,
    backoff: float = 1.0,
) -> None:
    """Fetch ``url`` (http(s)) to ``dest`` atomically; check ``sha256`` when given. ``retries``
    tries for transient failures, sleeping ``backoff`` * 1, 2, 4 ... s (at most 5) between;
    every message names ``key`` and shows the URL redacted."""
    check_url(url, key)
    where = f"{_at(key)}{redact_url(url)}"
    last = None
    for attempt in range(retries):
        if attempt:
            time.sleep(min(backoff * 2 ** (attempt - 1), 5.0))
        try:
            data = _fetch_once(url, timeout, deadline, max_bytes, where)
            break
        except _Transient as e:
            last = str(e)
    else:
        raise ImageError(
            f"{where}: could not download after {retries} tries ({last}); check the network "
            "or use a file: / skimage: source"
        )
    if sha256:
        import hashlib

        got = hashlib.sha256(data).hexdigest()
        if got != sha256.lower():
            raise ImageError(
                f"{where}: sha256 {got} does not match the configured {sha256}; update the "
                "config's sha256 (or set it to null to skip the check)"
            )
    from fundiff.io import write_bytes

    write_bytes(dest, data)


# ------------------------------------------------------------------ image files


def open_image(path) -> Image.Image:
    """Open and fully decode an image file of an allowed format (:data:`FORMATS`) with at most
    :data:`MAX_PIXELS` pixels; anything else is one line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"image file {path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=FORMATS) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise ImageError(_too_many_pixels(path, f"{im.width}x{im.height}"))
                im.load()
                return im.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(_too_many_pixels(path, None)) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"image file {path} is not a readable {', '.join(FORMATS)} image; replace it or "
            "point the image's source at another file"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        if isinstance(e, ImageError):
            raise
        raise ImageError(
            f"image file {path} is not a readable image ({type(e).__name__}); replace it with "
            "a PNG or JPEG, or point the image's source at another file"
        ) from None


def _too_many_pixels(path, dims: str | None) -> str:
    limit = f"{MAX_PIXELS // 1_000_000}-megapixel limit"
    size = f"is {dims} pixels, over the {limit}" if dims else f"claims far over the {limit}"
    return f"image file {path} {size} (a decompression bomb?); use a smaller image"


def _download_path(cache, base_dir) -> Path:
    """Where a url: source's download is kept (``cache``, else one shared default file)."""
    return Path(cache) if cache else Path(base_dir) / "resources/images/download.bin"


def load_source(
    source: str,
    base_dir=".",
    mnist_path=None,
    sha256=None,
    cache=None,
    key: str | None = None,
    allow_external: bool = False,
) -> Image.Image:
    """The source image as PIL (any mode). ``cache`` is where a url: download is kept;
    ``key`` (e.g. ``parta.images.cat``) is named by every error; ``base_dir`` is the repository
    that file: paths must stay inside unless ``allow_external``."""
    kind, rest = parse_source(source, key)
    if kind == "file":
        return open_image(local_path(rest, base_dir, key, allow_external))
    if kind == "skimage":
        import skimage.data

        return Image.fromarray(np.asarray(getattr(skimage.data, check_skimage(rest, key))()))
    if kind == "mnist":
        import torch

        if mnist_path is None:
            raise ImageError(f"{_at(key)}image source {source!r} needs results/data/mnist.pt")
        test = torch.load(mnist_path, weights_only=True)["test_images"]
        if not rest.isdigit() or int(rest) >= len(test):
            raise ImageError(
                f"{_at(key)}image source {source!r}: INDEX must be 0..{len(test) - 1} "
                "(held-out digits)"
            )
        return Image.fromarray(test[int(rest)].numpy(), mode="L")
    from fundiff.io import sha256 as file_sha256

    check_url(rest, key)
    cache = _download_path(cache, base_dir)
    if sha256 and cache.is_file() and file_sha256(cache) == sha256.lower():
        return open_image(cache)
    download(rest, cache, sha256, key=key)
    return open_image(cache)


def source_record(
    source: str,
    im: Image.Image,
    base_dir=".",
    cache=None,
    pinned: str | None = None,
    allow_external: bool = False,
) -> dict:
    """What an image was made from, for the report's provenance: the source (a URL redacted),
    the sha256 and size of the bytes behind it, what those bytes are (``hashed``), and whether
    the download was checked against a sha256 the config pins (``pinned``, the configured
    ``sha256``: url: sources only, as :func:`load_source` checks it for them only).

    url: the downloaded file ``cache``; file: the file; skimage: (a photo inside the installed
    package) and mnist: (a digit of the MNIST cache) have no file of their own: the decoded
    pixels ``im`` (uint8, as :func:`load_source` returned them), shape in ``hashed``."""
    import hashlib

    from fundiff.io import sha256 as file_sha256

    kind, rest = parse_source(source)
    out = {"source": describe_source(source), "pinned": bool(pinned) and kind == "url"}
    if kind in ("url", "file"):
        url = kind == "url"
        path = (
            _download_path(cache, base_dir)
            if url
            else local_path(rest, base_dir, None, allow_external)
        )
        hashed = "downloaded bytes" if url else "file bytes"
        return out | {"hashed": hashed, "sha256": file_sha256(path), "bytes": path.stat().st_size}
    pixels = np.ascontiguousarray(np.asarray(im))
    shape = " x ".join(map(str, pixels.shape))
    return out | {
        "hashed": f"decoded pixels ({shape} {pixels.dtype})",
        "sha256": hashlib.sha256(pixels.tobytes()).hexdigest(),
        "bytes": pixels.nbytes,
    }


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


def prepare(im: Image.Image, size: int, channels: int, invert="auto", resize="crop"):
    """PIL image -> (channels, size, size) float tensor in [0, 1]. ``resize``: ``crop`` =
    Resize(size) then CenterCrop(size) (the starter's web images: aspect kept, the long side
    cut); ``squash`` = PIL's ``.resize((size, size))`` with its default bicubic filter (the
    starter's test image: the whole picture, aspect lost)."""
    import torch
    from torchvision.transforms import functional as TF

    im = _flatten(im)
    im = im.convert("RGB" if channels == 3 else "L")
    if resize == "squash":
        x = TF.to_tensor(im.resize((size, size), Image.Resampling.BICUBIC))
    elif resize == "crop":
        x = TF.center_crop(TF.resize(TF.to_tensor(im), size, antialias=True), [size, size])
    else:
        raise ImageError(f"resize {resize!r} must be one of {', '.join(RESIZE)}")
    x = x.clamp(0, 1)
    if channels == 1:
        border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)
        if invert is True or (invert == "auto" and border.mean() > 0.5):
            x = 1.0 - x
    elif channels != 3:
        raise ImageError(f"cannot prepare images for a {channels}-channel model")
    return x


def load_image(backend, path, invert="auto", resize="crop"):
    """A source PNG (the image rule's output) as a (1, C, S, S) tensor in ``backend``'s model
    space (any fundiff.parta.backends.Backend), made square by ``resize`` (:func:`prepare`)."""
    x01 = prepare(open_image(path), backend.image_size, backend.channels, invert, resize)
    return backend.to_model(x01[None])


def rect_mask(size: int, rects: list, key: str = "mask"):
    """(1, size, size) mask, 1 inside any [top, left, height, width] rectangle (model pixels)."""
    import torch

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


def check_mask_pixels(gray, path, key: str = "mask", size: int | None = None) -> None:
    """A mask (grayscale, 0-255 or 0-1 floats with ``size``) must be square and mark at least
    one pixel white (= new content)."""
    h, w = gray.shape[-2:]
    if h != w:
        raise ImageError(
            f"{key}: mask image {path} is {w}x{h}; it must be square (it is resized to the "
            "model image)"
        )
    threshold = 0.5 if size else 127.5
    if not (gray > threshold).any():
        at = f" at the {size}x{size} model size" if size else ""
        raise ImageError(
            f"{key}: mask image {path} is all black{at}, so nothing would be inpainted; paint "
            "the region to replace white"
        )


def image_mask(path, size: int, key: str = "mask"):
    """Mask from an image file (white = 1 = new content); must be square (resized to size)
    and not empty."""
    from torchvision.transforms import functional as TF

    im = _flatten(open_image(path)).convert("L")
    check_mask_pixels(np.asarray(im), path, key)
    x = TF.to_tensor(im.resize((size, size), Image.NEAREST))
    check_mask_pixels(x[0].numpy(), path, key, size)
    return (x > 0.5).float()


def to_png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()
