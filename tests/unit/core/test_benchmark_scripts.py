import importlib
import json
import sys
from pathlib import Path

import pytest
import yaml

from fundiff.report import benchmarks as bs
from tests.helpers.workflow import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
SCRIPTS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if p.stem != "_rows")


def _positive(d):
    return all(isinstance(v, float | int) and v > 0 for v in d.values())


def test_quick_benchmarks_json_shape(tmp_path):
    import run

    res = run.main(["--quick", "--cpu-only", "--out-dir", str(tmp_path)])
    on_disk = json.loads((tmp_path / "quick.json").read_text())
    assert on_disk["name"] == "quick" and on_disk["quick"] is True
    assert {"machine", "training", "cfg", "benchmark_seconds"} <= set(res)
    (tr,) = res["training"]
    assert set(tr["images_per_s"]) == {"naive", "ours"} and _positive(tr["images_per_s"])
    assert tr["speedup_ours_vs_naive"] > 0
    assert [cf["batch"] for cf in res["cfg"]] == [2, 40]
    for cf in res["cfg"]:
        assert _positive(cf["seconds_per_eps"]) and cf["speedup_batched_vs_two"] > 0
        assert cf["max_abs_diff"] < 1e-4  # the two CFG variants compute the same eps
    # 2 x 40 rows > CPU_MAX_ROWS: the samplers' chunked forward is measured too, and agrees
    small, big = res["cfg"]
    assert "batched_chunked" not in small["seconds_per_eps"]
    assert big["max_rows"] == run.CPU_MAX_ROWS and big["speedup_batched_chunked_vs_two"] > 0
    assert big["max_abs_diff_chunked"] < 1e-4
    # the rows the report reads: one training row, CFG batched x2 + chunked once
    rows, note = bs.summarize(tmp_path / "quick.json")
    assert note is None and on_disk["rows"] == res["rows"]
    assert [r["ratio"] for r in rows] == [
        tr["speedup_ours_vs_naive"],
        small["speedup_batched_vs_two"],
        big["speedup_batched_vs_two"],
        big["speedup_batched_chunked_vs_two"],
    ]
    assert all("quick" in r["benchmark"] for r in rows)


def test_fa24_settings_match_the_preset():
    import run

    fa24 = yaml.safe_load(Path(REPO / "configs/fa24.yaml").read_text())["partb"]
    base = yaml.safe_load(Path(REPO / "config.yaml").read_text())["partb"]
    for name, kw in run.FA24_PARTB.items():
        merged = {**base[name], **fa24[name]}
        for key in ("hidden", "batch_size", "epochs", "lr", "lr_decay_to", "sigma", "p_uncond"):
            if key in kw:
                assert kw[key] == merged[key], (name, key)
        assert (merged.get("lr_decay_to") or None) == kw.get("lr_decay_to"), name
        assert not merged.get("ema_decay"), name  # the spec has no EMA


def _params(config: dict) -> int:
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel

    with init_empty_weights():
        unet = UNet2DConditionModel(**config)
    return sum(p.numel() for p in unet.parameters())


def test_if_rehearsal_unets_have_the_published_sizes_and_xl_layout():
    """The inferred IF-I-L config is IF-I-XL's but for its width, and both rehearsal UNets
    have the model cards' sizes (900M, 1.2B; benchmarks/if_rehearsal.py INFERRED)."""
    import if_rehearsal as ifr
    import if_unet_step

    width = {"block_out_channels", "cross_attention_dim"}
    xl = if_unet_step.IF_I_XL
    assert {k: v for k, v in ifr.IF_I_L_UNET.items() if k in xl and k not in width} == {
        k: v for k, v in xl.items() if k not in width
    }
    assert ifr.IF_I_L_UNET["cross_attention_dim"] == 4 * ifr.IF_I_L_UNET["block_out_channels"][0]
    assert 0.85e9 < _params(ifr.IF_I_L_UNET) < 0.95e9
    assert 1.15e9 < _params(ifr.IF_II_L_UNET) < 1.25e9
    assert set(ifr.INFERRED) == {"stage1.unet", "stage2.unet", "stage1.text_encoder",
                                 "stage1.tokenizer"}  # fmt: skip


def test_if_rehearsal_tokenizer_has_t5_ids_and_pads_to_77():
    import if_rehearsal as ifr

    tok = ifr.tokenizer()
    assert len(tok) == 32100 <= ifr.T5_XXL["vocab_size"]
    ids = tok("a rocket ship", padding="max_length", max_length=77, truncation=True)["input_ids"]
    assert len(ids) == 77 and ids[:4] == [tok.convert_tokens_to_ids(f"\u2581{w}") for w in
                                          ("a", "rocket", "ship")] + [1]  # fmt: skip
    assert set(ids[4:]) == {0} and tok.unk_token_id == 2
    assert 2 not in tok("an unknown qzx word")["input_ids"]  # any word splits into pieces


