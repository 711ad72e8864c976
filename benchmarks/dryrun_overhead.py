"""Dry-run overhead: an up-to-date `snakemake -n` of this workflow vs bare Snakemake start-up.

Both are timed side by side in one run (alternating, several repetitions, median wall time and
peak resident memory of the Snakemake process, from ``wait4``'s rusage), both under this
interpreter (``python -m snakemake``):
  workflow  `snakemake -n --cores 1 --configfile configs/tiny.yaml` in a finished copy of this
            workflow (default profile, as a user would run it): "Nothing to be done".
  baseline  `snakemake -n --cores 1 --workflow-profile none` on a one-rule Snakefile whose output
            exists: the cost of starting Snakemake at all.
Prints JSON with the report's table row (benchmarks/_rows.py) and writes it with --out. Not a
test: the numbers depend on the machine and its load.

    python benchmarks/dryrun_overhead.py [--workdir FINISHED_COPY] [--configfile FILE]
        [--target FILE_OR_RULE ...] [--reps 7] [--cores N] [--out FILE]

Without --workdir, the preset (--configfile, default configs/tiny.yaml; "" for the default
config.yaml alone) is first run once in a temporary copy with --cores N (default all): a few
minutes for the tiny preset. With --workdir, that copy must have finished that preset.
--target dry-runs (and first runs) only those targets instead of rule all: the same parse, a
smaller DAG (e.g. ``--target results/data/mnist.pt`` checks the script in seconds).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _rows import add_rows, machine_text, print_and_write, row

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.helpers.workflow import copy_workflow  # noqa: E402  (the tests' copy)

SNAKEMAKE = [sys.executable, "-m", "snakemake"]

ONE_RULE = 'rule a:\n    output:\n        "a.txt",\n    log:\n        "a.log",\n    shell:\n        "touch {output} 2> {log}"\n'


def sh(cmd: list[str], cwd: Path, timeout: int | None = 900) -> subprocess.CompletedProcess:
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


def preset_args(configfile: str, targets: list[str]) -> list[str]:
    return [*targets, *(["--configfile", configfile] if configfile else [])]


def finished_copy(tmp: Path, configfile: str, targets: list[str], cores: str) -> Path:
    wd = copy_workflow(tmp / "workflow")
    print(f"running {configfile or 'config.yaml'} once in {wd}", file=sys.stderr, flush=True)
    sh([*SNAKEMAKE, "--cores", cores, *preset_args(configfile, targets)], wd, timeout=None)
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


def table_rows(d: dict) -> list[dict]:
    """The report's table row of one measurement (benchmarks/_rows.py)."""
    notes = [f"target <= {d['target_ratio']}"] if d.get("target_ratio") else []
    if all(d.get(k) for k in ("workflow_peak_mib", "baseline_peak_mib", "target_peak_mib")):
        notes.append(
            f"peak memory {d['workflow_peak_mib']:.0f} vs {d['baseline_peak_mib']:.0f} MiB "
            f"(target <= {d['target_peak_mib']})"
        )
    what = " ".join([f"{d.get('preset', 'tiny')} preset", *d.get("targets", [])])
    return [
        row(
            f"dry-run overhead ({what})",
            machine_text(d.get("machine")),
            "",
            "workflow -n vs one-rule Snakefile -n",
            f"{d['workflow_s']:.2f} vs {d['baseline_s']:.2f} s",
            d["ratio"],
            "; ".join(notes),
        )
    ]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, help="a copy of the workflow that finished the preset")
    ap.add_argument("--configfile", default="configs/tiny.yaml", help='the preset ("": default)')
    ap.add_argument("--target", nargs="*", default=[], help="instead of rule all")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--cores", default="all", help="for the preset's run without --workdir")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    preset = Path(args.configfile).stem if args.configfile else "default"
    info = machine()
    with tempfile.TemporaryDirectory(prefix="dryrun-overhead-") as tmp:
        tmp = Path(tmp)
        wd = (
            args.workdir.resolve()
            if args.workdir
            else finished_copy(tmp, args.configfile, args.target, args.cores)
        )
        base = tmp / "baseline"
        base.mkdir()
        (base / "Snakefile").write_text(ONE_RULE)
        sh([*SNAKEMAKE, "--cores", "1", "--workflow-profile", "none"], base)
        wf_cmd = [*SNAKEMAKE, "-n", "--cores", "1", *preset_args(args.configfile, args.target)]
        base_cmd = [*SNAKEMAKE, "-n", "--cores", "1", "--workflow-profile", "none"]
        timed(wf_cmd, wd), timed(base_cmd, base)  # warm the page cache
        wf, bl = [], []
        for _ in range(args.reps):
            bl.append(timed(base_cmd, base))
            wf.append(timed(wf_cmd, wd))
    wf_t, base_t = [t for t, _ in wf], [t for t, _ in bl]
    wf_mib, base_mib = max(m for _, m in wf), max(m for _, m in bl)
    result = {
        "what": "median wall time of an up-to-date `snakemake -n` "
        f"({' '.join([f'{preset} preset', *args.target])}) vs the same on a one-rule Snakefile, "
        "alternating, same Python",
        "preset": preset,
        "targets": args.target,
        "command": " ".join(["snakemake", *wf_cmd[3:]]),
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
    add_rows(result, table_rows(result))
    return print_and_write(result, args.out)


if __name__ == "__main__":
    main()
