"""Job start-up imports: what every Snakemake job pays before its work, at two commits.

Every script under scripts/ starts with ``import fundiff.workflow.runner`` (most Part A ones also
``fundiff.workflow.script``). This times that import in fresh interpreters, the two commits
alternating (``--reps`` each, after one warm-up of each for the page cache), each from its own
``git worktree`` (detached, in a temporary folder, removed afterwards) on ``PYTHONPATH``, with
this interpreter. Also timed the same way: the top-level imports of a few scripts (``--scripts``,
as the job runs them: everything but ``main`` and ``run(...)``). Reported: the median import
seconds inside the child (``time.perf_counter`` around the import; interpreter start-up
excluded) and which heavy packages each import left in ``sys.modules``.

    python benchmarks/startup_imports.py --before REV [--after REV] [--reps 10]
        [--scripts parta_noisy,parta_table] [--out FILE]

Prints JSON with the report's table row (benchmarks/_rows.py). Not a test: the numbers depend on
the machine and its load (say what else ran in ``--conditions``).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _rows import add_rows, print_and_write, row

REPO = Path(__file__).resolve().parents[1]
GLUE = "import fundiff.workflow.runner, fundiff.workflow.script"
HEAVY = ("matplotlib.pyplot", "torchvision", "diffusers", "transformers", "pandas", "scipy")
CHILD = """\
import sys, time
t0 = time.perf_counter()
{code}
dt = time.perf_counter() - t0
import json, fundiff
print(json.dumps({{"s": dt, "fundiff": fundiff.__file__, "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.strip()


def script_imports(path: Path) -> str:
    """The top-level import statements of a Snakemake script (what its job imports first)."""
    tree = ast.parse(path.read_text())
    return "\n".join(
        ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
    )


def once(tree: Path, code: str) -> dict:
    """One fresh interpreter importing ``code`` from the worktree ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "MPLBACKEND": "Agg"}
    child = CHILD.format(code=code, heavy=HEAVY)
    proc = subprocess.run(
        [sys.executable, "-c", child], cwd=tree, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        sys.exit(f"import failed in {tree}:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if not Path(out["fundiff"]).resolve().is_relative_to(tree.resolve()):
        sys.exit(f"imported fundiff from {out['fundiff']}, not from {tree}")
    return out


def compare(trees: dict[str, Path], code: dict[str, str], reps: int) -> dict:
    """{variant: {"all_s": [...], "median_s": m, "heavy": [...]}}, variants alternating."""
    runs = {v: [] for v in trees}
    for v, tree in trees.items():  # warm-up
        once(tree, code[v])
    for _ in range(reps):
        for v, tree in trees.items():
            runs[v].append(once(tree, code[v]))
    return {
        v: {
            "median_s": round(statistics.median(r["s"] for r in rs), 3),
            "all_s": [round(r["s"], 3) for r in rs],
            "heavy": rs[-1]["heavy"],
        }
        for v, rs in runs.items()
    }


def machine() -> dict:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next(
        (ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_1m_at_start": os.getloadavg()[0],
    }


def table_rows(result: dict) -> list[dict]:
    """The report's row of one run: the glue's median after, the before/after ratio, and each
    script's medians in the note."""
    results, info = result["results"], result["machine"]
    glue = results["glue"]
    notes = [f"{result['code'].removeprefix('import ')}: {glue['before']['median_s']:.2f} s before"]
    notes += [
        f"{k}: {r['before']['median_s']:.2f} -> {r['after']['median_s']:.2f} s"
        for k, r in results.items()
        if k != "glue"
    ]
    if result.get("conditions"):
        notes.append(result["conditions"])
    return [
        row(
            "job start-up imports",
            f"{info['cpu']}, {info['cpus']} cores",
            "CPU",
            "before vs after",
            f"{glue['after']['median_s']:.2f} s",
            result["ratio"],
            "; ".join(notes),
        )
    ]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", required=True, help="the commit before the change")
    ap.add_argument("--after", default="HEAD", help="the commit with it (default HEAD)")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--scripts", default="parta_noisy,parta_table", help='"" for none')
    ap.add_argument("--conditions", default="", help="what else the machine was running")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    if args.reps < 1:
        ap.error("--reps must be at least 1")
    commits = {"before": git("rev-parse", args.before), "after": git("rev-parse", args.after)}
    info = machine()
    with tempfile.TemporaryDirectory(prefix="startup-imports-") as tmp:
        trees = {v: Path(tmp) / v for v in commits}
        for v, commit in commits.items():
            git("worktree", "add", "--detach", str(trees[v]), commit)
        try:
            results = {"glue": compare(trees, dict.fromkeys(trees, GLUE), args.reps)}
            for name in filter(None, args.scripts.split(",")):
                code = {v: script_imports(t / "scripts" / f"{name}.py") for v, t in trees.items()}
                results[f"scripts/{name}.py"] = compare(trees, code, args.reps)
        finally:
            for tree in trees.values():
                git("worktree", "remove", "--force", str(tree))
    glue = results["glue"]
    ratio = glue["before"]["median_s"] / glue["after"]["median_s"]
    result = {
        "what": "median seconds of the job start-up imports in a fresh interpreter (inside the "
        "child, interpreter start excluded), the two commits alternating",
        "code": GLUE,
        "commits": commits,
        "reps": args.reps,
        "results": results,
        "ratio": round(ratio, 3),
        "machine": info,
        "conditions": args.conditions,
    }
    add_rows(result, table_rows(result))
    return print_and_write(result, args.out)


if __name__ == "__main__":
    main()
