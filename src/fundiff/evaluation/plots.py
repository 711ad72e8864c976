"""Plots of the measured results (matplotlib): CFG sweep, per-epoch scores, Part A metrics."""

from __future__ import annotations

import math

import numpy as np


def plot_cfg_sweep(df, path, floor: float | None = None) -> None:
    """Quality / diversity trade-off of classifier-free guidance: one panel per metric vs gamma."""
    import matplotlib.pyplot as plt

    from fundiff.plotting import save_fig

    panels = [
        ("accuracy", "class accuracy"),
        ("fd", "classifier-feature FD"),
        ("diversity", "within-class diversity (real = 1)"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for ax, (col, title) in zip(axes, panels, strict=True):
        ax.plot(df["guidance_scale"], df[col], "o-")
        if col == "fd":
            ax.plot(df["guidance_scale"], df["fd_floor"], "k--", label="real vs real (floor)")
            ax.legend(fontsize=8)
        if col == "diversity":
            ax.axhline(1.0, color="k", ls="--", lw=1)
        ax.set_xlabel("guidance scale gamma")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_fig(fig, path)


def plot_epochs(df, path) -> None:
    """Sample-grid metrics vs training epoch for the time- and class-conditioned models."""
    import matplotlib.pyplot as plt

    from fundiff.plotting import save_fig

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for model, sub in df.groupby("model", sort=True):
        sub = sub.sort_values("epoch")
        axes[0].plot(sub["epoch"], sub["fd_ratio"], "o-", label=model)
        axes[1].plot(sub["epoch"], sub["confidence"], "o-", label=model)
        if sub["accuracy"].notna().any():
            axes[2].plot(sub["epoch"], sub["accuracy"], "o-", label=f"{model} accuracy")
        else:
            axes[2].plot(
                sub["epoch"],
                sub["class_entropy"] / math.log(10),
                "s--",
                label=f"{model} H / log 10",
            )
    titles = ["FD / real-vs-real floor (1 = real)", "mean classifier confidence", "class score"]
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_fig(fig, path)


def plot_denoising(summary, path) -> None:
    """Mean PSNR and SSIM (+- std over images) vs t, one line per denoising method."""
    import matplotlib.pyplot as plt

    from fundiff.plotting import save_fig

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, metric, title in zip(axes, ("psnr", "ssim"), ("PSNR (dB)", "SSIM"), strict=True):
        for method, sub in summary.groupby("method", sort=False):
            sub = sub.sort_values("t")
            ax.errorbar(
                sub["t"], sub[f"{metric}_mean"], yerr=sub[f"{metric}_std"], fmt="o-",
                capsize=3, label=method,
            )  # fmt: skip
        ax.set_xlabel("noise level t")
        ax.set_title(f"{title} to the clean image", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    save_fig(fig, path)


def plot_sdedit(df, path) -> None:
    """PSNR to the original vs i_start, one line per (section, image)."""
    import matplotlib.pyplot as plt

    from fundiff.plotting import save_fig

    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for (section, image), sub in df.groupby(["section", "image"], sort=False):
        sub = sub.sort_values("i_start")
        ax.plot(sub["i_start"], sub["psnr"], "o-", label=f"{section} {image}")
    ax.set_xlabel("i_start (larger = less noise added)")
    ax.set_ylabel("PSNR to the original (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_fig(fig, path)


def plot_inpaint(df, path) -> None:
    """Mean squared error inside vs outside the mask, per image."""
    import matplotlib.pyplot as plt

    from fundiff.plotting import save_fig

    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(df), 3.2))
    x = np.arange(len(df))
    ax.bar(x - 0.2, df["mse_inside"], 0.4, label="inside the mask (generated)")
    ax.bar(x + 0.2, df["mse_outside"], 0.4, label="outside (kept)")
    ax.set_xticks(x, df["image"])
    ax.set_ylabel("MSE to the original")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_fig(fig, path)


def plot_illusions(df, path) -> None:
    """Success rates of the visual anagrams and hybrid images per prompt pair."""
    import matplotlib.pyplot as plt

    from fundiff.plotting import save_fig

    kinds = list(dict.fromkeys(df["kind"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.5 * len(kinds), 3.2), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        sub = df[df["kind"] == kind].reset_index(drop=True)
        cols = ["view1", "view2", "both"]
        names = {
            "anagram": ["upright = p1", "flipped = p2", "both"],
            "hybrid": ["blurred = p1 (low)", "as is = p2 (high)", "both"],
        }[kind]
        x = np.arange(len(sub))
        for j, (col, name) in enumerate(zip(cols, names, strict=True)):
            ax.bar(x + (j - 1) * 0.27, sub[col], 0.27, label=name)
        ax.set_xticks(x, sub["pair"])
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{kind}s: classifier success rate", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_fig(fig, path)


def plot_timing(labels, seconds, path, title: str, xlabel: str = "wall-clock seconds") -> None:
    """Measured wall times as horizontal bars, one per label (top to bottom in the given order),
    each with its value written beside it. The pixel size depends on the number of bars only
    (``save_fig(tight=False)``): the report's image size is the same on every run, while the
    bars, ticks and values are this run's measurements."""
    import matplotlib.pyplot as plt

    from fundiff.plotting import save_fig

    labels, seconds = [str(x) for x in labels], [float(s) for s in seconds]
    if len(labels) != len(seconds) or not labels:
        raise ValueError(f"{len(labels)} labels for {len(seconds)} wall times")
    fig, ax = plt.subplots(figsize=(6.0, 1.2 + 0.32 * len(labels)))
    y = np.arange(len(labels))[::-1]
    ax.barh(y, seconds, 0.6, color="tab:gray")
    for yi, s in zip(y, seconds, strict=True):
        ax.annotate(f"{s:.3g} s", (s, yi), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=7)  # fmt: skip
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(0, 1.25 * max(max(seconds), 1e-9))
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    save_fig(fig, path, tight=False)
