"""The benchmark table of the report: every committed results file carries its rows in the
table's columns (written by the benchmarks/*.py that measured it), the report reads them as they
are, and a file without them gives a note naming the fix, never an error."""

import html
import json

import pytest

from fundiff.report import benchmarks as bs
from tests.helpers.workflow import REPO

RESULTS = sorted((REPO / "benchmarks/results").glob("*.json"))


def _write(path, obj):
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def _row(benchmark="b", machine="m", **kw):
    return {"benchmark": benchmark, "machine": machine, "device": "", "variants": "",
            "value": "", "ratio": None, "note": ""} | kw  # fmt: skip


def test_committed_results_all_carry_their_rows():
    rows, notes = bs.summarize_all(RESULTS)
    assert RESULTS and notes == []
    assert {r["file"] for r in rows} == {f.name for f in RESULTS}
    assert all(list(r) == bs.COLUMNS for r in rows)
    for f in RESULTS:  # as written in the file, ``file`` added
        written = json.loads(f.read_text())["rows"]
        assert [
            {k: v for k, v in r.items() if k != "file"} for r in rows if r["file"] == f.name
        ] == [{c: r[c] for c in bs.ROW_COLUMNS} for r in written]
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    assert ratios and all(0 < x < 100 for x in ratios)


def test_rows_are_read_as_written_with_the_file_filled_in(tmp_path):
    a = _row("training", "box", ratio=3, note="n")  # an integer ratio reads as a float
    b = dict(reversed(list(_row("cfg", "box", value="1 vs 2 ms").items())))  # any key order
    raw = {"training": [{"speedup_ours_vs_naive": 9.0}], "rows": [a, b]}  # evidence ignored
    rows, note = bs.summarize(_write(tmp_path / "box.json", raw))
    assert note is None
    assert rows == [
        {"file": "box.json", **a, "ratio": 3.0},
        {"file": "box.json", **_row("cfg", "box", value="1 vs 2 ms")},
    ]
    assert [list(r) for r in rows] == [bs.COLUMNS] * 2 and isinstance(rows[0]["ratio"], float)


@pytest.mark.parametrize(
    ("name", "content", "why", "fix"),
    [
        ("cold_run_x.json", {"benchmark": "cold_run", "wall_seconds": 1.0}, "no 'rows' list",
         "re-run benchmarks/cold_run.py"),
        ("cpu_box.json", {"training": [], "rows": {"a": 1}}, "no 'rows' list",
         "re-run the benchmarks/*.py script that wrote it"),
        ("dryrun_overhead.json", "{not json", "not readable JSON (JSONDecodeError)",
         "re-run benchmarks/dryrun_overhead.py"),
        ("if_unet_step_x.json", [1, 2], "no 'rows' list", "re-run benchmarks/if_unet_step.py"),
        ("tune_class_cond_x.json", {"rows": []}, "an empty 'rows' list",
         "re-run benchmarks/tune_class_cond.py"),
        ("hybrid_sweep_x.json", {"rows": [_row(), {**_row(), "extra": 1}]},
         "row 2 is not in the table's columns (columns unknown extra)",
         "re-run benchmarks/hybrid_sweep.py"),
        ("if_rehearsal_x.json", {"rows": [{k: v for k, v in _row().items() if k != "note"}]},
         "row 1 is not in the table's columns (columns missing note)",
         "re-run benchmarks/if_rehearsal.py"),
        ("calibration_cutoff_x.json", {"rows": [_row(ratio=True, value=3)]},
         "row 1 is not in the table's columns (wrong type in value, ratio)",
         "re-run benchmarks/calibration_cutoff.py"),
        ("cuda_graph_check.json", {"rows": ["a row"]},
         "row 1 is not in the table's columns (a str, not an object)",
         "re-run benchmarks/cuda_graph_check.py"),
    ],
)  # fmt: skip
def test_a_file_without_valid_rows_gives_a_note_naming_it_and_the_fix(
    tmp_path, name, content, why, fix
):
    good = _write(tmp_path / "a_good.json", {"rows": [_row()]})
    rows, notes = bs.summarize_all([_write(tmp_path / name, content), good])
    assert notes == [f"{name}: {why}: {fix}"]
    assert [r["file"] for r in rows] == ["a_good.json"]
    assert bs.table_caption(2, notes).endswith(f" Skipped: {name}: {why}: {fix}.")


def test_reader_names_every_script_that_writes_results_under_its_own_name():
    """The fix in a note names benchmarks/<prefix>.py: every script but run.py (results named by
    --name) is named (its results are benchmarks/results/<its name>*.json)."""
    scripts = {p.stem for p in (REPO / "benchmarks").glob("*.py")} - {"_rows", "run"}
    assert scripts <= set(bs.SCRIPTS)


def test_table_data_groups_rows_by_machine_in_order_of_first_appearance():
    rows = [
        {"file": "a.json", **_row("t1", "box A")},
        {"file": "b.json", **_row("t2", "box B")},
        {"file": "c.json", **_row("t3", "box A")},
        {"file": "d.json", **_row("t4", "")},
    ]
    data = bs.table_data(rows)
    assert data["columns"][0] == "machine" and len(data["columns"]) == len(bs.TABLE_COLUMNS)
    assert [(r[0], r[1]) for r in data["rows"]] == [
        ("box A", "t1"),
        ("box A", "t3"),
        ("box B", "t2"),
        ("", "t4"),
    ]


def test_committed_benchmarks_name_each_machine_once_in_the_report(tmp_path):
    """Rendered: one heading row per machine, no machine column, 'model not recorded' once."""
    from fundiff.report import render as report
    from fundiff.report.tables import write_table

    rows, _ = bs.summarize_all(RESULTS)
    machines = list(dict.fromkeys(r["machine"] for r in rows))
    assert any("model not recorded" in m for m in machines)
    assert sum("model not recorded" in r["machine"] for r in rows) > 1  # repeated per row
    spec = tmp_path / "results/benchmarks/table.json"
    write_table(spec, "C1", "Speed benchmarks", [], data=bs.table_data(rows))
    ctx = report.build_context(
        [spec],
        tmp_path / "results/report",
        REPO / "src/fundiff/report/sections.yaml",
        preset="t",
        seed=1,
    )
    page, md = report.render(ctx, REPO / "report")
    (t,) = ctx["tables"]
    assert [g["title"] for g in t["data"]["groups"]] == machines
    assert "machine" not in t["data"]["columns"]
    assert sum(len(g["rows"]) for g in t["data"]["groups"]) == len(rows)
    for text, end in ((page, "</th>"), (md, "**")):
        assert text.count("model not recorded") == 1
        for m in machines:
            assert text.count(f"machine: {html.escape(m) if end == '</th>' else m}{end}") == 1, m


def test_caption_says_how_to_read_the_table_and_what_was_skipped():
    caption = bs.table_caption(3, [])
    assert caption == bs.CAPTION and "ratio > 1 means the first variant is faster" in caption
    assert bs.table_caption(0, []).endswith("No results files were found in this checkout.")
    got = bs.table_caption(2, ["a.json: not JSON", "b.json: no 'rows' list"])
    assert got.endswith(" Skipped: a.json: not JSON; b.json: no 'rows' list.")
