"""Timing real training steps for the calibration rule (:mod:`fundiff.diffusion.calibration`):
images/s of a few steps of :func:`fundiff.diffusion.train.train_step` (or sampling forwards), one
process alone or several copies side by side, each a fresh worker (``python -m
fundiff.diffusion.step_timing``) timed at once as they would run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from fundiff.diffusion.train import TrainConfig, autocast_for, build_training, train_step


def time_candidate(
    cfg: TrainConfig, threads: int, concurrent: int, what: str = "train", floor: float = 0.0
) -> tuple[float, bool]:
    """(total CPU throughput in images/s, fully timed) of ``concurrent`` processes each training
    ``cfg`` (``what="train"``) or sampling with its model (``"sample"``) at ``threads`` threads,
    side by side (fresh worker processes, timed together; one alone is timed in this process).

    A candidate whose warm-up is already slower than ``floor`` images/s (the calibration passes half
    its best full timing so far) is not timed further: its warm-up rate comes back with False.
    Emulated bf16 on a CPU without native bf16 is many times slower than fp32: timing it in full
    would take long and could not change the choice."""
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
            [sys.executable, "-m", "fundiff.diffusion.step_timing"],
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


def _timed_worker() -> None:
    """Child of :func:`time_candidate` (``python -m fundiff.diffusion.step_timing``): reads the
    config and threads from stdin, warms up, says {"ready": its warm-up images/s}, then on "go"
    prints its images/s (on anything else it stops untimed)."""
    req = json.loads(sys.stdin.readline())
    torch.set_num_threads(req["threads"])
    cfg = TrainConfig(**req["cfg"])
    warm = _timed(cfg, req["what"], warmup_only=True)  # the copies warm up side by side
    print(json.dumps({"ready": warm}), flush=True)
    if sys.stdin.readline().strip() != "go":  # every copy starts timing at once, as they would run
        return
    print(json.dumps(_timed(cfg, req["what"])), flush=True)


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


def time_train_steps(
    cfg: TrainConfig, device: torch.device, steps: int = 12, warmup: int = 4, rounds: int = 2
) -> float:
    """Training throughput (images/s) of ``train_step`` for ``cfg`` on random digits: the
    median of ``rounds`` timings of ``steps`` steps after ``warmup`` untimed ones. Used by the
    calibration rule to choose the precision by measurement (fundiff.device.choose_fastest).
    """
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


if __name__ == "__main__":  # a calibration worker (time_candidate)
    _timed_worker()
