"""DDPM math, written once for Part A (any backend, strided timesteps) and Part B (MNIST).

Notation follows Ho et al. (2020) and the CS180 spec. Timesteps are 0-based array indices
``t in {0, ..., T-1}`` exactly as in diffusers' ``DDPMScheduler`` (so ``alphas_cumprod[t]`` is
alpha_bar_t), and the "previous" timestep of the last step is ``-1`` with alpha_bar_{-1} = 1.

* schedule          beta_t, alpha_t = 1 - beta_t, alpha_bar_t = prod_{s<=t} alpha_s
* forward (q)       x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
* x_0 estimate      x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t)
* posterior step    from t to t' < t (t' = t - 1 for plain DDPM, any t' for strided sampling):
                        alpha_t = alpha_bar_t / alpha_bar_t',   beta_t = 1 - alpha_t
                        x_t' = sqrt(alpha_bar_t') beta_t / (1 - alpha_bar_t) x0_hat
                             + sqrt(alpha_t) (1 - alpha_bar_t') / (1 - alpha_bar_t) x_t  + sigma_t z
* noise sigma_t     "fixed_large": sigma_t^2 = beta_t (spec Algorithm B.2);
                    "fixed_small": sigma_t^2 = beta~_t = (1 - alpha_bar_t') / (1 - alpha_bar_t) beta_t;
                    "learned_range": log sigma_t^2 = f log beta_t + (1 - f) log beta~_t,
                        f = (v + 1) / 2 with v the model's variance channels (DeepFloyd IF).
* DDIM step         (Song et al. 2021) from t to any t' < t, eta in [0, 1]:
                        sigma_t = eta sqrt((1 - alpha_bar_t') / (1 - alpha_bar_t))
                                      sqrt(1 - alpha_bar_t / alpha_bar_t')
                        x_t' = sqrt(alpha_bar_t') x0_hat + sqrt(1 - alpha_bar_t' - sigma_t^2) eps_hat
                             + sigma_t z
                    eta = 0: deterministic; eta = 1: sigma_t^2 = beta~_t and the step IS the
                    posterior step with "fixed_small" noise.
* fast samplers     N of the T steps: ``spaced_timesteps(T, N)`` (t_i = round(T - i T/N) - 1, then
                    -1), walked by ``sample_loop`` with the posterior step ("ddpm": strided
                    DDPM) or the DDIM step ("ddim").
* CFG               eps = eps_u + gamma (eps_c - eps_u)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from fundiff.diffusion.timesteps import (  # noqa: F401 (part of ddpm's API)
    spaced_timesteps,
    strided_timesteps,
)

VARIANCE_TYPES = ("fixed_large", "fixed_small", "learned_range")
SAMPLERS = ("ddpm", "ddim")


@dataclass(frozen=True)
class Schedule:
    """A discrete noise schedule; everything is derived from ``betas`` (float64 for exactness)."""

    betas: torch.Tensor

    @property
    def num_timesteps(self) -> int:
        return self.betas.shape[0]

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        return torch.cumprod(self.alphas, dim=0)

    def alpha_bar(self, t: torch.Tensor | int) -> torch.Tensor:
        """alpha_bar_t with alpha_bar_{-1} = 1 (works elementwise on a tensor of timesteps)."""
        t = torch.as_tensor(t, dtype=torch.long)
        ac = torch.cat([self.alphas_cumprod.new_ones(1), self.alphas_cumprod])
        return ac.to(t.device)[t + 1]

    @classmethod
    def linear(cls, beta_start: float, beta_end: float, num_timesteps: int) -> Schedule:
        """beta_t = linspace(beta_start, beta_end, T) (spec Part B: 1e-4, 0.02, 300)."""
        betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float32)
        return cls(betas.to(torch.float64))

    @classmethod
    def from_alphas_cumprod(cls, alphas_cumprod: torch.Tensor) -> Schedule:
        """Recover betas from a model's alpha_bar (e.g. DeepFloyd's scheduler.alphas_cumprod)."""
        ac = alphas_cumprod.to(torch.float64)
        prev = torch.cat([ac.new_ones(1), ac[:-1]])
        return cls(1.0 - ac / prev)


def full_timesteps(num_timesteps: int) -> list[int]:
    """[T-1, ..., 0, -1]: every step of plain DDPM sampling (spec Algorithm B.2, 0-based)."""
    return list(range(num_timesteps - 1, -2, -1))


def _bcast(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reshape per-sample coefficients (N,) or scalars to broadcast over x (N, C, H, W)."""
    v = v.to(device=x.device, dtype=x.dtype)
    return v.reshape(-1, *([1] * (x.ndim - 1))) if v.ndim else v


