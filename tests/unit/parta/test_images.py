"""Part A input safety (issue 13): downloads against a local HTTP server (never the internet),
pixel limits and formats, the scikit-image allow-list, paths inside the repository, empty masks,
and the parse-time check of a whole config."""

from __future__ import annotations

import hashlib
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from fundiff.parta import images
from fundiff.parta.images import (
    MAX_PIXELS,
    SKIMAGE_PHOTOS,
    ImageError,
    check_images,
    describe_source,
    download,
    image_mask,
    load_source,
    open_image,
    redact_url,
)
from tests.unit.parta.local_server import LocalServer, png_bytes


@pytest.fixture
def server():
    with LocalServer(big=64 * 1024) as s:
        yield s


def _one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


# ------------------------------------------------------------------ downloads


def test_download_ok_and_sha256(server, tmp_path):
    good = hashlib.sha256(server.png).hexdigest()
    download(server.url("/ok.png"), tmp_path / "a.png", good, backoff=0)
    assert (tmp_path / "a.png").read_bytes() == server.png
    with pytest.raises(ImageError, match="does not match the configured") as e:
        download(server.url("/ok.png"), tmp_path / "b.png", "0" * 64, key="k", backoff=0)
    assert _one_line(e).startswith("k: ") and not (tmp_path / "b.png").exists()


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/x.png", "notaurl", "http://"]
)
def test_only_http_urls(url, tmp_path):
    with pytest.raises(ImageError) as e:
        download(url, tmp_path / "x", key="parta.images.bad")
    msg = _one_line(e)
    assert msg.startswith("parta.images.bad: ") and "http(s) URL" in msg
    assert not (tmp_path / "x").exists()


def test_404_is_not_retried(server, tmp_path):
    with pytest.raises(ImageError) as e:
        download(server.url("/status/404"), tmp_path / "x", key="parta.images.bad", backoff=0)
    assert "HTTP 404" in _one_line(e) and "parta.images.bad" in str(e.value)
    assert server.hits["/status/404"] == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("code", [500, 503, 429])
def test_5xx_and_429_are_retried_then_one_line(server, tmp_path, code):
    path = f"/status/{code}"
    with pytest.raises(ImageError) as e:
        download(server.url(path), tmp_path / "x", key="parta.images.bad", backoff=0)
    assert f"after 3 tries (HTTP {code}" in _one_line(e)
    assert server.hits[path] == 3


def test_transient_error_then_success(server, tmp_path):
    download(server.url("/flaky/2"), tmp_path / "x", backoff=0)
    assert server.hits["/flaky/2"] == 3 and (tmp_path / "x").read_bytes() == server.png


def test_truncated_body_is_retried_then_one_line(server, tmp_path):
    with pytest.raises(ImageError) as e:
        download(server.url("/truncated"), tmp_path / "x", backoff=0)
    assert "after 3 tries (truncated body" in _one_line(e)
    assert server.hits["/truncated"] == 3 and not (tmp_path / "x").exists()


@pytest.mark.parametrize("path", ["/big", "/big-unsized"])
def test_size_cap_from_header_and_while_reading(server, tmp_path, path):
    with pytest.raises(ImageError) as e:
        download(server.url(path), tmp_path / "x", max_bytes=16 * 1024, key="k", backoff=0)
    assert "larger than the" in _one_line(e)
    assert server.hits[path] == 1 and not (tmp_path / "x").exists()


def test_default_size_cap_is_documented():
    assert images.MAX_DOWNLOAD_BYTES == 16 * 2**20
    assert "16 MiB" in images.__doc__


def test_overall_deadline_not_only_per_read(server, tmp_path):
    # one byte every 50 ms never trips a 1 s read timeout; the 0.5 s deadline stops it
    t0 = time.monotonic()
    with pytest.raises(ImageError) as e:
        download(server.url("/slow"), tmp_path / "x", retries=1, timeout=1, deadline=0.5)
    assert "deadline" in _one_line(e) and time.monotonic() - t0 < 5
    assert not (tmp_path / "x").exists()


def test_html_page_and_redirect_to_file_are_refused(server, tmp_path):
    with pytest.raises(ImageError, match="HTML page"):
        download(server.url("/html"), tmp_path / "x", backoff=0)
    with pytest.raises(ImageError, match="redirects to a file: URL"):
        download(server.url("/redirect"), tmp_path / "x", backoff=0)
    assert server.hits["/html"] == server.hits["/redirect"] == 1


def test_credentials_and_query_never_shown(server, tmp_path):
    url = server.url("/status/404", auth="user:secret@") + "?token=abc123"
    with pytest.raises(ImageError) as e:
        download(url, tmp_path / "x", key="parta.images.bad", backoff=0)
    msg = _one_line(e)
    assert "secret" not in msg and "abc123" not in msg and "user" not in msg
    assert "***@127.0.0.1" in msg and "?***" in msg
    assert redact_url("https://a:b@h.org/p.png?sig=1#f") == "https://***@h.org/p.png?***"
    assert describe_source("url:https://a:b@h.org/p?x=1") == "url:https://***@h.org/p?***"
    assert describe_source("skimage:camera") == "skimage:camera"


