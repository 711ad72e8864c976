"""Bad-input matrix through the real pipeline: non-zero exit, one actionable line in the rule's
log naming the file/key and the fix, and no output left looking complete."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from tests.helpers.parse_time_cases import PARSE_TIME_CASES
from tests.helpers.workflow import run_snakemake

pytestmark = pytest.mark.e2e


@pytest.fixture
def done_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the finished tiny run (workflow + results + metadata)."""
    wd = tmp_path / "wd"
    shutil.copytree(tiny_run, wd, symlinks=True, ignore=shutil.ignore_patterns("locks"))
    return wd


def _error_line(log: Path) -> str:
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()
    return lines[0]


SAMPLE = "results/partb/class_cond/samples/epoch_2.png"
TINY = ("--cores", "1", "--configfile", "configs/tiny.yaml")


def test_corrupt_checkpoint(done_copy):
    ckpt = done_copy / "results/partb/class_cond/epochs/epoch_002.pt"
    ckpt.write_bytes(b"\x00 not a checkpoint")
    out = run_snakemake(done_copy, SAMPLE, *TINY, "--forcerun", "sample", check=False)
    assert out.returncode != 0
    line = _error_line(done_copy / "logs/partb/sample_class_cond_2.log")
    assert "epoch_002.pt: not a readable checkpoint" in line and "rerun the training" in line
    assert not (done_copy / SAMPLE).exists()


def test_checkpoint_of_another_width(done_copy):
    ckpt = done_copy / "results/partb/class_cond/epochs/epoch_002.pt"
    state = torch.load(ckpt)
    state["model_config"]["num_hiddens"] = 64  # as if trained with D=64; config says D=8
    torch.save(state, ckpt)
    out = run_snakemake(done_copy, SAMPLE, *TINY, "--forcerun", "sample", check=False)
    assert out.returncode != 0
    line = _error_line(done_copy / "logs/partb/sample_class_cond_2.log")
    assert "num_hiddens=64 but the config asks for 8" in line
    assert not (done_copy / SAMPLE).exists()


# ---------------------------------------------------------------- Part A inputs


@pytest.fixture
def fresh(tmp_path) -> Path:
    from tests.helpers.workflow import copy_workflow

    return copy_workflow(tmp_path / "wf")


def _image_case(wd: Path, source: str, extra: str = "") -> tuple[int, str, Path]:
    """Run only the image rule for a new configured image; return (rc, error line, output)."""
    (wd / "bad.yaml").write_text(f'parta:\n  images:\n    bad: {{source: "{source}"{extra}}}\n')
    out = run_snakemake(wd, "results/images/bad.png", *TINY, "bad.yaml", check=False, timeout=300)
    log = wd / "logs/parta/image_bad.log"
    return out.returncode, _error_line(log), wd / "results/images/bad.png"


