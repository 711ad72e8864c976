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
