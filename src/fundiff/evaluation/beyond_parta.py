"""Beyond the spec, Part A in numbers: anagram views judged (X3) and RePaint vs the spec's
one-pass inpainting (X4). Samples come from the Part A loops (:mod:`fundiff.parta.loops`);
every random draw from a seeded CPU generator passed in explicitly.

Metrics of an inpainting x of the original x_o under the mask m (1 = new content), all on
images in [0, 1] (the backend's ``from_model``, clamped):

* band error    mean |x - x_o| over the band B_w: pixels inside the mask within Chebyshev
                distance w of a kept pixel (B_w = m * maxpool_{2w+1}(1 - m)). The original is
                the ground truth there, so this measures how well the new content continues
                the kept image across the boundary.
* seam          mean |x(p) - x(q)| over the 4-neighbour pairs (p, q) with p inside the mask
                and q outside: the jump across the boundary (the original's own seam is the
                reference: a coherent fill has a seam close to it).
* outside error max |x - x_o| outside the mask: 0 for both methods (the replacement rule).
* accuracy      (mnist) the digit classifier reads x as it reads x_o.

Each method's batch is also timed (:func:`repaint_image`); the wall times are kept apart from
the metrics (their own file and plot, :func:`plot_repaint_timing`), so the table is the same in
every run.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from fundiff.evaluation.classifier import predict
from fundiff.evaluation.parta_tables import success_data
from fundiff.evaluation.plots import plot_timing
from fundiff.parta import loops, views
from fundiff.parta.backends import Backend
from fundiff.parta.prompts import parse_prompt
from fundiff.plotting import to_uint8_image
from fundiff.report.tables import cell
from fundiff.seeds import derived_seed

SECTION_VIEWS, SECTION_REPAINT = "X3", "X4"


# ------------------------------------------------------------------ X3: views


@torch.no_grad()
def view_samples(backend: Backend, view: str, pairs: list[dict], n: int, timesteps, seed, scale):
    """``n`` anagrams of every pair under ``view`` in ONE batch (rows pair 0 x n, pair 1 x n,
    ...), generator seeded derived_seed(seed, "views_eval", view). Returns both views in
    [0, 1]: (the image, the image seen through the view), the view applied in model space
    (where the loop applied it) before ``from_model`` and clamping."""
    p1 = [p["prompts"][0] for p in pairs for _ in range(n)]
    p2 = [p["prompts"][1] for p in pairs for _ in range(n)]
    cond1, cond2, uncond = backend.encode(p1), backend.encode(p2), backend.uncond(len(p1))
    g = loops.generator(derived_seed(seed, "views_eval", view))
    x = loops.visual_anagram(backend, cond1, cond2, uncond, timesteps, g, scale, view)
    seen = backend.from_model(views.view(view)(x))
    return backend.from_model(x).float().clamp(0, 1).cpu(), seen.float().clamp(0, 1).cpu()


def judge_views(backend, classifier, names, pairs, n, timesteps, seed, scale):
    """Success rates per view and pair: view 1 = the image classified as prompt 1, view 2 =
    the image through the view classified as prompt 2, both = both at once. Returns rows
    {view, pair, prompt1, prompt2, n, view1, view2, both} and uint8 sample arrays."""
    rows, arrays = [], {}
    for view in names:
        x1, x2 = view_samples(backend, view, pairs, n, timesteps, seed, scale)
        ok1 = predict(classifier, x1) == np.repeat(
            [parse_prompt(p["prompts"][0]) for p in pairs], n
        )
        ok2 = predict(classifier, x2) == np.repeat(
            [parse_prompt(p["prompts"][1]) for p in pairs], n
        )
        for j, pair in enumerate(pairs):
            s = slice(j * n, (j + 1) * n)
            arrays[f"{view}__{pair['name']}"] = to_uint8_image(x1[s])
            rows.append(
                {
                    "view": view,
                    "pair": pair["name"],
                    "prompt1": pair["prompts"][0],
                    "prompt2": pair["prompts"][1],
                    "n": n,
                    "view1": float(ok1[s].mean()),
                    "view2": float(ok2[s].mean()),
                    "both": float((ok1[s] & ok2[s]).mean()),
                }
            )
    return rows, arrays


def plot_views(rows: list[dict], path) -> None:
    """Success rates (view 1, view 2, both) per view and pair, grouped by view."""
    import matplotlib.pyplot as plt

    from fundiff.plotting import save_fig

    labels = [f"{r['view']}\n{r['pair']}" for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(rows) + 1.5), 3.2))
    for j, (key, name) in enumerate(
        (("view1", "image = p1"), ("view2", "through the view = p2"), ("both", "both"))
    ):
        ax.bar(x + (j - 1) * 0.27, [r[key] for r in rows], 0.27, label=name)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_title("anagram views: classifier success rate", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_fig(fig, path)


def views_table(title: str, rows: list[dict], png, params: dict) -> dict:
    """write_table kwargs of X3's success rates (``params``: what the rule ran with)."""
    n = rows[0]["n"] if rows else 0
    how = (
        f"{n} anagrams per view and prompt pair, one batch per view, classified by the CNN "
        "trained on real MNIST digits only. view 1: the image read as prompt 1; view 2: the "
        "image seen through the view (applied in the model's pixel space, then clipped to "
        "[0, 1]) read as prompt 2; both: both at once."
    )
    caption = " ".join(filter(None, (views_effect(rows), how)))
    return {
        "section": SECTION_VIEWS,
        "title": title,
        "rows": [{"label": "", "cells": [cell(png, "success rates per view and pair")]}],
        "params": params,
        "caption": caption,
        "data": success_data(rows, "view"),
    }


