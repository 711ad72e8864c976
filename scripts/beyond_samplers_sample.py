"""Rule beyond_samplers_sample (X2): the final weights of one conditioned model sampled with
every configured sampler and step count (the same n, seed and labels), each row timed; the
samples go to one .npz per row, the measured wall times to their own file (timing.json)."""

from pathlib import Path

from fundiff.device import calibrated, resolve_device, setup_torch
from fundiff.diffusion.checkpoint import load_model
from fundiff.diffusion.ddpm import Schedule
from fundiff.evaluation import samplers
from fundiff.io import save_npz, write_json
from fundiff.workflow.runner import run


def main(smk, log):
    p, o = smk.params, smk.params.samplers
    setup_torch(smk.threads)
    device = resolve_device(p.device)
    bf16 = calibrated(smk.input.calibration, "sample_bf16")  # measured sampling precision
    path = Path(smk.input.epochs) / f"epoch_{p.epoch:03d}.pt"
    model = load_model(path, device, expect={"num_hiddens": p.hidden})
    s = p.schedule
    schedule = Schedule.linear(s["beta_start"], s["beta_end"], s["num_timesteps"])
    n = o["num_samples"]
    labels = samplers.balanced_labels(n) if smk.wildcards.model == "class_cond" else None
    plan = samplers.rows(o["samplers"], o["steps"])
    rows = samplers.sample_rows(
        model, schedule, plan, n, p.seed, o["eta"], labels, p.guidance_scale, device, bf16
    )
    outputs = {Path(f).stem: f for f in smk.output.npz}  # 'ddim_20' -> its .npz
    for row in rows:
        out = outputs[samplers.row_name(row["sampler"], row["steps"])]
        log.info(
            "%s, %d steps (eta %s): %d digits in %.3f s",
            row["sampler"], row["steps"], row["eta"], n, row["seconds"],
        )  # fmt: skip
        extra = {} if labels is None else {"labels": row["labels"]}
        save_npz(
            out, images=row["images"], sampler=row["sampler"], steps=row["steps"],
            eta=o["eta"], seed=p.seed, epoch=p.epoch, guidance_scale=p.guidance_scale,
            bf16=bf16, threads=smk.threads, **extra,
        )  # fmt: skip
    write_json(smk.output.timing, samplers.timing_record(rows, n))


run(snakemake, main)  # noqa: F821
