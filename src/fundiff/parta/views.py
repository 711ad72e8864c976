"""Image views of visual anagrams (``parta.anagrams.view``): each is its own inverse."""

from __future__ import annotations

import torch


def flip(x: torch.Tensor) -> torch.Tensor:
    """Upside down: reverse the H axis of NCHW (spec: torch.flip(x, dims=[2]))."""
    return torch.flip(x, dims=[-2])


def rotate180(x: torch.Tensor) -> torch.Tensor:
    """Turned round: reverse H and W (how a handwritten 6 becomes a 9)."""
    return torch.flip(x, dims=[-2, -1])


# The second view of a visual anagram (``parta.anagrams.view``); each is its own inverse.
VIEWS = {"flip": flip, "rotate180": rotate180}
