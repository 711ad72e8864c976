"""Resumable training for the three Part B models (one loop, three losses).

* ``denoiser``  z = x + sigma eps,                       L = ||D(z) - x||^2          (spec B 1.2.1)
* ``time``      x_t = sqrt(abar_t) x + sqrt(1-abar_t) eps, L = ||eps_theta(x_t, t/T) - eps||^2  (B 2.2)
* ``class``     as ``time`` with c one-hot, dropped (zeroed) with probability p_uncond       (B 2.4)

Beyond the spec, off by default (the embedded preset turns them on for short CPU runs):
* LR warm-up      lr_s = lr_epoch * min(1, (s + 1) / W) for the first W = lr_warmup_steps steps
* EMA warm-up     W_ema <- d_n W_ema + (1 - d_n) W,  d_n = min(ema_decay, (1 + n) / (10 + n))
                  after n updates (the first update copies), so early epochs are not dominated
                  by the random initial weights
* Min-SNR-gamma   L = E[ min(SNR_t, gamma) / SNR_t ||eps_theta - eps||^2 ],
                  SNR_t = alpha_bar_t / (1 - alpha_bar_t)   (Hang et al. 2023; eps prediction)

After every epoch the loop writes the epoch's weights and a resume state (model, optimizer,
LR scheduler, EMA, RNG states, loss history), both atomically. If a resume state with the same
fingerprint (training config + data + library source) exists, training continues from it and
ends bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

try:
    from tqdm import tqdm
except ImportError:  # a bare GPU box (torch + numpy only) runs the benchmarks without tqdm

    class tqdm:  # noqa: N801 - stands in for tqdm.tqdm
        def __init__(self, *args, **kwargs):
            pass

        def update(self, n=1):
            pass

        def close(self):
            pass


from fundiff.diffusion import ddpm
from fundiff.diffusion.unet import UNet
from fundiff.errors import CheckpointError
from fundiff.io import torch_save
from fundiff.seeds import offset_seed

TASKS = ("denoiser", "time", "class")
log = logging.getLogger("fundiff")


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

    def build_model(self) -> UNet:
        return UNet(
            1,
            self.hidden,
            time_cond=self.task in ("time", "class"),
            num_classes=10 if self.task == "class" else 0,
        )

    def schedule(self) -> ddpm.Schedule:
        return ddpm.Schedule.linear(self.beta_start, self.beta_end, self.num_timesteps)


def source_fingerprint() -> str:
    """Hash of this package's source: a code change never resumes an older run's state."""
    h = hashlib.sha256()
    for p in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def fingerprint(cfg: TrainConfig, images: torch.Tensor) -> str:
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    h.update(images.numpy().tobytes())
    h.update(source_fingerprint().encode())
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
    threads from stdin, warms up, says "ready", waits for "go", prints its images/s."""
    req = json.loads(sys.stdin.readline())
    torch.set_num_threads(req["threads"])
    cfg = TrainConfig(**req["cfg"])
    _timed(cfg, req["what"], warmup_only=True)  # warm up alone
    print("ready", flush=True)
    sys.stdin.readline()  # "go": every copy starts timing at once, as they would run
    print(json.dumps(_timed(cfg, req["what"])), flush=True)


def measure_layout(cfg: TrainConfig, threads: int, concurrent: int, what: str = "train") -> float:
    """Total CPU throughput (images/s) of ``concurrent`` processes each training ``cfg``
    (``what="train"``) or sampling with its model (``"sample"``) at ``threads`` threads, side by
    side (fresh worker processes, timed together; one alone is timed in this process)."""
    import subprocess

    if concurrent == 1:  # alone: time it here (no process start)
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            _timed(cfg, what, warmup_only=True)
            return _timed(cfg, what)
        finally:
            torch.set_num_threads(before)
    # fresh interpreters (not multiprocessing: it would re-run a Snakemake script's __main__)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
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
    for p in procs:
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("a calibration worker failed before timing (see its stderr)")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    rates = [float(json.loads(p.stdout.readline())) for p in procs]
    for p in procs:
        p.stdin.close()
        p.wait(timeout=60)
    return float(sum(rates))


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


def train(
    cfg: TrainConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    work_dir: str | Path,
    device: torch.device,
    progress: bool = True,
    compile: bool | str = False,
) -> list[dict]:
    """Train; after epoch e write ``work_dir/epoch_{e:03d}.pt`` (weights, EMA if enabled) and
    ``work_dir/resume.pt`` (full state); return the per-step loss log.

    ``images`` uint8 (N, 28, 28) and ``labels`` int64 (N,) are moved to ``device`` once (the
    whole MNIST fits): batches are index gathers, no DataLoader and no per-batch copies.
    ``compile`` runs the training forward through ``torch.compile`` (True, or a mode such as
    "reduce-overhead" = CUDA graphs): a speed option for GPUs; kernels may round differently.
    ``cfg.cuda_graph`` (CUDA) replays each full-size step as one CUDA graph
    (:class:`GraphedTrainStep`); a short last batch runs eagerly.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    resume_path = work_dir / "resume.pt"
    fp = fingerprint(cfg, images)
    x_all = (images.to(device, torch.float32) / 255.0).unsqueeze(1)
    y_all = labels.to(device)
    schedule = cfg.schedule()
    model, opt, sched, ema, memory_format = build_training(cfg, device)
    g_perm = torch.Generator().manual_seed(cfg.seed)
    g_noise = torch.Generator(device=device).manual_seed(offset_seed(cfg.seed, "train_noise"))
    history: list[dict] = []
    start_epoch = 0

    if resume_path.exists():
        state = torch.load(resume_path, map_location="cpu", weights_only=False)
        if state.get("fingerprint") == fp:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            if uses_cuda_graph(cfg, device):  # keep the LR a device tensor (capturable Adam)
                for group in opt.param_groups:
                    group["lr"] = torch.tensor(float(group["lr"]), device=device)
            sched.load_state_dict(state["lr_scheduler"])
            if ema is not None:
                ema.load_state_dict(state["ema"])
            g_perm.set_state(state["g_perm"])
            g_noise.set_state(state["g_noise"])
            history = state["history"]
            start_epoch = state["epoch"]
            log.info("resuming %s training from epoch %d (%s)", cfg.task, start_epoch, resume_path)
        else:
            log.info("ignoring %s: it belongs to another config or code version", resume_path)

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
    bar = tqdm(
        total=cfg.epochs * steps_per_epoch,
        initial=start_epoch * steps_per_epoch,
        desc=f"train {cfg.task}",
        mininterval=5,
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
        for loss, lr in zip(torch.stack(losses).tolist() if losses else [], lrs, strict=True):
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
            },
            work_dir / f"epoch_{epoch + 1:03d}.pt",
        )
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
        last = [h["loss"] for h in history if h["epoch"] == epoch + 1]
        log.info(
            "epoch %d/%d  mean loss %.5f  (%.1f s)",
            epoch + 1,
            cfg.epochs,
            sum(last) / max(1, len(last)),
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
