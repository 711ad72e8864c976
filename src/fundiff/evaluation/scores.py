"""Part B in numbers (rule eval_partb, section B4): score every sample set with the real-digit
classifier and gather the scores into tidy tables, results/eval/summary.json and the two B4
table specs.

The sample sets: the grids after each saved epoch (few digits), the CFG sweep of the final
class-conditioned model (one set per guidance scale, the same seed) and a larger sample of the
final time-conditioned model. The final class-conditioned score is the sweep's row at the
grids' guidance scale.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import torch

from fundiff.diffusion.settings import scale_wildcard
from fundiff.evaluation import classifier, metrics

# the scores shown in the B4 tables (class-conditioned sets; the time-conditioned set has no
# requested class, so no accuracy: its class entropy instead)
CLASS_KEYS = ["n", "accuracy", "confidence", "fd", "fd_floor", "fd_ratio", "background"]
TIME_KEYS = ["n", "confidence", "class_entropy", "fd", "fd_floor", "fd_ratio", "background"]
# metrics that only a labelled (class-conditioned) set has: NaN there means "not measurable"
LABELLED_ONLY = ("accuracy", "diversity")
# issue-11 targets: name -> (config key under eval.targets, measured by, ">=" or "<=")
TARGETS = {
    "class_cond_accuracy": ("accuracy", "class_cond", "accuracy", ">="),
    "class_cond_fd_ratio": ("fd_ratio", "class_cond", "fd_ratio", "<="),
    "class_cond_early_accuracy": ("early_accuracy", "early", "accuracy", ">="),
    "time_cond_confidence": ("time_confidence", "time_cond", "confidence", ">="),
    "time_cond_class_entropy": ("time_class_entropy", "time_cond", "class_entropy", ">="),
    "time_cond_fd_ratio": ("time_fd_ratio", "time_cond", "fd_ratio", "<="),
}
_GRID = re.compile(r"partb/(\w+)/samples/epoch_(\d+)\.npz$")


class Scorer:
    """The classifier with its real reference: held-out digits split (seeded) into a reference
    set and a disjoint pool for the FD floor (metrics.split_reference)."""

    def __init__(self, clf, data: dict, seed: int):
        self.clf, self.seed = clf, seed
        ref_idx, pool_idx = metrics.split_reference(data["test_labels"], seed)
        feats, _ = classifier.embed(clf, data["test_images"])
        labels = data["test_labels"].numpy()
        self.ref_feats, self.ref_labels = feats[ref_idx.numpy()], labels[ref_idx.numpy()]
        self.pool_feats = feats[pool_idx.numpy()]
        self.background = metrics.background_intensity(data["test_images"])

    def score(self, path) -> dict:
        """Every metric of the sample set in ``path`` (.npz: uint8 images, optional labels)."""
        z = np.load(path)
        feats, probs = classifier.embed(self.clf, torch.from_numpy(z["images"]))
        labels = z["labels"] if "labels" in z else None
        s = metrics.score_samples(
            feats, probs, self.ref_feats, self.pool_feats, labels, self.ref_labels, self.seed
        )
        return {**s.as_dict(), "background": metrics.background_intensity(z["images"])}

    def grid_rows(self, paths) -> list[dict]:
        """One row per sample grid: {"model", "epoch", metrics...}."""
        return [
            dict(zip(("model", "epoch"), grid_key(f), strict=True)) | self.score(f) for f in paths
        ]

    def sweep_rows(self, scales, paths) -> list[dict]:
        """One row per CFG scale: {"guidance_scale", metrics...}."""
        return [{"guidance_scale": s} | self.score(f) for s, f in zip(scales, paths, strict=True)]

    def reference(self) -> dict:
        return {
            "n_reference": len(self.ref_feats),
            "n_floor_pool": len(self.pool_feats),
            "background": self.background,
        }


def grid_key(path) -> tuple[str, int]:
    """(model, epoch) of a sample grid's raw samples (results/partb/MODEL/samples/epoch_E.npz)."""
    m = _GRID.search(str(path))
    if not m:
        raise ValueError(f"not a Part B sample grid: {path}")
    return m.group(1), int(m.group(2))


def epochs_frame(rows: list[dict]) -> pd.DataFrame:
    """Grid scores ({"model", "epoch", ...}) sorted by model, then epoch."""
    return pd.DataFrame(rows).sort_values(["model", "epoch"], ignore_index=True)


