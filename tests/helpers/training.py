"""Training fixtures for tests: a tiny published checkpoint, and a training that crashes."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from fundiff.diffusion import resume
from fundiff.diffusion.train import TrainConfig, train
from fundiff.io import torch_save


def tiny_class_checkpoint(path: Path) -> tuple[TrainConfig, torch.nn.Module]:
    """A published epoch file (the train() format) of a D=4 class-conditioned UNet at ``path``;
    returns its config and model (weights seeded with 0)."""
    cfg = TrainConfig(task="class", hidden=4, batch_size=2, epochs=1, lr=1e-3)
    torch.manual_seed(0)
    model = cfg.build_model().eval()
    state = {"config": asdict(cfg), "model_config": model.config(), "epoch": 1}
    torch_save({**state, "state_dict": model.state_dict()}, path)
    return cfg, model


def train_until_crash(cfg: TrainConfig, digits, work, stop_after: int) -> list[dict]:
    """train() that raises (a simulated crash) once ``stop_after`` resume states were saved;
    returns the loss history of the last state saved."""
    real_save, saves = resume.torch_save, []

    def crashing_save(obj, path):
        real_save(obj, path)
        if str(path).endswith("resume.pt"):
            saves.append(obj["history"])
            if len(saves) == stop_after:
                raise KeyboardInterrupt("simulated crash")

    resume.torch_save = crashing_save
    try:
        train(cfg, *digits, work, torch.device("cpu"), progress=False)
    except KeyboardInterrupt:
        pass
    finally:
        resume.torch_save = real_save
    return saves[-1]