def test_if_rehearsal_cpu_overlay_runs_every_parta_rule_once(tmp_path):
    """The overlay over configs/deepfloyd.yaml plans each Part A rule (rules/parta.smk and
    fetch_models) and no other: a rule added later must be added to the rehearsal too."""
    import re

    import if_rehearsal as ifr

    from tests.helpers.workflow import copy_workflow, planned_jobs, run_snakemake

    wd = copy_workflow(tmp_path / "wf")
    config = ifr.overlay(tmp_path / "models", "cpu", full=False)
    (wd / "overlay.yaml").write_text(yaml.safe_dump(config))
    out = run_snakemake(wd, "parta_all", "-n", "--cores", "2", "--configfile",
                        "configs/deepfloyd.yaml", "overlay.yaml", timeout=300)  # fmt: skip
    jobs = planned_jobs(out.stdout + out.stderr)
    smk = (REPO / "rules/parta.smk").read_text()
    rules = set(re.findall(r"^(?:rule (\w+):|use rule \w+ as (\w+))", smk, re.M))
    rules = {a or b for a, b in rules} | {"fetch_models"}
    assert set(jobs) == rules
    # one job per section: three SDEdit sections, one anagram and one hybrid, one A0 step count
    assert jobs["parta_sdedit"] == 3 and jobs["parta_pair"] == 2 and jobs["parta_a0"] == 1
    backend = config["parta"]["backend"]
    assert backend["variant"] == "fp16" and backend["local_files_only"] is True
    assert config["device"] == "cpu" and config["gpus_per_job"] == 0


# ------------------------------------------------- the rows each script writes for the report


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_script_imports_and_writes_rows(script):
    """Each script imports (none is left broken, as dryrun_overhead.py was) and adds its table
    rows to what it writes (benchmarks/_rows.py)."""
    importlib.import_module(script)
    assert "add_rows(" in (REPO / f"benchmarks/{script}.py").read_text()


RESULTS = sorted((REPO / "benchmarks/results").glob("*.json"))
NO_SCRIPT = {"embedded_pipeline_cpu.json"}  # written by a script no longer in the repository


def test_only_the_named_committed_results_have_no_script():
    assert NO_SCRIPT <= {p.name for p in RESULTS}


@pytest.mark.parametrize(
    "path", [p for p in RESULTS if p.name not in NO_SCRIPT], ids=lambda p: p.name
)
def test_committed_rows_are_what_the_script_writes_from_the_measurements(path):
    """Each committed file's rows (migrated once from the report's former shape recognisers)
    equal what its script's ``table_rows`` makes of the raw measurements beside them: the
    script named by the file's prefix, else run.py (its results are named by --name)."""
    d = json.loads(path.read_text())
    script = next((s for s in bs.SCRIPTS if path.stem.startswith(s)), "run")
    raw = {k: v for k, v in d.items() if k != "rows"}
    assert importlib.import_module(script).table_rows(raw) == d["rows"]


def test_rows_writer_checks_the_columns():
    import _rows

    r = _rows.row("b", ratio=2, value=3)
    assert list(r) == bs.ROW_COLUMNS and r["ratio"] == 2.0 and r["value"] == "3"
    assert _rows.row("b", ratio="fast")["ratio"] is None
    assert _rows.add_rows({"x": 1}, [r]) == {"x": 1, "rows": [r]}
    with pytest.raises(ValueError, match="row 2 is not in the table's columns: columns missing"):
        _rows.add_rows({}, [r, {"benchmark": "b"}])
    assert _rows.machine_text({"cpu_model": "EPYC", "cores": 2, "cuda": "H200"}) == (
        "H200 / EPYC, 2 cores"
    )
    assert _rows.machine_text({}) == "CPU" and _rows.machine_text(None) == ""


