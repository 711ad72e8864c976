"""Rules parta_sample (A1.5, no guidance) and parta_cfg (A1.6, CFG) from pure noise."""

from pathlib import Path

from fundiff.parta import layout, loops
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    n, prompts = p.samples["num"], p.samples["prompts"]
    prompts = [prompts[k % len(prompts)] for k in range(n)]
    cond = backend.encode(prompts)
    g = loops.generator(p.seed)
    ts = list(p.timesteps)
    params = {"num": n, "prompts": prompts, "seed": p.seed, "backend": backend.name}
    params["timesteps"] = ts
    if p.section == "A1.6":
        x = loops.sample_cfg(backend, cond, backend.uncond(n), ts, g, p.guidance_scale)
        params["guidance_scale"] = p.guidance_scale
    else:
        x = loops.sample(backend, cond, ts, g)
    table = Table(backend, Path(smk.output.table).parent, p.upscale)
    table.row("samples", [table.cell(layout.sample_cell(k), x[k], prompts[k]) for k in range(n)])
    columns = [f"sample {k + 1}" for k in range(n)]
    table.write(smk.output.table, p.section, p.title, columns, params)
    log.info("%s: %d samples", p.section, n)


run(snakemake, main)  # noqa: F821
