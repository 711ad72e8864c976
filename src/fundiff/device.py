"""Device and thread selection shared by every script."""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available else cpu; 'cuda' without a GPU is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            "config 'device: cuda' but no CUDA GPU is visible; set 'device: auto' or 'cpu'"
        )
    return torch.device(name)


def setup_torch(threads: int, deterministic: bool = True) -> None:
    """Pin intra-op threads to the rule's ``threads`` and make CPU results repeatable."""
    torch.set_num_threads(max(1, int(threads)))
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
