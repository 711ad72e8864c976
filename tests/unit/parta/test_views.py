"""fundiff.parta.views (beyond the spec, item 3): every view is an exact inverse pair and
orthogonal, and the anagram estimate applies the INVERSE view to the second estimate."""

import pytest
import torch

from fundiff.parta import loops, views
from tests.helpers.fake_backend import FakeBackend

NEW = ("rotate90", "negate", "jigsaw")


@pytest.mark.parametrize("name", list(views.VIEWS))
@pytest.mark.parametrize("size", [28, 64])
def test_view_then_inverse_is_identity_exactly(name, size):
    x = torch.randn(3, 2, size, size, generator=torch.Generator().manual_seed(size))
    v, inv = views.view(name), views.inverse(name)
    assert torch.equal(inv(v(x)), x)
    assert torch.equal(v(inv(x)), x)


@pytest.mark.parametrize("name", list(views.VIEWS))
def test_views_are_signed_permutations(name):
    """Each view moves every pixel value somewhere (with at most a sign): the sorted absolute
    values and the norm are unchanged, so N(0, I) noise stays N(0, I)."""
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    y = views.view(name)(x)
    assert y.shape == x.shape
    assert torch.equal(y.abs().flatten().sort().values, x.abs().flatten().sort().values)
    torch.testing.assert_close(y.norm(), x.norm())


def test_new_views_are_not_their_own_inverse_where_expected():
    x = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(views.rotate90(views.rotate90(x)), x)
    assert torch.equal(views.rotate90(views.rotate90(x)), views.rotate180(x))
    assert not torch.equal(views.jigsaw(views.jigsaw(x)), x)
    assert torch.equal(views.negate(views.negate(x)), x)


def test_rotate90_and_jigsaw_by_hand():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)  # [[0, 1], [2, 3]]
    assert views.rotate90(x).flatten().tolist() == [1.0, 3.0, 0.0, 2.0]  # counter-clockwise
    # jigsaw on a 4 x 4 image: every tile is one pixel, so the view is JIGSAW itself
    y = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert views.jigsaw(y).flatten().tolist() == [float(k) for k in views.JIGSAW]
    assert sorted(views.JIGSAW) == list(range(16))
    assert all(k != j for k, j in enumerate(views.JIGSAW))  # no tile stays in place
    # on 28 px the tiles are 7 x 7 blocks moved whole
    z = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    j = views.JIGSAW[0]  # view tile 0 (top-left) is image tile j
    row, col = 7 * (j // 4), 7 * (j % 4)
    torch.testing.assert_close(views.jigsaw(z)[..., :7, :7], z[..., row : row + 7, col : col + 7])
    with pytest.raises(ValueError, match="divisible by 4"):
        views.jigsaw(torch.zeros(1, 1, 30, 30))
    with pytest.raises(ValueError, match="unknown view 'spin'"):
        views.view("spin")


@pytest.mark.parametrize("name", NEW + ("flip",))
def test_anagram_estimate_applies_the_inverse_view(name):
    """eps = (CFG(x, p1) + V^-1(CFG(V(x), p2))) / 2, checked with the fake backend: for
    rotate90 and jigsaw V^-1 != V, and using V instead would give another estimate."""
    b = FakeBackend(size=8)
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    c1, c2, u = b.encode(["p", "p"]), b.encode(["q", "q"]), b.uncond(2)
    eps, _ = loops.anagram_eps_fn(b, c1, c2, u, 7.0, view=name)(x, 300)
    v, inv = views.view(name), views.inverse(name)
    e1 = loops.cfg_predict(b, x, 300, c1, u, 7.0)[0]
    e2 = loops.cfg_predict(b, v(x), 300, c2, u, 7.0)[0]
    torch.testing.assert_close(eps, (e1 + inv(e2)) / 2)
    if name in ("rotate90", "jigsaw"):
        assert not torch.allclose(eps, (e1 + v(e2)) / 2)


def test_anagram_of_a_view_invariant_prompt_pair_is_consistent():
    """With p1 = p2 the estimate for V(x) through the anagram equals V of the estimate for x
    when the model is equivariant to V: checked for rotate90 with a rotation-symmetric kernel."""
    b = FakeBackend(size=8, symmetric=True)
    with torch.no_grad():
        w = b.conv.weight
        w.copy_(sum(torch.rot90(w, k, dims=(-2, -1)) for k in range(4)) / 4)
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(6))
    c, u = b.encode(["p"]), b.uncond(1)
    fn = loops.anagram_eps_fn(b, c, c, u, 7.0, view="rotate90")
    torch.testing.assert_close(fn(views.rotate90(x), 300)[0], views.rotate90(fn(x, 300)[0]))
