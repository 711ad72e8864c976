import pytest
import torch

from fundiff.diffusion.unet import UNet, forward_chunked


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


def test_forward_chunked_equals_one_forward():
    """Row chunks (what the samplers run on a CPU) give the one-forward result row by row."""
    torch.manual_seed(0)
    model = UNet(1, 8, time_cond=True, num_classes=10).eval()
    x, t = torch.randn(7, 1, 28, 28), torch.rand(7)
    c = torch.tensor([0, 1, 2, -1, 4, -1, 9])
    with torch.no_grad():
        whole = model(x, t, c)
        for rows in (1, 3, 7, 100, None, -1):
            got = forward_chunked(model, x, t, c, max_rows=rows)
            assert got.shape == whole.shape
            torch.testing.assert_close(got, whole, rtol=0, atol=1e-5)
        # chunks really are separate forwards: a model that sees the batch size tells
        seen = []
        forward_chunked(lambda x, t, c: seen.append(len(x)) or x, x, t, c, max_rows=3)
        assert seen == [3, 3, 1]
        seen.clear()
        forward_chunked(lambda x, t, c: seen.append(len(x)) or x, x, None, None, max_rows=None)
        assert seen == [7]
