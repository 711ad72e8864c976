"""Rule parta_iterative (A1.4): iterative denoising from i_start, every k-th step shown, and the
side-by-side original / Gaussian blur / one-step / iterative comparison."""

from pathlib import Path

from fundiff.parta import loops
from fundiff.workflow.script import Table, backend_from_rule, generator, load_image, run


def main(smk, log):
    p = smk.params
    backend = backend_from_rule(smk)
    ts, i_start, every = list(p.timesteps), p.iterative["i_start"], p.iterative["frame_every"]
    t = ts[i_start]
    x_0 = load_image(backend, smk.input.image, p.invert)
    x_t = loops.forward(backend, x_0, t, generator(p.seed + t))
    cond = backend.encode([p.null_prompt])
    g = generator(p.seed + 1000 + i_start)
    x, frames = loops.iterative_denoise(backend, x_t, i_start, ts, cond, g, frame_every=every)
    steps = Table(backend, Path(smk.output.iterative).parent, p.upscale)
    steps.row(
        "iterative denoising",
        [steps.cell(f"iter_t{tf}", xf[0], f"t = {tf}") for tf, xf in frames]
        + [steps.cell("iter_final", x[0], "final")],
    )
    common = {"seed": p.seed, "image": p.image_name, "backend": backend.name}
    steps.write(
        smk.output.iterative,
        "A1.4",
        f"Iterative denoising from i_start = {i_start} (t = {t}), every {every}th step",
        [f"t = {tf}" for tf, _ in frames] + ["final"],
        {**common, "i_start": i_start, "t_start": t, "frame_every": every, "timesteps": ts},
    )
    blur = loops.blur_denoise(x_t, p.blur["kernel_size"], p.blur["sigma"])
    one_step = loops.one_step_denoise(backend, x_t, t, cond)
    cmp = Table(backend, Path(smk.output.iterative).parent, p.upscale)
    cmp.row(
        p.image_name,
        [
            cmp.cell("original", x_0[0], "original"),
            cmp.cell("noisy", x_t[0], f"noisy, t = {t}"),
            cmp.cell("blur", blur[0], "Gaussian blur"),
            cmp.cell("one_step", one_step[0], "one-step"),
            cmp.cell("iterative", x[0], "iterative"),
        ],
    )
    cmp.write(
        smk.output.compare,
        "A1.4",
        f"Denoising compared at t = {t}",
        ["original", "noisy", "Gaussian blur", "one-step", "iterative"],
        {**common, "t": t, "kernel_size": p.blur["kernel_size"], "sigma": p.blur["sigma"]},
    )
    log.info("A1.4: %d frames from t = %d", len(frames), t)


run(snakemake, main)  # noqa: F821