def sweep_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).sort_values("guidance_scale", ignore_index=True)


def final_frame(final_class: dict, final_time: dict) -> pd.DataFrame:
    return pd.DataFrame([final_class, final_time])


def final_rows(sweep_rows: list[dict], time_scores: dict, guidance_scale: float):
    """The final models' scores: class_cond at the grids' scale (its sweep row, matched exactly:
    the sweep's scales are the configured floats, :func:`fundiff.diffusion.settings.sweep_scales`
    keeps them exact), time_cond."""
    key = scale_wildcard(guidance_scale)
    main = next((r for r in sweep_rows if scale_wildcard(r["guidance_scale"]) == key), None)
    if main is None:
        have = ", ".join(scale_wildcard(r["guidance_scale"]) for r in sweep_rows)
        raise ValueError(
            f"the CFG sweep has no row at the grids' guidance scale {key} (it has {have}): "
            "rule eval_partb's params scales and guidance_scale disagree"
        )
    final_class = {"model": "class_cond", **main}
    final_time = {"model": "time_cond", "guidance_scale": None, **time_scores}
    return final_class, final_time


def targets_met(targets: dict, final_class: dict, final_time: dict, epochs: pd.DataFrame) -> dict:
    """Each configured target with its measured value and met / not met (never enforced):
    ``<name>_min`` / ``_max``, ``<name>_measured``, ``<name>_met``. The early accuracy is the
    class-conditioned grid at the first sample epoch."""
    early = epochs[epochs.model == "class_cond"].sort_values("epoch")
    measured = {
        "class_cond": final_class,
        "time_cond": final_time,
        "early": {"accuracy": float(early.accuracy.iloc[0])} if len(early) else {},
    }
    out = {}
    for name, (key, of, metric, op) in TARGETS.items():
        value, target = measured[of].get(metric), targets.get(key)
        if target is None or value is None:
            continue
        met = value >= target if op == ">=" else value <= target
        out[f"{name}_{'min' if op == '>=' else 'max'}"] = target
        out[f"{name}_measured"] = value
        out[f"{name}_met"] = bool(met)
    return out


def summary_scores(scores: dict) -> dict:
    """A score row as summary.json records it: a labelled-only metric that could not be measured
    (NaN) is left out; any other non-finite value (an FD ratio over a zero floor) is null."""
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in scores.items()
        if not (isinstance(v, float) and math.isnan(v) and k in LABELLED_ONLY)
    }


def summary(info, reference, final_class, final_time, sweep_rows, targets, files) -> dict:
    """results/eval/summary.json: the classifier (``info``: its classifier.json), the real
    reference, the final scores, the CFG sweep, every target (met / not met) and the files
    holding every row."""
    return {
        "classifier": {k: info[k] for k in ("test_accuracy", "n_train", "n_test", "mnist_source")},
        "reference": reference,
        "class_cond": summary_scores(final_class),
        "time_cond": {**summary_scores(final_time), "class_entropy_max": math.log(10)},
        "cfg_sweep": [
            summary_scores(r) for r in sorted(sweep_rows, key=lambda r: r["guidance_scale"])
        ],
        "targets": targets,
        "files": files,
    }


def rounded(d: dict, keys) -> dict:
    """``keys`` of ``d``, floats to 4 decimals (the B4 tables)."""
    return {k: (round(d[k], 4) if isinstance(d.get(k), float) else d.get(k)) for k in keys}


def epochs_table_params(summary: dict, final_class, final_time, guidance_scale: float) -> dict:
    """What the per-epoch B4 table lists beside its plot: the classifier, the final scores of
    both models, the real digits' background and the targets."""
    return {
        "classifier test accuracy (real held-out digits)": round(
            summary["classifier"]["test_accuracy"], 4
        ),
        f"class_cond final (CFG {guidance_scale:g})": rounded(final_class, CLASS_KEYS),
        "time_cond final": rounded(final_time, TIME_KEYS),
        "real held-out digits: background (mean |x| of the 4-pixel frame)": round(
            summary["reference"]["background"], 4
        ),
        "targets": summary["targets"],
    }


def sweep_table_params(sweep_rows: list[dict]) -> dict:
    """The CFG sweep's scores, one entry per guidance scale."""
    return {
        f"gamma = {scale_wildcard(r['guidance_scale'])}": rounded(r, CLASS_KEYS)
        for r in sorted(sweep_rows, key=lambda r: r["guidance_scale"])
    }
