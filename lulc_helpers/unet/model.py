"""The paper's U-Net (Section 2.3.1 and its table of the two networks) and the original U-Net as a baseline.

"proposed": every encoder, bottleneck and decoder block is 3 x (Conv3x3 padding same, BatchNorm, ReLU);
the decoder upsamples with ConvTranspose2d 2x2 and pads the result with ReplicationPad2d to the size of
the skip connection before concatenating, so any input size (401 x 401 included) works.
"original" (Ronneberger et al. 2015): 2 x (Conv3x3, ReLU) per block, no BatchNorm, no padding before the
skip concatenation; padding same is kept so that the map matches the mask, which makes the input size a
multiple of 2**depth.

Output channel k holds the logit of scheme class k + 1 (code 0, unlabelled, is never predicted).
"""

from __future__ import annotations

import copy
import functools

import pandas as pd
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .. import scheme
from ..rasters import BANDS
from .config import VARIANTS, TrainConfig



def conv_block(in_channels: int, out_channels: int, convs: int, batch_norm: bool) -> nn.Sequential:
    """One U-Net block: `convs` 3x3 convolutions ("same" padding), each followed by batch normalisation (if asked)
    and ReLU.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels in and out.
    convs : int
        Number of convolutions.
    batch_norm : bool
        Add BatchNorm2d after each convolution (the convolutions then have no bias).

    Returns
    -------
    torch.nn.Sequential
        The block.
    """
    layers: list[nn.Module] = []
    for i in range(convs):
        layers.append(nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding="same", bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """U-Net with `depth` poolings; level i has `width * 2**i` channels, the bottleneck `width * 2**depth`."""

    def __init__(
        self,
        in_channels: int = len(BANDS),
        num_classes: int = len(scheme.CLASSES),
        width: int = 64,
        depth: int = 4,
        variant: str = "proposed",
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown U-Net variant {variant!r}; choose one of {sorted(VARIANTS)}")
        self.variant, self.depth = variant, depth
        spec = VARIANTS[variant]
        block = lambda cin, cout: conv_block(cin, cout, spec["convs"], spec["batch_norm"])  # noqa: E731
        channels = [width * 2**i for i in range(depth + 1)]
        self.encoders = nn.ModuleList(block(cin, cout) for cin, cout in zip([in_channels, *channels[:-2]], channels[:-1]))
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = block(channels[-2], channels[-1])
        self.ups = nn.ModuleList(nn.ConvTranspose2d(c, c // 2, 2, stride=2) for c in reversed(channels[1:]))
        self.decoders = nn.ModuleList(block(c, c // 2) for c in reversed(channels[1:]))
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not VARIANTS[self.variant]["replication_pad"]:
            step = 2**self.depth
            if x.shape[-2] % step or x.shape[-1] % step:
                raise ValueError(
                    f"the original U-Net needs height and width divisible by {step}, got {tuple(x.shape[-2:])}; "
                    "use the proposed variant (ReplicationPad2d) for any size"
                )
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = up(x)
            dy, dx = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
            if dy or dx:  # odd sizes: pooling floored, so the upsampled map is one pixel short
                x = nn.ReplicationPad2d((dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))(x)
            x = decoder(torch.cat([skip, x], dim=1))
        return self.head(x)


def count_parameters(model: nn.Module) -> int:
    """The number of parameters of a model.

    Parameters
    ----------
    model : torch.nn.Module
        The model.

    Returns
    -------
    int
        Parameters, trainable or not.
    """
    return sum(p.numel() for p in model.parameters())


def block_summary(model: UNet) -> list[str]:
    """The layer sequence of one encoder block.

    Parameters
    ----------
    model : UNet
        The network.

    Returns
    -------
    list of str
        Layer class names, e.g. ['Conv2d', 'BatchNorm2d', 'ReLU', ...].
    """
    return [type(layer).__name__ for layer in model.encoders[0]]


def architecture_table(width: int = 64, depth: int = 4) -> pd.DataFrame:
    """The paper's table of the original and proposed U-Net (Section 2.3.1), read from the models built here.

    Parameters
    ----------
    width : int, default 64
        Channels of the first block.
    depth : int, default 4
        Number of poolings.

    Returns
    -------
    pandas.DataFrame
        Columns "Original U-Net" and "Proposed model"; rows encoder blocks, bottleneck, decoder blocks, parameters.
    """
    rows = {}
    for variant in ("original", "proposed"):
        model = UNet(width=width, depth=depth, variant=variant)
        layers = block_summary(model)
        step = " + ".join(dict.fromkeys(layers))
        convs = layers.count("Conv2d")
        pad = "ReplicationPad2d; " if VARIANTS[variant]["replication_pad"] else ""
        rows[variant] = {
            "Encoder blocks": f"{convs} x ({step}); MaxPool2d 2x2",
            "Bottleneck": f"{convs} x ({step})",
            "Decoder blocks": f"ConvTranspose2d 2x2; {pad}skip-concat; {convs} x ({step})",
            "Parameters": f"{count_parameters(model):,}",
        }
    return pd.DataFrame(rows).rename(columns={"original": "Original U-Net", "proposed": "Proposed model"})


def build_model(config: TrainConfig) -> UNet:
    """The network a configuration describes.

    Parameters
    ----------
    config : TrainConfig
        Its width, depth and variant.

    Returns
    -------
    UNet
        A new, untrained network.
    """
    return UNet(width=config.width, depth=config.depth, variant=config.variant)


def memory_format(device: torch.device) -> torch.memory_format:
    """The layout of the network's weights and inputs on a device.

    On a CPU, channels last (height, width, channel) lets oneDNN run the convolutions faster: a training step of
    the `cpu` preset took 102 ms instead of 117 ms on two threads (`benchmarks/unet.py --layout`). Elsewhere
    PyTorch's default layout; GPUs were not measured.

    Parameters
    ----------
    device : torch.device
        Where the network runs.

    Returns
    -------
    torch.memory_format
        torch.channels_last on a CPU, else torch.contiguous_format.
    """
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


class ConvReLU(nn.Module):
    """A 3x3 convolution and the ReLU after it in one oneDNN call on the CPU: the activations are written once,
    not written and then read and written again.

    In bfloat16, ReLU took as long as half the convolutions (`benchmarks/unet.py --layout`). Under autocast the
    input and weights are cast as autocast would cast a convolution's.
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.weight, self.bias = conv.weight, conv.bias
        self.padding = [(k - 1) // 2 for k in conv.kernel_size] if conv.padding == "same" else list(conv.padding)
        self.stride, self.dilation, self.groups = list(conv.stride), list(conv.dilation), conv.groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
        bias = None if self.bias is None else self.bias.to(dtype)
        return torch.ops.mkldnn._convolution_pointwise(
            x.to(dtype), self.weight.to(dtype), bias, self.padding, self.stride, self.dilation, self.groups, "relu", [], ""
        )


@functools.cache  # the same for the whole process; inference_copy runs once per image or block
def _fused_conv_relu_works() -> bool:
    """Whether this torch runs `ConvReLU` (oneDNN's fused convolution, an internal operator) and matches
    the two layers it replaces; else prediction keeps them apart."""
    try:
        conv = nn.Conv2d(2, 2, 3, padding="same").eval()
        x = torch.randn(1, 2, 5, 5)
        with torch.no_grad():
            return torch.allclose(ConvReLU(conv)(x), torch.relu(conv(x)), atol=1e-5)
    except (AttributeError, RuntimeError, NotImplementedError, TypeError):  # TypeError: torch before 2.4
        return False


def inference_copy(model: UNet, device: torch.device) -> nn.Module:
    """A copy of a trained network that predicts faster: each BatchNorm folded into the convolution before it, on
    a CPU each convolution and its ReLU fused (`ConvReLU`), in `memory_format(device)`.

    Folding turns BatchNorm's fixed evaluation-mode scale and shift into the convolution's weights and bias, one
    pass over the activations fewer per convolution; with channels last, a forward pass of the `cpu` preset over
    four 256-pixel windows took 135 ms instead of 200 ms on two threads (`benchmarks/unet.py --layout`). The
    logits change only in their last bits (2e-7 there), as with another thread count. With the ReLUs fused it
    took 167 ms, 48 ms in bfloat16; in an earlier run without the fusion, 189 and 79 ms.

    Parameters
    ----------
    model : UNet
        The trained network; left unchanged.
    device : torch.device
        Where the copy runs.

    Returns
    -------
    torch.nn.Module
        The copy, in evaluation mode, on `device`.
    """
    folded = copy.deepcopy(model).eval()
    fuse_relu = device.type == "cpu" and _fused_conv_relu_works()
    for block in folded.modules():
        if not isinstance(block, nn.Sequential):
            continue
        layers, kept = list(block), []
        for layer in layers:
            if isinstance(layer, nn.BatchNorm2d) and kept and isinstance(kept[-1], nn.Conv2d):
                kept[-1] = fuse_conv_bn_eval(kept[-1], layer)
            elif isinstance(layer, nn.ReLU) and fuse_relu and kept and isinstance(kept[-1], nn.Conv2d):
                kept[-1] = ConvReLU(kept[-1])
            else:
                kept.append(layer)
        if len(kept) < len(layers):
            block._modules.clear()
            for i, layer in enumerate(kept):
                block.add_module(str(i), layer)
    return folded.to(device).to(memory_format=memory_format(device))


def half_precision(device: torch.device) -> torch.dtype:
    """The type mixed precision computes in on a device.

    Parameters
    ----------
    device : torch.device
        The device.

    Returns
    -------
    torch.dtype
        bfloat16 on a CPU: it has float32's range, so training needs no loss scaling. float16 elsewhere (CUDA),
        whose small range needs a GradScaler in training.
    """
    return torch.bfloat16 if device.type == "cpu" else torch.float16


def mixed_precision(enabled: bool, device: torch.device):
    """The autocast context of a training step or a prediction batch.

    Parameters
    ----------
    enabled : bool
        Whether to run in `half_precision(device)` (`amp_enabled` says whether).
    device : torch.device
        The device the step runs on.

    Returns
    -------
    torch.autocast
        The context manager.
    """
    return torch.autocast(device.type, dtype=half_precision(device), enabled=enabled)
