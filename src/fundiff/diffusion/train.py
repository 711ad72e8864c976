"""Resumable training for the three Part B models (one loop, three losses).

* ``denoiser``  z = x + sigma eps,                       L = ||D(z) - x||^2          (spec B 1.2.1)
* ``time``      x_t = sqrt(abar_t) x + sqrt(1-abar_t) eps, L = ||eps_theta(x_t, t/T) - eps||^2  (B 2.2)
* ``class``     as ``time`` with c one-hot, dropped (zeroed) with probability p_uncond       (B 2.4)
* ``flow_time`` / ``flow_class``  rectified flow (beyond the spec, :mod:`fundiff.diffusion.flow`):
                x_t = t x_1 + (1-t) x_0, L = ||v_theta(x_t, t[, c]) - (x_1 - x_0)||^2, x_0 noise

Beyond the spec, off by default (the embedded preset turns them on for short CPU runs):
* LR warm-up      lr_s = lr_epoch * min(1, (s + 1) / W) for the first W = lr_warmup_steps steps
* EMA warm-up     W_ema <- d_n W_ema + (1 - d_n) W,  d_n = min(ema_decay, (1 + n) / (10 + n))
                  after n updates (the first update copies), so early epochs are not dominated
                  by the random initial weights
* Min-SNR-gamma   L = E[ min(SNR_t, gamma) / SNR_t ||eps_theta - eps||^2 ],
                  SNR_t = alpha_bar_t / (1 - alpha_bar_t)   (Hang et al. 2023; eps prediction)

After every epoch the loop writes the epoch's weights and a resume state (model, optimizer,
LR scheduler, EMA, RNG states, loss history), both atomically (fsynced); the previous epoch's state
is kept beside it. If a resume state with the same fingerprint (training config + data + library
source + device type, torch version, threads and precision) exists, training continues from it and
ends bit-identical to an uninterrupted run. A state that cannot be used (torn, empty, another
device or config, not plain tensors: it is read with ``weights_only=True``) is logged on one line
and moved aside (``resume.pt.bad-<time>``, never deleted); training then resumes from the previous
epoch's state, or starts afresh. A loss that is not finite stops training with one line
(:class:`NonFiniteError`) before the epoch is saved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from fundiff.device import determinism_facts
from fundiff.diffusion import ddpm, flow
from fundiff.diffusion.unet import UNet
from fundiff.errors import CheckpointError, UserError, first_line
from fundiff.io import torch_save, write_bytes
from fundiff.progress import progress as progress_bar
from fundiff.seeds import offset_seed

TASKS = ("denoiser", "time", "class", "flow_time", "flow_class")
FLOW_TASKS = ("flow_time", "flow_class")  # rectified flow: same UNet and loop, another loss
log = logging.getLogger("fundiff")
RESUME, PREVIOUS = "resume.pt", "resume.prev.pt"  # the resume state, and the epoch before's


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


def source_fingerprint() -> str:
    """Hash of this package's source: a code change never resumes an older run's state."""
    h = hashlib.sha256()
    for p in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def fingerprint(cfg: TrainConfig, images: torch.Tensor, device: torch.device | str = "cpu") -> str:
    """Identity of a training run: a resume state continues only a run with the same one. Beyond
    the config, data and library source it covers what decides the exact numbers: device type,
    torch version, intra-op threads and precision (bf16 autocast or fp32)."""
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    h.update(images.numpy().tobytes())
    h.update(source_fingerprint().encode())
    facts = {
        "device": torch.device(device).type,
        "torch": str(torch.__version__),
        "threads": torch.get_num_threads(),
        "bf16": bool(cfg.amp_bf16),
    }
    h.update(json.dumps(facts, sort_keys=True).encode())
    return h.hexdigest()[:16]


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
    """Min-SNR-gamma weight of the eps loss: min(SNR_t, gamma) / SNR_t, SNR_t = abar / (1 - abar)."""
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


def uses_cuda_graph(cfg: TrainConfig, device: torch.device) -> bool:
    return cfg.cuda_graph and device.type == "cuda"


def build_training(cfg: TrainConfig, device: torch.device):
    """Seeded model (channels_last if asked), Adam (fused on CUDA), per-epoch ExponentialLR and
    EMA: everything :func:`train` and the benchmarks step with. Returns
    (model, optimizer, lr_scheduler, ema or None, memory_format).

    With ``cfg.cuda_graph`` on CUDA, Adam is ``capturable`` with its learning rate in a device
    tensor (the LR scheduler fills it in place), so that a captured step sees each epoch's LR."""
    torch.manual_seed(cfg.seed)
    model = cfg.build_model().to(device)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
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
    return model, opt, sched, ema, memory_format


