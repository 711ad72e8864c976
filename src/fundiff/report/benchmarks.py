"""The committed speed benchmarks (``benchmarks/results/*.json``) as one table for the report.

Every ``benchmarks/*.py`` writes, beside its raw measurements (the evidence), a top-level
``"rows"`` list already in the table's columns (``ROW_COLUMNS``: benchmark, machine, device,
variants, value, ratio, note; ``benchmarks/_rows.py`` writes them). This module only reads those
rows and fills in ``file``; it recognises no file structures. A file without a valid ``rows``
list (or not valid JSON) gives no rows and a note naming the file and the fix, never an error.
``table_data`` lays the rows out for the report, each machine's rows together (the report shows
the machine once, as a heading row).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

COLUMNS = ["file", "benchmark", "machine", "device", "variants", "value", "ratio", "note"]
ROW_COLUMNS = COLUMNS[1:]  # what a benchmark script writes; ``file`` is filled in here
TEXT_COLUMNS = [c for c in ROW_COLUMNS if c != "ratio"]
# benchmarks/<script>.py writes benchmarks/results/<script>*.json; the rest are run.py's --name
SCRIPTS = ("calibration_cutoff", "cold_run", "cuda_graph_check", "dryrun_overhead",
           "hybrid_sweep", "if_rehearsal", "if_unet_step", "startup_imports",
           "tune_class_cond")  # fmt: skip


def row_problem(r) -> str | None:
    """Why ``r`` is not a row of the table (None when it is): exactly ``ROW_COLUMNS``, text in
    the text columns, ``ratio`` a number or null."""
    if not isinstance(r, dict):
        return f"a {type(r).__name__}, not an object"
    if set(r) != set(ROW_COLUMNS):
        missing, extra = set(ROW_COLUMNS) - set(r), set(r) - set(ROW_COLUMNS)
        return "columns " + "; ".join(
            f"{what} {', '.join(sorted(keys))}"
            for what, keys in (("missing", missing), ("unknown", extra))
            if keys
        )
    bad = [c for c in TEXT_COLUMNS if not isinstance(r[c], str)]
    ratio = r["ratio"]
    if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, (int, float))):
        bad.append("ratio")
    return f"wrong type in {', '.join(bad)}" if bad else None


def _fix(name: str) -> str:
    stem = Path(name).stem
    script = next((s for s in SCRIPTS if stem.startswith(s)), None)
    return (
        f"re-run benchmarks/{script}.py"
        if script
        else "re-run the benchmarks/*.py script that wrote it"
    )


def summarize(path: str | os.PathLike) -> tuple[list[dict], str | None]:
    """(rows, note) for one results file: its ``rows`` with ``file`` filled in; ``note`` says
    why a file gave no rows and how to fix it."""
    name = Path(path).name
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        return [], f"{name}: not readable JSON ({type(e).__name__}): {_fix(name)}"
    rows = d.get("rows") if isinstance(d, dict) else None
    if not isinstance(rows, list):
        return [], f"{name}: no 'rows' list: {_fix(name)}"
    if not rows:
        return [], f"{name}: an empty 'rows' list: {_fix(name)}"
    for i, r in enumerate(rows):
        if problem := row_problem(r):
            return (
                [],
                f"{name}: row {i + 1} is not in the table's columns ({problem}): {_fix(name)}",
            )
    out = [{"file": name, **{c: r[c] for c in ROW_COLUMNS}} for r in rows]
    for r in out:
        r["ratio"] = None if r["ratio"] is None else float(r["ratio"])
    return out, None


def summarize_all(paths) -> tuple[list[dict], list[str]]:
    """Rows of every file (sorted by name) and the notes of the files that gave none."""
    rows, notes = [], []
    for p in sorted(map(Path, paths), key=lambda p: p.name):
        r, note = summarize(p)
        rows += r
        if note:
            notes.append(note)
    return rows, notes


# The report's table: (column header, row key). The report groups a data table by its
# "machine" column (fundiff.report.render.GROUP_BY): one heading row per machine, the column dropped.
TABLE_COLUMNS = [
    ("machine", "machine"),
    ("benchmark", "benchmark"),
    ("device / size", "device"),
    ("variants", "variants"),
    ("values", "value"),
    ("ratio", "ratio"),
    ("note", "note"),
    ("file", "file"),
]


def by_machine(rows: list[dict]) -> list[dict]:
    """The rows with each machine's rows together: machines in order of first appearance, rows
    in their order within a machine (files sorted by name, rows as each file gives them)."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["machine"], []).append(r)
    return [r for g in groups.values() for r in g]


def table_data(rows: list[dict]) -> dict:
    """The ``data`` of the report's benchmark table spec (fundiff.report.tables): grouped by machine."""
    return {
        "columns": [c for c, _ in TABLE_COLUMNS],
        "rows": [[r[k] for _, k in TABLE_COLUMNS] for r in by_machine(rows)],
    }


CAPTION = (
    "Read from the committed benchmarks/results/*.json. Every ratio compares two variants run "
    "interleaved on the same machine (A B A B ..., median round), so load from other processes "
    "hits both; ratio > 1 means the first variant is faster (for the dry-run overhead: how much "
    "slower the workflow's dry run is than bare Snakemake). Absolute numbers depend on the "
    "machine and its load. Rows are grouped by the machine they were measured on."
)


def table_caption(n_files: int, notes: list[str]) -> str:
    """The benchmark table's caption: how to read it, + a missing-files or skipped-files note."""
    caption = CAPTION
    if not n_files:
        caption += " No results files were found in this checkout."
    if notes:
        caption += " Skipped: " + "; ".join(notes) + "."
    return caption