def test_run_rows_every_training_variant_the_chunked_cfg_and_the_pipeline():
    import run

    tr = {
        "device": "cuda",
        "hidden": 64,
        "batch_size": 128,
        "images_per_s": {"naive": 100.0, "ours": 110.0, "ours_graph": 400.0,
                         "ours_compiled_graph": 560.0},
        "ours_settings": {"channels_last": True, "fused_adam": False},
        "speedup_ours_vs_naive": 1.1,
        "speedup_graph_vs_naive": 4.0,
        "speedup_compiled_graph_vs_naive": 5.6,
    }  # fmt: skip
    cf = {
        "device": "cpu",
        "hidden": 32,
        "batch": 100,
        "max_rows": 50,
        "seconds_per_eps": {"two_forwards": 0.13, "batched": 0.19, "batched_chunked": 0.10},
        "speedup_batched_vs_two": 0.69,
        "speedup_batched_chunked_vs_two": 1.3,
        "speedup_batched_chunked_vs_batched": 1.9,
        "max_abs_diff": 0.0,
    }
    d = {"machine": {"cuda": "H200", "cpu_count": 16}, "training": [tr], "cfg": [cf],
         "pipeline": {"cold_seconds": 700.0, "dry_run_seconds": 3.0},
         "fa24_partb": {"device": "cuda", "total_seconds": 81.2, "models": {"a": 1, "b": 2}},
         "fa24_partb_compiled": {"error": "RuntimeError: stride"}}  # fmt: skip
    rows = run.table_rows(d)
    assert [r["ratio"] for r in rows] == [1.1, 4.0, 5.6, 0.69, 1.3, None, None, None, None]
    assert {r["machine"] for r in rows} == {"H200 / CPU, 16 cores"}
    assert rows[0]["note"] == "ours: channels_last" and rows[0]["value"] == "110 vs 100 images/s"
    assert "CUDA graph" in rows[1]["variants"] and "400 vs 100" in rows[1]["value"]
    assert "torch.compile" in rows[2]["variants"] and "560 vs 100" in rows[2]["value"]
    assert "chunks of 50 rows" in rows[4]["variants"] and "1.90x" in rows[4]["note"]
    assert rows[3]["value"] == "190.00 vs 130.00 ms"
    assert (
        rows[5]["value"] == "81 s for 2 models"
        and rows[6]["note"] == "failed: RuntimeError: stride"
    )
    assert [r["value"] for r in rows[7:]] == ["700.0 s", "3.0 s"]
    d["machine"]["cuda"] = None  # older results: a GPU-only run did not record the GPU's name
    assert run.table_rows(d)[0]["machine"] == "CUDA GPU, model not recorded / CPU, 16 cores"


def test_if_unet_step_and_cuda_graph_check_rows():
    import cuda_graph_check
    import if_unet_step

    d = {"config": "IF-I-XL-v1.0 (random weights)", "device": "NVIDIA H100",
         "dtype": "torch.float16", "batch": 1, "cfg_batched_step_s": 0.05,
         "cfg_two_forwards_step_s": 0.08, "loop_per_step_s": 0.051}  # fmt: skip
    (r,) = if_unet_step.table_rows(d)
    assert r["ratio"] == pytest.approx(1.6) and r["machine"] == "NVIDIA H100"
    assert r["value"] == "50.0 vs 80.0 ms" and r["note"] == "33-step loop 51.0 ms/step"
    assert if_unet_step.table_rows(d | {"speedup_batched_vs_two": 1.5})[0]["ratio"] == 1.5
    d = {"device": "H200", "torch": "2.11", "steps": 33, "max_abs_loss_diff": 7.4e-6,
         "max_abs_weight_diff": 8.1e-4}  # fmt: skip
    (r,) = cuda_graph_check.table_rows(d)
    assert r["value"] == "max |loss diff| 7.4e-06" and r["note"] == "max |weight diff| 8.1e-04"
    assert r["variants"] == "33 steps, same seed" and r["ratio"] is None


def test_tune_class_cond_rows_one_per_finished_setting():
    import tune_class_cond

    v = {"steps": 1260, "acc_big_mean": 0.974, "fd_ratio_mean": 1.97, "fd_ratio_std": 0.26,
         "fd_ratio_le_2": 0.6, "runs": [{"fd_ratio_n": [1.9, 2.1]}, {"fd_ratio_n": [1.8]}]}  # fmt: skip
    d = {"device": "H200", "n": 50, "scale": 5.0, "variants": {"base": v, "bad": {"steps": 1}}}
    (r,) = tune_class_cond.table_rows(d)  # a setting without numbers gives no row
    assert r["variants"] == "base" and r["value"] == "accuracy 0.974, FD ratio 1.97 +- 0.26"
    assert r["note"] == "FD ratio <= 2 in 60% of 3 draws" and r["device"] == "1260 steps"


