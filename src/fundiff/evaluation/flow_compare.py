"""DDPM vs rectified flow, side by side (rule flow_compare, section X1).

Both final models of one conditioning draw the same n digits (same seed, balanced classes for
the class-conditioned pair) with each sampler setting; every set is scored by the B4 evaluator
(:class:`fundiff.evaluation.scores.Scorer`: accuracy, confidence, classifier-feature FD ratio to
the real-vs-real floor at the same n) and its sampling wall time is measured in the job.

* equal training steps: every row; each flow model trained with its DDPM's settings
  (fundiff.diffusion.settings.flow_train_settings).
* equal sampler steps N: DDPM strided to N steps (the posterior step of
  :func:`fundiff.diffusion.ddpm.posterior_step` over N evenly spaced timesteps of the schedule,
  t_i = round((T - 1) (N - 1 - i) / (N - 1)), then the last step to t' = -1) vs flow with N
  Euler steps. N = T is the DDPM's own ancestral sampler.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from fundiff.data import to_uint8
from fundiff.diffusion import ddpm, flow
from fundiff.diffusion.sample import class_grid_labels
from fundiff.diffusion.unet import forward_chunked
from fundiff.io import save_npz

COLUMNS = ["model", "sampler", "steps", "accuracy", "confidence", "FD ratio", "sampling s (all n)"]


def strided_ddpm_timesteps(num_timesteps: int, steps: int) -> list[int]:
    """N = ``steps`` timesteps evenly spaced from T-1 down to 0, then -1 (the noise-free last
    step): t_i = round((T - 1) (N - 1 - i) / (N - 1)); N = T gives ddpm.full_timesteps(T)."""
    T, N = num_timesteps, steps
    if not 1 <= N <= T:
        raise ValueError(f"strided DDPM needs 1 <= steps <= {T}, got {N}")
    if N == 1:
        return [T - 1, -1]
    return [round((T - 1) * (N - 1 - i) / (N - 1)) for i in range(N)] + [-1]


@torch.no_grad()
def ddpm_sample(model, schedule, n, seed, steps, labels=None, scale=1.0, device="cpu", bf16=False):
    """DDPM sampling (fixed_large variance, as the B2 grids) over the strided list of ``steps``
    steps; with ``labels`` CFG eps = eps_u + gamma (eps_c - eps_u)."""
    g = torch.Generator().manual_seed(seed)
    T = schedule.num_timesteps
    x = torch.randn((n, 1, 28, 28), generator=g).to(device)
    cond = None if labels is None else labels.to(device)

    def net(x_t, t_in, c=None):
        return forward_chunked(model, x_t, t_in, c, bf16=bf16)

    def eps_fn(x_t, t):
        t_in = torch.full((x_t.shape[0],), t / T, device=x_t.device)
        if cond is None or scale == 1.0:
            return net(x_t, t_in, cond), None
        return ddpm.cfg_batched(net, x_t, t_in, cond, torch.full_like(cond, -1), scale), None

    timesteps = strided_ddpm_timesteps(T, steps)
    return ddpm.sample_loop(eps_fn, schedule, x, timesteps, g, "fixed_large")


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
    :data:`COLUMNS`, tidy records with every score, {row name: uint8 images})."""
    s = p["schedule"]
    schedule = ddpm.Schedule.linear(s["beta_start"], s["beta_end"], s["num_timesteps"])
    n = p["num_samples"]
    labels = class_grid_labels(-(-n // 10))[:n] if conditioned else None
    table, records, images = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for model, sampler, steps in settings_rows(p):
            t0 = time.perf_counter()
            if model == "DDPM":
                scale = p["ddpm_guidance_scale"]
                x = ddpm_sample(ddpm_model, schedule, n, p["seed"], steps, labels, scale,
                                device, bf16)  # fmt: skip
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
            rec = {"model": model, "sampler": sampler, "steps": steps, "seconds": seconds}
            records.append(rec | {"guidance_scale": scale if conditioned else None} | sc)
            acc = sc["accuracy"] if conditioned else None
            table.append([model, sampler, steps, acc, sc["confidence"], sc["fd_ratio"], seconds])
    return table, records, images
