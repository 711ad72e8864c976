"""Rules eval_sample_*: larger evaluation samples from a FINAL Part B model (class-cond: every CFG
scale in one process, balanced labels, the same seed for every scale so the scales differ only
in gamma)."""

from pathlib import Path

from fundiff.data import to_uint8
from fundiff.device import calibrated, resolve_device, setup_torch
from fundiff.diffusion.ddpm import Schedule
from fundiff.diffusion.sample import class_grid_labels, sample
from fundiff.diffusion.train import load_model
from fundiff.io import save_npz, setup_logging

smk = snakemake  # noqa: F821
log = setup_logging(smk.log[0])
setup_torch(smk.threads)
device = resolve_device(smk.params.device)
bf16 = calibrated(smk.input.calibration, "sample_bf16")  # measured sampling precision
epoch = smk.params.epoch
model = load_model(Path(smk.input.epochs) / f"epoch_{epoch:03d}.pt", device)
s = smk.params.schedule
schedule = Schedule.linear(s["beta_start"], s["beta_end"], s["num_timesteps"])
seed = smk.params.seed
if smk.params.scale is not None:  # class-conditioned: one sample per CFG scale, one process
    for scale, per_class, path in zip(
        smk.params.scale, smk.params.samples_per_class, smk.output.npz, strict=True
    ):
        labels = class_grid_labels(per_class)
        x, _ = sample(model, schedule, len(labels), seed, labels, scale, device=device, bf16=bf16)
        log.info("eval sample: %d digits, epoch %d, seed %d, CFG %g", len(x), epoch, seed, scale)
        save_npz(
            path,
            images=to_uint8(x).numpy(),
            seed=seed,
            epoch=epoch,
            labels=labels.numpy(),
            guidance_scale=scale,
        )
else:
    x, _ = sample(model, schedule, smk.params.num_samples, seed, device=device, bf16=bf16)
    log.info("eval sample: %d digits, epoch %d, seed %d", len(x), epoch, seed)
    save_npz(smk.output.npz, images=to_uint8(x).numpy(), seed=seed, epoch=epoch)
