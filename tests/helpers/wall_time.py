"""Compare two runs' results byte for byte except the wall times they measured.

A few beyond-the-spec results report how long sampling took (the fast-sampler curve, the DDPM vs
flow table, RePaint's cost). Those seconds are measurements of the machine, not results of the
seed: they differ between two runs of the same commit. Everything else must stay byte-identical,
so instead of skipping those files, :func:`mask_wall_times` blanks exactly the wall-time values:

* a column or key whose name contains "second" (``seconds``, ``seconds (n = 100)``, ...) in
  JSON table specs (``data.columns`` / ``data.rows``), CSV files, ``.npz`` arrays and the
  report's HTML / Markdown data tables;
* plots whose axis is wall time (:data:`WALL_TIME_PLOTS`): only their existence is compared.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np

WALL_TIME_PLOTS = {"quality_time.png"}  # the fast samplers' quality vs sampling seconds


def is_wall_time(name: str) -> bool:
    return "second" in str(name).lower()


def _mask_json(node):
    if isinstance(node, dict):
        out = {k: ("<wall time>" if is_wall_time(k) else _mask_json(v)) for k, v in node.items()}
        data = out.get("data")
        if isinstance(data, dict) and "columns" in data and "rows" in data:
            cols = [i for i, c in enumerate(data["columns"]) if is_wall_time(c)]
            data["rows"] = [
                ["<wall time>" if i in cols else v for i, v in enumerate(r)] for r in data["rows"]
            ]
        return out
    if isinstance(node, list):
        return [_mask_json(v) for v in node]
    return node


def _mask_csv(text: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return text
    cols = [i for i, c in enumerate(rows[0]) if is_wall_time(c)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for r in rows[1:]:
        writer.writerow(["" if i in cols else v for i, v in enumerate(r)])
    return out.getvalue()


def _mask_npz(path: Path, data: bytes) -> bytes:
    try:
        z = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError:  # object arrays: compared as they are
        return data
    with z:
        parts = [
            f"{k}:{z[k].dtype}:{z[k].shape}:".encode() + z[k].tobytes()
            for k in sorted(z.files)
            if not is_wall_time(k)
        ]
    return b"\n".join(parts)


_HTML_TABLE = re.compile(r"<table class=\"data[^\"]*\">.*?</table>", re.S)
_TH = re.compile(r"<th>(.*?)</th>", re.S)
_TR = re.compile(r"<tr>(.*?)</tr>", re.S)
_TD = re.compile(r"(<td[^>]*>)(.*?)(</td>)", re.S)


def _mask_html_table(m: re.Match) -> str:
    table = m.group(0)
    head = table.split("</thead>", 1)[0]
    cols = [i for i, h in enumerate(_TH.findall(head)) if is_wall_time(h)]
    if not cols:
        return table

    def row(r: re.Match) -> str:
        cells = iter(range(10**6))
        body = _TD.sub(
            lambda c: c.group(1) + ("" if next(cells) in cols else c.group(2)) + c.group(3),
            r.group(1),
        )
        return f"<tr>{body}</tr>"

    return _TR.sub(row, table)


def _mask_markdown(text: str) -> str:
    lines = text.split("\n")
    cols: list[int] = []
    for i, line in enumerate(lines):
        if not line.startswith("|"):
            cols = []
            continue
        cells = line.strip().strip("|").split("|")
        if i + 1 < len(lines) and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[i + 1].strip()):
            cols = [j for j, c in enumerate(cells) if is_wall_time(c)]  # a header row
        elif cols and not re.fullmatch(r"(\s*:?-+:?\s*)", cells[0]):
            lines[i] = "|" + "|".join("" if j in cols else c for j, c in enumerate(cells)) + "|"
    return "\n".join(lines)


def mask_wall_times(path: Path, data: bytes) -> bytes:
    """``data`` (the bytes of ``path``) with its wall-time values blanked (see the module)."""
    if path.name in WALL_TIME_PLOTS:
        return b"<a plot of wall times>"
    if path.suffix == ".npz":
        return _mask_npz(path, data)
    if path.suffix == ".json":
        return json.dumps(_mask_json(json.loads(data)), sort_keys=True).encode()
    if path.suffix == ".csv":
        return _mask_csv(data.decode()).encode()
    if path.suffix == ".html":
        return _HTML_TABLE.sub(_mask_html_table, data.decode()).encode()
    if path.suffix == ".md":
        return _mask_markdown(data.decode()).encode()
    return data
