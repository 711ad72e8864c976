"""Cold run of the whole embedded writeup on this machine, recorded for the README and report.

    python benchmarks/cold_run.py [--configfile configs/X.yaml] [--name NAME]

Copies the repository without run state into a temp folder, runs `snakemake --cores all` there
(timed), then an up-to-date dry run, and writes benchmarks/results/cold_run_<name>.json with the
CPU model (lscpu), the wall time, every rule's wall time (Snakemake `benchmark:` files), the
measured calibration (precision / threads) and the quality numbers of results/eval/ (the issue-11
targets with met / not met). One file per machine measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _rows import add_rows, job_notes, machine_text, row

REPO = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or platform.machine()


def git_describe() -> str:
    """The commit measured (+ "-dirty" when the working tree had changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True,
                               text=True).stdout.strip()  # fmt: skip
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def copy_repo(dst: Path) -> None:
    shutil.copytree(REPO, dst, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".snakemake", "results", "logs", "resources", "__pycache__",
        ".pytest_cache", ".ruff_cache", "*.egg-info"))  # fmt: skip
    shutil.rmtree(dst / "benchmarks" / "rules", ignore_errors=True)


def rule_benchmarks(wd: Path, column: str) -> dict:
    """One column of every job's Snakemake `benchmark:` file ("s": wall seconds, "max_rss": peak
    resident memory of the job's processes in MB), by job."""
    out = {}
    for tsv in sorted((wd / "benchmarks" / "rules").glob("*.tsv")):
        with open(tsv) as f:
            row = next(csv.DictReader(f, delimiter="\t"))
        try:
            out[tsv.stem] = round(float(row[column]), 2)
        except ValueError:  # "NA": the job ended before the first measurement
            continue
    return out


def table_rows(d: dict) -> list[dict]:
    """The report's table row of a cold run (benchmarks/_rows.py): wall time, the measured
    layout, the final scores and the slowest / largest jobs."""
    choice = (d.get("calibration") or {}).get("choice", {})
    layout = ", ".join(
        [
            "training bf16" if choice.get("amp_bf16") else "training fp32",
            f"{choice.get('threads', '?')} thread(s) per training",
            "sampling bf16" if choice.get("sample_bf16") else "sampling fp32",
            f"{choice.get('sample_threads', '?')} thread(s) per sampling job",
        ]
    )
    q = d.get("quality") or {}
    cc, tc = q.get("class_cond") or {}, q.get("time_cond") or {}
    notes = [str(d["conditions"])] if d.get("conditions") else []  # e.g. measured under load
    notes.append(f"{d.get('jobs', '?')} jobs")
    if isinstance(cc.get("accuracy"), (int, float)):
        notes.append(
            f"class_cond at CFG {cc.get('guidance_scale', '?'):g}: {cc['accuracy']:.1%} right, "
            f"FD ratio {cc.get('fd_ratio', float('nan')):.2f} (n = {cc.get('n')})"
        )
    if isinstance(tc.get("confidence"), (int, float)):
        notes.append(
            f"time_cond: confidence {tc['confidence']:.2f}, entropy "
            f"{tc.get('class_entropy', float('nan')):.2f}, FD ratio "
            f"{tc.get('fd_ratio', float('nan')):.2f} (n = {tc.get('n')})"
        )
    notes += job_notes(d)
    return [
        row(
            "pipeline cold run",
            machine_text(d.get("machine")),
            "cpu",
            f"{d.get('command', 'snakemake --cores all')}; {layout}",
            f"{d['wall_seconds']:.0f} s",
            note="; ".join(notes),
        )
    ]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", default=None)
    ap.add_argument("--name", default=None, help="result name (default: cpu model slug)")
    ap.add_argument("--keep", default=None, help="copy the run's results/ here afterwards")
    ap.add_argument("--conditions", default=None,
                    help="how the machine was loaded, shown in the benchmark table")  # fmt: skip
    args = ap.parse_args(argv)
    model = cpu_model()
    name = args.name or re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")
    commit = git_describe()  # what is copied and measured
    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp) / "workflow"
        copy_repo(wd)
        env = {**os.environ, "PYTHONPATH": str(wd / "src")}
        cmd = [sys.executable, "-m", "snakemake", "--cores", "all"]
        if args.configfile:
            cmd += ["--configfile", args.configfile]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=wd, env=env, capture_output=True, text=True)
        cold = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(f"snakemake failed:\n{proc.stderr[-3000:]}")
        t0 = time.perf_counter()
        subprocess.run(cmd + ["-n"], cwd=wd, env=env, capture_output=True, check=True)
        dry = time.perf_counter() - t0
        res = wd / "results"
        summary = json.loads((res / "eval/summary.json").read_text())
        parta = res / "eval/parta_summary.json"
        result = {
            "benchmark": "cold_run",
            "command": " ".join(["snakemake", *cmd[3:]]),
            "machine": {
                "cpu_model": model,
                "cores": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
            },
            "git": commit,
            **({"conditions": args.conditions} if args.conditions else {}),
            "wall_seconds": round(cold, 1),
            "dry_run_seconds": round(dry, 2),
            "jobs": proc.stderr.count("Finished jobid"),
            "rule_seconds": rule_benchmarks(wd, "s"),
            "rule_peak_rss_mb": rule_benchmarks(wd, "max_rss"),
            "calibration": json.loads((res / "partb/calibration.json").read_text()),
            "quality": {
                "class_cond": summary["class_cond"],
                "time_cond": summary["time_cond"],
                "reference": summary["reference"],
                "targets": summary["targets"],
                "cfg_sweep": summary["cfg_sweep"],
                "parta": json.loads(parta.read_text()) if parta.exists() else None,
            },
        }
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(res, args.keep)
    try:
        import torch

        result["machine"]["torch"] = torch.__version__
    except ImportError:
        pass
    path = REPO / "benchmarks" / "results" / f"cold_run_{name}.json"
    add_rows(result, table_rows(result))
    path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"{path}: {cold:.0f} s on {model}")
    return result


if __name__ == "__main__":
    main()
