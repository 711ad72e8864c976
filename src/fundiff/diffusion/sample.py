"""Part B experiments on top of the library: noising, one-step denoising, DDPM sampling + CFG."""

from __future__ import annotations

import torch

from fundiff.diffusion import ddpm
from fundiff.diffusion.unet import UNet, forward_chunked, guided
from fundiff.progress import progress


def add_noise(x: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """z = x + sigma eps (spec B 1.2), eps ~ N(0, I) from ``generator`` (CPU)."""
    return x + sigma * torch.randn(x.shape, generator=generator).to(x.device)


@torch.no_grad()
def denoise(model: UNet, z: torch.Tensor) -> torch.Tensor:
    return model(z)


@torch.no_grad()
def sample(
    model: UNet,
    schedule: ddpm.Schedule,
    n: int,
    seed: int,
    labels: torch.Tensor | None = None,
    guidance_scale: float = 1.0,
    frame_every: int = 0,
    device: torch.device | str = "cpu",
    clip_x0: tuple[float, float] | None = None,
    bf16: bool = False,
    sampler: str = "ddpm",
    steps: int | None = None,
    eta: float = 0.0,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """DDPM sampling (spec Algorithm B.2; B.4 with ``labels``): x_T ~ N(0, I), t = T-1 ... 0.

    Fast samplers (beyond the spec): ``steps`` = N < T walks ``ddpm.spaced_timesteps(T, N)``
    with ``sampler`` "ddpm" (strided posterior steps) or "ddim" (DDIM steps with ``eta``); the
    defaults (all T steps, "ddpm") are the spec's sampler, unchanged.

    With ``labels`` the noise estimate is CFG over one batched forward of conditional and
    unconditional halves: eps = eps_u + gamma (eps_c - eps_u). Returns the samples (N, 1, 28, 28)
    and, if ``frame_every``, the sequence of x_t at every t' divisible by ``frame_every`` (plus
    the last).
    ``bf16`` runs the UNet under bf16 autocast (the step math stays float32). The T steps are
    reported to the rule's log (:func:`fundiff.progress.progress`, throttled).
    """
    g = torch.Generator().manual_seed(seed)
    T = schedule.num_timesteps
    x = torch.randn((n, 1, 28, 28), generator=g).to(device)
    net = guided(model, labels, guidance_scale, device, bf16)

    def eps_fn(x_t, t):
        return net(x_t, torch.full((x_t.shape[0],), t / T, device=x_t.device)), None

    frames: list[torch.Tensor] = [x.cpu()] if frame_every else []

    def record(x_prev, t_prev, x0_hat):
        bar.update()
        if frame_every and (t_prev % frame_every == 0 or t_prev < 0):
            frames.append(x_prev.cpu())
        return x_prev

    timesteps = ddpm.spaced_timesteps(T, steps or T)  # all T steps: ddpm.full_timesteps(T)
    kind = "DDPM sampling" if sampler == "ddpm" else f"DDIM sampling (eta {eta:g})"
    kind += "" if len(timesteps) - 1 == T else f", {len(timesteps) - 1} steps"
    kind += "" if labels is None else f", CFG {guidance_scale:g}"
    with progress(desc=f"{kind}, batch {n}", total=len(timesteps) - 1) as bar:
        x = ddpm.sample_loop(
            eps_fn, schedule, x, timesteps, g, "fixed_large", clip_x0, record, sampler, eta
        )
    return x, frames


def class_grid_labels(per_class: int, num_classes: int = 10) -> torch.Tensor:
    """Labels for a per_class x num_classes grid: row r holds digits 0..9 (make_grid nrow=10)."""
    return torch.arange(num_classes).repeat(per_class)


# Title of each task's loss curve (what its loss regresses).
LOSS_TITLES = {
    "denoiser": "Single-step denoiser (L2 to the clean digit)",
    "time": "Time-conditioned DDPM (L2 to the noise)",
    "class": "Class-conditioned DDPM (L2 to the noise)",
    "flow_time": "Time-conditioned rectified flow (L2 to the velocity)",
    "flow_class": "Class-conditioned rectified flow (L2 to the velocity)",
}
# Training settings that matter for each task (shown beside its loss curve in the writeup).
_TRAIN_KEYS = {
    "denoiser": ["hidden", "batch_size", "epochs", "lr", "lr_decay_to", "sigma", "seed"],
    "time": ["hidden", "batch_size", "epochs", "lr", "lr_decay_to", "ema_decay", "seed"],
    "class": ["hidden", "batch_size", "epochs", "lr", "lr_decay_to", "ema_decay", "p_uncond"],
    "flow_time": ["hidden", "batch_size", "epochs", "lr", "lr_decay_to", "ema_decay", "seed"],
    "flow_class": [
        "hidden",
        "batch_size",
        "epochs",
        "lr",
        "lr_decay_to",
        "ema_decay",
        "p_uncond",
        "seed",
    ],  # fmt: skip
}
_SCHEDULE_KEYS = ["num_timesteps", "beta_start", "beta_end"]
# beyond-the-spec options: shown only when on (their off value is the spec's)
_OPTIONAL_KEYS = ["lr_warmup_steps", "ema_warmup", "min_snr_gamma"]


def train_report_params(train: dict) -> dict:
    """The subset of a rule's ``train`` params that defines the run of its task, with the
    measured precision and the planned threads per job last."""
    keys = list(_TRAIN_KEYS[train["task"]])
    if train["task"] in ("time", "class"):  # the DDPMs (flow has no noise schedule)
        keys += _SCHEDULE_KEYS
    if train["task"] == "class":
        keys.append("seed")
    keys += [k for k in _OPTIONAL_KEYS if train.get(k)]
    out = {k: train[k] for k in keys if k in train}
    if "amp_bf16" in train:
        out["precision"] = "bf16 autocast" if train["amp_bf16"] else "fp32"
    if train.get("threads"):
        out["threads per job"] = train["threads"]
    return out


@torch.no_grad()
def time_sampling_forward(
    hidden: int, bf16: bool, rows: int = 50, reps: int = 8, rounds: int = 3, seed: int = 0
) -> float:
    """Sampling throughput (images/s) of a class-conditioned UNet(D = ``hidden``) forward on a
    CPU chunk of ``rows`` (fp32, or bf16 autocast): the median of ``rounds`` timings of ``reps``
    forwards. The calibration rule keeps whichever precision samples faster on this machine."""
    import statistics
    import time

    torch.manual_seed(seed)
    model = UNet(1, hidden, time_cond=True, num_classes=10).eval()
    x, t = torch.randn(rows, 1, 28, 28), torch.rand(rows)
    c = torch.randint(0, 10, (rows,))
    forward_chunked(model, x, t, c, bf16=bf16)  # warm-up (oneDNN primitive creation)
    rates = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            forward_chunked(model, x, t, c, bf16=bf16)
        rates.append(reps * rows / (time.perf_counter() - t0))
    return statistics.median(rates)