def q_sample(
    schedule: Schedule, x_0: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor
) -> torch.Tensor:
    """Forward process: x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps."""
    alpha_bar_t = _bcast(schedule.alpha_bar(t), x_0)
    return alpha_bar_t.sqrt() * x_0 + (1.0 - alpha_bar_t).sqrt() * eps


def predict_x0(
    schedule: Schedule, x_t: torch.Tensor, t: torch.Tensor | int, eps_hat: torch.Tensor
) -> torch.Tensor:
    """One-step denoise: x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t)."""
    alpha_bar_t = _bcast(schedule.alpha_bar(t), x_t)
    return (x_t - (1.0 - alpha_bar_t).sqrt() * eps_hat) / alpha_bar_t.sqrt()


def step_log_variance(
    schedule: Schedule,
    t: torch.Tensor | int,
    t_prev: torch.Tensor | int,
    variance_type: str = "fixed_large",
    predicted_variance: torch.Tensor | None = None,
) -> torch.Tensor:
    """log sigma_t^2 for the step t -> t_prev (see the module docstring for the three types).

    ``learned_range`` is DeepFloyd's: with f = (v + 1) / 2,
    log sigma^2 = f log beta_t + (1 - f) log max(beta~_t, 1e-20), beta_t = 1 - alpha_bar_t / alpha_bar_t'.
    It equals diffusers ``DDPMScheduler._get_variance(t, predicted_variance)`` when the scheduler's
    ``previous_timestep(t)`` is ``t_prev`` (i.e. after ``set_timesteps(timesteps=...)``).
    """
    alpha_bar_t, alpha_bar_prev = schedule.alpha_bar(t), schedule.alpha_bar(t_prev)
    beta_t = 1.0 - alpha_bar_t / alpha_bar_prev
    beta_tilde = ((1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t) * beta_t).clamp(min=1e-20)
    if variance_type == "fixed_large":
        return beta_t.log()
    if variance_type == "fixed_small":
        return beta_tilde.log()
    if variance_type == "learned_range":
        if predicted_variance is None:
            raise ValueError("variance_type 'learned_range' needs the model's predicted variance")
        frac = (predicted_variance + 1.0) / 2.0
        log_beta = _bcast(beta_t.log(), predicted_variance)
        log_beta_tilde = _bcast(beta_tilde.log(), predicted_variance)
        return frac * log_beta + (1.0 - frac) * log_beta_tilde
    raise ValueError(f"variance_type must be one of {VARIANCE_TYPES}, got {variance_type!r}")


