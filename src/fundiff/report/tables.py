"""Figure tables: the contract between the rules that make figures and the report.

A rule that produces a writeup figure as a table of images (rows of t, i_start, prompts ...)
writes each cell as a PNG/GIF and one JSON *table spec* beside them::

    {
      "section": "A1.1",                       # writeup section id (see SECTIONS)
      "title": "Forward process",
      "columns": ["original", "t = 250", ...], # header row, may be empty
      "rows": [{"label": "campanile",
                "cells": [{"src": "campanile_t250.png", "caption": "t = 250",
                           "turn": null}, ...]}],
      "params": {"t": [250, 500, 750], "seed": 180},  # values actually used (plain JSON)
      "caption": "what the figure measures",   # optional; inline $tex$ allowed
      "data": {"columns": ["method", "PSNR"],  # optional numeric table (measured results)
               "rows": [["blur", 21.3], ...]}
    }

``src`` paths are relative to the JSON file. The report renders every table it is given and
shows every image the tables list; a cell with ``turn`` ("rotate180" or "flip") is shown turned
that way (the second view of a visual anagram).
A spec may have no image rows at all and only ``data`` (e.g. the benchmark table); numbers in
``data`` are shown with 4 significant digits, strings as they are, ``null`` as an empty cell.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from fundiff.io import json_safe, write_json
from fundiff.report.sections import SECTIONS


def cell(src: str | os.PathLike, caption: str = "", turn: str | None = None) -> dict:
    return {"src": str(src), "caption": caption, "turn": turn}


def write_table(
    path: str | os.PathLike,
    section: str,
    title: str,
    rows: Sequence[dict],
    columns: Sequence[str] = (),
    params: dict | None = None,
    *,
    caption: str = "",
    data: dict | None = None,
) -> None:
    """Write a table spec; cell ``src`` given as paths are made relative to the JSON file.

    ``data`` = {"columns": [...], "rows": [[...], ...]}: a numeric table shown below the images
    (every row as long as ``columns``; values plain JSON: numbers, strings or None)."""
    if section not in SECTIONS:
        raise ValueError(f"unknown writeup section {section!r}; known: {', '.join(SECTIONS)}")
    base = Path(path).parent
    out_rows = []
    for row in rows:
        cells = []
        for c in row["cells"]:
            src = Path(c["src"])
            rel = (
                os.path.relpath(src, base)
                if src.is_absolute() or src.parts[:1] == ("results",)
                else str(src)
            )
            cells.append({**c, "src": rel})
        out_rows.append({"label": row.get("label", ""), "cells": cells})
    spec = {
        "section": section,
        "title": title,
        "columns": list(columns),
        "rows": out_rows,
        "params": params or {},
    }
    if caption:
        spec["caption"] = caption
    if data is not None:
        spec["data"] = check_data(data)
    write_json(path, spec)


def check_data(data: dict) -> dict:
    """A ``data`` table as plain lists; ValueError when a row does not match the columns."""
    columns = [str(c) for c in data["columns"]]
    rows = [[json_safe(v) for v in r] for r in data["rows"]]
    for r in rows:
        if len(r) != len(columns):
            raise ValueError(f"data row {r!r} has {len(r)} values for {len(columns)} columns")
        bad = [v for v in r if v is not None and not isinstance(v, (str, int, float))]
        if bad:
            raise ValueError(f"data row {r!r}: {bad[0]!r} is not a number, a string or None")
    return {"columns": columns, "rows": rows}


def read_table(path: str | os.PathLike) -> dict:
    """Load a table spec and resolve its cell paths relative to the JSON file."""
    path = Path(path)
    spec = json.loads(path.read_text())
    for row in spec["rows"]:
        for c in row["cells"]:
            c["path"] = str(path.parent / c["src"])
    return spec
