"""Rules eval_sample_*: larger evaluation samples from a FINAL Part B model (class-cond: every CFG
scale in one process, balanced labels, the same seed for every scale so the scales differ only
in gamma)."""

from pathlib import Path

from fundiff.data import to_uint8
from fundiff.device import calibrated, resolve_device, setup_torch
from fundiff.diffusion.checkpoint import load_model
from fundiff.diffusion.ddpm import Schedule
from fundiff.diffusion.sample import class_grid_labels, sample
from fundiff.io import save_npz
from fundiff.workflow.runner import run


def main(smk, log):
    p = smk.params
    setup_torch(smk.threads)
    device = resolve_device(p.device)
    bf16 = calibrated(smk.input.calibration, "sample_bf16")  # measured sampling precision
    model = load_model(Path(smk.input.epochs) / f"epoch_{p.epoch:03d}.pt", device)
    s = p.schedule
    schedule = Schedule.linear(s["beta_start"], s["beta_end"], s["num_timesteps"])
    meta = {"seed": p.seed, "epoch": p.epoch}
    if p.scale is None:  # time-conditioned: one unconditional sample
        x, _ = sample(model, schedule, p.num_samples, p.seed, device=device, bf16=bf16)
        log.info("eval sample: %d digits, epoch %d, seed %d", len(x), p.epoch, p.seed)
        save_npz(smk.output.npz, images=to_uint8(x).numpy(), **meta)
        return
    # class-conditioned: one sample per CFG scale, in one process
    for scale, per_class, path in zip(p.scale, p.samples_per_class, smk.output.npz, strict=True):
        labels = class_grid_labels(per_class)
        x, _ = sample(model, schedule, len(labels), p.seed, labels, scale, device=device, bf16=bf16)
        log.info(
            "eval sample: %d digits, epoch %d, seed %d, CFG %g", len(x), p.epoch, p.seed, scale
        )
        images, labels = to_uint8(x).numpy(), labels.numpy()
        save_npz(path, images=images, **meta, labels=labels, guidance_scale=scale)


run(snakemake, main)  # noqa: F821
