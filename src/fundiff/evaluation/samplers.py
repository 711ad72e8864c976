"""Fast samplers measured (beyond the spec, section X2): strided DDPM and DDIM over the trained
schedule at fewer steps, each timed and scored with the B4 evaluator.

One sampling job per conditioned model (:func:`sample_rows`) draws the same ``n`` digits (same
seed, so the same x_T; class_cond: the same balanced labels) for every (sampler, steps) row and
times the sampling alone (wall clock, after one warm-up step); the times go to their own file
(:func:`timing_record`), so the samples and every score are byte-identical between two runs. One
scoring job per model (:func:`score_frame`, :func:`table_data`) scores every row with the
real-digit classifier: accuracy (class_cond), confidence and class entropy, and the
classifier-feature FD over its real-vs-real floor at the same n (:class:`scores.Scorer`); the
measured times join the scores only in the quality-vs-time plot (:func:`with_seconds`,
:func:`plot_quality_time`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from fundiff.data import to_uint8
from fundiff.diffusion.sample import sample

# tidy CSV / table columns (one row per sampler and step count)
COLUMNS = [
    "model", "sampler", "steps", "eta", "accuracy", "confidence", "class_entropy",
    "fd", "fd_floor", "fd_ratio", "n",
]  # fmt: skip


def rows(samplers: Sequence[str], steps: Sequence[int]) -> list[tuple[str, int]]:
    """Every (sampler, steps) row, in config order: samplers, then step counts, most first."""
    return [(s, int(k)) for s in samplers for k in sorted(steps, reverse=True)]


def row_name(sampler: str, steps: int) -> str:
    """File stem of one row's samples: 'ddim_20'."""
    return f"{sampler}_{int(steps)}"


def balanced_labels(n: int, num_classes: int = 10) -> torch.Tensor:
    """Labels 0, 1, ..., 9, 0, 1, ... for n class-conditioned samples (balanced when 10 | n)."""
    return torch.arange(n) % num_classes


@torch.no_grad()
def sample_rows(
    model,
    schedule,
    plan: Sequence[tuple[str, int]],
    n: int,
    seed: int,
    eta: float,
    labels: torch.Tensor | None = None,
    guidance_scale: float = 1.0,
    device="cpu",
    bf16: bool = False,
) -> list[dict]:
    """Sample ``n`` digits for every (sampler, steps) of ``plan`` from the same seed; returns
    one dict per row: sampler, steps, eta (DDIM's; None for DDPM), seconds (wall clock of the
    sampling call only), images (uint8, N x 1 x 28 x 28) and labels (or None).

    One step of the first sampler runs first, untimed, so that one-off costs (oneDNN primitive
    creation, allocator growth) are not charged to the first row."""
    kw = {"labels": labels, "guidance_scale": guidance_scale, "device": device, "bf16": bf16}
    sample(model, schedule, n, seed, sampler=plan[0][0], steps=1, eta=eta, **kw)  # warm-up
    out = []
    for sampler, steps in plan:
        t0 = time.perf_counter()
        x, _ = sample(model, schedule, n, seed, sampler=sampler, steps=steps, eta=eta, **kw)
        seconds = time.perf_counter() - t0
        out.append(
            {
                "sampler": sampler,
                "steps": steps,
                "eta": eta if sampler == "ddim" else None,
                "seconds": seconds,
                "images": to_uint8(x).numpy(),
                "labels": None if labels is None else labels.numpy(),
            }
        )
    return out


def timing_record(rows: Sequence[dict], n: int) -> dict:
    """The measured wall times of :func:`sample_rows`' rows, for their own file (timing.json):
    {"n": n, "rows": [{"sampler", "steps", "eta", "seconds"}, ...]}."""
    keys = ("sampler", "steps", "eta", "seconds")
    return {"n": int(n), "rows": [{k: r[k] for k in keys} for r in rows]}


def with_seconds(df: pd.DataFrame, timing: dict) -> pd.DataFrame:
    """``df`` (:func:`score_frame`) with each row's measured ``seconds`` from ``timing``
    (:func:`timing_record`); ValueError when a row of ``df`` has no measured time."""
    seconds = {(r["sampler"], int(r["steps"])): float(r["seconds"]) for r in timing["rows"]}
    keys = list(zip(df["sampler"], df["steps"].astype(int), strict=True))
    missing = [k for k in keys if k not in seconds]
    if missing:
        raise ValueError(f"no measured wall time for the sampler rows {missing} in the timing file")
    return df.assign(seconds=[seconds[k] for k in keys])


def score_frame(model: str, scorer, paths: Sequence[str]) -> pd.DataFrame:
    """One row per sample file (.npz of :func:`sample_rows`' rows): the row's settings and
    every metric of ``scorer`` (:class:`fundiff.evaluation.scores.Scorer`)."""
    out = []
    for path in paths:
        z = np.load(path)
        eta = float(z["eta"]) if z["sampler"].item() == "ddim" else None
        row = {
            "model": model,
            "sampler": str(z["sampler"]),
            "steps": int(z["steps"]),
            "eta": eta,
        }
        out.append(row | scorer.score(path))
    return pd.DataFrame(out)[COLUMNS]


def quality_column(df: pd.DataFrame) -> tuple[str, str]:
    """The class score plotted beside the FD ratio: accuracy where the samples have requested
    labels (class_cond), else mean confidence (time_cond)."""
    if df["accuracy"].notna().any():
        return "accuracy", "class accuracy"
    return "confidence", "mean classifier confidence"