def test_credentials_sent_as_basic_auth(server, tmp_path):
    download(server.url("/auth", auth="user:secret@"), tmp_path / "x", backoff=0)
    assert (tmp_path / "x").read_bytes() == server.png


def test_unreachable_host_is_retried(tmp_path):
    with pytest.raises(ImageError) as e:
        download("http://127.0.0.1:9/x.png", tmp_path / "x", key="k", backoff=0)
    assert "after 3 tries" in _one_line(e) and "127.0.0.1:9" in str(e.value)


def test_load_source_url_names_the_key(server, tmp_path):
    im = load_source(f"url:{server.url('/ok.png')}", base_dir=tmp_path, key="parta.images.x")
    assert im.size == (8, 8)
    with pytest.raises(ImageError, match=r"^parta\.images\.x: url:file:///etc/passwd .*http"):
        load_source("url:file:///etc/passwd", base_dir=tmp_path, key="parta.images.x")


def test_source_record_of_a_download_is_the_downloaded_bytes(server, tmp_path):
    """The image rule's provenance record: the sha256 and size of the bytes it downloaded
    (what a pinned ``sha256`` is checked against), the URL redacted."""
    url = server.url("/ok.png", auth="user:secret@") + "?token=abc"
    cache = tmp_path / "x.download"
    good = hashlib.sha256(server.png).hexdigest()
    for pinned in (None, good):
        im = load_source(f"url:{url}", base_dir=tmp_path, sha256=pinned, cache=cache)
        r = images.source_record(f"url:{url}", im, base_dir=tmp_path, cache=cache, pinned=pinned)
        assert r == {
            "source": f"url:{redact_url(url)}",
            "pinned": pinned is not None,
            "hashed": "downloaded bytes",
            "sha256": good,
            "bytes": len(server.png),
        }
        assert "secret" not in str(r) and "abc" not in str(r)


def test_source_record_of_local_and_bundled_sources(tmp_path):
    (tmp_path / "assets").mkdir()
    Image.new("RGB", (5, 3), (1, 2, 3)).save(tmp_path / "assets/in.png")
    data = (tmp_path / "assets/in.png").read_bytes()
    im = load_source("file:assets/in.png", base_dir=tmp_path)
    r = images.source_record("file:assets/in.png", im, base_dir=tmp_path, pinned="0" * 64)
    assert r["hashed"] == "file bytes" and r["bytes"] == len(data)
    assert r["sha256"] == hashlib.sha256(data).hexdigest()
    assert r["pinned"] is False  # a file: source's sha256 is never checked, so never "pinned"
    im = load_source("skimage:chelsea")
    r = images.source_record("skimage:chelsea", im)
    pixels = np.asarray(im)
    assert r["hashed"] == "decoded pixels (300 x 451 x 3 uint8)"
    assert r["sha256"] == hashlib.sha256(pixels.tobytes()).hexdigest()
    assert r["bytes"] == 300 * 451 * 3 and r["source"] == "skimage:chelsea"
    digit = Image.fromarray(np.arange(28 * 28, dtype=np.uint8).reshape(28, 28), mode="L")
    other = Image.fromarray(np.zeros((28, 28), np.uint8), mode="L")
    a, b = (images.source_record("mnist:7", d) for d in (digit, other))
    assert a["hashed"] == "decoded pixels (28 x 28 uint8)" and a["sha256"] != b["sha256"]


# ------------------------------------------------------------------ image files


