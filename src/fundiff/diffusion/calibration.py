"""The measured layout (rule calibrate, results/partb/calibration.json): training precision and
threads per job, and the sampling precision and threads, chosen by timing on this machine.

Training: a few real steps of the largest configured Part B model for every candidate layout
(fp32 / bf16 autocast x all threads per job / jobs side by side, fundiff.device.layout_candidates);
the fastest wins (fundiff.device.choose_layout), every measurement is kept. A candidate whose
warm-up is already under half the best full timing (:data:`WARMUP_CUTOFF`; emulated bf16 on a CPU
without native bf16, ~10x slower) keeps its warm-up rate and is not timed in full. Sampling
(partb.sample_bf16: auto): timed UNet forwards of one CPU row chunk, fp32 / bf16 x all threads per
sampling job / jobs side by side. The training rules take their precision and threads from the
file, so the choice is recorded in their params, the checkpoints and the resume fingerprint. On
CUDA nothing is timed: bf16 follows the config.
"""

from __future__ import annotations

import logging
import platform
import time

import torch

from fundiff.device import choose_layout, cpu_has_native_bf16, cpu_model_name, layout_candidates
from fundiff.diffusion.train import TrainConfig, measure_layout

log = logging.getLogger("fundiff")


# A candidate whose warm-up is below this fraction of the best full timing so far cannot win
# (choose_layout keeps the fastest within 3%): it is recorded with its warm-up rate only.
WARMUP_CUTOFF = 0.5


def _measure(cands: list[dict], step: dict, what: str) -> list[dict]:
    best = 0.0
    for c in cands:
        cfg = TrainConfig(**{**step, "amp_bf16": c["amp_bf16"]})
        floor = WARMUP_CUTOFF * best
        c["images_per_s"], full = measure_layout(cfg, c["threads"], c["concurrent"], what, floor)
        if full:
            best = max(best, c["images_per_s"])
        else:
            c["warmup_only"] = True
        log.info("calibration (%s): %s", what, c)
    return cands


def train_choice(device, cores: int, jobs: int, amp, threads, train: dict) -> tuple[list, dict]:
    """(measurements, choice) of the training layout; ``amp``: "auto" | bool, ``threads``:
    "auto" | int, ``train``: the speed-relevant settings (diffusion.settings.calibration_settings)."""
    if device.type == "cuda":
        return [], {"amp_bf16": amp is not False, "threads": cores}
    if device.type == "mps":  # fp32 only (no bf16 autocast on Apple's Metal here): nothing to time
        return [], {"amp_bf16": False, "threads": cores}
    if amp in (True, False) and threads != "auto":  # fixed by the config: nothing to choose
        return [], {"amp_bf16": amp is True and cpu_has_native_bf16(), "threads": int(threads)}
    # bf16 is a candidate when asked for ("auto"), or asked for and native on this CPU
    bf16 = amp == "auto" or (amp is True and cpu_has_native_bf16())
    fixed = None if threads == "auto" else int(threads)
    step = {"epochs": 1, "lr": 1e-3, "ema_decay": 0.995, **train}
    cands = _measure(layout_candidates(cores, jobs, bf16, fixed), step, "train")
    return cands, choose_layout(cands)


def sample_choice(device, cores: int, sample_amp, threads, train: dict) -> tuple[list, dict]:
    """(measurements, {"sample_bf16", "sample_threads"}) of the sampling jobs."""
    if device.type == "cuda":
        return [], {"sample_bf16": sample_amp is True, "sample_threads": cores}
    if device.type == "mps":
        return [], {"sample_bf16": False, "sample_threads": cores}
    if sample_amp in (True, False) and threads != "auto":  # fixed by the config
        return [], {"sample_bf16": bool(sample_amp), "sample_threads": int(threads)}
    cands = layout_candidates(cores, cores, sample_amp is not False)
    if sample_amp is True:
        cands = [c for c in cands if c["amp_bf16"]]
    cands = _measure(cands, {"epochs": 1, "lr": 1e-3, **train}, "sample")
    best = choose_layout(cands)
    return cands, {"sample_bf16": best["amp_bf16"], "sample_threads": best["threads"]}


def calibrate(device, cores: int, jobs: int, amp, threads, sample_amp, train: dict) -> dict:
    """The calibration record: machine, every measurement and the choice."""
    out = {"device": device.type, "cores": cores, "cpu_model": cpu_model_name()}
    out["torch"], out["machine"] = torch.__version__, platform.machine()
    t0 = time.perf_counter()
    if device.type == "cuda":
        out["cuda"] = torch.cuda.get_device_name(device)
    out["measured"], out["choice"] = train_choice(device, cores, jobs, amp, threads, train)
    out["sampling_measured"], choice = sample_choice(device, cores, sample_amp, threads, train)
    out["choice"].update(choice)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out
