"""Rule calibrate (a checkpoint): choose training precision and threads per job by measurement.

Times a few real training steps of the largest configured Part B model for every candidate layout
(fp32 / bf16 autocast x all threads per job / jobs side by side, fundiff.device.layout_candidates)
and writes the fastest (fundiff.device.choose_layout) with every measurement; then the same for
sampling (partb.sample_bf16: auto): timed UNet forwards of one CPU row chunk, fp32 / bf16 x all
threads per sampling job / jobs side by side. The training rules
take their precision and threads from this file, so the choice is recorded in their params, the
checkpoints and the resume fingerprint. On CUDA nothing is timed: bf16 follows the config.
"""

import json
import platform
import time

import torch

from fundiff.device import (
    choose_layout,
    cpu_has_native_bf16,
    cpu_model_name,
    layout_candidates,
    resolve_device,
)
from fundiff.diffusion.train import TrainConfig, measure_layout
from fundiff.io import setup_logging, write_text

smk = snakemake  # noqa: F821
log = setup_logging(smk.log[0])
p = smk.params
device = resolve_device(p.device)
amp, threads = p.amp_bf16, p.threads  # "auto" | bool; "auto" | int
torch.set_num_threads(smk.threads)
out = {"device": device.type, "cores": smk.threads, "cpu_model": cpu_model_name()}
out["torch"], out["machine"] = torch.__version__, platform.machine()
t0 = time.perf_counter()
if device.type == "cuda":
    out["cuda"] = torch.cuda.get_device_name(device)
    out["measured"] = []
    out["choice"] = {"amp_bf16": amp is not False, "threads": smk.threads}
elif amp is not True and amp is not False or threads == "auto":
    # bf16 is a candidate when asked for ("auto"), or asked for and native on this CPU
    bf16 = amp == "auto" or (amp is True and cpu_has_native_bf16())
    fixed = None if threads == "auto" else int(threads)
    cands = layout_candidates(smk.threads, p.jobs, bf16, fixed)
    step = {"epochs": 1, "lr": 1e-3, "ema_decay": 0.995, **p.train}  # speed-relevant settings
    for c in cands:
        c["images_per_s"] = measure_layout(
            TrainConfig(**{**step, "amp_bf16": c["amp_bf16"]}), c["threads"], c["concurrent"]
        )
        log.info("calibration: %s", c)
    out["measured"] = cands
    out["choice"] = choose_layout(cands)
else:  # nothing to choose: precision and threads fixed by the config
    native = amp is True and cpu_has_native_bf16()
    out["measured"] = []
    out["choice"] = {"amp_bf16": native, "threads": int(threads)}
# sampling: UNet forwards of one CPU row chunk, fp32 / bf16 autocast x all threads per sampling
# job / jobs side by side (partb.sample_bf16: auto; the sampling rules take these threads)
sample_amp = p.sample_bf16
out["sampling_measured"] = []
if device.type == "cuda":
    out["choice"].update(sample_bf16=sample_amp is True, sample_threads=smk.threads)
elif sample_amp in (True, False) and threads != "auto":  # fixed by the config: nothing to time
    out["choice"].update(sample_bf16=bool(sample_amp), sample_threads=int(threads))
else:
    step = {"epochs": 1, "lr": 1e-3, **p.train}
    cands = layout_candidates(smk.threads, smk.threads, sample_amp is not False)
    if sample_amp is True:
        cands = [c for c in cands if c["amp_bf16"]]
    for c in cands:
        c["images_per_s"] = measure_layout(
            TrainConfig(**{**step, "amp_bf16": c["amp_bf16"]}), c["threads"], c["concurrent"],
            what="sample",
        )  # fmt: skip
        log.info("calibration (sampling): %s", c)
    out["sampling_measured"] = cands
    best = choose_layout(cands)
    out["choice"].update(sample_bf16=best["amp_bf16"], sample_threads=best["threads"])
out["seconds"] = round(time.perf_counter() - t0, 2)
log.info("calibration choice: %s (%.1f s)", out["choice"], out["seconds"])
write_text(smk.output[0], json.dumps(out, indent=1, sort_keys=True) + "\n")
