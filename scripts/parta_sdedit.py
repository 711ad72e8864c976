"""Rule parta_sdedit (A1.7, A1.7.1, A1.7.3): SDEdit of one image at every configured i_start.

The noise is seeded per image and i_start (seeded_generator(seed, "sdedit", image, i_start)), so
different images get different noise and an image gets the same noise in every section.
"""

from pathlib import Path

from fundiff.parta import layout, loops
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule, load_image, seeded_generator


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    ts = list(p.timesteps)
    x_0 = load_image(backend, smk.input.image, p.invert, p.resize)
    cond, uncond = backend.encode([p.prompt]), backend.uncond(1)
    image = smk.wildcards.image
    table = Table(backend, Path(smk.output.part).parent.parent, p.upscale)
    cells = []
    for i in p.i_start:
        g = seeded_generator(p.seed, "sdedit", image, i)
        x = loops.sdedit(backend, x_0, i, ts, cond, uncond, g, p.guidance_scale)
        cells.append(table.cell(layout.sdedit_cell(image, i), x[0], f"i_start = {i} (t = {ts[i]})"))
        log.info("%s i_start %d (t = %d) done", image, i, ts[i])
    cells.append(table.cell(layout.image_cell(image, layout.ORIGINAL), x_0[0], "original"))
    table.row(image, cells)
    table.write_part(smk.output.part)


run(snakemake, main)  # noqa: F821
