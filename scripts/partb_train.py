"""Rule train: train one Part B model, resuming from an interrupted run if there is one."""

import csv
import shutil
from pathlib import Path

import torch

from fundiff.device import resolve_device, setup_torch
from fundiff.diffusion.settings import with_precision
from fundiff.diffusion.train import TrainConfig, train
from fundiff.io import atomic_path
from fundiff.workflow.runner import run


def publish(work: Path, out_dir: Path, epochs: int) -> None:
    """Epoch weights into the output folder (whole, by one rename), then drop the resume state."""
    staging = out_dir.parent / ".epochs.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for e in range(1, epochs + 1):
        shutil.copy2(work / f"epoch_{e:03d}.pt", staging / f"epoch_{e:03d}.pt")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    shutil.rmtree(work)


def main(smk, log):
    setup_torch(smk.threads)
    device = resolve_device(smk.params.device)
    cfg = TrainConfig(**with_precision(smk.params.train, smk.input.calibration))
    data = torch.load(smk.input.mnist, weights_only=True)
    out_dir = Path(smk.output.epochs)
    # Work in a sibling folder that Snakemake does not own: it survives a crash, so a rerun resumes.
    work = out_dir.parent / "_training"
    log.info("training %s on %s: %s", smk.wildcards.model, device, cfg)
    history = train(
        cfg, data["train_images"], data["train_labels"], work, device, name=smk.wildcards.model
    )
    with atomic_path(smk.output.losses) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "epoch", "loss", "lr"])
        w.writeheader()
        w.writerows(history)
    final = [h["loss"] for h in history if h["epoch"] == cfg.epochs]
    log.info("final epoch mean loss %.5f", sum(final) / len(final))
    publish(work, out_dir, cfg.epochs)


run(snakemake, main)  # noqa: F821