def plot_quality_time(df: pd.DataFrame, path, title: str) -> None:
    """Quality vs sampling time: FD / floor (left) and the class score (right) against the
    seconds per n samples (log), one line per sampler, each point labelled with its steps.
    ``df``: :func:`score_frame` :func:`with_seconds`. Its ticks are wall times: a fixed pixel size."""
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    from fundiff.plotting import save_fig

    col, label = quality_column(df)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for sampler, sub in df.groupby("sampler", sort=False):
        sub = sub.sort_values("seconds")
        for ax, y in zip(axes, ("fd_ratio", col), strict=True):
            ax.plot(sub["seconds"], sub[y], "o-", label=sampler)
            for _, r in sub.iterrows():
                ax.annotate(str(r["steps"]), (r["seconds"], r[y]), fontsize=7,
                            textcoords="offset points", xytext=(3, 3))  # fmt: skip
    axes[0].axhline(1.0, color="k", ls="--", lw=1, label="real digits")
    panel_titles = ("FD / real-vs-real floor (1 = real)", label)

    def minor(v, _):  # plain numbers at 2 and 5 x 10^k between the decades (0.2, not 2e-1)
        return f"{v:g}" if v > 0 and round(v / 10 ** math.floor(math.log10(v))) in (2, 5) else ""

    for ax, panel in zip(axes, panel_titles, strict=True):
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.FuncFormatter(minor))
        ax.set_xlabel(f"sampling seconds for n = {int(df['n'].iloc[0])} (log)")
        ax.set_title(panel, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_fig(fig, path, tight=False)  # its ticks are wall times: a fixed pixel size


def plot_timing(timing: dict, path, title: str) -> None:
    """The measured sampling seconds of every row (:func:`timing_record`) as bars."""
    from fundiff.evaluation.plots import plot_timing as bars

    labels = [f"{r['sampler']}, {r['steps']} steps" for r in timing["rows"]]
    seconds = [r["seconds"] for r in timing["rows"]]
    bars(labels, seconds, path, title, xlabel=f"sampling seconds for n = {timing['n']}")


def table_params(options: dict, epoch: int, guidance_scale: float, seed: int, npz) -> dict:
    """The settings beside the table: the item's config, the model's final epoch and CFG scale
    (class_cond), the sampling seed (every row), the evaluator's seed, and the sampling job's
    precision and threads (from one row's file: the job wrote them)."""
    z = np.load(npz)
    out = {**options, "epoch": epoch}
    if guidance_scale != 1.0:
        out["guidance_scale (CFG)"] = guidance_scale
    out["sampling seed (every row)"] = int(z["seed"])
    out["evaluator seed"] = seed
    out["sampling precision (measured)"] = "bf16 autocast" if bool(z["bf16"]) else "fp32"
    out["sampling threads (measured)"] = int(z["threads"])
    return out


def table_data(df: pd.DataFrame) -> dict:
    """The table spec's ``data``: every row, numbers rounded to 4 decimals (no wall times: they
    are in the timing files)."""
    cols = [c for c in COLUMNS if c != "model" and not (c == "accuracy" and df[c].isna().all())]
    out = []
    for _, r in df.iterrows():
        row = []
        for c in cols:
            v = r[c]
            if v is None or (isinstance(v, float) and np.isnan(v)):
                row.append(None)
            elif c in ("steps", "n"):
                row.append(int(v))
            elif isinstance(v, (float, np.floating)):
                row.append(round(float(v), 4))
            else:
                row.append(v)
        out.append(row)
    return {"columns": cols, "rows": out}


def effect(df: pd.DataFrame, tolerance: float = 0.1) -> str:
    """The measured effect in one sentence, from the scores and step counts only (wall times vary
    from run to run; they are in the timing plots): the spec's sampler (DDPM at the most
    steps) as the reference, and per sampler the fewest steps whose FD ratio stays within
    ``tolerance`` (relative) of it, i.e. how many fewer model calls it needs."""
    col, _ = quality_column(df)
    ref = (
        df[df["sampler"] == "ddpm"].sort_values("steps").iloc[-1]
        if (df["sampler"] == "ddpm").any()
        else df.sort_values("steps").iloc[-1]
    )

    def text(r):
        return f"FD ratio {r['fd_ratio']:.2f}, {col} {r[col]:.2f}"

    parts = [f"{ref['sampler']} at {int(ref['steps'])} steps (the reference): {text(ref)}"]
    for sampler, sub in df.groupby("sampler", sort=False):
        ok = sub[sub["fd_ratio"] <= ref["fd_ratio"] * (1 + tolerance)].sort_values("steps")
        fewest = sub.sort_values("steps").iloc[0]
        if ok.empty:
            parts.append(f"{sampler} never within {tolerance:.0%} of its FD ratio")
        else:
            r = ok.iloc[0]
            calls = ref["steps"] / r["steps"]
            parts.append(
                f"{sampler} within {tolerance:.0%} of its FD ratio down to {int(r['steps'])} steps "
                f"({text(r)}; {calls:.3g}x fewer model calls)"
            )
        if ok.empty or int(fewest["steps"]) != int(ok.iloc[0]["steps"]):
            parts.append(f"{sampler} at {int(fewest['steps'])} steps: {text(fewest)}")
    return "Measured effect (lower FD ratio is closer to real digits): " + "; ".join(parts) + "."
