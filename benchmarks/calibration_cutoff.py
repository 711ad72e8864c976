"""The calibrate job with and without the warm-up cutoff, side by side on this machine.

    python benchmarks/calibration_cutoff.py [--configfile configs/X.yaml] [--name NAME]

Runs fundiff.diffusion.calibration.calibrate as the calibrate rule does with every choice left to
measurement (amp_bf16, train_threads and sample_bf16 "auto", the embedded default; the preset's
class_cond training step, every core, one training job per Part B model) twice in this process: first with
WARMUP_CUTOFF = 0 (every candidate timed in full, the calibration before the cutoff), then with
the shipped cutoff. Prints both wall times, their ratio and both choices, and writes
benchmarks/results/calibration_cutoff_<name>.json. On a CPU without native bf16 the bf16
candidates are ~10x slower than fp32, so the cutoff skips their full timing; where bf16 is
native, nothing is skipped and the two times match.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import torch
import yaml
from _rows import add_rows, machine_text, row

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from fundiff.config import validate  # noqa: E402
from fundiff.device import cpu_model_name, resolve_device  # noqa: E402
from fundiff.diffusion import calibration  # noqa: E402
from fundiff.diffusion.settings import calibration_settings  # noqa: E402


def preset(configfile: str | None) -> dict:
    """config.yaml with ``configfile`` merged over it as Snakemake merges --configfile."""
    from snakemake.utils import update_config

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    if configfile:
        update_config(config, yaml.safe_load((REPO / configfile).read_text()))
    return validate(config, REPO / "schemas/config.schema.yaml")


def table_rows(d: dict) -> list[dict]:
    """The report's table row of one run (benchmarks/_rows.py): both wall times and choices."""
    full, cut = d["runs"]["every candidate in full"], d["runs"]["warm-up cutoff"]
    same = "the same choice" if d["same_choice"] else (
        f"different choices: {full['choice']} in full, {cut['choice']} with the cutoff")  # fmt: skip
    return [
        row(
            "calibrate job: warm-up cutoff",
            machine_text(d.get("machine")),
            "cpu",
            f"cutoff {cut['cutoff']:g} vs every candidate in full; {d['command']}",
            f"{cut['seconds']:.0f} vs {full['seconds']:.0f} s",
            d["speedup"],
            same,
        )
    ]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", default=None)
    ap.add_argument("--name", default=None, help="result name (default: cpu model slug)")
    args = ap.parse_args(argv)
    config = preset(args.configfile)
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    device = resolve_device("cpu")
    step = calibration_settings(config)
    runs = {}
    shipped = calibration.WARMUP_CUTOFF
    for label, cutoff in (("every candidate in full", 0.0), ("warm-up cutoff", shipped)):
        calibration.WARMUP_CUTOFF = cutoff
        t0 = time.perf_counter()
        out = calibration.calibrate(device, cores, 3, "auto", "auto", "auto", step)
        runs[label] = {
            "cutoff": cutoff,
            "seconds": round(time.perf_counter() - t0, 1),
            "choice": out["choice"],
            "measured": out["measured"],
            "sampling_measured": out["sampling_measured"],
        }
        print(f"{label}: {runs[label]['seconds']} s, choice {out['choice']}", flush=True)
    calibration.WARMUP_CUTOFF = shipped
    full, cut = runs["every candidate in full"], runs["warm-up cutoff"]
    model = cpu_model_name()
    result = {
        "benchmark": "calibration_cutoff",
        "command": "python benchmarks/calibration_cutoff.py"
        + (f" --configfile {args.configfile}" if args.configfile else ""),
        "machine": {"cpu_model": model, "cores": cores, "torch": torch.__version__},
        "runs": runs,
        "speedup": round(full["seconds"] / cut["seconds"], 2),
        "same_choice": full["choice"] == cut["choice"],
    }
    print(f"speedup {result['speedup']}x, same choice: {result['same_choice']} ({model})")
    name = args.name or re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")
    path = REPO / "benchmarks" / "results" / f"calibration_cutoff_{name}.json"
    add_rows(result, table_rows(result))
    path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(path)
    return result


if __name__ == "__main__":
    main()
