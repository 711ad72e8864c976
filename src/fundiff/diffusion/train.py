"""Training of the Part B models: one loss per task, one loop for all of them.

The loss (:func:`loss_fn`); eps ~ N(0, I), t ~ U{0, ..., T-1}, abar_t = prod_{s<=t} (1 - beta_s):

* ``denoiser`` (spec B 1.2.1)    z = x + sigma eps,  L = ||D(z) - x||^2
* ``time`` (B 2.2)               x_t = sqrt(abar_t) x + sqrt(1 - abar_t) eps,
                                 L = ||eps_theta(x_t, t/T) - eps||^2
* ``class`` (B 2.4)              as ``time`` with eps_theta(x_t, t/T, c), the class c dropped
                                 (-1, "no class") with probability p_uncond
* ``flow_time``, ``flow_class``  rectified flow (beyond the spec, :mod:`fundiff.diffusion.flow`):
                                 x_t = t x_1 + (1 - t) x_0, x_0 noise, t ~ U[0, 1),
                                 L = ||v_theta(x_t, t[, c]) - (x_1 - x_0)||^2

Beyond the spec, off by default (the embedded preset turns them on for short CPU runs):

* LR warm-up      lr_s = lr_epoch * min(1, (s + 1) / W) for the first W = lr_warmup_steps steps
* EMA warm-up     W_ema <- d_n W_ema + (1 - d_n) W,  d_n = min(ema_decay, (1 + n) / (10 + n))
                  after n updates (the first update copies), so early epochs are not dominated
                  by the random initial weights
* Min-SNR-gamma   L = E[ min(SNR_t, gamma) / SNR_t ||eps_theta - eps||^2 ],
                  SNR_t = abar_t / (1 - abar_t)   (Hang et al. 2023; eps prediction)

The loop (:func:`train`): for each epoch, for each batch: loss -> Adam step -> EMA; then the
epoch's weights (:mod:`fundiff.diffusion.checkpoint`) and a resume state
(:mod:`fundiff.diffusion.resume`: an interrupted run continues bit-identically) are written. On
CUDA a step may be one CUDA-graph replay (:mod:`fundiff.diffusion.cuda_graph`). A loss that is
not finite stops training with one line (:class:`NonFiniteError`) before the epoch is saved.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from fundiff.device import determinism_facts
from fundiff.diffusion import ddpm, flow, resume
from fundiff.diffusion.checkpoint import save_epoch
from fundiff.diffusion.cuda_graph import GraphedTrainStep, uses_cuda_graph
from fundiff.diffusion.resume import TrainState
from fundiff.diffusion.unet import UNet
from fundiff.errors import UserError
from fundiff.progress import progress as progress_bar
from fundiff.seeds import offset_seed

TASKS = ("denoiser", "time", "class", "flow_time", "flow_class")
FLOW_TASKS = ("flow_time", "flow_class")  # rectified flow: same UNet and loop, another loss
log = logging.getLogger("fundiff")


class NonFiniteError(UserError, FloatingPointError):
    """Training met a number that is not finite (a NaN / inf loss, or such a setting)."""


@dataclass
class TrainConfig:
    task: str
    hidden: int
    batch_size: int
    epochs: int
    lr: float
    lr_decay_to: float | None = None  # ExponentialLR gamma = lr_decay_to ** (1 / epochs)
    sigma: float = 0.5  # denoiser noise level
    p_uncond: float = 0.1  # class: probability of dropping the class
    ema_decay: float = 0.0  # 0 = off
    ema_warmup: bool = False  # decay min(ema_decay, (1 + n) / (10 + n)) after n updates
    lr_warmup_steps: int = 0  # linear LR warm-up over the first steps (0 = off, the spec)
    min_snr_gamma: float | None = None  # Min-SNR-gamma loss weight (None = plain MSE, the spec)
    num_timesteps: int = 300
    beta_start: float = 1e-4
    beta_end: float = 0.02
    seed: int = 0
    channels_last: bool = False
    amp_bf16: bool = False  # bf16 autocast (resolved: the calibration rule measured it faster)
    threads: int = 0  # CPU threads the run was measured and made with (0: not recorded)
    cuda_graph: bool = False  # replay the whole training step as one CUDA graph (CUDA only)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.task in FLOW_TASKS and self.min_snr_gamma is not None:
            raise UserError(
                f"training {self.task}: min_snr_gamma weights the DDPM's noise loss by its SNR "
                "and does not apply to rectified flow; leave it null for the flow models"
            )
        for key, value in asdict(self).items():
            if isinstance(value, float) and not math.isfinite(value):
                raise NonFiniteError(
                    f"training {self.task}: {key} = {value} is not a finite number; set a finite "
                    f"value for it in the config (partb)"
                )

    def build_model(self) -> UNet:
        return UNet(
            1,
            self.hidden,
            time_cond=self.task != "denoiser",
            num_classes=10 if self.task in ("class", "flow_class") else 0,
        )

    def schedule(self) -> ddpm.Schedule:
        return ddpm.Schedule.linear(self.beta_start, self.beta_end, self.num_timesteps)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


_TABLES: dict = {}


def _alpha_bar_table(schedule: ddpm.Schedule, device: torch.device) -> torch.Tensor:
    """[1, alpha_bar_0, ..., alpha_bar_{T-1}] (float64) on ``device``, cached per schedule."""
    key = (id(schedule), str(device))
    hit = _TABLES.get(key)
    if hit is None or hit[0] is not schedule:
        table = schedule.alpha_bar(torch.arange(-1, schedule.num_timesteps)).to(device)
        hit = _TABLES[key] = (schedule, table)
    return hit[1]


def loss_fn(
    cfg: TrainConfig,
    model: torch.nn.Module,
    schedule: ddpm.Schedule,
    x0: torch.Tensor,
    labels: torch.Tensor,
    g: torch.Generator,
) -> torch.Tensor:
    """The task's loss on the data batch ``x0`` (the formulas above, averaged over the batch);
    draws eps, t and the class drops from ``g`` in that order (flow: :func:`flow.loss`)."""
    if cfg.task in FLOW_TASKS:  # x0 here is the data batch: flow's x_1
        cond = labels if cfg.task == "flow_class" else None
        return flow.loss(model, x0, cond, g, cfg.p_uncond)
    n, dev = x0.shape[0], x0.device
    eps = torch.randn(x0.shape, generator=g, device=dev)
    if cfg.task == "denoiser":
        return F.mse_loss(model(x0 + cfg.sigma * eps), x0)
    t = torch.randint(0, cfg.num_timesteps, (n,), generator=g, device=dev)
    # ddpm.q_sample with alpha_bar gathered from a device-resident table: no host-to-device
    # copy per step (on CUDA that copy would stall the launch queue every step)
    alpha_bar_t = _alpha_bar_table(schedule, dev)[t + 1].to(x0.dtype).reshape(-1, 1, 1, 1)
    x_t = alpha_bar_t.sqrt() * x0 + (1.0 - alpha_bar_t).sqrt() * eps
    t_in = t.to(torch.float32) / cfg.num_timesteps
    if cfg.task == "time":
        eps_hat = model(x_t, t_in)
    else:
        drop = torch.rand(n, generator=g, device=dev) < cfg.p_uncond
        c = torch.where(drop, torch.full_like(labels, -1), labels)
        eps_hat = model(x_t, t_in, c)
    if cfg.min_snr_gamma is None:
        return F.mse_loss(eps_hat, eps)
    return (
        min_snr_weight(alpha_bar_t.reshape(-1).float(), cfg.min_snr_gamma)
        * ((eps_hat.float() - eps) ** 2).mean(dim=(1, 2, 3))
    ).mean()


def min_snr_weight(alpha_bar_t: torch.Tensor, gamma: float) -> torch.Tensor:
    """Min-SNR-gamma weight of the eps loss: min(SNR_t, gamma) / SNR_t,
    SNR_t = abar_t / (1 - abar_t)."""
    snr = alpha_bar_t / (1.0 - alpha_bar_t)
    return snr.clamp(max=gamma) / snr


def ema_decay_at(decay: float, n, warmup: bool):
    """EMA decay of the update after ``n`` earlier ones: ``decay``, or with warm-up
    min(decay, (1 + n) / (10 + n)) (n may be a device tensor: no host sync)."""
    if not warmup:
        return decay
    return ((1.0 + n) / (10.0 + n)).clamp(max=decay)


def ema_multi_avg_fn(decay: float, warmup: bool = False):
    """``AveragedModel`` update W_ema <- d W_ema + (1 - d) W for every tensor (d: ema_decay_at).
    Integer buffers (BatchNorm's batch counter) are copied."""

    @torch.no_grad()
    def ema_update(ema_list, model_list, num_averaged):
        d = ema_decay_at(decay, num_averaged, warmup)
        if not torch.is_floating_point(ema_list[0]):
            for p_ema, p in zip(ema_list, model_list, strict=True):
                p_ema.copy_(p)
            return
        if isinstance(d, torch.Tensor):
            d = d.to(device=ema_list[0].device, dtype=ema_list[0].dtype)
        torch._foreach_mul_(ema_list, d)
        torch._foreach_add_(ema_list, torch._foreach_mul(model_list, 1.0 - d))

    return ema_update


def build_training(cfg: TrainConfig, device: torch.device):
    """Seeded model (channels_last if asked), Adam (fused on CUDA), per-epoch ExponentialLR and
    EMA: everything :func:`train` and the benchmarks step with. Returns
    (model, optimizer, lr_scheduler, ema or None, memory_format).

    With ``cfg.cuda_graph`` on CUDA, Adam is ``capturable`` with its learning rate in a device
    tensor (the LR scheduler fills it in place), so that a captured step sees each epoch's LR."""
    torch.manual_seed(cfg.seed)
    model = cfg.build_model().to(device)
    model = model.to(memory_format=cfg.memory_format)
    if uses_cuda_graph(cfg, device):
        lr = torch.tensor(cfg.lr, device=device)
        opt = torch.optim.Adam(model.parameters(), lr=lr, fused=True, capturable=True)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=device.type == "cuda")
    gamma = cfg.lr_decay_to ** (1.0 / cfg.epochs) if cfg.lr_decay_to else 1.0
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)
    ema = (
        AveragedModel(
            model, multi_avg_fn=ema_multi_avg_fn(cfg.ema_decay, cfg.ema_warmup), use_buffers=True
        )
        if cfg.ema_decay
        else None
    )
    return model, opt, sched, ema, cfg.memory_format


