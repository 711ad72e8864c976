"""Timestep lists, torch-free: the workflow computes Part A's cells from them while parsing.

:mod:`fundiff.diffusion.ddpm` (the sampling math) and :mod:`fundiff.parta.layout` (the files a
rule declares) use these, so the timesteps a loop walks and the frames it saves are the ones the
workflow expects.
"""

from __future__ import annotations


def strided_timesteps(start: int, stride: int) -> list[int]:
    """[start, start - stride, ..., 0]: Part A uses strided_timesteps(990, 30) (34 entries).

    Sampling loops step along consecutive pairs (t, t') of such a list. A list ending in ``-1``
    (``ddpm.full_timesteps``) also takes the last, noise-free step to alpha_bar_{-1} = 1.
    """
    if start < 0 or stride <= 0:
        raise ValueError(
            f"strided_timesteps needs start >= 0 and stride > 0, got {start}, {stride}"
        )
    return list(range(start, -1, -stride))


def spaced_timesteps(num_timesteps: int, steps: int) -> list[int]:
    """``steps`` timesteps evenly spaced over a T-step schedule, then ``-1``: the list a fast
    sampler (strided DDPM, DDIM) walks in ``steps`` steps from t = T-1 to alpha_bar_{-1} = 1.

        t_i = round(T - i T / N) - 1,  i = 0 ... N-1   ("trailing" spacing, Lin et al. 2024)

    diffusers' ``timestep_spacing="trailing"``; it starts at T-1 (the noise the model was trained
    at), so N = T is ``ddpm.full_timesteps(T)`` and, when N divides T, it is
    ``strided_timesteps(T - 1, T // N) + [-1]``.
    """
    if not 1 <= steps <= num_timesteps:
        raise ValueError(
            f"a sampler over {num_timesteps} timesteps takes 1 to {num_timesteps} steps, got {steps}"
        )
    ratio = num_timesteps / steps
    return [round(num_timesteps - i * ratio) - 1 for i in range(steps)] + [-1]


def frame_steps(num_timesteps: int, frame_every: int) -> list[int]:
    """Indices into a loop's ``num_timesteps`` timesteps whose x_t is kept as a frame: the first
    and every ``frame_every``-th after it, never the last (that one is the result); none when
    ``frame_every`` is 0. The spec's 1.4 figure: i_start = 10, every 5th step of the 34 strided
    timesteps: t = 690, 540, 390, 240, 90."""
    if not frame_every:
        return []
    return [0, *range(frame_every, num_timesteps - 1, frame_every)]
