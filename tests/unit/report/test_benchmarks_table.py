"""The benchmark table of the report: every committed results file is recognised by structure,
files added later (e.g. an IF UNet step) are picked up, unknown ones give a note, not an error."""

import html
import json

import pytest

from fundiff.report import benchmarks as bs
from tests.helpers.workflow import REPO


def _write(path, obj):
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_committed_results_are_all_recognised():
    files = sorted((REPO / "benchmarks/results").glob("*.json"))
    rows, notes = bs.summarize_all(files)
    assert notes == []
    assert {r["file"] for r in rows} == {f.name for f in files}
    assert all(set(r) == set(bs.COLUMNS) for r in rows)
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    assert ratios and all(0 < x < 100 for x in ratios)


def test_structures_and_unknown_files(tmp_path):
    run_py = {
        "name": "box",
        "quick": True,
        "machine": {"cpu_count": 2, "cuda": None},
        "training": [
            {
                "device": "cpu",
                "hidden": 8,
                "batch_size": 32,
                "images_per_s": {"naive": 100.0, "ours": 150.0},
                "speedup_ours_vs_naive": 1.5,
            }
        ],
        "cfg": [
            {
                "device": "cpu",
                "hidden": 8,
                "batch": 20,
                "seconds_per_eps": {"two_forwards": 0.02, "batched": 0.01},
                "speedup_batched_vs_two": 2.0,
                "max_abs_diff": 0.0,
            }
        ],
        "pipeline": {"cold_seconds": 700.0, "dry_run_seconds": 3.0},
    }
    if_step = {
        "benchmark": "if_unet_step",
        "config": "IF-I-XL-v1.0 (random weights)",
        "device": "NVIDIA H100",
        "dtype": "torch.float16",
        "batch": 1,
        "cfg_batched_step_s": 0.05,
        "cfg_two_forwards_step_s": 0.08,
        "speedup_batched_vs_two": 1.6,
        "loop_per_step_s": 0.051,
    }
    files = [
        _write(tmp_path / "box.json", run_py),
        _write(tmp_path / "if_unet_step_h100.json", if_step),
        _write(tmp_path / "other.json", {"speedup_foo_vs_bar": 3.0, "name": "other"}),
        _write(tmp_path / "weird.json", {"hello": 1}),
        _write(tmp_path / "broken.json", "{not json"),
        _write(tmp_path / "list.json", [1, 2]),
    ]
    rows, notes = bs.summarize_all(files)
    by_file = {}
    for r in rows:
        by_file.setdefault(r["file"], []).append(r)
    box = by_file["box.json"]
    assert [r["ratio"] for r in box[:2]] == [1.5, 2.0]
    assert "quick" in box[0]["benchmark"] and box[2]["value"] == "700.0 s"
    (step,) = by_file["if_unet_step_h100.json"]
    assert step["ratio"] == pytest.approx(1.6) and step["machine"] == "NVIDIA H100"
    assert "IF UNet step" in step["benchmark"] and "51.0 ms/step" in step["note"]
    (other,) = by_file["other.json"]
    assert other["ratio"] == 3.0 and other["variants"] == "foo vs bar"
    assert set(by_file) == {"box.json", "if_unet_step_h100.json", "other.json"}
    assert len(notes) == 3
    assert any(n.startswith("weird.json: structure not recognised") for n in notes)
    assert any(n.startswith("broken.json: not readable JSON") for n in notes)
    assert any(n.startswith("list.json: not a JSON object") for n in notes)


