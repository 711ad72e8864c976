"""DDPM vs rectified flow, side by side (rule flow_compare, section X1).

Both final models of one conditioning draw the same n digits (same seed, balanced classes for
the class-conditioned pair) with each sampler setting; every set is scored by the B4 evaluator
(:class:`fundiff.evaluation.scores.Scorer`: accuracy, confidence, classifier-feature FD ratio to
the real-vs-real floor at the same n) and its sampling wall time is measured in the job. The
times are kept apart from the scores (:func:`compare`'s ``timing``, written to their own file
and drawn by :func:`plot_timing`), so the table and the samples are the same in every run.

* equal training steps: every row; each flow model trained with its DDPM's settings
  (fundiff.diffusion.settings.flow_train_settings).
* equal sampler steps N: DDPM strided to N steps (the B2 sampler,
  :func:`fundiff.diffusion.sample.sample` with ``steps`` = N: the posterior step over
  ``ddpm.spaced_timesteps(T, N)``, as the fast-sampler curve of X2) vs flow with N Euler steps.
  N = T is the DDPM's own ancestral sampler.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from fundiff.data import to_uint8
from fundiff.diffusion import ddpm, flow
from fundiff.diffusion.sample import class_grid_labels, sample
from fundiff.io import save_npz

COLUMNS = ["model", "sampler", "steps", "accuracy", "confidence", "FD ratio"]


def settings_rows(p: dict) -> list[tuple[str, str, int]]:
    """(model, sampler, steps) of every row: DDPM at each N of compare_steps up to T and at T;
    flow at each N of compare_steps and at sample_steps."""
    T = p["schedule"]["num_timesteps"]
    ddpm_steps = sorted({n for n in p["compare_steps"] if n <= T} | {T})
    flow_steps = sorted(set(p["compare_steps"]) | {p["sample_steps"]})
    rows = [("DDPM", "ancestral" if n == T else "strided", n) for n in ddpm_steps]
    return rows + [("flow", "Euler", n) for n in flow_steps]


def compare(ddpm_model, flow_model, p: dict, scorer, conditioned: bool, device, bf16, log=None):
    """Sample, time and score every row of :func:`settings_rows`. Returns (table rows as in
    :data:`COLUMNS`, tidy records with every score, {row name: uint8 images}, timing: the
    measured wall times, {"n", "rows": [{model, sampler, steps, seconds}]})."""
    s = p["schedule"]
    schedule = ddpm.Schedule.linear(s["beta_start"], s["beta_end"], s["num_timesteps"])
    n = p["num_samples"]
    labels = class_grid_labels(-(-n // 10))[:n] if conditioned else None
    table, records, images, timed = [], [], {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for model, sampler, steps in settings_rows(p):
            t0 = time.perf_counter()
            if model == "DDPM":
                scale = p["ddpm_guidance_scale"]
                x, _ = sample(ddpm_model, schedule, n, p["seed"], labels, scale, device=device,
                              bf16=bf16, steps=steps)  # fmt: skip
            else:
                scale = p["guidance_scale"]
                x, _ = flow.sample(flow_model, n, p["seed"], steps, labels, scale,
                                   device=device, bf16=bf16)  # fmt: skip
            seconds = time.perf_counter() - t0
            name = f"{model.lower()}_{steps}"
            images[name] = to_uint8(x).numpy()
            extra = {} if labels is None else {"labels": labels.numpy()}
            path = Path(tmp) / f"{name}.npz"
            save_npz(path, images=images[name], **extra)
            sc = scorer.score(path)
            if log is not None:
                log.info("%s %s %d steps: %.1f s, %s", model, sampler, steps, seconds, sc)
            rec = {"model": model, "sampler": sampler, "steps": steps}
            timed.append(rec | {"seconds": seconds})
            records.append(rec | {"guidance_scale": scale if conditioned else None} | sc)
            acc = sc["accuracy"] if conditioned else None
            table.append([model, sampler, steps, acc, sc["confidence"], sc["fd_ratio"]])
    return table, records, images, {"n": n, "rows": timed}


def plot_timing(timing: dict, path, title: str) -> None:
    """The measured sampling seconds of every row of :func:`compare` as bars."""
    from fundiff.evaluation.plots import plot_timing as bars

    rows = timing["rows"]
    labels = [f"{r['model']} {r['sampler']}, {r['steps']} steps" for r in rows]
    xlabel = f"sampling seconds for all n = {timing['n']}"
    bars(labels, [r["seconds"] for r in rows], path, title, xlabel=xlabel)


def effect(table: list[list], conditioned: bool) -> str:
    """The measured effect in one sentence, from the scores only (wall times vary from run to
    run; they are in the timing plot): flow against DDPM at each step count both were sampled with,
    and the DDPM's own T-step sampler."""
    by = {(r[0], r[2]): r for r in table}
    score = 3 if conditioned else 4  # accuracy (class_cond) or mean confidence (time_cond)
    what = "accuracy" if conditioned else "confidence"

    def text(r):
        return f"FD ratio {r[5]:.2f}, {what} {r[score]:.2f}"

    ddpm_steps = sorted(n for m, n in by if m == "DDPM")
    parts = [
        f"at {n} steps flow {text(by['flow', n])} vs DDPM {text(by['DDPM', n])}"
        for n in ddpm_steps
        if ("flow", n) in by and n != ddpm_steps[-1]
    ]
    T = ddpm_steps[-1]
    best = min((r for (m, _), r in by.items() if m == "flow"), key=lambda r: r[5])
    parts.append(
        f"the DDPM's own {T}-step sampler {text(by['DDPM', T])}; the best flow row "
        f"({best[2]} Euler steps) {text(best)}"
    )
    return "Measured effect (lower FD ratio is closer to real digits): " + "; ".join(parts) + "."
