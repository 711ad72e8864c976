"""Rectified flow for Part B (beyond the spec; Liu et al. 2022, the spec's B bells & whistles).

The same UNet and training loop as the DDPMs (:mod:`fundiff.diffusion.train`, tasks ``flow_time``
and ``flow_class``); only the forward process, the regression target and the sampler change.

Convention (stated once): ``x0`` is NOISE and ``x1`` is DATA, time runs from t = 0 (noise) to
t = 1 (data) -- the opposite direction of the DDPM's t, which is why the flow models are
trained apart and never share weights with the DDPMs.

* noise, time       x_0 ~ N(0, I),  t ~ U[0, 1]
* interpolation     x_t = t x_1 + (1 - t) x_0                     (a straight line noise -> data)
* velocity target   v = d x_t / d t = x_1 - x_0
* loss              L = E || v_theta(x_t, t, c) - (x_1 - x_0) ||^2
                    (class model: c dropped to "no class" with probability p_uncond, as the DDPM)
* CFG               v = v_u + gamma (v_c - v_u)                   (:func:`fundiff.diffusion.ddpm.cfg`)
* Euler sampler     t_k = k / N (k = 0 ... N),  x_{t_{k+1}} = x_{t_k} + (t_{k+1} - t_k) v(x_{t_k}, t_k)

Min-SNR weighting is a DDPM loss weight (its SNR is the DDPM schedule's); it does not apply to
flow (:class:`fundiff.diffusion.train.TrainConfig` rejects it for the flow tasks).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from fundiff.diffusion.unet import UNet, guided
from fundiff.progress import progress

VelocityFn = Callable[[torch.Tensor, float], torch.Tensor]


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = t x_1 + (1 - t) x_0 (``t`` per sample (N,) or a scalar; x0 noise, x1 data)."""
    t = torch.as_tensor(t, dtype=x1.dtype, device=x1.device)
    t = t.reshape(-1, *([1] * (x1.ndim - 1))) if t.ndim else t
    return t * x1 + (1.0 - t) * x0


def velocity_target(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """v = x_1 - x_0: the constant velocity of the straight path from x_0 to x_1."""
    return x1 - x0


def loss(
    model: torch.nn.Module,
    x1: torch.Tensor,
    labels: torch.Tensor | None,
    g: torch.Generator,
    p_uncond: float = 0.1,
) -> torch.Tensor:
    """L = mean || v_theta(x_t, t[, c]) - (x_1 - x_0) ||^2 on a data batch ``x1``.

    Draws, in order from ``g``: x_0 ~ N(0, I), t ~ U[0, 1) per sample and, with ``labels``
    (the class model), the drop mask u < p_uncond (a dropped class becomes -1, "no class")."""
    n, dev = x1.shape[0], x1.device
    x0 = torch.randn(x1.shape, generator=g, device=dev)
    t = torch.rand((n,), generator=g, device=dev)
    x_t = interpolate(x0, x1, t)
    if labels is None:
        v_hat = model(x_t, t)
    else:
        drop = torch.rand(n, generator=g, device=dev) < p_uncond
        v_hat = model(x_t, t, torch.where(drop, torch.full_like(labels, -1), labels))
    return F.mse_loss(v_hat, velocity_target(x0, x1))


def euler_times(steps: int) -> list[float]:
    """[t_0, ..., t_N] = [0, 1/N, ..., 1]: the Euler sampler's grid over N = ``steps`` steps."""
    if steps < 1:
        raise ValueError(f"the Euler sampler needs at least 1 step, got {steps}")
    return [k / steps for k in range(steps + 1)]


def euler(
    v_fn: VelocityFn,
    x: torch.Tensor,
    steps: int,
    after_step: Callable[[torch.Tensor, float], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Integrate dx/dt = v(x, t) from t = 0 to 1 with N = ``steps`` Euler steps:
    x_{t_{k+1}} = x_{t_k} + (t_{k+1} - t_k) v(x_{t_k}, t_k). ``after_step(x, t_{k+1})`` may record
    frames; it returns the tensor to continue with."""
    times = euler_times(steps)
    for t, t_next in zip(times[:-1], times[1:], strict=True):
        x = x + (t_next - t) * v_fn(x, t)
        if after_step is not None:
            x = after_step(x, t_next)
    return x


@torch.no_grad()
def sample(
    model: UNet,
    n: int,
    seed: int,
    steps: int,
    labels: torch.Tensor | None = None,
    guidance_scale: float = 1.0,
    frame_every: int = 0,
    device: torch.device | str = "cpu",
    bf16: bool = False,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Euler sampling of a flow model from x_0 ~ N(0, I) (drawn on the CPU from ``seed``).

    With ``labels`` the velocity is CFG over one batched forward of the conditional and
    unconditional halves, v = v_u + gamma (v_c - v_u). Returns the samples (N, 1, 28, 28) and, if
    ``frame_every``, x_t every ``frame_every`` steps from x_0 (plus the last)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, 1, 28, 28), generator=g).to(device)
    net = guided(model, labels, guidance_scale, device, bf16)

    def v_fn(x_t, t):
        return net(x_t, torch.full((x_t.shape[0],), t, device=x_t.device))

    frames: list[torch.Tensor] = [x.cpu()] if frame_every else []
    done = [0]

    def record(x_next, t_next):
        done[0] += 1
        bar.update()
        if frame_every and (done[0] % frame_every == 0 or done[0] == steps):
            frames.append(x_next.cpu())
        return x_next

    kind = "flow Euler" if labels is None else f"flow Euler, CFG {guidance_scale:g}"
    with progress(desc=f"{kind}, batch {n}", total=steps) as bar:
        x = euler(v_fn, x, steps, record)
    return x, frames