def test_every_training_variant_and_the_chunked_cfg_get_a_row(tmp_path):
    tr = {
        "device": "cuda",
        "hidden": 64,
        "batch_size": 128,
        "images_per_s": {
            "naive": 100.0,
            "ours": 110.0,
            "ours_graph": 400.0,
            "ours_compiled_graph": 560.0,
        },  # fmt: skip
        "speedup_ours_vs_naive": 1.1,
        "speedup_graph_vs_naive": 4.0,
        "speedup_compiled_graph_vs_naive": 5.6,
    }
    cf = {
        "device": "cpu",
        "hidden": 32,
        "batch": 100,
        "max_rows": 50,
        "seconds_per_eps": {"two_forwards": 0.13, "batched": 0.19, "batched_chunked": 0.10},
        "speedup_batched_vs_two": 0.69,
        "speedup_batched_chunked_vs_two": 1.3,
        "speedup_batched_chunked_vs_batched": 1.9,
    }
    path = _write(
        tmp_path / "gpu.json", {"machine": {"cuda": "H200"}, "training": [tr], "cfg": [cf]}
    )
    rows, note = bs.summarize(path)
    assert note is None
    assert [r["ratio"] for r in rows] == [1.1, 4.0, 5.6, 0.69, 1.3]
    assert "CUDA graph" in rows[1]["variants"] and "400 vs 100" in rows[1]["value"]
    assert "torch.compile" in rows[2]["variants"] and "560 vs 100" in rows[2]["value"]
    assert "chunks of 50 rows" in rows[4]["variants"] and "1.90x" in rows[4]["note"]


def test_tuning_sweep_rows(tmp_path):
    v = {"steps": 1260, "acc_big_mean": 0.974, "fd_ratio_mean": 1.97, "fd_ratio_std": 0.26,
         "fd_ratio_le_2": 0.6, "runs": [{"fd_ratio_n": [1.9, 2.1]}, {"fd_ratio_n": [1.8]}]}  # fmt: skip
    d = {"benchmark": "tune_class_cond", "device": "H200", "n": 50, "scale": 5.0,
         "variants": {"base": v, "bad": {"steps": 1}}}  # fmt: skip
    rows, note = bs.summarize(_write(tmp_path / "tune.json", d))
    assert note is None and len(rows) == 1  # a variant without numbers gives no row
    assert rows[0]["variants"] == "base" and "FD ratio 1.97" in rows[0]["value"]
    assert "60% of 3 draws" in rows[0]["note"]


