"""Dry-run overhead: an up-to-date `snakemake -n` of this workflow vs bare Snakemake start-up.

Both are timed side by side in one run (alternating, several repetitions, median wall time and
peak resident memory of the Snakemake process, from ``wait4``'s rusage):
  workflow  `snakemake -n --cores 1 --configfile configs/tiny.yaml` in a finished copy of this
            workflow (default profile, as a user would run it): "Nothing to be done".
  baseline  `snakemake -n --cores 1 --workflow-profile none` on a one-rule Snakefile whose output
            exists: the cost of starting Snakemake at all.
Prints JSON (and writes it with --out). Not a test: the numbers depend on the machine and its load.

    python benchmarks/dryrun_overhead.py [--workdir FINISHED_COPY] [--reps 7] [--out FILE]

Without --workdir, the tiny preset is first run once in a temporary copy (a minute or two).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.helpers.workflow import SNAKEMAKE, copy_workflow  # noqa: E402  (the tests' copy)

ONE_RULE = 'rule a:\n    output:\n        "a.txt",\n    log:\n        "a.log",\n    shell:\n        "touch {output} 2> {log}"\n'


def sh(cmd: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        sys.exit(f"failed in {cwd}: {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one up-to-date dry run."""
    env = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        text = log.read()
    if p.returncode != 0 or "Nothing to be done" not in text:
        sys.exit(f"not up to date in {cwd}: {' '.join(cmd)}\n{text[-2000:]}")
    return dt, usage.ru_maxrss / 1024  # Linux: KiB


def finished_copy(tmp: Path) -> Path:
    wd = copy_workflow(tmp / "workflow")
    print("running the tiny preset once in", wd, file=sys.stderr)
    sh([*SNAKEMAKE, "--cores", "2", "--configfile", "configs/tiny.yaml"], wd)
    return wd


def machine() -> dict:
    cpu = ""
    if Path("/proc/cpuinfo").exists():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import snakemake

    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "snakemake": snakemake.__version__,
        "load_average_1m_at_start": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, help="a finished copy of the workflow (tiny preset)")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="dryrun-overhead-") as tmp:
        tmp = Path(tmp)
        wd = args.workdir.resolve() if args.workdir else finished_copy(tmp)
        base = tmp / "baseline"
        base.mkdir()
        (base / "Snakefile").write_text(ONE_RULE)
        sh([*SNAKEMAKE, "--cores", "1", "--workflow-profile", "none"], base)
        wf_cmd = [*SNAKEMAKE, "-n", "--cores", "1", "--configfile", "configs/tiny.yaml"]
        base_cmd = [*SNAKEMAKE, "-n", "--cores", "1", "--workflow-profile", "none"]
        timed(wf_cmd, wd), timed(base_cmd, base)  # warm the page cache
        wf, bl = [], []
        for _ in range(args.reps):
            bl.append(timed(base_cmd, base))
            wf.append(timed(wf_cmd, wd))
    wf_t, base_t = [t for t, _ in wf], [t for t, _ in bl]
    wf_mib, base_mib = max(m for _, m in wf), max(m for _, m in bl)
    result = {
        "what": "median wall time of an up-to-date `snakemake -n` (tiny preset) vs the same on a "
        "one-rule Snakefile, alternating, same Python",
        "reps": args.reps,
        "workflow_s": round(statistics.median(wf_t), 3),
        "baseline_s": round(statistics.median(base_t), 3),
        "ratio": round(statistics.median(wf_t) / statistics.median(base_t), 3),
        "target_ratio": 1.3,
        "workflow_peak_mib": round(wf_mib, 1),
        "baseline_peak_mib": round(base_mib, 1),
        "target_peak_mib": 250,
        "workflow_all_s": [round(t, 3) for t in wf_t],
        "baseline_all_s": [round(t, 3) for t in base_t],
        "machine": info,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
