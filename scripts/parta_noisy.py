"""Rules parta_forward / parta_blur / parta_one_step (A1.1 - A1.3) on the test image.

The noisy image at t uses the "noisy" seed at t (fundiff.seeds), so the three sections (and
A1.4) show the same x_t.
"""

from pathlib import Path

from fundiff.parta import layout, loops
from fundiff.seeds import offset_seed
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule, load_image

RESULTS = {"A1.2": ("blur", "blurred"), "A1.3": ("one_step", "one-step")}  # cell, caption


def main(smk, log):
    p, section = smk.params, smk.params.section
    backend = backend_from_rule(smk)
    x_0 = load_image(backend, smk.input.image, p.invert, p.resize)
    table = Table(backend, Path(smk.output.table).parent, p.upscale)
    name = p.image_name
    cond = backend.encode([p.null_prompt]) if section == "A1.3" else None  # A1.1/2: no model
    noisy, results = [], []
    for t in p.t:
        x_t = loops.forward(backend, x_0, t, loops.generator(offset_seed(p.seed, "noisy", t)))
        noisy.append(table.cell(layout.noisy_cell(t), x_t[0], f"t = {t}"))
        if section == "A1.2":
            x = loops.blur_denoise(x_t, p.blur["kernel_size"], p.blur["sigma"])
        elif section == "A1.3":
            x = loops.one_step_denoise(backend, x_t, t, cond)
        if section in RESULTS:
            method, caption = RESULTS[section]
            results.append(table.cell(layout.denoised_cell(method, t), x[0], f"{caption}, t = {t}"))
    original = table.cell(layout.ORIGINAL, x_0[0], name)
    params = {"t": list(p.t), "seed": p.seed, "image": name, "backend": backend.name}
    if section == "A1.1":
        table.row(name, [original, *noisy])
        columns = ["original", *(f"t = {t}" for t in p.t)]
    else:
        table.row("noisy", noisy)
        table.row("blurred" if section == "A1.2" else "one-step denoised", results)
        table.row("original", [original])
        columns = [f"t = {t}" for t in p.t]
        if section == "A1.2":
            params.update(kernel_size=p.blur["kernel_size"], sigma=p.blur["sigma"])
        else:
            params.update(prompt=p.null_prompt)
    table.write(smk.output.table, section, p.title, columns, params)
    log.info("%s done for t = %s", section, list(p.t))


run(snakemake, main)  # noqa: F821