def test_missing_image_file(fresh):
    # a file: source is a declared input, so Snakemake itself names it before running anything
    (fresh / "bad.yaml").write_text('parta:\n  images:\n    bad: {source: "file:nope.png"}\n')
    out = run_snakemake(fresh, "results/images/bad.png", *TINY, "bad.yaml", check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "Missing input files" in text and "nope.png" in text
    assert not (fresh / "results/images/bad.png").exists()


def test_corrupt_png(fresh):
    (fresh / "assets/drawings/corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    rc, line, out = _image_case(fresh, "file:assets/drawings/corrupt.png")
    assert rc != 0 and "corrupt.png" in line
    assert not out.exists()


def test_download_checksum_mismatch(fresh):
    from tests.unit.parta.local_server import LocalServer

    with LocalServer() as server:  # url: is http(s) only, never the internet in tests
        url = server.url("/ok.png")
        rc, line, out = _image_case(fresh, f"url:{url}", ', sha256: "' + "0" * 64 + '"')
    assert rc != 0 and "does not match the configured" in line and "sha256" in line
    assert not out.exists()


def test_unreachable_url_retries_then_one_line(fresh):
    rc, line, out = _image_case(fresh, "url:http://127.0.0.1:9/campanile.jpg")
    assert rc != 0 and "after 3 tries" in line and "127.0.0.1:9" in line
    assert not out.exists()


# ---- config (issue 13)

# Config inputs known when the workflow is parsed (tests/helpers/parse_time_cases.py, all checked
# at unit level): one of each kind of check also end to end, through Snakemake's parse.
END_TO_END = ["misspelt-key", "skimage-not-a-photo", "i-start-past-the-list"]


@pytest.mark.parametrize(
    "override, message",
    [
        (
            "partb:\n  denoiser:\n    lr: .nan\n",
            "config key 'partb.denoiser.lr' = nan is not a finite number; give a finite value",
        ),
        (
            "seed: 1\npartb:\n  gif:\n    fps: 10\n    fps: 20\n",
            "bad.yaml: key 'partb.gif.fps' is given twice (lines 4 and 5); keep one",
        ),
        (
            "partb:\n  class_cond:\n    guidance_scale: -1.0\n",
            "config key 'partb.class_cond.guidance_scale' = -1.0 is below the minimum 0",
        ),
        *(PARSE_TIME_CASES[k] for k in END_TO_END),
    ],
    ids=["nan", "duplicate-key", "negative-scale", *END_TO_END],
)
def test_bad_config_values_stop_the_dry_run(fresh, override, message):
    (fresh / "bad.yaml").write_text(override)
    out = run_snakemake(fresh, "-n", *TINY, "bad.yaml", check=False, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    lines = [ln for ln in text.splitlines() if ln.startswith("config error:")]
    assert len(lines) == 1 and message in lines[0], text[-2000:]
    assert "Traceback" not in text
    assert not (fresh / "results").exists()


def test_integral_floats_plan_the_same_jobs_as_integers(fresh):
    """epochs: 2.0 etc. are read as 2 at validation: the same DAG, no 'epoch_2.0' files."""
    (fresh / "floats.yaml").write_text(
        "seed: 180.0\npartb:\n  class_cond:\n    epochs: 2.0\n    sample_epochs: [1.0, 2.0]\n"
        "parta:\n  timesteps: {start: 270.0, stride: 30.0}\n"
    )
    plain = run_snakemake(fresh, "-n", *TINY, timeout=120).stdout
    floats = run_snakemake(fresh, "-n", *TINY, "floats.yaml", timeout=120).stdout

    def plan(text):
        return sorted(ln for ln in text.splitlines() if ln.startswith("    output:"))

    assert plan(floats) == plan(plain) and plan(plain)
    assert "results/partb/class_cond/samples/epoch_2.png" in floats and ".0.png" not in floats
    assert not (fresh / "results").exists()


# ---- images and downloads (issue 13)
# Each case runs only the image rule (no training) or a dry run. A source error may surface at
# parse time (`config error: ...`, once the config check runs fundiff.parta.images.check_images)
# or in the image rule's log (`error: ...`): either way exactly one line naming the image.


def _source_error(wd: Path, source: str, extra: str = "") -> tuple[str, str]:
    """Run the image rule for a new image ``bad``; (its one error line, everything printed)."""
    (wd / "bad.yaml").write_text(f'parta:\n  images:\n    bad: {{source: "{source}"{extra}}}\n')
    out = run_snakemake(wd, "results/images/bad.png", *TINY, "bad.yaml", check=False, timeout=300)
    text = out.stdout + out.stderr
    assert out.returncode != 0, text[-2000:]
    assert not (wd / "results/images/bad.png").exists()
    parse = [ln for ln in text.splitlines() if ln.startswith("config error:")]
    if parse:
        assert len(parse) == 1 and "Traceback" not in text, text[-2000:]
        return parse[0], text
    log = wd / "logs/parta/image_bad.log"
    return _error_line(log), text + log.read_text()


@pytest.mark.parametrize(
    "source, words",
    [
        ("url:file:///etc/passwd", "http(s) URL"),
        ("url:notaurl", "http(s) URL"),
        ("url:ftp://127.0.0.1/x.png", "http(s) URL"),
        ("skimage:download_all", "bundled with scikit-image"),
        ("file:../outside.png", "outside the repository"),
    ],
    ids=["file-url", "not-a-url", "ftp", "skimage-function", "outside-repo"],
)
def test_bad_image_sources_are_one_line(fresh, source, words):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(fresh.parent / "outside.png")
    line, _ = _source_error(fresh, source)
    assert "parta.images.bad" in line and words in line


def test_outside_file_with_allow_external(fresh):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(fresh.parent / "outside.png")
    (fresh / "ok.yaml").write_text(
        'parta:\n  images:\n    ext: {source: "file:../outside.png", allow_external: true}\n'
    )
    run_snakemake(fresh, "results/images/ext.png", *TINY, "ok.yaml", timeout=300)
    assert (fresh / "results/images/ext.png").is_file()


def test_decompression_bomb_is_one_line(fresh):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", 40000, 40000, 1, 0, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")
    (fresh / "assets/drawings/bomb.png").write_bytes(bomb)
    line, _ = _source_error(fresh, "file:assets/drawings/bomb.png")
    assert "bomb.png" in line and "megapixel limit" in line


def test_404_is_not_retried_and_credentials_never_shown(fresh):
    from tests.unit.parta.local_server import LocalServer

    with LocalServer() as server:
        url = server.url("/status/404", auth="user:s3cret@") + "?token=abc123"
        line, everything = _source_error(fresh, f"url:{url}")
        assert server.hits["/status/404"] == 1
    assert "parta.images.bad" in line and "HTTP 404" in line
    assert "s3cret" not in everything and "abc123" not in everything


def test_server_errors_are_retried_then_one_line(fresh):
    from tests.unit.parta.local_server import LocalServer

    with LocalServer() as server:
        line, _ = _source_error(fresh, f"url:{server.url('/status/503')}")
        assert server.hits["/status/503"] == 3
    assert "parta.images.bad" in line and "after 3 tries (HTTP 503" in line


def test_mask_is_an_input_of_inpainting_only(fresh):
    """Editing an inpainting mask image reruns inpainting, not SDEdit of the same image (deepfloyd
    preset: its model inputs need no calibration, so the dry run lists every input)."""
    from PIL import Image

    Image.new("L", (64, 64), 255).save(fresh / "assets/drawings/mask.png")
    (fresh / "mask.yaml").write_text(
        "parta:\n  inpaint:\n    - {image: campanile, mask: assets/drawings/mask.png}\n"
    )
    targets = [
        "results/parta/a1_7/parts/campanile.json",
        "results/parta/a1_7_2/parts/campanile.json",
    ]
    args = ("-n", "--cores", "1", "--configfile", "configs/deepfloyd.yaml", "mask.yaml")
    text = run_snakemake(fresh, *targets, *args, timeout=120).stdout
    jobs = {}
    for block in text.split("\nrule ")[1:]:
        rule = block.split(":", 1)[0]
        inputs = next((ln for ln in block.splitlines() if ln.strip().startswith("input:")), "")
        jobs[rule] = inputs
    assert "results/images/campanile.png" in jobs["parta_sdedit"]
    assert "assets/drawings/mask.png" not in jobs["parta_sdedit"]
    assert "assets/drawings/mask.png" in jobs["parta_inpaint"]
