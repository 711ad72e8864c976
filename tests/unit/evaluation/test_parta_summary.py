"""Part A in numbers, gathered (fundiff.evaluation.parta_summary): parta_summary.json's record."""

import json

import pandas as pd
import pytest

from fundiff.evaluation.parta_summary import ILLUSIONS_NOTE, parta_summary
from fundiff.io import write_json


@pytest.fixture
def csvs(tmp_path):
    den = pd.DataFrame(
        [
            {"method": m, "t": t, "image": i, "psnr": p, "ssim": 0.5}
            for m, t, i, p in [
                ("blur", 10, "a", 10.0),
                ("blur", 10, "b", 14.0),
                ("one_step", 10, "a", float("inf")),  # identical images: PSNR is inf
                ("one_step", 10, "b", 20.0),
            ]
        ]
    )
    sd = pd.DataFrame(
        [
            {"section": "A1.7", "image": "a", "i_start": i, "psnr": p, "mse": 0.1}
            for i, p in [(1, 5.0), (3, 7.0), (5, 6.0)]
        ]
        + [{"section": "A1.7.1", "image": "b", "i_start": 1, "psnr": 9.0, "mse": 0.1}]
    )
    inp = pd.DataFrame([{"image": "a", "inside": 0.2, "outside": float("nan")}])
    out = {}
    for name, df in (("denoise", den), ("sdedit", sd), ("inpaint", inp)):
        out[name] = str(tmp_path / f"parta_{name}.csv")
        df.to_csv(out[name], index=False)
    return out


def test_summary_aggregates_each_metric_csv(csvs, tmp_path):
    s = parta_summary("mnist", csvs)
    assert s["backend"] == "mnist" and s["files"] == csvs
    blur = next(r for r in s["denoising"] if r["method"] == "blur")
    assert (blur["psnr_mean"], blur["psnr_std"], blur["n"]) == (12.0, 2.0, 2)
    assert s["sdedit"]["mean_psnr_by_i_start"] == {"1": 7.0, "3": 7.0, "5": 6.0}
    # A1.7/a rises once and falls once; a single i_start has no pairs (NaN)
    assert s["sdedit"]["rising_fraction"]["A1.7/a"] == 0.5
    assert s["illusions"] is None and s["illusions_note"] == ILLUSIONS_NOTE
    write_json(tmp_path / "s.json", s)
    back = json.loads((tmp_path / "s.json").read_text())
    assert back["sdedit"]["rising_fraction"]["A1.7.1/b"] is None  # NaN -> null
    one_step = next(r for r in back["denoising"] if r["method"] == "one_step")
    assert one_step["psnr_mean"] == "inf"  # inf -> "inf" (strict JSON)
    assert back["inpainting"] == [{"image": "a", "inside": 0.2, "outside": None}]


def test_summary_with_illusions_has_no_note(csvs, tmp_path):
    path = tmp_path / "parta_illusions.csv"
    pd.DataFrame([{"kind": "anagram", "pair": "six_nine", "success": 0.75}]).to_csv(
        path, index=False
    )
    s = parta_summary("mnist", {**csvs, "illusions": str(path)})
    assert s["illusions"] == [{"kind": "anagram", "pair": "six_nine", "success": 0.75}]
    assert "illusions_note" not in s