def autocast_for(cfg: TrainConfig, device: torch.device):
    """bf16 autocast when ``cfg.amp_bf16`` (resolved per machine by the calibration rule, see
    :func:`fundiff.device.choose_fastest`); a disabled context otherwise."""
    return torch.autocast(device.type, torch.bfloat16, enabled=bool(cfg.amp_bf16))


def train_step(
    cfg: TrainConfig,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    ema: AveragedModel | None,
    schedule: ddpm.Schedule,
    x0: torch.Tensor,
    labels: torch.Tensor,
    g: torch.Generator,
    autocast,
) -> torch.Tensor:
    """One optimisation step on a batch already on the device; returns the loss (no sync)."""
    with autocast:
        loss = loss_fn(cfg, model, schedule, x0, labels, g)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if ema is not None:
        ema.update_parameters(model)
    return loss


def set_warmup_lr(
    opt: torch.optim.Optimizer, epoch_lr: float, step: int, cfg: TrainConfig
) -> float:
    """LR of global step ``step`` (0-based): the epoch's LR times min(1, (step + 1) / W) during
    the W = ``cfg.lr_warmup_steps`` warm-up steps (then the LR scheduler's value). Written into the
    optimizer (in place for a capturable Adam's device LR); returns it."""
    w = cfg.lr_warmup_steps
    if not w or step > w:  # step == w restores the scheduler's LR after the warm-up
        return epoch_lr
    lr = epoch_lr * min(1.0, (step + 1) / w)
    write_lr(opt, lr)
    return lr


