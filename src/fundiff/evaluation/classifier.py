"""The digit classifier that judges generated digits: trained on real MNIST training digits only,
with its accuracy on held-out real digits; features and predictions for the metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class DigitClassifier(nn.Module):
    """LeNet-like: [conv5(w) BN ReLU pool] [conv5(2w) BN ReLU pool] fc(feat_dim) ReLU | fc(10).

    ``features`` is the fc(feat_dim) output (after ReLU): the space the FD is measured in.
    """

    def __init__(self, width: int = 16, feat_dim: int = 64):
        super().__init__()
        self.width, self.feat_dim = width, feat_dim
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 5, 1, 2),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 5, 1, 2),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * width * 49, feat_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feat_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def config(self) -> dict:
        return {"width": self.width, "feat_dim": self.feat_dim}


@dataclass
class ClassifierConfig:
    width: int = 16
    feat_dim: int = 64
    epochs: int = 5
    batch_size: int = 128
    lr: float = 2e-3
    augment: bool = True  # small random affine (rotate / scale / shift) of each training digit
    seed: int = 0


def random_affine(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Rotate +-10 deg, scale 0.9-1.1, shift +-2 px (per image, from ``g``); zero padding."""
    n = x.shape[0]
    u = torch.rand((n, 4), generator=g) * 2 - 1
    ang = u[:, 0] * math.radians(10)
    s = 1 + 0.1 * u[:, 1]
    tx, ty = u[:, 2] * 2 / 14, u[:, 3] * 2 / 14  # +-2 px in [-1, 1] grid units
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1).to(x)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def train_classifier(
    cfg: ClassifierConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device | str = "cpu",
) -> tuple[DigitClassifier, list[dict]]:
    """Train on real digits (uint8 (N, 28, 28), int64 labels); seeded and deterministic."""
    device = torch.device(device)
    torch.manual_seed(cfg.seed)
    model = DigitClassifier(cfg.width, cfg.feat_dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    n = len(labels)
    steps = cfg.epochs * ((n + cfg.batch_size - 1) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    x_all, y_all = _to_float(images), labels.to(torch.int64)
    g = torch.Generator().manual_seed(cfg.seed)
    history = []
    model.train()
    for epoch in range(cfg.epochs):
        perm = torch.randperm(n, generator=g)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            x, y = x_all[idx], y_all[idx]
            if cfg.augment:
                x = random_affine(x, g)
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += len(y)
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += loss.item() * len(y)
        history.append(
            {"epoch": epoch + 1, "loss": loss_sum / total, "train_accuracy": correct / total}
        )
    recalibrate_batchnorm(model, x_all, cfg.batch_size, device)
    return model.eval(), history


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: torch.Tensor, batch_size: int, device) -> None:
    """Recompute BatchNorm running statistics as exact averages over the (unaugmented) training
    digits with the final weights: the running averages of a short training lag its weights."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average
    model.train()
    for i in range(0, len(x), batch_size):
        model.features(x[i : i + batch_size].to(device))
    for bn in bns:
        bn.momentum = 0.1


def save_classifier(model: DigitClassifier, info: dict, path) -> None:
    from fundiff.io import torch_save

    torch_save(
        {"model_config": model.config(), "state_dict": model.state_dict(), "info": info}, path
    )


def load_classifier(path, device: torch.device | str = "cpu") -> DigitClassifier:
    ckpt = torch.load(path, map_location=device, weights_only=True)
    model = DigitClassifier(**ckpt["model_config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval()


@torch.no_grad()
def embed(
    model: DigitClassifier, images: torch.Tensor, batch_size: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features (N, feat_dim) float64 and softmax probabilities (N, 10)."""
    dev = next(model.parameters()).device
    x = _to_float(images)
    feats, probs = [], []
    for i in range(0, len(x), batch_size):
        f = model.features(x[i : i + batch_size].to(dev))
        feats.append(f.double().cpu())
        probs.append(model.head(f).softmax(1).double().cpu())
    return torch.cat(feats).numpy(), torch.cat(probs).numpy()


def held_out_accuracy(model: DigitClassifier, images, labels) -> dict:
    """Accuracy on real held-out digits (uint8 images, int labels): overall and per class 0-9."""
    pred, truth = predict(model, images), np.asarray(labels)
    return {
        "test_accuracy": float((pred == truth).mean()),
        "per_class_accuracy": [float((pred[truth == c] == c).mean()) for c in range(10)],
    }


@torch.no_grad()
def predict(model: DigitClassifier, images) -> np.ndarray:
    return embed(model, torch.as_tensor(images))[1].argmax(1)


def _to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) or float (N, 1, 28, 28) in [0, 1] -> float (N, 1, 28, 28)."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32).div(255.0).unsqueeze(1)
    x = images.to(torch.float32)
    return x if x.ndim == 4 else x.unsqueeze(1)
