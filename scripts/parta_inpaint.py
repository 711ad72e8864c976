"""Rule parta_inpaint (A1.7.2): RePaint-style inpainting of one image (mask 1 = new content).

Noise seeded per image: seeded_generator(seed, "inpaint", image) for the sampling loop and
(seed, "inpaint", image, "known") for the re-noised original.
"""

from pathlib import Path

from fundiff.parta import layout, loops
from fundiff.parta.images import image_mask, rect_mask
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule, load_image, seeded_generator


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    image = smk.wildcards.image
    x_0 = load_image(backend, smk.input.image, p.invert, p.resize)
    key = f"parta.inpaint ({image})"
    if p.mask.get("rects"):
        mask = rect_mask(backend.image_size, p.mask["rects"], f"{key}.rects")
    else:
        mask = image_mask(smk.input.mask, backend.image_size, f"{key}.mask")
    mask = mask[None].to(backend.device)
    cond, uncond = backend.encode([p.prompt]), backend.uncond(1)
    x = loops.inpaint(
        backend,
        x_0,
        mask,
        list(p.timesteps),
        cond,
        uncond,
        seeded_generator(p.seed, "inpaint", image),
        seeded_generator(p.seed, "inpaint", image, "known"),
        p.guidance_scale,
    )
    table = Table(backend, Path(smk.output.part).parent.parent, p.upscale)
    masked01 = backend.from_model(x_0) * (1 - mask)  # the region to replace in black
    shown = (x_0[0], mask[0].expand(backend.channels, -1, -1), masked01[0], x[0])
    in_model_space = (True, False, False, True)
    cells = zip(layout.INPAINT, shown, in_model_space, strict=True)
    table.row(
        image,
        [
            table.cell(layout.image_cell(image, name), xi, name.replace("_", " "), model=model)
            for name, xi, model in cells
        ],
    )
    table.write_part(smk.output.part)
    log.info("A1.7.2 %s: %d masked pixels", image, int(mask.sum()))


run(snakemake, main)  # noqa: F821
