"""Rule parta_pair: one prompt pair's A1.8 visual anagram or A1.9 hybrid image (params.kind).

Noise seeded per pair: seeded_generator(seed, kind, pair), kind "anagram" or "hybrid".
"""

from pathlib import Path

from fundiff.parta import layout, loops
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule, seeded_generator


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    pair = smk.wildcards.pair
    p1, p2 = p.prompts
    cond1, cond2, uncond = backend.encode([p1]), backend.encode([p2]), backend.uncond(1)
    ts, g = list(p.timesteps), seeded_generator(p.seed, p.kind, pair)
    table = Table(backend, Path(smk.output.part).parent.parent, p.upscale)
    if p.kind == "anagram":
        x = loops.visual_anagram(backend, cond1, cond2, uncond, ts, g, p.guidance_scale, p.view)
        cell = layout.pair_cell(pair)
        cells = [table.cell(cell, x[0], p1), table.cell(cell, x[0], p2, turn=p.view)]
    else:
        k, s = p.hybrid["kernel_size"], p.hybrid["sigma"]
        x = loops.hybrid(backend, cond1, cond2, uncond, ts, g, p.guidance_scale, k, s)
        cells = [table.cell(layout.pair_cell(pair), x[0], f"{p1} (far) / {p2} (close)")]
    table.row(pair, cells)
    table.write_part(smk.output.part)
    log.info("%s %s: %r / %r", p.kind, pair, p1, p2)


run(snakemake, main)  # noqa: F821
