"""fundiff.report.tables: the table-spec contract between figure rules and the report."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fundiff.report.sections import SECTIONS
from fundiff.report.tables import cell, check_data, read_table, write_table


def strict_load(path):
    """Load JSON refusing NaN / Infinity (the report reads strict JSON)."""

    def refuse(name):
        raise AssertionError(f"non-strict JSON constant {name}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_cell_is_a_plain_dict():
    assert cell("a/b.png") == {"src": "a/b.png", "caption": "", "turn": None}
    c = cell(Path("x") / "y.png", "t = 250", "flip")
    assert c == {"src": str(Path("x") / "y.png"), "caption": "t = 250", "turn": "flip"}
    assert isinstance(c["src"], str)


def test_write_read_round_trip_resolves_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the workdir: rule paths start with results/
    out = tmp_path / "results" / "a1_1"
    out.mkdir(parents=True)
    for name in ("orig.png", "t250.png", "sub/t500.png"):
        (out / name).parent.mkdir(exist_ok=True)
        (out / name).write_bytes(b"png")
    rows = [
        {
            "label": "campanile",
            "cells": [
                cell("results/a1_1/orig.png", "original"),  # workdir-relative
                cell(out / "t250.png", "t = 250", "rotate180"),  # absolute
                {**cell("sub/t500.png", "t = 500"), "extra": 7},  # already JSON-relative
            ],
        },
        {"cells": []},  # no label
    ]
    json_path = "results/a1_1/table.json"
    write_table(json_path, "A1.1", "Forward process", rows, ("a", "b"), {"t": (250, 500)})

    spec = strict_load(out / "table.json")
    assert spec["section"] == "A1.1" and spec["title"] == "Forward process"
    assert spec["columns"] == ["a", "b"] and spec["params"] == {"t": [250, 500]}
    assert "caption" not in spec and "data" not in spec
    cells = spec["rows"][0]["cells"]
    assert [c["src"] for c in cells] == ["orig.png", "t250.png", "sub/t500.png"]
    assert [c["turn"] for c in cells] == [None, "rotate180", None]
    assert cells[2]["extra"] == 7  # other cell keys kept
    assert spec["rows"][0]["label"] == "campanile" and spec["rows"][1] == {"label": "", "cells": []}

    back = read_table(out / "table.json")
    paths = [c["path"] for c in back["rows"][0]["cells"]]
    assert [open(p, "rb").read() for p in paths] == [b"png"] * 3
    assert paths[1] == str(out / "t250.png")
    assert rows[0]["cells"][0]["src"] == "results/a1_1/orig.png"  # the caller's rows untouched


def test_write_table_params_nan_and_inf_become_strict_json(tmp_path):
    params = {"psnr": float("nan"), "hi": float("inf"), "lo": -math.inf, "n": np.int64(3)}
    write_table(tmp_path / "t.json", "A1.1", "T", [], params=params)
    spec = strict_load(tmp_path / "t.json")
    assert spec["params"] == {"psnr": None, "hi": "inf", "lo": "-inf", "n": 3}
    assert spec["rows"] == [] and spec["columns"] == []


def test_write_table_caption_and_data(tmp_path):
    data = {
        "columns": ["method", 2],
        "rows": [["blur", np.float32(21.5)], ["none", float("nan")], ["x", None]],
    }
    write_table(tmp_path / "t.json", "C1", "Bench", [], caption="$\\sigma$ sweep", data=data)
    spec = strict_load(tmp_path / "t.json")
    assert spec["caption"] == "$\\sigma$ sweep"
    assert spec["data"] == {
        "columns": ["method", "2"],
        "rows": [["blur", 21.5], ["none", None], ["x", None]],
    }


def test_write_table_empty_params_and_unknown_section(tmp_path):
    write_table(tmp_path / "t.json", "A1.1", "T", [], params=None)
    assert strict_load(tmp_path / "t.json")["params"] == {}
    assert "Z9" not in SECTIONS
    with pytest.raises(ValueError, match="unknown writeup section 'Z9'") as e:
        write_table(tmp_path / "bad.json", "Z9", "T", [])
    assert "A1.1" in str(e.value)  # lists the known ids
    assert not (tmp_path / "bad.json").exists()


def test_check_data_plain_lists():
    out = check_data({"columns": ("a", "b"), "rows": [(np.int64(1), np.float64(2.5))]})
    assert out == {"columns": ["a", "b"], "rows": [[1, 2.5]]}
    assert type(out["rows"][0][0]) is int and type(out["rows"][0][1]) is float


@pytest.mark.parametrize(
    "rows, match",
    [
        ([[1]], "has 1 values for 2 columns"),
        ([[1, 2, 3]], "has 3 values for 2 columns"),
        ([[1, {"x": 1}]], "is not a number, a string or None"),
        ([[1, [2, 3]]], "is not a number, a string or None"),
    ],
)
def test_check_data_bad_rows(rows, match, tmp_path):
    data = {"columns": ["a", "b"], "rows": rows}
    with pytest.raises(ValueError, match=match):
        check_data(data)
    with pytest.raises(ValueError, match=match):
        write_table(tmp_path / "t.json", "C1", "T", [], data=data)
    assert not (tmp_path / "t.json").exists()