def posterior_step(
    schedule: Schedule,
    x_t: torch.Tensor,
    t: torch.Tensor | int,
    t_prev: torch.Tensor | int,
    eps_hat: torch.Tensor,
    noise: torch.Tensor | None,
    variance_type: str = "fixed_large",
    predicted_variance: torch.Tensor | None = None,
    clip_x0: tuple[float, float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One (possibly strided) DDPM step x_t -> x_{t'}; returns (x_{t'}, x0_hat).

        alpha_t = alpha_bar_t / alpha_bar_t',  beta_t = 1 - alpha_t
        x_t' = sqrt(alpha_bar_t') beta_t / (1 - alpha_bar_t) x0_hat
             + sqrt(alpha_t) (1 - alpha_bar_t') / (1 - alpha_bar_t) x_t + sigma_t z

    ``noise`` is z ~ N(0, I) (pass None, or reach t_prev = -1, for the noise-free last step).
    ``clip_x0`` clamps x0_hat to a range first, as diffusers' ``clip_sample`` does.
    """
    alpha_bar_t = _bcast(schedule.alpha_bar(t), x_t)
    alpha_bar_prev = _bcast(schedule.alpha_bar(t_prev), x_t)
    alpha_t = alpha_bar_t / alpha_bar_prev
    beta_t = 1.0 - alpha_t
    x0_hat = predict_x0(schedule, x_t, t, eps_hat)
    if clip_x0 is not None:
        x0_hat = x0_hat.clamp(*clip_x0)
    mean = (alpha_bar_prev.sqrt() * beta_t / (1.0 - alpha_bar_t)) * x0_hat + (
        alpha_t.sqrt() * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t)
    ) * x_t
    t_prev_ = torch.as_tensor(t_prev)
    if noise is None or bool((t_prev_ < 0).all()):
        return mean, x0_hat
    log_var = step_log_variance(schedule, t, t_prev, variance_type, predicted_variance)
    if log_var.ndim < x_t.ndim:
        log_var = _bcast(log_var, x_t)
    sigma = (0.5 * log_var).exp().to(x_t.dtype)
    if t_prev_.ndim:  # per-sample: no noise for samples that reach the end
        sigma = sigma * _bcast((t_prev_ >= 0).to(x_t.dtype), x_t)
    return mean + sigma * noise, x0_hat


def ddim_sigma(
    schedule: Schedule, t: torch.Tensor | int, t_prev: torch.Tensor | int, eta: float
) -> torch.Tensor:
    """sigma_t = eta sqrt((1 - alpha_bar_t') / (1 - alpha_bar_t)) sqrt(1 - alpha_bar_t / alpha_bar_t')
    of the DDIM step t -> t' (Song et al. 2021, eq. 16); 0 at t' = -1 (alpha_bar_{-1} = 1)."""
    alpha_bar_t, alpha_bar_prev = schedule.alpha_bar(t), schedule.alpha_bar(t_prev)
    return (
        eta
        * ((1.0 - alpha_bar_prev) / (1.0 - alpha_bar_t)).sqrt()
        * (1.0 - alpha_bar_t / alpha_bar_prev).sqrt()
    )


def ddim_step(
    schedule: Schedule,
    x_t: torch.Tensor,
    t: torch.Tensor | int,
    t_prev: torch.Tensor | int,
    eps_hat: torch.Tensor,
    eta: float = 0.0,
    noise: torch.Tensor | None = None,
    clip_x0: tuple[float, float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One DDIM step x_t -> x_{t'} (Song et al. 2021, eq. 12); returns (x_{t'}, x0_hat).

        x0_hat  = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t)
        sigma_t = eta sqrt((1 - alpha_bar_t') / (1 - alpha_bar_t)) sqrt(1 - alpha_bar_t / alpha_bar_t')
        x_t'    = sqrt(alpha_bar_t') x0_hat + sqrt(1 - alpha_bar_t' - sigma_t^2) eps_hat + sigma_t z

    ``noise`` is z ~ N(0, I); it may be None when eta = 0 or t' = -1 (then sigma_t = 0).
    ``clip_x0`` clamps x0_hat and re-derives eps_hat = (x_t - sqrt(alpha_bar_t) x0_hat) /
    sqrt(1 - alpha_bar_t) from it (diffusers' ``clip_sample`` with
    ``use_clipped_model_output=True``). At t' = -1 the step returns x0_hat. 1 - alpha_bar_t' - sigma_t^2 = (1 - alpha_bar_t') alpha_bar_t (1 / alpha_bar_t'
    - 1) / (1 - alpha_bar_t) >= 0 for eta <= 1.
    """
    alpha_bar_t = _bcast(schedule.alpha_bar(t), x_t)
    alpha_bar_prev = _bcast(schedule.alpha_bar(t_prev), x_t)
    sigma_t = _bcast(ddim_sigma(schedule, t, t_prev, eta), x_t)
    x0_hat = predict_x0(schedule, x_t, t, eps_hat)
    if clip_x0 is not None:
        x0_hat = x0_hat.clamp(*clip_x0)
        eps_hat = (x_t - alpha_bar_t.sqrt() * x0_hat) / (1.0 - alpha_bar_t).sqrt()
    direction = (1.0 - alpha_bar_prev - sigma_t**2).clamp(min=0.0).sqrt() * eps_hat
    x_prev = alpha_bar_prev.sqrt() * x0_hat + direction
    if eta > 0 and bool((torch.as_tensor(t_prev) >= 0).any()):  # sigma_t = 0 at t' = -1
        if noise is None:
            raise ValueError("a DDIM step with eta > 0 needs noise z")
        x_prev = x_prev + sigma_t * noise
    return x_prev, x0_hat


def cfg(eps_u: torch.Tensor, eps_c: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: eps = eps_u + gamma (eps_c - eps_u)."""
    return eps_u + scale * (eps_c - eps_u)


def cfg_batched(
    model: Callable[[torch.Tensor, torch.Tensor, object], torch.Tensor],
    x_t: torch.Tensor,
    t: torch.Tensor,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """CFG with the conditional and unconditional halves in ONE batched forward.

    ``model(x, t, cond)`` must accept a batch; ``cond``/``uncond`` are batched along dim 0.
    Returns eps = eps_u + scale (eps_c - eps_u) for the N inputs.
    """
    n = x_t.shape[0]
    out = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([cond, uncond]))
    eps_c, eps_u = out[:n], out[n:]
    return cfg(eps_u, eps_c, scale)


EpsFn = Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor | None]]


def sample_loop(
    eps_fn: EpsFn,
    schedule: Schedule,
    x: torch.Tensor,
    timesteps: list[int],
    generator: torch.Generator,
    variance_type: str = "fixed_large",
    clip_x0: tuple[float, float] | None = None,
    after_step: Callable[[torch.Tensor, int, torch.Tensor], torch.Tensor] | None = None,
    sampler: str = "ddpm",
    eta: float = 0.0,
) -> torch.Tensor:
    """Iterative denoising along consecutive pairs (t, t') of ``timesteps``.

    ``eps_fn(x_t, t) -> (eps_hat, predicted_variance or None)`` hides the model (and any CFG,
    anagram or hybrid combination). Noise z is drawn from ``generator`` on the CPU, so a seed gives
    the same samples on any device. ``after_step(x_t', t', x0_hat)`` may rewrite x_t' (inpainting)
    or record frames; it returns the tensor to continue with.

    ``sampler`` "ddpm" takes :func:`posterior_step` (any stride: strided DDPM over a shorter list,
    ``variance_type`` as given), "ddim" :func:`ddim_step` with ``eta`` (no noise drawn at eta = 0;
    the predicted variance is ignored).
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    for t, t_prev in zip(timesteps[:-1], timesteps[1:], strict=True):
        eps_hat, predicted_variance = eps_fn(x, t)
        noise = None
        if t_prev >= 0 and (sampler == "ddpm" or eta > 0):
            noise = torch.randn(x.shape, generator=generator, dtype=torch.float32)
            noise = noise.to(device=x.device, dtype=x.dtype)
        if sampler == "ddim":
            x, x0_hat = ddim_step(schedule, x, t, t_prev, eps_hat, eta, noise, clip_x0)
        else:
            x, x0_hat = posterior_step(
                schedule, x, t, t_prev, eps_hat, noise, variance_type, predicted_variance, clip_x0
            )
        if after_step is not None:
            x = after_step(x, t_prev, x0_hat)
    return x