def autocast_for(cfg: TrainConfig, device: torch.device):
    """bf16 autocast when ``cfg.amp_bf16`` (resolved per machine by the calibration rule, see
    :func:`fundiff.device.choose_layout`); a disabled context otherwise."""
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


def time_train_steps(
    cfg: TrainConfig, device: torch.device, steps: int = 12, warmup: int = 4, rounds: int = 2
) -> float:
    """Training throughput (images/s) of :func:`train_step` for ``cfg`` on random digits: the
    median of ``rounds`` timings of ``steps`` steps after ``warmup`` untimed ones. Used by the
    calibration rule to choose precision and threads by measurement (fundiff.device.choose_layout).
    """
    import statistics

    model, opt, _, ema, memory_format = build_training(cfg, device)
    schedule = cfg.schedule()
    g = torch.Generator(device=device).manual_seed(cfg.seed)
    x0 = torch.rand((cfg.batch_size, 1, 28, 28), generator=g, device=device)
    x0 = x0.contiguous(memory_format=memory_format)
    labels = torch.randint(0, 10, (cfg.batch_size,), generator=g, device=device)
    autocast = autocast_for(cfg, device)
    rates = []
    for _ in range(rounds):
        for i in range(warmup + steps):
            if i == warmup:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t0 = time.perf_counter()
            loss = train_step(cfg, model, opt, ema, schedule, x0, labels, g, autocast)
        float(loss.detach())  # wait for the last step
        rates.append(steps * cfg.batch_size / (time.perf_counter() - t0))
        warmup = 1
    return statistics.median(rates)


def _timed(cfg: TrainConfig, what: str, warmup_only: bool = False) -> float:
    """images/s of one training step (``what="train"``) or one sampling forward of a CPU row
    chunk (``"sample"``, bf16 autocast when ``cfg.amp_bf16``) for ``cfg``'s model."""
    cpu = torch.device("cpu")
    if what == "sample":
        from fundiff.diffusion.sample import time_sampling_forward

        if warmup_only:
            return time_sampling_forward(cfg.hidden, cfg.amp_bf16, reps=1, rounds=1)
        return time_sampling_forward(cfg.hidden, cfg.amp_bf16)
    if warmup_only:
        return time_train_steps(cfg, cpu, steps=2, warmup=2, rounds=1)
    return time_train_steps(cfg, cpu)


def _timed_worker() -> None:
    """Child of :func:`measure_layout` (``python -m fundiff.diffusion.train``): reads the config and
    threads from stdin, warms up, says {"ready": its warm-up images/s}, then on "go" prints its
    images/s (on anything else it stops untimed)."""
    req = json.loads(sys.stdin.readline())
    torch.set_num_threads(req["threads"])
    cfg = TrainConfig(**req["cfg"])
    warm = _timed(cfg, req["what"], warmup_only=True)  # the copies warm up side by side
    print(json.dumps({"ready": warm}), flush=True)
    if sys.stdin.readline().strip() != "go":  # every copy starts timing at once, as they would run
        return
    print(json.dumps(_timed(cfg, req["what"])), flush=True)