# ------------------------------------------------------------------ X4: RePaint


def band(mask: torch.Tensor, width: int) -> torch.Tensor:
    """B_w = m * maxpool_{2w+1}(1 - m): mask pixels within Chebyshev distance ``width`` of a
    kept pixel. ``mask``: (..., H, W) with 1 = new content."""
    m = mask.float().reshape(-1, 1, *mask.shape[-2:])
    near_kept = F.max_pool2d(1 - m, 2 * width + 1, stride=1, padding=width)
    return (m * near_kept).reshape(mask.shape)


def seam(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per image (N,): mean |x(p) - x(q)| over 4-neighbour pairs with p in the mask, q not
    (mean over channels too). ``x``: (N, C, H, W); ``mask``: (H, W) of 0 / 1."""
    m = mask.float()
    diffs, count = x.new_zeros(x.shape[0]), 0.0
    for dim in (-2, -1):
        a, b = x.narrow(dim, 0, x.shape[dim] - 1), x.narrow(dim, 1, x.shape[dim] - 1)
        ma, mb = m.narrow(dim, 0, m.shape[dim] - 1), m.narrow(dim, 1, m.shape[dim] - 1)
        across = (ma != mb).float()  # one side in the mask, the other out
        diffs = diffs + ((a - b).abs().mean(1) * across).sum((-2, -1))
        count += float(across.sum())
    return diffs / max(count, 1.0)


def inpaint_metrics(x: torch.Tensor, x_orig: torch.Tensor, mask: torch.Tensor, width: int):
    """Per image (N,) of an inpainting batch in [0, 1] (``x_orig``: (1 or N, C, H, W),
    ``mask``: (H, W)): band error, seam, outside error (see the module docstring)."""
    m = mask.float()
    err = (x - x_orig).abs().mean(1)  # (N, H, W), over channels
    b = band(m, width)
    return {
        "band_error": (err * b).sum((-2, -1)) / b.sum().clamp_min(1.0),
        "seam": seam(x, m),
        "outside_error": (err * (1 - m)).amax((-2, -1)),
    }


def repaint_settings(repaint: dict) -> dict[str, tuple[int, int]]:
    """(jump length, resamplings) of each method: the one-pass rule is RePaint with (1, 1)."""
    return {"one_pass": (1, 1), "repaint": (repaint["jump_length"], repaint["resamplings"])}


def repaint_caption(method: str, repaint: dict) -> str:
    j, r = repaint_settings(repaint)[method]
    return "one-pass (spec)" if method == "one_pass" else f"RePaint (j {j}, r {r})"


@torch.no_grad()
def repaint_image(
    backend: Backend, x_0, mask, image: str, n: int, timesteps, prompt: str, seed: int,
    scale: float, repaint: dict, clf=None,
):  # fmt: skip
    """X4 on one image: ``n`` inpaintings of ``x_0`` (1, C, H, W; model space) under ``mask``
    ((1, H, W), 1 = new content) by each method of :func:`repaint_settings`, one batch each
    with the same generators (derived_seed(seed, "repaint", image) for the loop and (...,
    "known") for the re-noised original), after one untimed warm-up forward. ``repaint``:
    jump_length, resamplings, band; ``clf``: the digit classifier (mnist) or None.

    Returns (rows: one per method, the metrics :func:`repaint_table` shows; timing: one per
    method, {image, method, n, seconds}; shown: {"original", "to_replace" (in [0, 1]), method:
    the first inpainting} for the table's cells)."""
    mask = mask[None].to(backend.device)
    m = mask[0, 0].cpu()
    x_orig = torch.cat([x_0] * n)
    cond, uncond = backend.encode([prompt] * n), backend.uncond(n)
    orig01 = backend.from_model(x_0).float().clamp(0, 1).cpu()
    label = None if clf is None else int(predict(clf, orig01)[0])
    original_seam = float(seam(orig01, m)[0])
    shown = {"original": x_0[0], "to_replace": (orig01 * (1 - m))[0]}
    loops.cfg_predict(backend, x_orig, timesteps[0], cond, uncond, scale)  # warm-up
    rows, timing = [], []
    for method, (j, r) in repaint_settings(repaint).items():
        start = time.perf_counter()
        x = loops.repaint_inpaint(
            backend, x_orig, mask, list(timesteps), cond, uncond,
            loops.generator(derived_seed(seed, "repaint", image)),
            loops.generator(derived_seed(seed, "repaint", image, "known")),
            scale, jump_length=j, resamplings=r,
        )  # fmt: skip
        timing.append({"image": image, "method": method, "n": n,
                       "seconds": time.perf_counter() - start})  # fmt: skip
        x01 = backend.from_model(x).float().clamp(0, 1).cpu()
        metrics = inpaint_metrics(x01, orig01, m, repaint["band"])
        acc = None if clf is None else float((predict(clf, x01) == label).mean())
        rows.append(
            {
                "image": image, "method": method, "n": n, "accuracy": acc,
                "band_error": float(metrics["band_error"].mean()),
                "seam": float(metrics["seam"].mean()), "original_seam": original_seam,
                "outside_error": float(metrics["outside_error"].max()),
            }
        )  # fmt: skip
        shown[method] = x[0]
    return rows, timing, shown


def plot_repaint_timing(timing: list[dict], path, title: str) -> None:
    """The measured wall time of each image's batch per method (:func:`repaint_image`) as bars."""
    labels = [f"{t['image']}, {t['method'].replace('_', '-')}" for t in timing]
    xlabel = f"wall-clock seconds per batch of {timing[0]['n']}" if timing else "seconds"
    plot_timing(labels, [t["seconds"] for t in timing], path, title, xlabel=xlabel)


def repaint_timing_table(title: str, png, params: dict) -> dict:
    """write_table kwargs of X4's cost: the plot of the measured wall times (its own spec, so the
    metrics table holds no time)."""
    how = (
        "Wall-clock seconds of each batch (after one untimed warm-up forward), measured on this "
        "machine: RePaint makes about r times as many model calls as the one-pass rule."
    )
    return {
        "section": SECTION_REPAINT,
        "title": title,
        "rows": [{"label": "", "cells": [cell(png, "wall time per image and method")]}],
        "params": params,
        "caption": how,
    }


def repaint_table(title: str, rows: list[dict], cells: list[dict], params: dict, n: int):
    """write_table kwargs of X4: per image the original, what is replaced, one sample of each
    method, and the metrics table (mean over ``n`` samples)."""
    how = (
        f"Mean over {n} inpaintings per image and method (one batch each, the same seed for "
        "both). band error: mean |x - original| on the band of width w inside the mask along "
        "its boundary; seam: mean jump |x(p) - x(q)| across the mask boundary (the original "
        "image's own: 'original seam'); outside error: max |x - original| outside the "
        "mask (0: the kept region is the original); accuracy (mnist): the digit classifier "
        "reads the inpainting as it reads the original. The wall times are in the cost plot "
        "below."
    )
    caption = " ".join(filter(None, (repaint_effect(rows), how)))
    columns = [
        "image", "method", "n", "accuracy", "band error", "seam", "original seam",
        "outside error",
    ]  # fmt: skip
    data = [[r[k] for k in ("image", "method", "n", "accuracy", "band_error", "seam",
                             "original_seam", "outside_error")] for r in rows]  # fmt: skip
    return {
        "section": SECTION_REPAINT,
        "title": title,
        "rows": cells,
        "columns": ["original", "to replace", "one-pass (spec)", "RePaint"],
        "params": params,
        "caption": caption,
        "data": {"columns": columns, "rows": data},
    }


def views_effect(rows: list[dict]) -> str:
    """X3's measured effect in one sentence: per view, the mean over pairs of the rate at which
    both views read as their prompts, best first (empty without rows)."""
    if not rows:
        return ""
    views: dict[str, list[float]] = {}
    for r in rows:
        views.setdefault(r["view"], []).append(r["both"])
    mean = {v: sum(x) / len(x) for v, x in views.items()}
    ranked = sorted(mean, key=lambda v: -mean[v])
    return (
        "Measured effect: both views read as their prompts (mean over pairs) "
        + ", ".join(f"{v} {mean[v]:.2f}" for v in ranked)
        + "."
    )


def repaint_effect(rows: list[dict]) -> str:
    """X4's measured effect in one sentence (scores only; the seconds are in the cost plot): RePaint
    against the one-pass rule, means over the images, for band error, seam (with the
    originals' seam) and, where judged, accuracy."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["method"], []).append(r)
    if "one_pass" not in by or len(by) < 2:
        return ""
    other = next(m for m in by if m != "one_pass")

    def mean(method, key):
        vals = [r[key] for r in by[method] if r.get(key) is not None]
        return sum(vals) / len(vals) if vals else None

    parts = []
    for key, name in (("band_error", "band error"), ("seam", "seam"), ("accuracy", "accuracy")):
        a, b = mean(other, key), mean("one_pass", key)
        if a is not None and b is not None:
            parts.append(f"{name} {a:.3f} vs {b:.3f}")
    seam0 = mean("one_pass", "original_seam")
    tail = f" (the originals' own seam: {seam0:.3f})" if seam0 is not None else ""
    return f"Measured effect, RePaint vs the one-pass rule (means over the images): {', '.join(parts)}{tail}."
