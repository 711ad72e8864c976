"""Part A sampling loops, written once against the :mod:`fundiff.parta.backends` interface.

All math comes from :mod:`fundiff.diffusion.ddpm` (q_sample, predict_x0, posterior_step, sample_loop, cfg);
this module only combines noise estimates (spec sections in brackets):

* forward          x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps            [1.1]
* blur_denoise     torchvision gaussian_blur of x_t                                    [1.2]
* one_step_denoise x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t)  [1.3]
* iterative_denoise strided DDPM steps from timesteps[i_start]                         [1.4]
* sample / sample_cfg  from pure noise; CFG eps = eps_u + gamma (eps_c - eps_u)        [1.5, 1.6]
* sdedit           q_sample to t = timesteps[i_start], then CFG denoising              [1.7]
* inpaint          after every step x_t' <- m x_t' + (1 - m) q_sample(x_orig, t')      [1.7.2]
* repaint_inpaint  the same, with RePaint's resampling: down j steps, back up j steps   [X4]
                   x_up = sqrt(abar_up / abar_t) x_t + sqrt(1 - abar_up / abar_t) z
* visual_anagram   eps = (CFG(x_t, p1) + V^-1(CFG(V(x_t), p2))) / 2, V in views.VIEWS  [1.8]
* hybrid           eps = lowpass(CFG(x_t, p1)) + highpass(CFG(x_t, p2))                [1.9]
* a0               text-to-image (the backend's pipeline or sample_a0), then stage II   [0]

Images are in the backend's model space (``backend.to_model``). The learned variance, when the
backend has one, always comes from p1's conditional branch (as the CS180 starter does). Every
random draw comes from an explicit CPU ``torch.Generator``. Every loop reports its steps to the
rule's log (:func:`fundiff.progress.progress`, throttled), named after what it does.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fundiff.diffusion import ddpm
from fundiff.diffusion.timesteps import frame_steps
from fundiff.parta import views
from fundiff.parta.backends import Backend
from fundiff.progress import progress
from fundiff.seeds import offset_seed

Prediction = tuple[torch.Tensor, torch.Tensor | None]
EpsFn = Callable[[torch.Tensor, int], Prediction]


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded ``seed`` (fundiff.seeds: which seed each stream uses)."""
    return torch.Generator().manual_seed(int(seed))


def randn(shape, generator: torch.Generator, like: torch.Tensor | None = None) -> torch.Tensor:
    """N(0, I) drawn on the CPU from ``generator`` (same numbers on any device)."""
    z = torch.randn(tuple(shape), generator=generator, dtype=torch.float32)
    return z if like is None else z.to(device=like.device, dtype=like.dtype)


def forward(backend: Backend, x_0: torch.Tensor, t: int, generator: torch.Generator):
    """Noise x_0 to timestep t (spec A.2)."""
    return ddpm.q_sample(backend.schedule, x_0, t, randn(x_0.shape, generator, x_0))