def measure_layout(
    cfg: TrainConfig, threads: int, concurrent: int, what: str = "train", floor: float = 0.0
) -> tuple[float, bool]:
    """(total CPU throughput in images/s, fully timed) of ``concurrent`` processes each training
    ``cfg`` (``what="train"``) or sampling with its model (``"sample"``) at ``threads`` threads,
    side by side (fresh worker processes, timed together; one alone is timed in this process).

    A layout whose warm-up is already slower than ``floor`` images/s (the calibration passes half
    its best full timing so far) is not timed further: its warm-up rate comes back with False.
    Emulated bf16 runs ~10x slower than fp32 on a CPU without native bf16, so timing it in full
    would cost minutes and could not change the choice."""
    import subprocess

    if concurrent == 1:  # alone: time it here (no process start)
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            warm = _timed(cfg, what, warmup_only=True)
            if warm < floor:
                return warm, False
            return _timed(cfg, what), True
        finally:
            torch.set_num_threads(before)
    # fresh interpreters (not multiprocessing: it would re-run a Snakemake script's __main__)
    # with this fundiff first on their path: a conda job's environment has no PYTHONPATH
    # (Snakemake drops it there) and the project need not be installed
    lib = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(filter(None, [lib, os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": path}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "fundiff.diffusion.train"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(concurrent)
    ]
    request = json.dumps({"cfg": asdict(cfg), "threads": threads, "what": what}) + "\n"
    for p in procs:
        p.stdin.write(request)
        p.stdin.flush()
    warm = 0.0
    for p in procs:
        try:
            warm += float(json.loads(p.stdout.readline())["ready"])
        except (ValueError, KeyError, TypeError):
            raise RuntimeError(
                "a calibration worker failed before timing (see its stderr)"
            ) from None
    full = warm >= floor
    for p in procs:
        p.stdin.write("go\n" if full else "stop\n")
        p.stdin.flush()
    rates = [float(json.loads(p.stdout.readline())) for p in procs] if full else [warm]
    for p in procs:
        p.stdin.close()
        p.wait(timeout=60)
    return float(sum(rates)), full


@torch.no_grad()
def ema_update_(ema: AveragedModel, model: torch.nn.Module) -> None:
    """``ema.update_parameters(model)`` after its first call, without a host sync, so that it
    can run inside a CUDA graph: W_ema <- decay W_ema + (1 - decay) W_model for every parameter
    and buffer (``use_buffers=True``), by the same ``multi_avg_fn``, then n_averaged += 1."""
    groups: dict = {}
    for p_ema, p in zip(
        [*ema.module.parameters(), *ema.module.buffers()],
        [*model.parameters(), *model.buffers()],
        strict=True,
    ):
        pair = groups.setdefault(p_ema.dtype, ([], []))
        pair[0].append(p_ema.detach())
        pair[1].append(p.detach())
    for ema_list, model_list in groups.values():
        ema.multi_avg_fn(ema_list, model_list, ema.n_averaged)
    ema.n_averaged += 1


class GraphedTrainStep:
    """The whole training step -- batch gather, eps / t / class-drop draws, forward, backward,
    fused Adam, EMA -- captured once as a CUDA graph and replayed every step (CUDA only).

    The spec UNet on 28 x 28 digits is a few hundred small kernels per step, so an eager step is
    bound by kernel launches, not by the GPU; a replay launches them all at once. The math is
    :func:`train_step`'s: the graph replays the same kernels, the generator ``g`` is registered
    with the graph (each replay draws fresh numbers from it), the LR is a device tensor. The
    first ``warmup`` calls run eagerly (as real steps, on a side stream, as capture requires);
    the next one captures, then every call replays. Per call the host only copies the batch
    indices. Call with ``idx`` of exactly ``cfg.batch_size`` indices; use :func:`train_step`
    for a short last batch."""

    def __init__(self, cfg, model, opt, ema, schedule, x_all, y_all, g, memory_format, warmup=3):
        self.cfg, self.model, self.opt, self.ema, self.schedule = cfg, model, opt, ema, schedule
        self.x_all, self.y_all, self.g, self.memory_format = x_all, y_all, g, memory_format
        self.idx = torch.zeros(cfg.batch_size, dtype=torch.long, device=x_all.device)
        # autocast's weight cache must be off inside a graph (its casts must be captured)
        self.autocast = torch.autocast(
            "cuda", torch.bfloat16, enabled=cfg.amp_bf16, cache_enabled=False
        )
        self.warmup, self.calls = warmup, 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.side = torch.cuda.Stream(device=x_all.device)

    def _step(self, capturing: bool) -> torch.Tensor:
        x0 = self.x_all[self.idx].contiguous(memory_format=self.memory_format)
        with self.autocast:
            loss = loss_fn(self.cfg, self.model, self.schedule, x0, self.y_all[self.idx], self.g)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.ema is not None:
            if capturing or self.ema.n_averaged.item() > 0:
                ema_update_(self.ema, self.model)
            else:
                self.ema.update_parameters(self.model)  # the first update copies
        return loss

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        self.idx.copy_(idx)
        self.calls += 1
        if self.graph is not None:
            self.graph.replay()
            return self.loss.clone()
        current = torch.cuda.current_stream()
        self.side.wait_stream(current)
        with torch.cuda.stream(self.side):
            if self.calls <= self.warmup:
                loss = self._step(capturing=False).detach()
            else:
                self.graph = torch.cuda.CUDAGraph()
                self.graph.register_generator_state(self.g)
                with torch.cuda.graph(self.graph, stream=self.side):
                    self.loss = self._step(capturing=True).detach()
        current.wait_stream(self.side)
        if self.graph is None:
            return loss
        self.graph.replay()  # capturing recorded the step without running it
        return self.loss.clone()


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


def set_aside(path: Path, why: str) -> Path:
    """Rename an unusable resume state to ``<name>.bad-<UTC time>`` beside it (never deleted: a
    person may want to look at it) and say so in one log line."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.bad-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.bad-{stamp}-{n}")
    os.replace(path, aside)
    log.warning("resume state %s %s: moved aside to %s", path, why, aside.name)
    return aside


def _readable_checkpoint(path: Path) -> bool:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any failure means "not readable"
        return False
    return isinstance(ckpt, dict) and "state_dict" in ckpt


def read_resume_state(path: Path, fp: str, work_dir: Path) -> dict | None:
    """The resume state at ``path`` if training can continue from it, else None.

    Read with ``weights_only=True`` (tensors and plain containers only: a crafted pickle is
    refused, never run) onto the CPU (a CUDA state loads on a CPU node). Unusable -- unreadable
    (torn, empty, not a torch file), a fingerprint of another run (config, code, device type,
    torch version, threads, precision), or an epoch file it relies on that is missing or torn --
    it is moved aside (:func:`set_aside`) and None is returned."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - EOFError, UnpicklingError, RuntimeError, ...
        set_aside(path, f"is unreadable ({type(e).__name__}: {first_line(e)})")
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != fp:
        set_aside(
            path,
            "belongs to another run (config, code, data, device, torch version, threads or "
            "precision)",
        )
        return None
    try:
        epoch = int(state["epoch"])
    except (KeyError, TypeError, ValueError):
        set_aside(path, "has no epoch")
        return None
    missing = [
        e for e in range(1, epoch + 1) if not _readable_checkpoint(work_dir / f"epoch_{e:03d}.pt")
    ]
    if missing:
        set_aside(path, f"needs epoch_{missing[0]:03d}.pt, which is missing or unreadable")
        return None
    return state


def keep_previous(path: Path, previous: Path) -> None:
    """Make ``previous`` a copy of ``path`` (a hard link where the file system has them) while
    ``path`` stays in place: a kill at any moment leaves a complete resume state under its name."""
    if not path.exists():
        return
    tmp = previous.with_name(f".{previous.name}.link")
    tmp.unlink(missing_ok=True)
    try:
        os.link(path, tmp)
    except OSError:  # no hard links here: copy
        write_bytes(tmp, path.read_bytes())
    os.replace(tmp, previous)


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
    """Train; after epoch e write ``work_dir/epoch_{e:03d}.pt`` (weights, EMA if enabled, and the
    run's :func:`fundiff.device.determinism_facts`) and ``work_dir/resume.pt`` (full state; the
    previous one becomes ``resume.prev.pt``); return the per-step loss log. A usable resume state
    (:func:`read_resume_state`) is continued; a NaN / inf loss raises :class:`NonFiniteError`
    naming ``name`` (the model's config key, e.g. ``class_cond``), before the epoch is saved.

    ``images`` uint8 (N, 28, 28) and ``labels`` int64 (N,) are moved to ``device`` once (the
    whole MNIST fits): batches are index gathers, no DataLoader and no per-batch copies.
    ``compile`` runs the training forward through ``torch.compile`` (True, or a mode such as
    "reduce-overhead" = CUDA graphs): a speed option for GPUs; kernels may round differently.
    ``cfg.cuda_graph`` (CUDA) replays each full-size step as one CUDA graph
    (:class:`GraphedTrainStep`); a short last batch runs eagerly.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    resume_path, previous_path = work_dir / RESUME, work_dir / PREVIOUS
    fp = fingerprint(cfg, images, device)
    x_all = (images.to(device, torch.float32) / 255.0).unsqueeze(1)
    y_all = labels.to(device)
    schedule = cfg.schedule()
    history: list[dict] = []
    start_epoch = 0

    def fresh():
        model, opt, sched, ema, memory_format = build_training(cfg, device)
        g_perm = torch.Generator().manual_seed(cfg.seed)
        g_noise = torch.Generator(device=device).manual_seed(offset_seed(cfg.seed, "train_noise"))
        return model, opt, sched, ema, memory_format, g_perm, g_noise

    model, opt, sched, ema, memory_format, g_perm, g_noise = fresh()
    for path in (resume_path, previous_path):  # the last epoch's state, else the one before
        state = read_resume_state(path, fp, work_dir)
        if state is None:
            continue
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if uses_cuda_graph(cfg, device):  # keep the LR a device tensor (capturable Adam)
                for group in opt.param_groups:
                    group["lr"] = torch.tensor(float(group["lr"]), device=device)
            sched.load_state_dict(state["lr_scheduler"])
            if ema is not None:
                ema.load_state_dict(state["ema"])
            g_perm.set_state(state["g_perm"])
            g_noise.set_state(state["g_noise"])  # another device's RNG state fails here
            history = list(state["history"])
            start_epoch = int(state["epoch"])
        except Exception as e:  # noqa: BLE001 - any failure: put it aside, never a dead end
            set_aside(path, f"does not restore ({type(e).__name__}: {first_line(e)})")
            model, opt, sched, ema, memory_format, g_perm, g_noise = fresh()
            history, start_epoch = [], 0
            continue
        log.info("resuming %s training from epoch %d (%s)", cfg.task, start_epoch, path)
        break
    facts = determinism_facts(device, cfg.amp_bf16)
    log.info("determinism: %s", json.dumps(facts, sort_keys=True))

    n = x_all.shape[0]
    steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
    autocast = autocast_for(cfg, device)
    mode = compile if isinstance(compile, str) and compile != "default" else None
    fwd = torch.compile(model, mode=mode) if compile else model
    graphed = (
        GraphedTrainStep(cfg, fwd, opt, ema, schedule, x_all, y_all, g_noise, memory_format)
        if uses_cuda_graph(cfg, device)
        else None
    )
    bar = progress_bar(
        total=cfg.epochs * steps_per_epoch,
        initial=start_epoch * steps_per_epoch,
        desc=f"train {cfg.task}",
        disable=not progress,
    )
    step = start_epoch * steps_per_epoch
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=g_perm).to(device)
        losses, lrs, epoch_lr = [], [], float(sched.get_last_lr()[0])
        for i in range(steps_per_epoch):
            idx = perm[i * cfg.batch_size : (i + 1) * cfg.batch_size]
            if idx.numel() < 2:  # BatchNorm needs two samples
                continue
            lrs.append(set_warmup_lr(opt, epoch_lr, epoch * steps_per_epoch + i, cfg))
            if graphed is not None and idx.numel() == cfg.batch_size:
                loss = graphed(idx)
            else:
                x0 = x_all[idx].contiguous(memory_format=memory_format)
                loss = train_step(cfg, fwd, opt, ema, schedule, x0, y_all[idx], g_noise, autocast)
            losses.append(loss.detach())
            bar.update(1)
        # one device sync per epoch (not per step): the loss values are the same floats
        values = torch.stack(losses).tolist() if losses else []
        check_finite(values, cfg, epoch + 1, step, name)  # before anything of this epoch is saved
        for loss, lr in zip(values, lrs, strict=True):
            step += 1
            history.append({"step": step, "epoch": epoch + 1, "loss": loss, "lr": lr})
        write_lr(opt, epoch_lr)  # ExponentialLR decays the optimizer's LR: not a warm-up value
        sched.step()
        weights = (ema.module if ema is not None else model).state_dict()
        torch_save(
            {
                "config": asdict(cfg),
                "model_config": model.config(),
                "epoch": epoch + 1,
                "state_dict": weights,
                "determinism": facts,
            },
            work_dir / f"epoch_{epoch + 1:03d}.pt",
        )
        keep_previous(resume_path, previous_path)  # a torn new state falls back to it
        torch_save(
            {
                "fingerprint": fp,
                "epoch": epoch + 1,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "lr_scheduler": sched.state_dict(),
                "ema": ema.state_dict() if ema is not None else None,
                "g_perm": g_perm.get_state(),
                "g_noise": g_noise.get_state(),
                "history": history,
            },
            resume_path,
        )
        log.info(
            "epoch %d/%d  mean loss %.5f  (%.1f s)",
            epoch + 1,
            cfg.epochs,
            sum(values) / max(1, len(values)),
            time.perf_counter() - t0,
        )
    bar.close()
    return history


def load_model(
    path: str | Path, device: torch.device | str = "cpu", expect: dict | None = None
) -> UNet:
    """Load an epoch checkpoint written by :func:`train` (weights + architecture).

    ``expect`` (e.g. ``{"num_hiddens": 32}`` from the config) must match the checkpoint's
    architecture; a mismatch is one clear error rather than a wall of missing keys.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(e).__name__}); delete it and rerun the "
            "training rule"
        ) from None
    if not isinstance(ckpt, dict) or "model_config" not in ckpt or "state_dict" not in ckpt:
        raise CheckpointError(f"{path}: not a fundiff checkpoint (no model_config/state_dict)")
    for key, want in (expect or {}).items():
        got = ckpt["model_config"].get(key)
        if got != want:
            raise CheckpointError(
                f"{path}: checkpoint has {key}={got} but the config asks for {want}; rerun its "
                "training (snakemake --forcerun train) or fix the config"
            )
    model = UNet(**ckpt["model_config"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise CheckpointError(
            f"{path}: checkpoint does not fit UNet({ckpt['model_config']}): "
            f"{first[1].strip() if len(first) > 1 else first[0]}"
        ) from None
    return model.to(device).eval()


if __name__ == "__main__":  # a calibration worker (measure_layout)
    _timed_worker()