def _png_header(path, width: int, height: int):
    """A tiny PNG claiming width x height (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize(
    "size, words",
    [
        ((40000, 40000), "claims far over"),
        ((8000, 8000), "is 8000x8000 pixels, over"),
        ((10000, 10000), "megapixel limit"),
    ],
)
def test_pixel_limit_and_bombs_are_one_line(tmp_path, size, words):
    path = _png_header(tmp_path / "bomb.png", *size)
    assert path.stat().st_size < 200
    with pytest.raises(ImageError) as e:
        open_image(path)
    msg = _one_line(e)
    assert "bomb.png" in msg and words in msg and f"{MAX_PIXELS // 10**6}-megapixel" in msg


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"])
def test_allowed_formats(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.new("RGB", (6, 4), (10, 200, 30)).save(path, format=fmt)
    assert open_image(path).size == (6, 4)


@pytest.mark.parametrize("fmt", ["PPM", "PCX", "ICO", "TGA"])
def test_other_formats_refused(tmp_path, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    Image.new("RGB", (16, 16)).save(path, format=fmt)
    with pytest.raises(ImageError) as e:
        open_image(path)
    assert "x." in _one_line(e) and "PNG, JPEG, GIF, BMP, TIFF, WEBP" in str(e.value)


def test_skimage_allow_list(monkeypatch):
    import skimage.data

    called = []
    monkeypatch.setattr(skimage.data, "download_all", lambda *a, **k: called.append(1))
    for name in ("download_all", "data_dir", "file_hash", "lfw_subset", "no_such"):
        with pytest.raises(ImageError) as e:
            load_source(f"skimage:{name}", key="parta.images.x")
        assert _one_line(e).startswith("parta.images.x: skimage:") and "astronaut, " in str(e.value)
    assert not called
    for name in SKIMAGE_PHOTOS:  # every allowed name is a photo loader of this scikit-image
        assert callable(getattr(skimage.data, name)), name
    assert load_source("skimage:chelsea").size == (451, 300)


def test_local_paths_stay_in_the_repository(tmp_path):
    repo = tmp_path / "repo"
    (repo / "assets").mkdir(parents=True)
    Image.new("RGB", (5, 5)).save(repo / "assets/in.png")
    Image.new("RGB", (7, 7)).save(tmp_path / "out.png")
    assert load_source("file:assets/in.png", base_dir=repo).size == (5, 5)
    assert load_source("file:assets/../assets/in.png", base_dir=repo).size == (5, 5)
    for src in ("file:../out.png", f"file:{tmp_path / 'out.png'}", "file:assets/../../out.png"):
        with pytest.raises(ImageError) as e:
            load_source(src, base_dir=repo, key="parta.images.x")
        msg = _one_line(e)
        assert msg.startswith("parta.images.x: ") and "outside the repository" in msg
        assert "allow_external: true" in msg
    assert load_source("file:../out.png", base_dir=repo, allow_external=True).size == (7, 7)


def test_empty_masks_are_rejected(tmp_path):
    black = tmp_path / "black.png"
    Image.new("L", (64, 64), 0).save(black)
    with pytest.raises(ImageError) as e:
        image_mask(black, 28, "parta.inpaint mask of 'x'")
    assert "all black" in _one_line(e) and "black.png" in str(e.value)
    speck = Image.new("L", (100, 100), 0)
    speck.putpixel((50, 50), 255)  # lost by the nearest-neighbour resize
    speck.save(tmp_path / "speck.png")
    with pytest.raises(ImageError, match="all black at the 28x28 model size"):
        image_mask(tmp_path / "speck.png", 28)
    half = Image.new("L", (100, 100), 0)
    half.paste(255, (0, 0, 50, 50))
    half.save(tmp_path / "half.png")
    assert image_mask(tmp_path / "half.png", 28).sum() == 14 * 14


# ------------------------------------------------------------------ the parse-time check


def _config(images_: dict, inpaint: list | None = None) -> dict:
    return {"parta": {"images": images_, "inpaint": inpaint or []}}


def test_check_images_accepts_the_presets():
    import yaml

    from fundiff.config import validate
    from tests.helpers.workflow import REPO

    for preset in ("config.yaml", "configs/tiny.yaml", "configs/deepfloyd.yaml"):
        cfg = yaml.safe_load((REPO / "config.yaml").read_text())
        if preset != "config.yaml":
            from fundiff.config import deep_merge

            cfg = deep_merge(cfg, yaml.safe_load((REPO / preset).read_text()))
        check_images(validate(cfg, REPO / "schemas/config.schema.yaml"), REPO)


@pytest.mark.parametrize(
    "spec, words",
    [
        ({"source": "url:file:///etc/passwd"}, "http(s) URL"),
        ({"source": "url:notaurl"}, "http(s) URL"),
        ({"source": "url:ftp://h/x.png"}, "scheme 'ftp'"),
        ({"source": "skimage:download_all"}, "bundled with scikit-image"),
        ({"source": "file:../x.png"}, "outside the repository"),
        ({"source": "file:/etc/hosts"}, "outside the repository"),
        ({"source": "mnist:seven"}, "mnist:INDEX"),
    ],
)
def test_check_images_names_the_key(tmp_path, spec, words):
    with pytest.raises(ImageError) as e:
        check_images(_config({"bad": spec}), tmp_path)
    msg = _one_line(e)
    assert msg.startswith("parta.images.bad: ") and words in msg


def test_check_images_masks(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "x.png")
    Image.new("L", (32, 32), 0).save(tmp_path / "black.png")
    Image.new("L", (40, 32), 255).save(tmp_path / "wide.png")
    Image.new("L", (32, 32), 255).save(tmp_path / "white.png")
    imgs = {"x": {"source": "file:x.png"}}
    check_images(_config(imgs, [{"image": "x", "mask": "white.png"}]), tmp_path)
    check_images(_config(imgs, [{"image": "x", "mask": "missing.png"}]), tmp_path)  # Snakemake's
    for mask, words in (
        ("black.png", "all black"),
        ("wide.png", "square"),
        ("../m.png", "outside"),
    ):
        with pytest.raises(ImageError) as e:
            check_images(_config(imgs, [{"image": "x", "mask": mask}]), tmp_path)
        assert _one_line(e).startswith("parta.inpaint mask of 'x': ") and words in str(e.value)
    outside = tmp_path.parent / f"{tmp_path.name}_mask.png"
    Image.new("L", (8, 8), 255).save(outside)
    ext = {"x": {"source": "file:x.png", "allow_external": True}}
    check_images(_config(ext, [{"image": "x", "mask": str(outside)}]), tmp_path)


def test_module_imports_without_torch():
    import subprocess
    import sys

    code = "import sys, fundiff.parta.images; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_png_bytes_helper_roundtrip():
    assert png_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