def blur_denoise(x_t: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """Classical baseline: a Gaussian blur (torchvision)."""
    from torchvision.transforms.functional import gaussian_blur  # here: a slow import

    return gaussian_blur(x_t, [kernel_size, kernel_size], [sigma, sigma])


def highpass(x: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """x - lowpass(x), so lowpass + highpass reconstructs x."""
    return x - blur_denoise(x, kernel_size, sigma)


def cond_eps_fn(backend: Backend, cond: torch.Tensor) -> EpsFn:
    """Plain conditional estimate eps_theta(x_t, t, c) (no guidance)."""
    return lambda x_t, t: backend.predict(x_t, t, cond)


def cfg_predict(
    backend: Backend, x_t: torch.Tensor, t: int, cond: torch.Tensor, uncond: torch.Tensor, scale
) -> Prediction:
    """CFG in ONE batched forward (ddpm.cfg_batched); variance of the conditional branch."""
    n, branch = x_t.shape[0], {}

    def model(x, _t, c):
        branch["eps"], branch["var"] = backend.predict(x, t, c)
        return branch["eps"]

    t_vec = torch.full((n,), t)
    eps_hat = ddpm.cfg_batched(model, x_t, t_vec, cond, uncond, scale)
    var = branch["var"]
    return eps_hat, None if var is None else var[:n]


def cfg_eps_fn(backend: Backend, cond, uncond, scale: float) -> EpsFn:
    return lambda x_t, t: cfg_predict(backend, x_t, t, cond, uncond, scale)


def anagram_eps_fn(
    backend: Backend, cond1, cond2, uncond, scale: float, view: str = "flip"
) -> EpsFn:
    """eps = (CFG(x_t, p1) + V^-1(CFG(V(x_t), p2))) / 2 with V = ``views.view(view)`` (the
    spec: flip) and V^-1 its inverse (``views.inverse``: rotate90's is rotate -90; flip,
    rotate180 and negate are their own), both views in one forward."""
    turn, unturn = views.view(view), views.inverse(view)

    def eps_fn(x_t, t):
        n = x_t.shape[0]
        both = torch.cat([x_t, turn(x_t)])
        eps, var = cfg_predict(
            backend, both, t, torch.cat([cond1, cond2]), torch.cat([uncond, uncond]), scale
        )
        eps_hat = (eps[:n] + unturn(eps[n:])) / 2.0
        return eps_hat, None if var is None else var[:n]

    return eps_fn


def hybrid_eps_fn(
    backend: Backend, cond1, cond2, uncond, scale: float, kernel_size: int, sigma: float
) -> EpsFn:
    """eps = lowpass(CFG(x_t, p1)) + highpass(CFG(x_t, p2)) (factorized diffusion)."""

    def eps_fn(x_t, t):
        n = x_t.shape[0]
        eps, var = cfg_predict(
            backend,
            torch.cat([x_t, x_t]),
            t,
            torch.cat([cond1, cond2]),
            torch.cat([uncond, uncond]),
            scale,
        )
        eps_hat = blur_denoise(eps[:n], kernel_size, sigma) + highpass(eps[n:], kernel_size, sigma)
        return eps_hat, None if var is None else var[:n]

    return eps_fn


@torch.no_grad()
def one_step_denoise(backend: Backend, x_t: torch.Tensor, t: int, cond: torch.Tensor):
    """x0_hat from a single noise estimate (spec 1.3)."""
    eps_hat, _ = backend.predict(x_t, t, cond)
    return ddpm.predict_x0(backend.schedule, x_t, t, eps_hat)


@torch.no_grad()
def denoise_loop(
    backend: Backend,
    x_t: torch.Tensor,
    i_start: int,
    timesteps: list[int],
    eps_fn: EpsFn,
    generator: torch.Generator,
    frame_every: int = 0,
    after_step: Callable | None = None,
    desc: str = "denoising",
) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor]]]:
    """Strided DDPM from t = timesteps[i_start] to timesteps[-1] with any noise estimate.

    Returns the final x and the frames [(t, x_t)] at i_start and every ``frame_every``-th step
    after it (the spec's 1.4 figure: i_start = 10, every 5th step: t = 690, 540, 390, 240, 90).
    The steps are reported to the rule's log as "``desc``, batch N".
    """
    ts = timesteps[i_start:]
    shown = set(frame_steps(len(ts), frame_every))  # the workflow declares the same frames
    frames = [(ts[0], x_t.cpu())] if 0 in shown else []
    step = {"i": 0}

    def hook(x, t_prev, x0_hat):
        step["i"] += 1
        bar.update()
        if after_step is not None:
            x = after_step(x, t_prev, x0_hat)
        if step["i"] in shown:
            frames.append((t_prev, x.cpu()))
        return x

    with progress(desc=f"{desc}, batch {x_t.shape[0]}", total=len(ts) - 1) as bar:
        x = ddpm.sample_loop(
            eps_fn, backend.schedule, x_t, ts, generator, backend.variance_type, None, hook
        )
    return x, frames


def iterative_denoise(
    backend: Backend,
    x_t: torch.Tensor,
    i_start: int,
    timesteps: list[int],
    cond: torch.Tensor,
    generator: torch.Generator,
    frame_every: int = 0,
    desc: str = "iterative denoising",
) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor]]]:
    """Spec 1.4 (no guidance): denoise x_t, which is at t = timesteps[i_start]."""
    eps_fn = cond_eps_fn(backend, cond)
    return denoise_loop(backend, x_t, i_start, timesteps, eps_fn, generator, frame_every, desc=desc)


