"""End to end: the tiny preset through Snakemake produces every Part B output."""

import numpy as np
import pytest
from PIL import Image

from fundiff.parta import layout
from tests.helpers.workflow import REPO, copy_workflow, planned_jobs, run_snakemake

pytestmark = pytest.mark.e2e


def test_every_partb_output_exists(tiny_run):
    r = tiny_run / "results/partb"
    expected = [
        "noising/grid.png",
        "noising/grid.npz",
        "denoiser/ood.png",
        "denoiser/ood.npz",
        "denoiser/denoised/epoch_1.png",
        "denoiser/denoised/epoch_2.png",
        "denoiser/losses.csv",
        "denoiser/loss.png",
        "time_cond/samples/epoch_1.png",
        "time_cond/samples/epoch_2.png",
        "time_cond/samples/epoch_2.npz",
        "time_cond/sampling/epoch_1.gif",  # a GIF per sample epoch (spec: 5 and 20)
        "time_cond/sampling/epoch_2.gif",
        "time_cond/loss.png",
        "class_cond/samples/epoch_1.png",
        "class_cond/samples/epoch_2.npz",
        "class_cond/sampling/epoch_1.gif",
        "class_cond/sampling/epoch_2.gif",
        "class_cond/loss.png",
        # table specs for the writeup (fundiff.report.tables), one beside each figure
        "noising/grid.json",
        "denoiser/ood.json",
        "denoiser/denoised/epoch_1.json",
        "denoiser/loss.json",
        "time_cond/samples/epoch_2.json",
        "time_cond/sampling/epoch_1.json",
        "class_cond/sampling/epoch_2.json",
        "class_cond/loss.json",
    ]
    missing = [p for p in expected if not (r / p).is_file()]
    assert not missing, missing
    for p in r.rglob("*.png"):
        Image.open(p).verify()
    # the resume state is gone after a completed training; epoch weights are published
    assert not (r / "class_cond/_training").exists()
    published = sorted(p.name for p in (r / "class_cond/epochs").glob("epoch_*.pt"))
    assert published == ["epoch_001.pt", "epoch_002.pt"]


def test_sample_npz_shapes(tiny_run):
    z = np.load(tiny_run / "results/partb/class_cond/samples/epoch_2.npz")
    assert z["images"].dtype == np.uint8 and z["images"].shape == (10, 28, 28)
    assert z["labels"].tolist() == list(range(10))
    t = np.load(tiny_run / "results/partb/time_cond/samples/epoch_2.npz")
    assert t["images"].shape == (10, 28, 28) and "labels" not in t


def test_second_run_has_nothing_to_do(tiny_run):
    out = run_snakemake(tiny_run, "-n", "--cores", "1", "--configfile", "configs/tiny.yaml")
    assert "Nothing to be done" in out.stdout + out.stderr


def fa24_config() -> dict:
    import yaml

    from fundiff.config import deep_merge, validate

    raw = deep_merge(
        yaml.safe_load((REPO / "config.yaml").read_text()),
        yaml.safe_load((REPO / "configs/fa24.yaml").read_text()),
    )
    return validate(raw, REPO / "schemas/config.schema.yaml")


def test_fa24_preset_plans_one_job_per_configured_item(tmp_path):
    """The spec preset's DAG, counted per rule from a fresh checkout and derived from its config
    (the plan is static: every job is planned before anything has run, the input images too, as
    the report reads their provenance records)."""
    cfg = fa24_config()
    pb, pa = cfg["partb"], cfg["parta"]
    sd = pa["sdedit"]
    sample_epochs = len(pb["time_cond"]["sample_epochs"]) + len(pb["class_cond"]["sample_epochs"])
    wd = copy_workflow(tmp_path)
    out = run_snakemake(wd, "-n", "--cores", "1", "--configfile", "configs/fa24.yaml")
    one = [
        "mnist", "calibrate", "noising_grid", "denoise_ood", "train_classifier",
        "parta_forward", "parta_blur", "parta_one_step", "parta_iterative", "parta_sample",
        "parta_cfg", "eval_sample_cfg", "eval_sample_time", "eval_partb", "eval_parta_denoise",
        "eval_parta_sdedit", "eval_parta_inpaint", "eval_parta_illusions",
        "eval_parta_summary", "benchmarks_table", "report", "all",
    ]  # fmt: skip
    expected = {rule: 1 for rule in one} | {
        "train": 3,  # denoiser, time_cond, class_cond
        "loss_curve": 3,
        "denoise_test": len(pb["denoiser"]["show_epochs"]),
        "sample": sample_epochs,
        "sampling_gif": sample_epochs,  # one GIF per grid: model x sample epoch
        "parta_image": len(layout.used_images(cfg)),  # every image a section reads, once
        "parta_a0": len(pa["a0"]["steps"]),
        "parta_sdedit": len(sd["images"]) + len(sd["edit_images"]) + len(sd["text"]["images"]),
        "parta_inpaint": len(pa["inpaint"]),
        "parta_pair": len(pa["anagrams"]["pairs"]) + len(pa["hybrids"]["pairs"]),
        "parta_table": 7,  # A0, A1.7, A1.7.1, A1.7.2, A1.7.3, A1.8, A1.9: merged from parts
    }
    assert planned_jobs(out.stdout + out.stderr) == expected
    # the spec's sizes, as planned (not the embedded default's)
    assert expected["sample"] == expected["sampling_gif"] == 10 and expected["parta_sdedit"] == 9
    assert expected["parta_image"] == 8  # the 4 digits, camera, astronaut and two drawings


def test_bad_config_fails_before_running(tmp_path):
    wd = copy_workflow(tmp_path)
    cfg = wd / "bad.yaml"
    cfg.write_text("partb:\n  time_cond:\n    epoch: 3\n")
    out = run_snakemake(wd, "-n", "--cores", "1", "--configfile", str(cfg), check=False)
    assert out.returncode != 0
    assert "unknown config key 'partb.time_cond.epoch' (did you mean 'epochs'?)" in (
        out.stdout + out.stderr
    )
    assert not (wd / "results").exists()


def test_lint_is_clean():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
