"""The report's provenance lists the sha256 of every Part A input image: the records the
parta_image rule writes beside each PNG (fundiff.parta.images.source_record)."""

import hashlib
import json

from PIL import Image

from fundiff.parta.images import load_source, source_record
from fundiff.report import render as report
from fundiff.report.render import strip_run_info
from fundiff.report.tables import write_table
from tests.helpers.workflow import REPO


def records(tmp_path) -> tuple[list, str]:
    """Two records as the image rule writes them (a file: and a skimage: source), and the
    sha256 of the file's bytes."""
    (tmp_path / "assets").mkdir()
    Image.new("RGB", (6, 4), (9, 8, 7)).save(tmp_path / "assets/house.png")
    out = []
    for name, source in (("drawn_house", "file:assets/house.png"), ("cat", "skimage:chelsea")):
        im = load_source(source, base_dir=tmp_path)
        path = tmp_path / f"results/images/{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"image": name, **source_record(source, im, tmp_path)}))
        out.append(path)
    return out, hashlib.sha256((tmp_path / "assets/house.png").read_bytes()).hexdigest()


def test_input_image_hashes_are_in_the_provenance(tmp_path):
    paths, file_sha = records(tmp_path)
    spec = tmp_path / "results/parta/t.json"
    write_table(spec, "A1.5", "t", [], params={"backend": "mnist"})
    ctx = report.build_context(
        [spec],
        tmp_path / "results/report",
        REPO / "src/fundiff/report/sections.yaml",
        preset="p",
        seed=1,
        input_images=paths,
    )
    got = ctx["provenance"]["input_images"]
    assert [r["image"] for r in got] == ["drawn_house", "cat"]  # in the order given
    assert got[0] | {"sha256": None} == {
        "image": "drawn_house",
        "source": "file:assets/house.png",
        "hashed": "file bytes",
        "sha256": None,
        "bytes": (tmp_path / "assets/house.png").stat().st_size,
        "pinned": False,
    }
    assert got[0]["sha256"] == file_sha
    assert got[1]["hashed"] == "decoded pixels (300 x 451 x 3 uint8)"
    page, md = report.render(ctx, REPO / "report")
    row = (
        f"| drawn_house | `file:assets/house.png` | file bytes | {got[0]['bytes']} | "
        f"`{file_sha}` | no |"
    )
    assert row in md
    for text in (page, md):
        # in the provenance, outside the run-info block (two runs of one build agree on it)
        kept = strip_run_info(text)
        assert file_sha in kept and got[1]["sha256"] in kept
        assert text.index(file_sha) > text.index("Provenance")
