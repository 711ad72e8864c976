"""The published epoch file: written by the training loop after every epoch, read by every rule
that samples from a trained model.

``epoch_NNN.pt`` holds the training config, the UNet's architecture (``model_config``), the epoch,
the weights (the EMA's when the training keeps one) and the run's determinism facts
(:func:`fundiff.device.determinism_facts`; checkpoints written before they were recorded lack
them and still load).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from fundiff.diffusion.unet import UNet
from fundiff.errors import CheckpointError
from fundiff.io import torch_save


def epoch_file(work_dir: Path, epoch: int) -> Path:
    return work_dir / f"epoch_{epoch:03d}.pt"


def save_epoch(work_dir: Path, epoch: int, cfg, model: UNet, weights: dict, facts: dict) -> None:
    """Write ``work_dir/epoch_{epoch:03d}.pt`` atomically; ``cfg``: the run's TrainConfig,
    ``weights``: the state dict to publish (the EMA's or the model's)."""
    torch_save(
        {
            "config": asdict(cfg),
            "model_config": model.config(),
            "epoch": epoch,
            "state_dict": weights,
            "determinism": facts,
        },
        epoch_file(work_dir, epoch),
    )


def read_epoch(
    path: str | Path, device: torch.device | str = "cpu", need: tuple[str, ...] = ("model_config",)
) -> dict:
    """An epoch file's contents (the ``need`` keys checked), one line when it is unreadable or
    not one of ours; :func:`load_model` builds the UNet from it."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(e).__name__}); delete it and rerun the "
            "training rule"
        ) from None
    if not isinstance(ckpt, dict) or not set(need) <= ckpt.keys():
        raise CheckpointError(f"{path}: not a fundiff checkpoint (no {'/'.join(need)})")
    return ckpt


def load_model(
    path: str | Path, device: torch.device | str = "cpu", expect: dict | None = None
) -> UNet:
    """Load an epoch checkpoint written by :func:`save_epoch` (weights + architecture).

    ``expect`` (e.g. ``{"num_hiddens": 32}`` from the config) must match the checkpoint's
    architecture; a mismatch is one clear error rather than a wall of missing keys.
    """
    path = Path(path)
    ckpt = read_epoch(path, device, need=("model_config", "state_dict"))
    for key, want in (expect or {}).items():
        got = ckpt["model_config"].get(key)
        if got != want:
            raise CheckpointError(
                f"{path}: checkpoint has {key}={got} but the config asks for {want}; rerun its "
                "training (snakemake --forcerun train) or fix the config"
            )
    model = UNet(**ckpt["model_config"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise CheckpointError(
            f"{path}: checkpoint does not fit UNet({ckpt['model_config']}): "
            f"{first[1].strip() if len(first) > 1 else first[0]}"
        ) from None
    return model.to(device).eval()
