"""X3 / X4 metrics (fundiff.evaluation.beyond_parta) on hand-made images and a fake backend."""

import torch

from fundiff.evaluation import beyond_parta as bp
from fundiff.parta import views
from tests.helpers.fake_backend import FakeBackend


def _bottom_half(size=8):
    m = torch.zeros(size, size)
    m[size // 2 :] = 1
    return m


def test_band_is_the_mask_rows_next_to_the_kept_region():
    m = _bottom_half()
    for w in (1, 2, 3):
        want = torch.zeros(8, 8)
        want[4 : 4 + w] = 1
        assert torch.equal(bp.band(m, w), want)
    # a square hole: the band of width 1 is its outer ring, not its centre
    hole = torch.zeros(8, 8)
    hole[2:6, 2:6] = 1
    b = bp.band(hole, 1)
    assert b.sum() == 12 and b[3:5, 3:5].sum() == 0


def test_seam_is_the_mean_jump_across_the_boundary():
    m = _bottom_half()
    x = torch.zeros(2, 3, 8, 8)
    x[0, :, 4:] = 1.0  # a hard edge exactly on the boundary: every pair jumps by 1
    x[1] = torch.linspace(0, 1, 8)[None, :, None]  # smooth rows: a jump of 1/7
    torch.testing.assert_close(bp.seam(x, m), torch.tensor([1.0, 1 / 7]))


def test_inpaint_metrics():
    m = _bottom_half()
    orig = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    x = orig.repeat(3, 1, 1, 1)
    x[1, :, 4] += 0.25  # the first row inside the mask off by 0.25
    x[2, :, 0, 0] += 0.5  # a pixel outside the mask changed
    r = bp.inpaint_metrics(x, orig, m, 2)
    torch.testing.assert_close(r["band_error"], torch.tensor([0.0, 0.125, 0.0]))
    torch.testing.assert_close(r["outside_error"], torch.tensor([0.0, 0.0, 0.5]))


def test_view_samples_apply_the_view_in_model_space():
    """negate in the fake backend's [-1, 1] model space is the photo negative in [0, 1]."""
    b = FakeBackend(channels=1, size=8)
    pairs = [{"name": "ab", "prompts": ["a", "bb"]}]
    ts = list(range(990, -1, -110))
    x1, x2 = bp.view_samples(b, "negate", pairs, 2, ts, 0, 3.0)
    torch.testing.assert_close(x2, 1 - x1)
    y1, y2 = bp.view_samples(b, "rotate90", pairs, 2, ts, 0, 3.0)
    torch.testing.assert_close(y2, views.rotate90(y1))


def _repaint(resamplings, seed=0):
    b = FakeBackend(channels=1, size=8)
    x_0 = b.to_model(torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(1)))
    r = {"jump_length": 2, "resamplings": resamplings, "band": 1}
    ts = list(range(990, -1, -110))
    return bp.repaint_image(b, x_0, _bottom_half()[None], "img", 3, ts, "a", seed, 3.0, r)


def test_repaint_image_measures_both_methods_and_keeps_the_times_apart():
    rows, timing, shown = _repaint(resamplings=1)
    assert [r["method"] for r in rows] == ["one_pass", "repaint"] == [t["method"] for t in timing]
    assert all(set(t) == {"image", "method", "n", "seconds"} for t in timing)
    assert all(t["seconds"] > 0 and t["n"] == 3 and t["image"] == "img" for t in timing)
    assert not any("second" in k for r in rows for k in r)  # the metrics hold no wall time
    # one resampling is the one-pass rule exactly (same seeds): the same samples and metrics
    assert torch.equal(shown["one_pass"], shown["repaint"])
    assert {k: v for k, v in rows[0].items() if k != "method"} == {
        k: v for k, v in rows[1].items() if k != "method"
    }
    assert rows[0]["outside_error"] < 1e-6 and rows[0]["accuracy"] is None
    torch.testing.assert_close(shown["to_replace"][0, 4:], torch.zeros(4, 8))  # masked out
    assert set(shown) == {"original", "to_replace", "one_pass", "repaint"}


def test_repaint_image_resamples_and_is_seeded():
    rows, _, shown = _repaint(resamplings=3)
    again, _, shown_again = _repaint(resamplings=3)
    assert rows == again and torch.equal(shown["repaint"], shown_again["repaint"])
    assert not torch.equal(shown["one_pass"], shown["repaint"])
    assert rows[1]["outside_error"] < 1e-6  # the kept region is the original for RePaint too
    other, _, _ = _repaint(resamplings=3, seed=1)
    assert other[1]["band_error"] != rows[1]["band_error"]
    assert (
        bp.repaint_caption("repaint", {"jump_length": 2, "resamplings": 3}) == "RePaint (j 2, r 3)"
    )


def test_repaint_cost_spec_shows_the_timing_plot_only(tmp_path):
    _, timing, _ = _repaint(resamplings=2)
    png = tmp_path / "timing.png"
    bp.plot_repaint_timing(timing, png, "cost")
    assert png.stat().st_size > 1000
    spec = bp.repaint_timing_table("cost", png, {"samples": 3})
    assert spec["section"] == "X4" and "data" not in spec
    assert [c["src"] for r in spec["rows"] for c in r["cells"]] == [str(png)]
    table = bp.repaint_table("t", _repaint(resamplings=2)[0], [], {}, 3)
    assert not any("second" in c for c in table["data"]["columns"])