def test_cold_run_row_names_the_machine_layout_and_scores():
    import cold_run

    d = {
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
    (r,) = cold_run.table_rows(d)
    assert r["machine"] == "AMD EPYC 9999, 2 cores" and r["value"] == "512 s"
    assert "training fp32" in r["variants"] and "1 thread(s)" in r["variants"]
    assert "sampling bf16" in r["variants"]
    assert "99.5% right" in r["note"] and "n = 200" in r["note"]
    assert "slowest: train_class_cond 200 s, train_time_cond 190 s" in r["note"]
    assert "largest job peak" not in r["note"]
    d |= {"conditions": "under load", "rule_peak_rss_mb": {"calibrate": 2375.3, "mnist": 700.0}}
    note = cold_run.table_rows(d)[0]["note"]
    assert note.startswith("under load; 70 jobs")
    assert note.endswith("largest job peak memory 2375 MB (calibrate)")


def test_if_rehearsal_row_gives_sizes_wall_time_slowest_jobs_and_peak_memory():
    import if_rehearsal

    d = {
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
    (r,) = if_rehearsal.table_rows(d)
    assert r["machine"] == "AMD EPYC 9999, 2 cores" and r["value"] == "1234 s"
    assert "CPU overlay" in r["benchmark"] and r["variants"] == d["command"]
    assert r["device"] == "cpu, IF-I-L 0.94 B, IF-II-L 1.24 B, T5 width 4096 (1 layer(s))"
    assert r["note"].startswith("shared machine; 25 jobs; slowest: parta_a0_2 300 s, ")
    assert r["note"].endswith("largest job peak memory 9876 MB (parta_a0_2)")
    assert "GPU memory" not in r["note"] and "all processes" not in r["note"]
    d |= {"device": "cuda", "full_preset": True, "gpu_peak_memory_used_mib": 20480.0}
    d["run_peak_rss_mb_polled"] = 12049.2
    d["machine"]["cuda"] = "NVIDIA H200"
    (r,) = if_rehearsal.table_rows(d)
    assert "full preset" in r["benchmark"] and r["machine"].startswith("NVIDIA H200 / ")
    assert r["note"].endswith(
        "(parta_a0_2); all processes at once at most 12049 MB; GPU memory in use at most 20480 MiB"
    )


def test_dry_run_overhead_row_gives_preset_time_ratio_and_peak_memory():
    import dryrun_overhead

    d = {"workflow_s": 2.6, "baseline_s": 2.0, "ratio": 1.3, "target_ratio": 1.3,
         "machine": {"cpu": "EPYC", "cpus": 2}}  # fmt: skip
    (r,) = dryrun_overhead.table_rows(d)
    assert r["value"] == "2.60 vs 2.00 s" and r["note"] == "target <= 1.3" and r["ratio"] == 1.3
    assert r["benchmark"] == "dry-run overhead (tiny preset)" and r["machine"] == "EPYC, 2 cores"
    d |= {"workflow_peak_mib": 141.2, "baseline_peak_mib": 120.0, "target_peak_mib": 250}
    (r,) = dryrun_overhead.table_rows(d | {"preset": "default"})
    assert r["benchmark"] == "dry-run overhead (default preset)"
    (r,) = dryrun_overhead.table_rows(d | {"targets": ["results/data/mnist.pt"]})
    assert r["benchmark"] == "dry-run overhead (tiny preset results/data/mnist.pt)"
    assert r["note"] == "target <= 1.3; peak memory 141 vs 120 MiB (target <= 250)"
    assert dryrun_overhead.SNAKEMAKE == [sys.executable, "-m", "snakemake"]


def test_hybrid_sweep_and_calibration_cutoff_rows():
    import calibration_cutoff
    import hybrid_sweep

    best = {"kernel_size": 9, "sigma": 2.0, "guidance_scale": 3.0, "stride": 10,
            "min_both": 0.0625, "pairs": {"0_1": {"both": 0.0625}, "1_7": {"both": 0.625}}}  # fmt: skip
    d = {"machine": {"cpu_model": "EPYC"}, "n_per_pair": 32, "best": best, "settings": [best] * 4}
    (r,) = hybrid_sweep.table_rows(d)
    assert r["variants"] == "best of 4: kernel 9, sigma 2.0, CFG 3.0, stride 10"
    assert (
        r["value"] == "worst pair 6% both views" and r["note"] == "n = 32 per pair: 0_1 6%, 1_7 62%"
    )
    run = {"cutoff": 0.0, "seconds": 408.2, "choice": {"amp_bf16": False}}
    d = {"command": "python benchmarks/calibration_cutoff.py", "machine": {"cpu_model": "EPYC",
         "cores": 2}, "speedup": 2.19, "same_choice": True,
         "runs": {"every candidate in full": run, "warm-up cutoff": run | {"cutoff": 0.5,
                                                                          "seconds": 186.4}}}  # fmt: skip
    (r,) = calibration_cutoff.table_rows(d)
    assert r["ratio"] == 2.19 and r["value"] == "186 vs 408 s" and r["note"] == "the same choice"
    assert r["variants"].startswith("cutoff 0.5 vs every candidate in full; python benchmarks/")
    d["same_choice"] = False
    d["runs"]["warm-up cutoff"]["choice"] = {"amp_bf16": True}
    assert calibration_cutoff.table_rows(d)[0]["note"] == (
        "different choices: {'amp_bf16': False} in full, {'amp_bf16': True} with the cutoff"
    )
