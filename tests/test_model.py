import pytest
import torch

from lulc_helpers import scheme
from lulc_helpers.unet.model import ConvReLU, UNet, architecture_table, block_summary, inference_copy


@pytest.mark.parametrize("size", [101, 401])
def test_proposed_keeps_odd_sizes(size):
    model = UNet(width=4, depth=4).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 10, size, size))
    assert out.shape == (1, len(scheme.CLASSES), size, size)


def test_non_square_odd_input():
    with torch.no_grad():
        out = UNet(width=4, depth=3).eval()(torch.zeros(2, 10, 37, 53))
    assert out.shape == (2, 10, 37, 53)


def test_block_structure_of_the_two_variants():
    proposed, original = UNet(width=4, depth=2), UNet(width=4, depth=2, variant="original")
    assert block_summary(proposed) == ["Conv2d", "BatchNorm2d", "ReLU"] * 3
    assert block_summary(original) == ["Conv2d", "ReLU"] * 2
    for block in [*proposed.encoders, proposed.bottleneck, *proposed.decoders]:
        assert [type(m).__name__ for m in block].count("Conv2d") == 3
        assert all(conv.padding == "same" for conv in block if isinstance(conv, torch.nn.Conv2d))
    assert all(up.kernel_size == (2, 2) and up.stride == (2, 2) for up in proposed.ups)


def test_width_and_depth_set_the_channels():
    model = UNet(width=8, depth=3)
    assert [block[0].out_channels for block in model.encoders] == [8, 16, 32]
    assert model.bottleneck[0].out_channels == 64
    assert model.encoders[0][0].in_channels == 10


def test_original_needs_a_multiple_of_two_to_the_depth():
    model = UNet(width=4, depth=2, variant="original").eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 10, 96, 96)).shape == (1, 10, 96, 96)
        with pytest.raises(ValueError, match="divisible by 4"):
            model(torch.zeros(1, 10, 101, 101))


def test_unknown_variant():
    with pytest.raises(ValueError, match="unknown U-Net variant"):
        UNet(variant="resnet")


def test_architecture_table_reads_the_models():
    table = architecture_table(width=4, depth=2)
    assert "ReplicationPad2d" in table.loc["Decoder blocks", "Proposed model"]
    assert "ReplicationPad2d" not in table.loc["Decoder blocks", "Original U-Net"]
    assert table.loc["Encoder blocks", "Original U-Net"].startswith("2 x (Conv2d + ReLU)")


@pytest.mark.parametrize("variant", ["proposed", "original"])
def test_the_inference_copy_predicts_what_the_network_predicts(variant):
    """The copy that prediction runs (BatchNorm folded into the convolutions, channels last) against the network
    itself in evaluation mode, with BatchNorm statistics far from their initial 0 and 1."""
    torch.manual_seed(0)
    model = UNet(width=8, depth=2, variant=variant)
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-2, 2)
            layer.running_var.uniform_(0.1, 4)
            layer.weight.data.uniform_(0.5, 2)
            layer.bias.data.uniform_(-1, 1)
    model.train()
    x = torch.randn(2, 10, 32, 32)
    copy = inference_copy(model, torch.device("cpu"))
    assert model.training and any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == (variant == "proposed")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in copy.modules())
    if torch.backends.mkldnn.is_available():  # x86 builds: every convolution + ReLU pair runs as one oneDNN call
        assert not any(isinstance(m, torch.nn.ReLU) for m in copy.modules())
        assert sum(isinstance(m, ConvReLU) for m in copy.modules()) == 5 * (3 if variant == "proposed" else 2)  # 5 blocks
    assert next(copy.parameters()).dim() == 4 and next(copy.parameters()).is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = model.eval()(x)
        got = copy(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(got.argmax(1), expected.argmax(1))


def test_the_fused_convolution_follows_autocast_as_the_two_layers_do():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 8, 3, padding="same").eval()
    x = torch.randn(2, 6, 19, 23)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        fused, apart = ConvReLU(conv)(x), torch.relu(conv(x))
    assert fused.dtype == apart.dtype == torch.bfloat16
    torch.testing.assert_close(fused.float(), apart.float(), rtol=2e-2, atol=2e-2)
