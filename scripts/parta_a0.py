"""Rule parta_a0: A0 text-to-image for every configured prompt with N steps (fixed seed).

Stage I is our own CFG loop over diffusers' "leading" timesteps for N steps; with DeepFloyd,
stage II (IFSuperResolutionPipeline) upsamples the results (mnist has no stage II).
"""

from pathlib import Path

from fundiff.parta import layout, loops
from fundiff.seeds import offset_seed
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    steps = int(smk.wildcards.steps)
    ts = loops.leading_timesteps(backend.schedule.num_timesteps, steps)
    prompts = p.a0["prompts"]
    cond, uncond = backend.encode(prompts), backend.uncond(len(prompts))
    x = loops.sample_cfg(backend, cond, uncond, ts, loops.generator(p.seed), p.guidance_scale)
    table = Table(backend, Path(smk.output.part).parent.parent, p.upscale)
    table.row(
        f"{steps} steps",
        [table.cell(layout.a0_cell(steps, k), x[k], q) for k, q in enumerate(prompts)],
    )
    g2 = loops.generator(offset_seed(p.seed, "stage2"))
    up = backend.upsample(x, prompts, p.a0["stage2_steps"], g2)
    if up is not None:
        table.upscale = 1
        table.row(
            f"{steps} steps + stage II ({p.a0['stage2_steps']} steps)",
            [
                table.cell(layout.a0_cell(steps, k, stage2=True), up[k], q)
                for k, q in enumerate(prompts)
            ],
        )
    log.info("A0: %d prompts, %d steps (%s ... %s)", len(prompts), steps, ts[:3], ts[-2:])
    table.write_part(smk.output.part)


run(snakemake, main)  # noqa: F821