def iterative_denoise_cfg(
    backend: Backend,
    x_t: torch.Tensor,
    i_start: int,
    timesteps: list[int],
    cond: torch.Tensor,
    uncond: torch.Tensor,
    generator: torch.Generator,
    scale: float = 7.0,
    frame_every: int = 0,
    desc: str = "CFG denoising",
):
    """Spec 1.6: iterative_denoise with CFG (one batched forward of cond + uncond per step)."""
    eps_fn = cfg_eps_fn(backend, cond, uncond, scale)
    return denoise_loop(backend, x_t, i_start, timesteps, eps_fn, generator, frame_every, desc=desc)


def noise(backend: Backend, n: int, generator: torch.Generator) -> torch.Tensor:
    """x_T ~ N(0, I) in the backend's image shape, on its device."""
    shape = (n, backend.channels, backend.image_size, backend.image_size)
    return randn(shape, generator).to(backend.device)


def sample(backend, cond, timesteps, generator) -> torch.Tensor:
    """Spec 1.5: iterative_denoise from pure noise (i_start = 0)."""
    x_T = noise(backend, cond.shape[0], generator)
    return iterative_denoise(backend, x_T, 0, timesteps, cond, generator, desc="sampling")[0]


def sample_cfg(backend, cond, uncond, timesteps, generator, scale: float = 7.0) -> torch.Tensor:
    """Spec 1.6: CFG sampling from pure noise."""
    x_T = noise(backend, cond.shape[0], generator)
    return iterative_denoise_cfg(
        backend, x_T, 0, timesteps, cond, uncond, generator, scale, desc="CFG sampling"
    )[0]


def sdedit(
    backend, x_0, i_start, timesteps, cond, uncond, generator, scale: float = 7.0
) -> torch.Tensor:
    """Spec 1.7: x_t = q_sample(x_0, timesteps[i_start]) then CFG denoising from i_start."""
    x_t = forward(backend, x_0, timesteps[i_start], generator)
    desc = f"SDEdit from i_start {i_start}"
    return iterative_denoise_cfg(
        backend, x_t, i_start, timesteps, cond, uncond, generator, scale, desc=desc
    )[0]


def known_replacement(backend, x_orig, mask, last: int, known_generator, on_step=None):
    """The spec's inpainting rule as a step hook: x_t' <- m x_t' + (1 - m) q_sample(x_orig, t')
    (eps' from ``known_generator``), and x <- m x + (1 - m) x_orig at t' = ``last``."""
    m = mask.to(x_orig.device, x_orig.dtype)

    def replace(x, t_prev, x0_hat):
        if t_prev == last:
            known = x_orig
        else:
            known = ddpm.q_sample(
                backend.schedule, x_orig, t_prev, randn(x.shape, known_generator, x)
            )
        x = m * x + (1.0 - m) * known
        if on_step is not None:
            on_step(t_prev, x)
        return x

    return replace


