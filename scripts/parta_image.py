"""Rule parta_image: one configured Part A input image (url/skimage/file/mnist) as a PNG, and
beside it what it was made from (source, sha256 and size of the bytes read) for the report."""

from pathlib import Path

from fundiff.io import write_bytes, write_json
from fundiff.parta.images import describe_source, load_source, source_record, to_png_bytes
from fundiff.workflow.runner import run


def main(smk, log):
    p = smk.params.image
    cache = Path("resources/images") / f"{smk.wildcards.image}.download"
    im = load_source(
        p["source"],
        base_dir=".",
        mnist_path=getattr(smk.input, "mnist", None),
        sha256=p.get("sha256"),
        cache=cache,
        key=f"parta.images.{smk.wildcards.image}",
        allow_external=p.get("allow_external", False),
    )
    record = source_record(
        p["source"],
        im,
        base_dir=".",
        cache=cache,
        pinned=p.get("sha256"),
        allow_external=p.get("allow_external", False),
    )
    source = describe_source(p["source"])  # a URL's credentials and query never reach the log
    log.info("image %s from %s: %s %s", smk.wildcards.image, source, im.mode, im.size)
    log.info("sha256 of the %s: %s", record["hashed"], record["sha256"])
    write_bytes(smk.output.png, to_png_bytes(im))
    write_json(smk.output.record, {"image": smk.wildcards.image, **record})


run(snakemake, main)  # noqa: F821