def test_table_data_groups_rows_by_machine_in_order_of_first_appearance():
    rows = [
        bs._row("a.json", "t1", "box A"),
        bs._row("b.json", "t2", "box B"),
        bs._row("c.json", "t3", "box A"),
        bs._row("d.json", "t4", ""),
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

    files = sorted((REPO / "benchmarks/results").glob("*.json"))
    rows, _ = bs.summarize_all(files)
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


def test_cold_run_row_names_the_machine_layout_and_scores(tmp_path):
    d = {
        "benchmark": "cold_run",
        "command": "snakemake --cores all",
        "machine": {"cpu_model": "AMD EPYC 9999", "cores": 2},
        "wall_seconds": 512.3,
        "jobs": 70,
        "rule_seconds": {"train_class_cond": 200.0, "train_time_cond": 190.0, "mnist": 1.0},
        "calibration": {"choice": {"amp_bf16": False, "threads": 1, "sample_bf16": True}},
        "quality": {
            "class_cond": {"accuracy": 0.995, "fd_ratio": 1.8, "n": 200, "guidance_scale": 3.0},
            "time_cond": {"confidence": 0.85, "class_entropy": 2.28, "fd_ratio": 3.1, "n": 200},
        },
    }
    path = tmp_path / "cold_run_x.json"
    path.write_text(json.dumps(d))
    rows, note = bs.summarize(path)
    assert note is None and len(rows) == 1
    r = rows[0]
    assert r["machine"] == "AMD EPYC 9999, 2 cores" and r["value"] == "512 s"
    assert "training fp32" in r["variants"] and "1 thread(s)" in r["variants"]
    assert "sampling bf16" in r["variants"]
    assert "99.5% right" in r["note"] and "n = 200" in r["note"]
    assert "slowest: train_class_cond 200 s, train_time_cond 190 s" in r["note"]
    assert "largest job peak" not in r["note"]
    d |= {"conditions": "under load", "rule_peak_rss_mb": {"calibrate": 2375.3, "mnist": 700.0}}
    path.write_text(json.dumps(d))
    note = bs.summarize(path)[0][0]["note"]
    assert note.startswith("under load; 70 jobs")
    assert note.endswith("largest job peak memory 2375 MB (calibrate)")


def test_if_rehearsal_row_gives_sizes_wall_time_slowest_jobs_and_peak_memory(tmp_path):
    d = {
        "benchmark": "if_rehearsal",
        "command": "snakemake parta_all --cores 2 --configfile configs/deepfloyd.yaml x.yaml",
        "device": "cpu",
        "full_preset": False,
        "machine": {"cpu_model": "AMD EPYC 9999", "cores": 2},
        "conditions": {"note": "shared machine", "load_average_1_5_15_min_before": [3, 3, 3]},
        "wall_seconds": 1234.4,
        "jobs": 25,
        "parameters": {"stage1.unet": 935365830, "stage2.unet": 1243277190},
        "t5_layers": 1,
        "rule_seconds": {"parta_a0_2": 300.0, "parta_a1_8_x": 200.0, "parta_a1_1": 20.0},
        "rule_peak_rss_mb": {"parta_a0_2": 9876.4, "parta_a1_1": 4000.0},
    }
    path = tmp_path / "if_rehearsal_cpu_x.json"
    path.write_text(json.dumps(d))
    rows, note = bs.summarize(path)
    assert note is None and len(rows) == 1
    r = rows[0]
    assert r["machine"] == "AMD EPYC 9999, 2 cores" and r["value"] == "1234 s"
    assert "CPU overlay" in r["benchmark"] and r["variants"] == d["command"]
    assert r["device"] == "cpu, IF-I-L 0.94 B, IF-II-L 1.24 B, T5 width 4096 (1 layer(s))"
    assert r["note"].startswith("shared machine; 25 jobs; slowest: parta_a0_2 300 s, ")
    assert r["note"].endswith("largest job peak memory 9876 MB (parta_a0_2)")
    assert "GPU memory" not in r["note"] and "all processes" not in r["note"]
    d |= {"device": "cuda", "full_preset": True, "gpu_peak_memory_used_mib": 20480.0}
    d["run_peak_rss_mb_polled"] = 12049.2
    d["machine"]["cuda"] = "NVIDIA H200"
    path.write_text(json.dumps(d))
    r = bs.summarize(path)[0][0]
    assert "full preset" in r["benchmark"] and r["machine"].startswith("NVIDIA H200 / ")
    assert r["note"].endswith(
        "(parta_a0_2); all processes at once at most 12049 MB; GPU memory in use at most 20480 MiB"
    )


def test_caption_says_how_to_read_the_table_and_what_was_skipped():
    caption = bs.table_caption(3, [])
    assert caption == bs.CAPTION and "ratio > 1 means the first variant is faster" in caption
    assert bs.table_caption(0, []).endswith("No results files were found in this checkout.")
    got = bs.table_caption(2, ["a.json: not JSON", "b.json: unknown structure"])
    assert got.endswith(" Skipped: a.json: not JSON; b.json: unknown structure.")


def test_dry_run_overhead_row_gives_time_ratio_and_peak_memory(tmp_path):
    f = tmp_path / "dryrun_overhead.json"
    d = {"workflow_s": 2.6, "baseline_s": 2.0, "ratio": 1.3, "target_ratio": 1.3}
    f.write_text(json.dumps(d))
    (old,), _ = bs.summarize_all([str(f)])
    assert old["value"] == "2.60 vs 2.00 s" and old["note"] == "target <= 1.3"
    d |= {"workflow_peak_mib": 141.2, "baseline_peak_mib": 120.0, "target_peak_mib": 250}
    f.write_text(json.dumps(d))
    (row,), _ = bs.summarize_all([str(f)])
    assert row["ratio"] == 1.3
    assert row["note"] == "target <= 1.3; peak memory 141 vs 120 MiB (target <= 250)"
