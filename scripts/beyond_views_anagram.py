"""Rule beyond_views_anagram (X3): the visual anagram of every configured pair under one view.

Same loop and per-pair seed as A1.8 (seeded_generator(seed, "anagram", pair)); each row shows
the image (read as prompt 1) and the image seen through the view (read as prompt 2), both as
PNG cells.
"""

from pathlib import Path

from fundiff.parta import loops, views
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule, seeded_generator


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    view = smk.wildcards.view
    table = Table(backend, Path(smk.output.table).parent, p.upscale)
    for pair in p.pairs:
        name, (p1, p2) = pair["name"], pair["prompts"]
        cond1, cond2, uncond = backend.encode([p1]), backend.encode([p2]), backend.uncond(1)
        g = seeded_generator(p.seed, "anagram", name)
        x = loops.visual_anagram(
            backend, cond1, cond2, uncond, list(p.timesteps), g, p.guidance_scale, view
        )
        seen = views.view(view)(x)
        cells = [table.cell(f"{name}/image", x[0], p1), table.cell(f"{name}/{view}", seen[0], p2)]
        table.row(name, cells)
        log.info("X3 %s %s: %r / %r", view, name, p1, p2)
    params = {"view": view, "pairs": list(p.pairs), "seed": p.seed, "timesteps": list(p.timesteps)}
    params |= {"guidance_scale": p.guidance_scale, "backend": p.backend["name"]}
    table.write(smk.output.table, "X3", p.title, ["image (prompt 1)", f"{view} (prompt 2)"], params)


run(snakemake, main)  # noqa: F821
