"""The rows every benchmark script writes beside its measurements, in the report's table columns.

Each ``benchmarks/*.py`` builds its rows with ``row`` and adds them to the JSON it writes with
``add_rows`` (a top-level ``"rows"`` list; the raw measurements stay beside it as the evidence).
The report (``fundiff.report.benchmarks``) reads only these rows. Torch-free.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from fundiff.report.benchmarks import ROW_COLUMNS, row_problem  # noqa: E402


def _num(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def row(benchmark, machine="", device="", variants="", value="", ratio=None, note="") -> dict:
    """One row of the table: text columns as text, ``ratio`` a float or None (not a number)."""
    text = dict(benchmark=benchmark, machine=machine, device=device, variants=variants,
                value=value, note=note)  # fmt: skip
    return {c: _num(ratio) if c == "ratio" else str(text[c]) for c in ROW_COLUMNS}


def add_rows(result: dict, rows: list[dict]) -> dict:
    """``result`` with its table rows under ``"rows"`` (replacing any); a row not in the table's
    columns is an error here, where it is made, not a note in the report."""
    for i, r in enumerate(rows):
        if problem := row_problem(r):
            raise ValueError(f"benchmark row {i + 1} is not in the table's columns: {problem}")
    result["rows"] = rows
    return result


def machine_text(m) -> str:
    """A short description of a ``machine`` block (dict) or string: "[GPU / ]CPU, N cores"."""
    if isinstance(m, str):
        return m
    if not isinstance(m, dict):
        return ""
    cpus = m.get("cpus", m.get("cpu_count", m.get("cores")))
    cpu = m.get("cpu") or m.get("cpu_model") or "CPU"
    parts = [f"{cpu}, {cpus} cores" if cpus else cpu]
    if m.get("cuda"):
        parts.insert(0, str(m["cuda"]))
    return " / ".join(parts)


def job_notes(d: dict) -> list[str]:
    """The three slowest jobs and the largest job's peak memory of a Snakemake run's record
    (``rule_seconds`` / ``rule_peak_rss_mb``: job -> seconds / MB), as notes."""
    notes = []
    slowest = sorted((d.get("rule_seconds") or {}).items(), key=lambda kv: -kv[1])[:3]
    if slowest:
        notes.append("slowest: " + ", ".join(f"{k} {v:.0f} s" for k, v in slowest))
    peaks = d.get("rule_peak_rss_mb") or {}
    if peaks:
        job = max(peaks, key=peaks.get)
        notes.append(f"largest job peak memory {peaks[job]:.0f} MB ({job})")
    return notes


def print_and_write(result: dict, out: Path | None) -> dict:
    """Print ``result`` as JSON and write it to ``out`` (folders made) when given."""
    import json

    text = json.dumps(result, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    return result
