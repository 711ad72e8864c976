"""Part B in numbers (fundiff.evaluation.scores): what summary.json and the B4 tables record."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from fundiff.evaluation import scores
from fundiff.evaluation.classifier import DigitClassifier
from fundiff.io import save_npz, write_json

TARGETS = {
    "accuracy": 0.99,
    "fd_ratio": 1.5,
    "early_accuracy": 0.6,
    "time_confidence": 0.9,
    "time_class_entropy": 2.25,
    "time_fd_ratio": 2.0,
}


def row(**kw):
    base = {"n": 10, "accuracy": 1.0, "confidence": 0.95, "class_entropy": 2.2, "fd": 3.0}
    return {**base, "fd_floor": 2.0, "fd_ratio": 1.5, "diversity": 0.9, "background": 0.02, **kw}


def test_grid_key_reads_model_and_epoch():
    assert scores.grid_key("results/partb/class_cond/samples/epoch_005.npz") == ("class_cond", 5)
    assert scores.grid_key("/x/results/partb/time_cond/samples/epoch_20.npz") == ("time_cond", 20)
    with pytest.raises(ValueError, match="not a Part B sample grid"):
        scores.grid_key("results/eval/samples/time_cond.npz")


def test_final_rows_take_the_sweep_row_at_the_grid_scale():
    sweep = [{"guidance_scale": g, **row(accuracy=a)} for g, a in ((0.0, 0.3), (3.0, 0.97))]
    final_class, final_time = scores.final_rows(sweep, row(accuracy=None), 3.0)
    assert final_class["model"] == "class_cond" and final_class["accuracy"] == 0.97
    assert list(final_time)[:2] == ["model", "guidance_scale"]
    assert final_time["guidance_scale"] is None and final_time["accuracy"] is None
    df = scores.final_frame(final_class, final_time)
    assert list(df.model) == ["class_cond", "time_cond"]


def test_targets_met_lists_each_configured_target_with_value_and_verdict():
    epochs = pd.DataFrame(
        [
            {"model": "class_cond", "epoch": 20, "accuracy": 1.0},
            {"model": "class_cond", "epoch": 5, "accuracy": 0.5},
            {"model": "time_cond", "epoch": 5, "accuracy": None},
        ]
    )
    final_class = row(accuracy=0.995, fd_ratio=2.0)
    final_time = row(accuracy=None, confidence=0.92, class_entropy=2.0, fd_ratio=1.9)
    got = scores.targets_met(TARGETS, final_class, final_time, epochs)
    assert got["class_cond_accuracy_min"] == 0.99 and got["class_cond_accuracy_met"] is True
    assert got["class_cond_fd_ratio_max"] == 1.5 and got["class_cond_fd_ratio_met"] is False
    # the early accuracy is the class-conditioned grid at the FIRST sample epoch
    assert got["class_cond_early_accuracy_measured"] == 0.5
    assert got["class_cond_early_accuracy_met"] is False
    assert got["time_cond_confidence_met"] is True
    assert got["time_cond_class_entropy_met"] is False
    assert got["time_cond_fd_ratio_measured"] == 1.9 and got["time_cond_fd_ratio_met"] is True
    assert len(got) == 3 * len(TARGETS)
    # a target left out of the config, or a set without the measurement, is not listed
    got = scores.targets_met({"accuracy": 0.99}, final_class, final_time, epochs[:0])
    assert set(got) == {f"class_cond_accuracy_{k}" for k in ("min", "measured", "met")}


def test_summary_scores_drop_unmeasurable_labels_and_null_non_finite():
    got = scores.summary_scores(row(accuracy=float("nan"), diversity=float("nan")))
    assert "accuracy" not in got and "diversity" not in got
    got = scores.summary_scores(row(fd_ratio=float("inf"), confidence=float("nan")))
    assert got["fd_ratio"] is None and got["confidence"] is None
    assert scores.summary_scores(row(accuracy=None))["accuracy"] is None  # unlabelled: kept


def test_summary_and_tables_from_final_scores(tmp_path):
    info = {"test_accuracy": 0.98765, "n_train": 4000, "n_test": 1000, "mnist_source": "x", "h": 1}
    sweep = [{"guidance_scale": g, **row()} for g in (5.0, 0.0)]
    final_class, final_time = scores.final_rows(sweep, row(accuracy=None), 5.0)
    ref = {"n_reference": 500, "n_floor_pool": 500, "background": 0.0123456}
    s = scores.summary(info, ref, final_class, final_time, sweep, {"t": 1}, {"f": "a.csv"})
    assert set(s["classifier"]) == {"test_accuracy", "n_train", "n_test", "mnist_source"}
    assert [r["guidance_scale"] for r in s["cfg_sweep"]] == [0.0, 5.0]
    assert s["time_cond"]["class_entropy_max"] == pytest.approx(math.log(10))
    write_json(tmp_path / "s.json", s)  # strict JSON
    assert json.loads((tmp_path / "s.json").read_text())["reference"] == ref
    p = scores.epochs_table_params(s, final_class, final_time, 5.0)
    assert p["classifier test accuracy (real held-out digits)"] == 0.9877
    assert list(p["class_cond final (CFG 5)"]) == scores.CLASS_KEYS
    assert list(p["time_cond final"]) == scores.TIME_KEYS
    assert p["real held-out digits: background (mean |x| of the 4-pixel frame)"] == 0.0123
    assert list(scores.sweep_table_params(sweep)) == ["gamma = 0", "gamma = 5"]


def test_scorer_scores_sample_files_against_a_disjoint_real_reference(tmp_path):
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(10).repeat(12)
    images = (torch.rand((len(labels), 28, 28), generator=g) * 255).to(torch.uint8)
    torch.manual_seed(0)
    clf = DigitClassifier(4, 8).eval()
    scorer = scores.Scorer(clf, {"test_images": images, "test_labels": labels}, seed=1)
    ref = scorer.reference()
    assert ref["n_reference"] + ref["n_floor_pool"] <= len(labels)
    grid = tmp_path / "results/partb/class_cond/samples/epoch_2.npz"
    save_npz(grid, images=images[:20].numpy(), labels=labels[:20].numpy())
    plain = tmp_path / "time.npz"
    save_npz(plain, images=images[:20].numpy())
    (r,) = scorer.grid_rows([grid])
    assert (r["model"], r["epoch"], r["n"]) == ("class_cond", 2, 20)
    assert 0.0 <= r["accuracy"] <= 1.0 and r["background"] > 0
    t = scorer.score(plain)
    assert t["accuracy"] is None and t["diversity"] is None
    rows = scorer.sweep_rows([0.0, 3.0], [grid, grid])
    assert [x["guidance_scale"] for x in rows] == [0.0, 3.0]
    assert rows[0]["fd"] == rows[1]["fd"]  # the same samples score the same
    with pytest.raises(ValueError):
        scorer.sweep_rows([0.0], [grid, grid])
    assert np.isfinite(t["fd"])