def write_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def check_finite(
    losses: list[float], cfg: TrainConfig, epoch: int, step: int, name: str | None = None
) -> None:
    """Stop with one line (:class:`NonFiniteError`) at the first loss that is NaN or infinite.
    ``name``: the model's config key (e.g. ``class_cond``), named in the message."""
    for i, loss in enumerate(losses):
        if not math.isfinite(loss):
            key = f"partb.{name}.lr" if name else "the model's lr"
            raise NonFiniteError(
                f"training {name or cfg.task + ' model'}: loss is {loss} at epoch {epoch}/"
                f"{cfg.epochs} (step {step + i + 1}); likely the learning rate is too high "
                f"(lr {cfg.lr:g}) or a config value is not finite; lower {key} or fix the config "
                f"and rerun (epoch {epoch} was not saved)"
            )


def fresh_state(cfg: TrainConfig, device: torch.device) -> TrainState:
    """A new training at epoch 0: :func:`build_training`'s model, optimizer, LR schedule and EMA,
    and the seeded generators of the batch order and of the loss's draws."""
    model, opt, sched, ema, _ = build_training(cfg, device)
    g_perm = torch.Generator().manual_seed(cfg.seed)
    g_noise = torch.Generator(device=device).manual_seed(offset_seed(cfg.seed, "train_noise"))
    return TrainState(model, opt, sched, ema, g_perm, g_noise)


