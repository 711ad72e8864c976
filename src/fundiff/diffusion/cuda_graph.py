"""The whole training step as one CUDA graph (``TrainConfig.cuda_graph``, CUDA only): captured
once, replayed every step, so that a step costs one launch instead of a few hundred. The math is
the eager step's (:func:`fundiff.diffusion.train.train_step`); on a CPU the setting does nothing.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel


def uses_cuda_graph(cfg, device: torch.device) -> bool:
    """Whether the training of ``cfg`` (a TrainConfig) on ``device`` replays CUDA graphs."""
    return cfg.cuda_graph and device.type == "cuda"


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
    :func:`fundiff.diffusion.train.train_step`'s: the graph replays the same kernels, the
    generator ``g`` is registered with the graph (each replay draws fresh numbers from it), the
    LR is a device tensor. The first ``warmup`` calls run eagerly (as real steps, on a side
    stream, as capture requires); the next one captures, then every call replays. Per call the
    host only copies the batch indices. Call with ``idx`` of exactly ``cfg.batch_size``
    indices; use ``train_step`` for a short last batch."""

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
        from fundiff.diffusion.train import loss_fn  # at call time: train imports this module

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
