"""The measured precision (rule calibrate, results/partb/calibration.json): whether training and
sampling run in fp32 or under bf16 autocast, chosen by timing on this machine.

Threads are not measured: the plan fixes them (fundiff.diffusion.settings.train_threads and
sample_threads), so a dry run shows every job as it will run and
the measurement never re-plans the workflow. The calibration times each precision at those threads:
a few real steps of the largest configured Part B model (training: as many copies side by side as
trainings will run at once), or UNet forwards of one row chunk (sampling, partb.sample_bf16: auto);
the fastest wins (fundiff.device.choose_fastest), every measurement is kept. A candidate whose
warm-up is already under half the best full timing (:data:`WARMUP_CUTOFF`; emulated bf16 on a CPU
without native bf16 is many times slower) keeps its warm-up rate and is not timed in full. The
training and sampling scripts read the choice from the file (an input of theirs, so a new choice
reruns them); it is recorded in the checkpoints and the resume fingerprint. On CUDA nothing is
timed: bf16 follows the config.
"""

from __future__ import annotations

import logging
import platform
import time

import torch

from fundiff.device import choose_fastest, cpu_has_native_bf16, cpu_model_name, precision_candidates
from fundiff.diffusion.step_timing import time_candidate
from fundiff.diffusion.train import TrainConfig

log = logging.getLogger("fundiff")


# A candidate whose warm-up is below this fraction of the best full timing so far cannot win
# (choose_fastest keeps the fastest within 3%): it is recorded with its warm-up rate only.
WARMUP_CUTOFF = 0.5


def _measure(cands: list[dict], step: dict, what: str) -> list[dict]:
    best = 0.0
    for c in cands:
        cfg = TrainConfig(**{**step, "amp_bf16": c["amp_bf16"]})
        floor = WARMUP_CUTOFF * best
        c["images_per_s"], full = time_candidate(cfg, c["threads"], c["concurrent"], what, floor)
        if full:
            best = max(best, c["images_per_s"])
        else:
            c["warmup_only"] = True
        log.info("calibration (%s): %s", what, c)
    return cands


def _fixed(device, amp) -> bool | None:
    """The precision when there is nothing to measure (CUDA, MPS, or fixed by the config)."""
    if device.type == "cuda":
        return amp is not False
    if device.type == "mps":  # fp32 only (no bf16 autocast on Apple's Metal here)
        return False
    if amp in (True, False):
        return amp is True and cpu_has_native_bf16()
    return None


def train_choice(
    device, cores: int, jobs: int, amp, threads: int, train: dict
) -> tuple[list, bool]:
    """(measurements, bf16?) of the training jobs; ``amp``: "auto" | bool, ``threads``: threads
    per training job (the plan's), ``jobs``: trainings that may run side by side, ``train``: the
    speed-relevant settings (diffusion.settings.calibration_settings)."""
    fixed = _fixed(device, amp)
    if fixed is not None:
        return [], fixed
    step = {"epochs": 1, "lr": 1e-3, "ema_decay": 0.995, **train}
    cands = _measure(precision_candidates(cores, jobs, True, threads), step, "train")
    return cands, choose_fastest(cands)


def sample_choice(device, cores: int, sample_amp, threads: int, train: dict) -> tuple[list, bool]:
    """(measurements, bf16?) of the sampling jobs (``threads`` each, one at a time). bf16 is used
    when asked for (``true``, emulated or not) or when ``auto`` measures it faster on a CPU; the
    spec samples in fp32, so CUDA samples in fp32 unless asked."""
    if device.type == "mps":
        return [], False
    if sample_amp in (True, False) or device.type == "cuda":
        return [], sample_amp is True
    step = {"epochs": 1, "lr": 1e-3, **train}
    cands = _measure(precision_candidates(cores, 1, True, threads), step, "sample")
    return cands, choose_fastest(cands)


def calibrate(
    device, cores: int, jobs: int, amp, sample_amp, threads: dict[str, int], train: dict
) -> dict:
    """The calibration record: machine, every measurement and the choice. ``threads``: the plan's
    threads per job, {"train": n, "sample": n}; they are recorded beside the precisions."""
    threads = {k: max(1, min(int(n), cores)) for k, n in threads.items()}  # as jobs get them here
    out = {"device": device.type, "cores": cores, "cpu_model": cpu_model_name()}
    out["torch"], out["machine"] = torch.__version__, platform.machine()
    t0 = time.perf_counter()
    if device.type == "cuda":
        out["cuda"] = torch.cuda.get_device_name(device)
    out["measured"], bf16 = train_choice(device, cores, jobs, amp, threads["train"], train)
    out["sampling_measured"], sample_bf16 = sample_choice(
        device, cores, sample_amp, threads["sample"], train
    )
    out["choice"] = {
        "amp_bf16": bf16,
        "threads": threads["train"],
        "sample_bf16": sample_bf16,
        "sample_threads": threads["sample"],
    }
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out
