"""Rule beyond_logo (X5, deepfloyd only): the course-logo prompts through A0's code path.

fundiff.parta.loops.a0: stage I (IFPipeline) from a generator seeded beyond.logo.seed, then
stage II (IFSuperResolutionPipeline) seeded offset_seed(seed, "stage2"), as A0 does.
"""

from pathlib import Path

from fundiff.parta import loops
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule


def main(smk, log):
    p, lg = smk.params, smk.params.logo
    backend = backend_from_rule(smk)
    prompts = list(lg["prompts"])
    x, up = loops.a0(
        backend, prompts, lg["steps"], lg["stage2_steps"], lg["seed"], p.guidance_scale
    )
    table = Table(backend, Path(smk.output.table).parent, p.upscale)
    table.row(
        f"stage I ({lg['steps']} steps)",
        [table.cell(f"stage1_{k}", x[k], q) for k, q in enumerate(prompts)],
    )
    table.upscale = 1
    if up is None:  # a backend without stage II: the rule declared its cells, so say so
        raise RuntimeError("beyond.logo needs a backend with stage II (deepfloyd)")
    table.row(
        f"+ stage II ({lg['stage2_steps']} steps)",
        [table.cell(f"stage2_{k}", up[k], q) for k, q in enumerate(prompts)],
    )
    params = {**lg, "guidance_scale": p.guidance_scale, "backend": p.backend["name"]}
    table.write(smk.output.table, "X5", p.title, prompts, params)
    log.info("X5: %d logo prompts", len(prompts))


run(snakemake, main)  # noqa: F821
