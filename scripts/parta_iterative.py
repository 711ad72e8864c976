"""Rule parta_iterative (A1.4): iterative denoising from i_start, every k-th step shown, and the
side-by-side original / Gaussian blur / one-step / iterative comparison."""

from pathlib import Path

from fundiff.parta import layout, loops
from fundiff.seeds import offset_seed
from fundiff.workflow.runner import run
from fundiff.workflow.script import Table, backend_from_rule, load_image

HEADERS = ["original", "noisy", "Gaussian blur", "one-step", "iterative"]  # of layout.COMPARE


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    ts, i_start, every = list(p.timesteps), p.iterative["i_start"], p.iterative["frame_every"]
    t = ts[i_start]
    x_0 = load_image(backend, smk.input.image, p.invert, p.resize)
    x_t = loops.forward(backend, x_0, t, loops.generator(offset_seed(p.seed, "noisy", t)))
    cond = backend.encode([p.null_prompt])
    g = loops.generator(offset_seed(p.seed, "iterative", i_start))
    x, frames = loops.iterative_denoise(backend, x_t, i_start, ts, cond, g, frame_every=every)
    steps = Table(backend, Path(smk.output.iterative).parent, p.upscale)
    steps.row(
        "iterative denoising",
        [steps.cell(layout.frame_cell(tf), xf[0], f"t = {tf}") for tf, xf in frames]
        + [steps.cell(layout.FINAL, x[0], "final")],
    )
    common = {"seed": p.seed, "image": p.image_name, "backend": backend.name}
    steps.write(
        smk.output.iterative,
        "A1.4",
        p.titles["iterative"],
        [f"t = {tf}" for tf, _ in frames] + ["final"],
        {**common, "i_start": i_start, "t_start": t, "frame_every": every, "timesteps": ts},
    )
    blur = loops.blur_denoise(x_t, p.blur["kernel_size"], p.blur["sigma"])
    one_step = loops.one_step_denoise(backend, x_t, t, cond)
    cmp = Table(backend, Path(smk.output.iterative).parent, p.upscale)
    shown = (x_0, x_t, blur, one_step, x)
    captions = ["original", f"noisy, t = {t}", *HEADERS[2:]]
    cells = zip(layout.COMPARE, shown, captions, strict=True)
    cmp.row(p.image_name, [cmp.cell(name, xi[0], caption) for name, xi, caption in cells])
    cmp.write(
        smk.output.compare,
        "A1.4",
        p.titles["compare"],
        HEADERS,
        {**common, "t": t, "kernel_size": p.blur["kernel_size"], "sigma": p.blur["sigma"]},
    )
    log.info("A1.4: %d frames from t = %d", len(frames), t)


run(snakemake, main)  # noqa: F821
