"""Rule train: train one Part B model, resuming from an interrupted run if there is one."""

import csv
import shutil
from pathlib import Path

import torch

from fundiff.device import resolve_device, setup_torch
from fundiff.diffusion.train import TrainConfig, train
from fundiff.io import atomic_path, setup_logging

smk = snakemake  # noqa: F821
log = setup_logging(smk.log[0])
setup_torch(smk.threads)
device = resolve_device(smk.params.device)
cfg = TrainConfig(**smk.params.train)
data = torch.load(smk.input.mnist)
out_dir = Path(smk.output.epochs)
# Work in a sibling folder that Snakemake does not own: it survives a crash, so the rerun resumes.
work = out_dir.parent / "_training"
log.info("training %s on %s: %s", smk.wildcards.model, device, cfg)
history = train(cfg, data["train_images"], data["train_labels"], work, device)
with atomic_path(smk.output.losses) as tmp, open(tmp, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["step", "epoch", "loss", "lr"])
    w.writeheader()
    w.writerows(history)
final = [h["loss"] for h in history if h["epoch"] == cfg.epochs]
log.info("final epoch mean loss %.5f", sum(final) / len(final))
# Publish: epoch weights into the output folder, then drop the resume state.
staging = out_dir.parent / ".epochs.tmp"
shutil.rmtree(staging, ignore_errors=True)
staging.mkdir(parents=True)
for e in range(1, cfg.epochs + 1):
    shutil.copy2(work / f"epoch_{e:03d}.pt", staging / f"epoch_{e:03d}.pt")
shutil.rmtree(out_dir, ignore_errors=True)
staging.rename(out_dir)
shutil.rmtree(work)
