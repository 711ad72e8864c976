"""Rule parta_image: one configured Part A input image (url/skimage/file/mnist) as a PNG."""

from pathlib import Path

from fundiff.io import write_bytes
from fundiff.parta.images import describe_source, load_source, to_png_bytes
from fundiff.workflow.runner import run


def main(smk, log):
    p = smk.params.image
    im = load_source(
        p["source"],
        base_dir=".",
        mnist_path=getattr(smk.input, "mnist", None),
        sha256=p.get("sha256"),
        cache=Path("resources/images") / f"{smk.wildcards.image}.download",
        key=f"parta.images.{smk.wildcards.image}",
        allow_external=p.get("allow_external", False),
    )
    source = describe_source(p["source"])  # a URL's credentials and query never reach the log
    log.info("image %s from %s: %s %s", smk.wildcards.image, source, im.mode, im.size)
    write_bytes(smk.output[0], to_png_bytes(im))


run(snakemake, main)  # noqa: F821
