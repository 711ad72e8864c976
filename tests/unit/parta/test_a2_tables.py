"""Part A in numbers (section A2): the tidy rows read back from the sections' arrays and the
table specs (fundiff.evaluation.parta_tables), and the samples the metric rules judge."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from fundiff.evaluation import classifier, metrics, parta_tables, samples
from fundiff.parta import layout
from fundiff.report.tables import check_data
from tests.helpers.fake_backend import FakeBackend

TS = list(range(290, -1, -10))


def _key(image, name):
    return layout.array_key(layout.image_cell(image, name))


def _sdedit_npz(path, images, i_starts, rng):
    arrays = {}
    for image in images:
        original = rng.random((1, 4, 4), dtype=np.float32)
        arrays[_key(image, "original")] = original
        arrays[layout.array_key(layout.image_cell(image, "original"), raw=False)] = original
        base = rng.standard_normal((1, 4, 4)).astype(np.float32)
        for k, i in enumerate(i_starts):  # closer to the original as i_start grows
            noise = base / (k + 1)
            arrays[layout.array_key(layout.sdedit_cell(image, i))] = original + noise
            arrays[layout.array_key(layout.sdedit_cell(image, i), raw=False)] = original
    np.savez(path, **arrays)


def test_sdedit_frame_and_table(tmp_path):
    rng = np.random.default_rng(0)
    _sdedit_npz(tmp_path / "a.npz", ["digit_a", "drawn_x"], [1, 5, 20], rng)
    _sdedit_npz(tmp_path / "b.npz", ["digit_b"], [1, 5, 20], rng)
    df = parta_tables.sdedit_frame([tmp_path / "a.npz", tmp_path / "b.npz"], ["A1.7", "A1.7.3"], TS)
    assert list(df.columns) == parta_tables.SDEDIT_COLUMNS
    assert len(df) == 9  # 3 images x 3 i_start; uint8 copies and originals are not edits
    assert set(df.image) == {"digit_a", "drawn_x", "digit_b"}
    assert list(df[df.image == "digit_b"].t) == [280, 240, 90]  # timesteps[i_start]
    assert (df[df.image == "digit_b"].section == "A1.7.3").all()
    spec = parta_tables.sdedit_table(
        "SDEdit title", df, "results/eval/parta_sdedit.png", ["A1.7", "A1.7.3"], TS, 7.0
    )
    assert spec["section"] == "A2"
    assert spec["title"] == "SDEdit title"
    assert spec["params"]["t"] == [280, 240, 90]
    data = check_data(spec["data"])
    assert data["columns"] == ["section", "image", "i_start = 1", "i_start = 5", "i_start = 20",
                               "rising"]  # fmt: skip
    first = data["rows"][0]
    assert first[:2] == ["A1.7", "digit_a"] and first[-1] == 1.0  # PSNR rises with i_start
    want = df[(df.image == "digit_a") & (df.i_start == 5)].psnr.iloc[0]
    assert first[3] == pytest.approx(want)
    assert data["rows"][-1][:2] == ["all", "mean"] and data["rows"][-1][-1] is None
    assert data["rows"][-1][2] == pytest.approx(df[df.i_start == 1].psnr.mean())


def test_inpaint_frame_and_table(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {}
    for image in ("digit_a", "digit_c"):
        original = rng.random((1, 4, 4), dtype=np.float32)
        mask = np.zeros((1, 4, 4), np.float32)
        mask[:, :2] = 1
        new = rng.random((1, 4, 4), dtype=np.float32)
        arrays |= {
            _key(image, "original"): original,
            _key(image, "mask"): mask,
            _key(image, "inpainted"): mask * new + (1 - mask) * original,
        }
    np.savez(tmp_path / "t.npz", **arrays)
    df = parta_tables.inpaint_frame(tmp_path / "t.npz", ["digit_c", "digit_a"])
    assert list(df.image) == ["digit_c", "digit_a"]  # the configured order
    assert (df.mask_fraction == 0.5).all()
    assert (df.mse_outside == 0).all() and (df.mae_outside == 0).all()
    assert (df.mse_inside > 0).all()
    masks = [{"image": "digit_c", "rects": [[0, 0, 2, 4]]}]
    spec = parta_tables.inpaint_table("t", df, "p.png", masks)
    assert spec["params"] == {"images": ["digit_c", "digit_a"], "masks": masks}
    rows = check_data(spec["data"])["rows"]
    assert rows[0][:2] == ["digit_c", 0.5] and rows[0][3] == 0.0
    assert "must be 0" in spec["caption"]


def test_denoise_table_rows_and_params():
    df = pd.DataFrame(
        [
            {"image": im, "t": t, "method": m, "psnr": 20.0 + k, "ssim": 0.5}
            for t in (150, 75)
            for m in ("noisy", "iterative")
            for k, im in enumerate(("a", "b"))
        ]
    )
    summary = metrics.mean_std(df, ["method", "t"], ["psnr", "ssim"])
    params = {"backend": "mnist", "t": [75, 150], "kernel_size": 5, "sigma": 1.0}
    params |= {"prompt": "", "seed": 180}
    spec = parta_tables.denoise_table("t", summary, "p.png", ["a", "b"], True, params)
    assert spec["params"] == {"backend": "mnist", "images": "2 held-out test digits", **params}
    assert list(spec["params"]) == ["backend", "images", "t", "kernel_size", "sigma", "prompt",
                                    "seed"]  # fmt: skip
    rows = check_data(spec["data"])["rows"]
    assert [r[:2] for r in rows] == [["noisy x_t", 75], ["iterative", 75], ["noisy x_t", 150],
                                     ["iterative", 150]]  # fmt: skip
    assert rows[0][2:] == ["20.50 ± 0.50", "0.500 ± 0.000", 2]
    assert "over 2 images" in spec["caption"]
    named = parta_tables.denoise_table("t", summary, "p.png", ["a", "b"], False, params)
    assert named["params"]["images"] == ["a", "b"]


def _params(**kw):
    base = {"seed": 180, "guidance_scale": 5.0, "far_sigma": 2.0}
    base["anagrams"] = {"pairs": [{"name": "six_nine", "prompts": ["6", "9"]}], "view": "flip"}
    pairs = [
        {"name": "zero_one", "prompts": ["0", "1"]},
        {"name": "one_seven", "prompts": ["1", "7"]},
    ]
    base["hybrids"] = {"kernel_size": 7, "sigma": 2.0, "pairs": pairs}
    return SimpleNamespace(**(base | kw))


@pytest.fixture(scope="module")
def judged():
    backend = FakeBackend(channels=1, size=28, T=300)
    torch.manual_seed(0)
    clf = classifier.DigitClassifier(width=4, feat_dim=8).eval()
    p = _params()
    out = samples.judge_illusions(
        backend, clf, p.anagrams, p.hybrids, 3, TS, p.seed, p.guidance_scale, p.far_sigma
    )
    again = samples.judge_illusions(
        backend, clf, p.anagrams, p.hybrids, 3, TS, p.seed, p.guidance_scale, p.far_sigma
    )
    return out, again


def test_judge_illusions_rows_and_samples(judged):
    (rows, arrays), (rows2, arrays2) = judged
    assert [(r["kind"], r["pair"]) for r in rows] == [
        ("anagram", "six_nine"),
        ("hybrid", "zero_one"),
        ("hybrid", "one_seven"),
    ]
    for r in rows:
        assert r["n"] == 3 and all(0 <= r[k] <= 1 for k in ("view1", "view2", "both"))
        assert r["both"] <= min(r["view1"], r["view2"])
    assert rows[1]["prompt1"] == "0" and rows[1]["prompt2"] == "1"
    assert set(arrays) == {"anagram__six_nine", "hybrid__zero_one", "hybrid__one_seven"}
    assert arrays["hybrid__zero_one"].shape[0] == 3 and arrays["hybrid__zero_one"].dtype == np.uint8
    assert rows == rows2 and all(np.array_equal(arrays[k], arrays2[k]) for k in arrays)


def test_illusions_table(judged):
    (rows, _), _ = judged
    spec = parta_tables.illusions_table("Illusions", rows, "p.png", 3, _params())
    assert spec["title"] == "Illusions"
    assert spec["params"]["samples per pair"] == 3 and spec["params"]["hybrid kernel_size"] == 7
    assert "3 samples per prompt pair" in spec["caption"] and "(flip, the" in spec["caption"]
    data = check_data(spec["data"])
    assert data["rows"][0][:3] == ["anagram", "six_nine", "6 / 9"]
    assert len(data["rows"]) == 3


def test_clean_images_from_the_mnist_cache(tmp_path):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (30, 28, 28), generator=g, dtype=torch.uint8)
    torch.save({"test_images": images, "test_labels": torch.arange(30) % 10}, tmp_path / "m.pt")
    backend = FakeBackend(channels=1, size=28, T=300)
    x01, names = samples.clean_images(backend, {"kind": "mnist", "digits": 4}, tmp_path / "m.pt")
    assert x01.shape == (4, 1, 28, 28) and names[-1] == "test digit 3"
    assert 0 <= x01.min() and x01.max() <= 1
