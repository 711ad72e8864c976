"""Rule eval_sample: a larger evaluation sample from a FINAL Part B model (class-cond: per CFG
scale, balanced labels, the same seed for every scale so the scales differ only in gamma)."""

from pathlib import Path

from fundiff.data import to_uint8
from fundiff.ddpm import Schedule
from fundiff.device import resolve_device, setup_torch
from fundiff.io import save_npz, setup_logging
from fundiff.partb import class_grid_labels, sample
from fundiff.train import load_model

smk = snakemake  # noqa: F821
log = setup_logging(smk.log[0])
setup_torch(smk.threads)
device = resolve_device(smk.params.device)
epoch = smk.params.epoch
model = load_model(Path(smk.input.epochs) / f"epoch_{epoch:03d}.pt", device)
s = smk.params.schedule
schedule = Schedule.linear(s["beta_start"], s["beta_end"], s["num_timesteps"])
seed = smk.params.seed
if smk.params.scale is not None:
    labels = class_grid_labels(smk.params.samples_per_class)
    x, _ = sample(model, schedule, len(labels), seed, labels, smk.params.scale, device=device)
    extra = {"labels": labels.numpy(), "guidance_scale": smk.params.scale}
else:
    x, _ = sample(model, schedule, smk.params.num_samples, seed, device=device)
    extra = {}
log.info("eval sample: %d digits, epoch %d, seed %d, CFG %s", len(x), epoch, seed, smk.params.scale)
save_npz(smk.output.npz, images=to_uint8(x).numpy(), seed=seed, epoch=epoch, **extra)