def train(
    cfg: TrainConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    work_dir: str | Path,
    device: torch.device,
    progress: bool = True,
    compile: bool | str = False,
    name: str | None = None,
) -> list[dict]:
    """Train; after epoch e write ``work_dir/epoch_{e:03d}.pt`` (:func:`save_epoch`: weights, EMA
    if enabled, the run's :func:`fundiff.device.determinism_facts`) and ``work_dir/resume.pt``
    (:func:`fundiff.diffusion.resume.save`); return the per-step loss log. A usable resume state
    in ``work_dir`` is continued (:func:`fundiff.diffusion.resume.restore`); a NaN / inf loss
    raises :class:`NonFiniteError` naming ``name`` (the model's config key, e.g. ``class_cond``),
    before the epoch is saved.

    ``images`` uint8 (N, 28, 28) and ``labels`` int64 (N,) are moved to ``device`` once (the
    whole MNIST fits): batches are index gathers, no DataLoader and no per-batch copies.
    ``compile`` runs the training forward through ``torch.compile`` (True, or a mode such as
    "reduce-overhead" = CUDA graphs): a speed option for GPUs; kernels may round differently.
    ``cfg.cuda_graph`` (CUDA) replays each full-size step as one CUDA graph
    (:class:`fundiff.diffusion.cuda_graph.GraphedTrainStep`); a short last batch runs eagerly.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    fp = resume.fingerprint(cfg, images, device)
    x_all = (images.to(device, torch.float32) / 255.0).unsqueeze(1)
    y_all = labels.to(device)
    schedule = cfg.schedule()
    s = resume.restore(work_dir, fp, lambda: fresh_state(cfg, device), cfg.task)
    facts = determinism_facts(device, cfg.amp_bf16)
    log.info("determinism: %s", json.dumps(facts, sort_keys=True))

    n, bs = x_all.shape[0], cfg.batch_size
    steps_per_epoch = (n + bs - 1) // bs
    autocast = autocast_for(cfg, device)
    mode = compile if isinstance(compile, str) and compile != "default" else None
    fwd = torch.compile(s.model, mode=mode) if compile else s.model
    graphed = None
    if uses_cuda_graph(cfg, device):
        graphed = GraphedTrainStep(
            cfg, fwd, s.opt, s.ema, schedule, x_all, y_all, s.g_noise, cfg.memory_format
        )
    bar = progress_bar(
        total=cfg.epochs * steps_per_epoch,
        initial=s.epoch * steps_per_epoch,
        desc=f"train {cfg.task}",
        disable=not progress,
    )
    step = s.epoch * steps_per_epoch
    for epoch in range(s.epoch, cfg.epochs):
        s.model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=s.g_perm).to(device)
        losses, lrs, epoch_lr = [], [], float(s.sched.get_last_lr()[0])
        for i in range(steps_per_epoch):
            idx = perm[i * bs : (i + 1) * bs]
            if idx.numel() < 2:  # BatchNorm needs two samples
                continue
            lrs.append(set_warmup_lr(s.opt, epoch_lr, epoch * steps_per_epoch + i, cfg))
            if graphed is not None and idx.numel() == bs:
                loss = graphed(idx)
            else:
                x0 = x_all[idx].contiguous(memory_format=cfg.memory_format)
                loss = train_step(cfg, fwd, s.opt, s.ema, schedule, x0, y_all[idx], s.g_noise,
                                  autocast)  # fmt: skip
            losses.append(loss.detach())
            bar.update(1)
        # one device sync per epoch (not per step): the loss values are the same floats
        values = torch.stack(losses).tolist() if losses else []
        check_finite(values, cfg, epoch + 1, step, name)  # before anything of this epoch is saved
        for loss, lr in zip(values, lrs, strict=True):
            step += 1
            s.history.append({"step": step, "epoch": epoch + 1, "loss": loss, "lr": lr})
        write_lr(s.opt, epoch_lr)  # ExponentialLR decays the optimizer's LR: not a warm-up value
        s.sched.step()
        s.epoch = epoch + 1
        weights = (s.ema.module if s.ema is not None else s.model).state_dict()
        save_epoch(work_dir, s.epoch, cfg, s.model, weights, facts)
        resume.save(work_dir, fp, s)
        log.info(
            "epoch %d/%d  mean loss %.5f  (%.1f s)",
            s.epoch,
            cfg.epochs,
            sum(values) / max(1, len(values)),
            time.perf_counter() - t0,
        )
    bar.close()
    return s.history
