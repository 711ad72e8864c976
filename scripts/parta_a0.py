"""Rule parta_a0: A0 text-to-image for every configured prompt with N steps (fixed seed).

:func:`fundiff.parta.loops.a0`: with DeepFloyd, the spec's call (diffusers' IFPipeline for
stage I, IFSuperResolutionPipeline for stage II, cached embeddings); with mnist, our own CFG
loop of exactly N model calls ending at t = 0 (no stage II).
"""

from pathlib import Path

from fundiff.parta import layout, loops
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    steps = int(smk.wildcards.steps)
    prompts = p.a0["prompts"]
    x, up = loops.a0(backend, prompts, steps, p.a0["stage2_steps"], p.seed, p.guidance_scale)
    table = Table(backend, Path(smk.output.part).parent.parent, p.upscale)
    table.row(
        f"{steps} steps",
        [table.cell(layout.a0_cell(steps, k), x[k], q) for k, q in enumerate(prompts)],
    )
    if up is not None:
        table.upscale = 1
        table.row(
            f"{steps} steps + stage II ({p.a0['stage2_steps']} steps)",
            [
                table.cell(layout.a0_cell(steps, k, stage2=True), up[k], q)
                for k, q in enumerate(prompts)
            ],
        )
    log.info("A0: %d prompts, %d steps (%s)", len(prompts), steps, type(backend).__name__)
    table.write_part(smk.output.part)


run(snakemake, main)  # noqa: F821
