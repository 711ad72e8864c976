"""Rule calibrate: choose the training and sampling precision by timing them on this machine at
the threads the plan gives those jobs (fundiff.diffusion.calibration)."""

import torch

from fundiff.device import resolve_device
from fundiff.diffusion.calibration import calibrate
from fundiff.io import write_json
from fundiff.workflow.runner import run


def main(smk, log):
    p = smk.params
    torch.set_num_threads(smk.threads)
    device = resolve_device(p.device)
    out = calibrate(
        device, smk.threads, p.jobs, p.amp_bf16, p.sample_bf16, dict(p.threads), dict(p.train)
    )
    log.info("calibration choice: %s (%.1f s)", out["choice"], out["seconds"])
    write_json(smk.output[0], out)


run(snakemake, main)  # noqa: F821