@torch.no_grad()
def inpaint(
    backend: Backend,
    x_orig: torch.Tensor,
    mask: torch.Tensor,
    timesteps: list[int],
    cond: torch.Tensor,
    uncond: torch.Tensor,
    generator: torch.Generator,
    known_generator: torch.Generator,
    scale: float = 7.0,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """Spec 1.7.2 (RePaint rule), mask m = 1 where new content is generated.

    Start from pure noise; after every step t -> t' set x_t' <- m x_t' + (1 - m) x_orig,t'
    with x_orig,t' = q_sample(x_orig, t', eps'), eps' drawn from ``known_generator``. After the
    last step x <- m x + (1 - m) x_orig, so the kept region is exactly the original.
    ``on_step(t', x_t')`` sees every x_t' after the replacement. It is :func:`repaint_inpaint`
    with one resampling (RePaint's schedule is then the plain descent).
    """
    return repaint_inpaint(
        backend, x_orig, mask, timesteps, cond, uncond, generator, known_generator, scale,
        on_step=on_step,
    )  # fmt: skip


def repaint_schedule(num_steps: int, jump_length: int, resamplings: int) -> list[int]:
    """The indices into the strided timestep list that RePaint visits (Lugmayr et al. 2022,
    Algorithm 1 with its "jump" schedule; diffusers' ``RePaintScheduler.set_timesteps``).

    ``num_steps`` = K denoising steps (the list has K + 1 entries, index 0 = pure noise,
    K = the end). Counting u = steps still to go (K .. 0): every time u reaches a multiple of
    ``jump_length`` j below K - j (0 included: the finished image), the walk goes back up j
    steps, ``resamplings`` - 1 times at each such u. ``resamplings`` = 1 (or j >= K): the plain
    walk [0, 1, ..., K], the spec's one-pass rule.
    """
    if jump_length < 1 or resamplings < 1:
        raise ValueError("jump_length and resamplings must be >= 1")
    jumps = {u: resamplings - 1 for u in range(0, num_steps - jump_length, jump_length)}
    u, visits = num_steps, [0]
    while u >= 1:
        u -= 1
        visits.append(num_steps - u)
        if jumps.get(u, 0) > 0:
            jumps[u] -= 1
            for _ in range(jump_length):
                u += 1
                visits.append(num_steps - u)
    return visits


def schedule_runs(visits: list[int]) -> list[tuple[int, int]]:
    """A walk split into its maximal monotone runs (first index, last index): down the chain
    when last > first, back up otherwise; consecutive runs share their end points."""
    runs, start = [], 0
    for k in range(1, len(visits)):
        if k + 1 == len(visits) or (visits[k + 1] > visits[k]) != (visits[k] > visits[k - 1]):
            runs.append((visits[start], visits[k]))
            start = k
    return runs


def forward_jump(
    schedule: ddpm.Schedule, x_t: torch.Tensor, t: int, t_up: int, z: torch.Tensor
) -> torch.Tensor:
    """RePaint's jump back up the chain, q(x_{t_up} | x_t) for t_up > t (the forward process
    from t to t_up in one draw):

        x_{t_up} = sqrt(abar_{t_up} / abar_t) x_t + sqrt(1 - abar_{t_up} / abar_t) z,  z ~ N(0, I)

    Composed with q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) it gives
    N(sqrt(abar_{t_up}) x_0, (1 - abar_{t_up}) I) = q(x_{t_up} | x_0): the mean factors
    multiply and the variances add, (abar_up / abar_t)(1 - abar_t) + 1 - abar_up / abar_t
    = 1 - abar_up. (abar_{-1} = 1: ddpm.Schedule.alpha_bar.)
    """
    ratio = (schedule.alpha_bar(t_up) / schedule.alpha_bar(t)).to(x_t.device, x_t.dtype)
    return ratio.sqrt() * x_t + (1.0 - ratio).sqrt() * z


@torch.no_grad()
def repaint_inpaint(
    backend: Backend,
    x_orig: torch.Tensor,
    mask: torch.Tensor,
    timesteps: list[int],
    cond: torch.Tensor,
    uncond: torch.Tensor,
    generator: torch.Generator,
    known_generator: torch.Generator,
    scale: float = 7.0,
    jump_length: int = 1,
    resamplings: int = 1,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """:func:`inpaint` with RePaint's resampling (mask m = 1 where new content is generated).

    Walks :func:`repaint_schedule` over ``timesteps``: each run of descending indices is the
    spec's loop (one strided DDPM step, then x_t' <- m x_t' + (1 - m) q_sample(x_orig, t'),
    the exact original after the last step), each run of ascending indices one
    :func:`forward_jump` from its first to its last timestep (z from ``generator``), which
    lets the model harmonise the generated region with the re-noised known one before it
    steps down again. ``resamplings`` = 1 is :func:`inpaint` exactly (same draws, same order).
    ``on_step(t, x_t)`` sees every state after a step (replacement done) or a jump.
    """
    replace = known_replacement(backend, x_orig, mask, timesteps[-1], known_generator, on_step)

    visits = repaint_schedule(len(timesteps) - 1, jump_length, resamplings)
    x = noise(backend, x_orig.shape[0], generator).to(x_orig.dtype)
    eps_fn = cfg_eps_fn(backend, cond, uncond, scale)
    for a, b in schedule_runs(visits):
        if b > a:  # down the chain: the spec's loop over timesteps[a .. b]
            x = denoise_loop(
                backend, x, 0, timesteps[a : b + 1], eps_fn, generator, after_step=replace,
                desc="inpainting" if resamplings == 1 else "RePaint inpainting",
            )[0]  # fmt: skip
        else:  # back up: one jump from timesteps[a] to timesteps[b]
            z = randn(x.shape, generator, x)
            x = forward_jump(backend.schedule, x, timesteps[a], timesteps[b], z)
            if on_step is not None:
                on_step(timesteps[b], x)
    return x


def visual_anagram(
    backend, cond1, cond2, uncond, timesteps, generator, scale: float = 7.0, view: str = "flip"
):
    """Spec 1.8: an image that shows p1 upright and p2 through ``view`` (views.VIEWS)."""
    x_T = noise(backend, cond1.shape[0], generator)
    eps_fn = anagram_eps_fn(backend, cond1, cond2, uncond, scale, view)
    return denoise_loop(backend, x_T, 0, timesteps, eps_fn, generator, desc="visual anagram")[0]


def hybrid(
    backend,
    cond1,
    cond2,
    uncond,
    timesteps,
    generator,
    scale: float = 7.0,
    kernel_size: int = 33,
    sigma: float = 2.0,
):
    """Spec 1.9: p1 seen from far (low frequencies), p2 up close (high frequencies)."""
    x_T = noise(backend, cond1.shape[0], generator)
    eps_fn = hybrid_eps_fn(backend, cond1, cond2, uncond, scale, kernel_size, sigma)
    return denoise_loop(backend, x_T, 0, timesteps, eps_fn, generator, desc="hybrid image")[0]


def leading_timesteps(num_train_timesteps: int, num_inference_steps: int) -> list[int]:
    """diffusers' "leading" spacing for n steps: [(n-1) k, ..., k, 0], k = T // n (A0)."""
    k = num_train_timesteps // num_inference_steps
    if k < 1:
        raise ValueError(
            f"num_inference_steps {num_inference_steps} exceeds the {num_train_timesteps} "
            "training timesteps"
        )
    return ddpm.strided_timesteps((num_inference_steps - 1) * k, k)


def a0_timesteps(num_train_timesteps: int, num_inference_steps: int) -> list[int]:
    """A0's "N steps" for our own loop: the leading timesteps, then -1.

    The loops step along consecutive pairs, so this is exactly N model calls, the last at t = 0,
    whose step goes to alpha_bar_{-1} = 1 without noise: x = x0_hat, as diffusers'
    ``DDPMScheduler.step`` does at t = 0. (The spec's strided list of 1.4 - 1.9 ends at 0
    instead: its last call is at t = 30 and that step to t' = 0 adds noise, as the starter's.)
    """
    return leading_timesteps(num_train_timesteps, num_inference_steps) + [-1]


def sample_a0(backend, cond, uncond, num_inference_steps: int, generator, scale: float = 7.0):
    """A0 with our own loop (a backend without a text-to-image pipeline: mnist): CFG sampling
    from pure noise over :func:`a0_timesteps`, i.e. N model calls ending at t = 0."""
    ts = a0_timesteps(backend.schedule.num_timesteps, num_inference_steps)
    x_T = noise(backend, cond.shape[0], generator)
    desc = f"A0, {num_inference_steps} steps"
    return iterative_denoise_cfg(backend, x_T, 0, ts, cond, uncond, generator, scale, desc=desc)[0]


def a0(backend: Backend, prompts, steps: int, stage2_steps: int, seed: int, scale: float):
    """Spec 0: text-to-image for ``prompts`` with ``steps`` steps, then stage II when the backend
    has one; returns (stage-I images, stage-II images or None), in model space.

    Stage I is ``backend.text_to_image`` (DeepFloyd: diffusers' IFPipeline; mnist: our loop)
    from a generator seeded ``seed``; stage II gets stage I's output as it is (unclamped, as the
    starter passes it) and its own generator, seeded ``offset_seed(seed, "stage2")``.
    """
    x = backend.text_to_image(prompts, steps, scale, generator(seed))
    g2 = generator(offset_seed(seed, "stage2"))
    return x, backend.upsample(x, prompts, stage2_steps, g2)
