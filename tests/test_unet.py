import pytest
import torch

from fundiff.unet import UNet


@pytest.mark.parametrize("d", [4, 16])
def test_shapes_unconditional(d):
    m = UNet(1, d)
    x = torch.randn(3, 1, 28, 28)
    assert m(x).shape == (3, 1, 28, 28)
    # spec intermediate shapes
    x0 = m.conv_in(x)
    x1 = m.down1(x0)
    x2 = m.down2(x1)
    assert x0.shape == (3, d, 28, 28) and x1.shape == (3, d, 14, 14)
    assert x2.shape == (3, 2 * d, 7, 7)
    assert m.flatten(x2).shape == (3, 2 * d, 1, 1)
    assert m.unflatten(m.flatten(x2)).shape == (3, 2 * d, 7, 7)


def test_final_layer_is_plain_conv():
    assert isinstance(UNet(1, 8).final, torch.nn.Conv2d)


def test_time_conditioning_changes_output():
    torch.manual_seed(0)
    m = UNet(1, 8, time_cond=True).train()
    x = torch.randn(2, 1, 28, 28)
    a, b = m(x, torch.tensor([0.1, 0.1])), m(x, torch.tensor([0.9, 0.9]))
    assert a.shape == (2, 1, 28, 28)
    assert (a - b).abs().max() > 1e-3


def test_class_conditioning_changes_output_and_labels_match_one_hot():
    torch.manual_seed(0)
    m = UNet(1, 8, time_cond=True, num_classes=10).eval()
    x = torch.randn(3, 1, 28, 28)
    t = torch.full((3,), 0.5)
    labels = torch.tensor([3, 7, -1])
    one_hot = torch.zeros(3, 10)
    one_hot[0, 3] = one_hot[1, 7] = 1  # row 2 stays zero = unconditional
    torch.testing.assert_close(m(x, t, labels), m(x, t, one_hot))
    m.train()  # batch statistics: an untrained net's eval-mode BN nearly zeroes the signal
    out_3 = m(x, t, torch.tensor([3, 3, 3]))
    out_7 = m(x, t, torch.tensor([7, 7, 7]))
    assert (out_3 - out_7).abs().max() > 1e-3


def test_bad_inputs():
    with pytest.raises(ValueError, match="28 x 28"):
        UNet(1, 4)(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="pass t"):
        UNet(1, 4, time_cond=True)(torch.randn(1, 1, 28, 28))
