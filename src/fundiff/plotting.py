"""Figures: image grids (torchvision make_grid), labelled panels and loss curves (matplotlib),
sampling GIFs (imageio). Every writer is atomic and byte-deterministic for identical inputs.

matplotlib and torchvision are imported by the functions that draw with them (:func:`pyplot`,
:func:`grid`): every job imports this module, most only to save PNG cells."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence

import imageio.v3 as iio
import numpy as np
import torch
from PIL import Image

from fundiff.io import atomic_path, write_bytes

_PNG_META = {"Software": None}  # no version string: same bytes across matplotlib versions


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (files only, no display), imported on first use.
    A pyplot that some other code imported first keeps its backend."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def to_uint8_image(x: torch.Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """(C, H, W) or (H, W) float in value_range -> (H, W[, 3]) uint8."""
    lo, hi = value_range
    x = ((x.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1)
    arr = (x * 255.0).round().to(torch.uint8).numpy()
    if arr.ndim == 3:
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    return arr


def save_image(x: torch.Tensor, path, value_range=(0.0, 1.0), upscale: int = 1) -> None:
    """Save one image (C, H, W) as PNG, optionally enlarged with nearest-neighbour pixels."""
    arr = to_uint8_image(x, value_range)
    if upscale > 1:
        arr = arr.repeat(upscale, 0).repeat(upscale, 1)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", optimize=False)
    write_bytes(path, buf.getvalue())


def grid(images: torch.Tensor, nrow: int, padding: int = 2, pad_value: float = 1.0) -> torch.Tensor:
    """make_grid over (N, C, H, W) images in [0, 1]."""
    from torchvision.utils import make_grid  # here: importing torchvision is slow

    return make_grid(
        images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=padding, pad_value=pad_value
    )


def save_grid(images: torch.Tensor, path, nrow: int, upscale: int = 2, **kw) -> None:
    save_image(grid(images, nrow, **kw), path, upscale=upscale)


def save_fig(fig, path, tight: bool = True) -> None:
    """Save a matplotlib figure as PNG. ``tight`` crops to the drawn content; a plot whose tick
    labels are measurements (wall times) passes ``tight=False`` so its pixel size is the figure
    size, the same on every run (the report's image width/height must not depend on timing)."""
    buf = io.BytesIO()
    bbox = "tight" if tight else None
    fig.savefig(buf, format="png", dpi=110, bbox_inches=bbox, metadata=_PNG_META)
    pyplot().close(fig)
    write_bytes(path, buf.getvalue())


def save_panel(
    rows: Sequence[Sequence[torch.Tensor]],
    path,
    col_titles: Sequence[str] = (),
    row_titles: Sequence[str] = (),
    value_range=(0.0, 1.0),
    cell: float = 1.3,
) -> None:
    """A labelled table of images (rows x cols), e.g. noisy/denoised digits per sigma."""
    nr, nc = len(rows), max(len(r) for r in rows)
    fig, axes = pyplot().subplots(nr, nc, figsize=(cell * nc, cell * nr), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(nc):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if j < len(row):
                arr = to_uint8_image(row[j], value_range)
                ax.imshow(arr, cmap="gray" if arr.ndim == 2 else None, vmin=0, vmax=255)
            if i == 0 and j < len(col_titles):
                ax.set_title(col_titles[j], fontsize=8)
            if j == 0 and i < len(row_titles):
                ax.set_ylabel(row_titles[i], fontsize=8)
    fig.tight_layout()
    save_fig(fig, path)


def save_loss_curve(history: Sequence[dict], path, title: str, smooth: int = 0) -> None:
    """Per-step training loss on a log scale (optionally with a moving average)."""
    steps = np.array([h["step"] for h in history])
    loss = np.array([h["loss"] for h in history])
    fig, ax = pyplot().subplots(figsize=(6, 3.6))
    ax.plot(steps, loss, lw=0.6, alpha=0.5 if smooth else 1.0, label="per step")
    if smooth and len(loss) > smooth:
        k = np.ones(smooth) / smooth
        ax.plot(
            steps[smooth - 1 :],
            np.convolve(loss, k, mode="valid"),
            lw=1.5,
            label=f"moving average ({smooth})",
        )
        ax.legend(fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss (MSE)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    save_fig(fig, path)


def save_gif(
    frames: Sequence[torch.Tensor],
    path,
    nrow: int,
    fps: float = 20,
    hold_last: int = 10,
    upscale: int = 2,
) -> None:
    """Animate a sequence of image batches (each (N, C, H, W) in [0, 1]) as one grid per frame."""
    arrs = []
    for f in frames:
        arr = to_uint8_image(grid(f, nrow))
        arrs.append(arr.repeat(upscale, 0).repeat(upscale, 1))
    arrs += [arrs[-1]] * hold_last
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, np.stack(arrs), extension=".gif", duration=1000.0 / fps, loop=0)
