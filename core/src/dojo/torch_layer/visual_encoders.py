"""Encoders of visual (image) observations, selected by ``network_settings.vis_encode_type``.

Images are channel-first ``[n, C, H, W]`` float32 tensors (the ML-Agents 1.x model contract; the
Gymnasium provider converts ``uint8`` HWC images to this with values in [0, 1]). Each encoder
maps them to ``[n, output_size]`` features (``output_size`` = ``network_settings.hidden_units``,
as in ML-Agents). The architectures are ML-Agents' (``torch_entities/encoders.py``):

- ``simple``: conv 16@8x8 stride 4, conv 32@4x4 stride 2, dense (Mnih et al. 2013); >= 20x20.
- ``nature_cnn``: conv 32@8x8/4, 64@4x4/2, 64@3x3/1, dense (Mnih et al. 2015); >= 36x36.
- ``resnet``: three stacks (16, 32, 32 channels) of conv 3x3, max-pool 3x3/2 and two residual
  blocks, then dense (IMPALA, Espeholt et al. 2018); >= 15x15.
- ``match3``: conv 35@3x3/1, conv 144@3x3/1, dense, for boards with one pixel per cell; >= 5x5.
- ``fully_connected``: one dense layer over the flattened image; any size (>= 1x1).

Smaller images leave no pixel after the convolutions; :func:`make_visual_encoder` refuses them
with a :class:`~dojo.errors.ConfigError` at construction, like ML-Agents does.

Every op (Conv, MaxPool, LeakyRelu, Sigmoid, Mul, Add, Flatten, Gemm) exists in ONNX opset 9,
the opset dojo exports (Unity Sentis imports it).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from dojo.errors import ConfigError

#: Smallest height and width each encoder accepts (ML-Agents' ``MIN_RESOLUTION_FOR_ENCODER``).
MIN_RESOLUTION = {
    "simple": 20,
    "nature_cnn": 36,
    "resnet": 15,
    "match3": 5,
    "fully_connected": 1,
}

# The output layers' initialisation in ML-Agents: He-normal weights scaled by 1.41, zero bias.
_DENSE_GAIN = 1.41


def _conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _dense(in_features: int, out_features: int) -> nn.Linear:
    layer = nn.Linear(in_features, out_features)
    nn.init.kaiming_normal_(layer.weight, nonlinearity="linear")
    with torch.no_grad():
        layer.weight.mul_(_DENSE_GAIN)
    nn.init.zeros_(layer.bias)
    return layer


def _swish(x: torch.Tensor) -> torch.Tensor:
    # Written out rather than F.silu so the ONNX graph is plain Sigmoid + Mul at any opset.
    return x * torch.sigmoid(x)


class _ConvEncoder(nn.Module):
    """Valid (unpadded) convolutions with LeakyReLU, flattened, then a LeakyReLU dense layer.

    Args:
        shape: ``(C, H, W)`` of the input.
        output_size: features per image.
        convolutions: ``(out_channels, kernel, stride)`` per layer.
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        output_size: int,
        convolutions: tuple[tuple[int, int, int], ...],
    ) -> None:
        super().__init__()
        channels, height, width = shape
        layers: list[nn.Module] = []
        for out_channels, kernel, stride in convolutions:
            layers += [nn.Conv2d(channels, out_channels, kernel, stride), nn.LeakyReLU()]
            channels = out_channels
            height = _conv_output_size(height, kernel, stride)
            width = _conv_output_size(width, kernel, stride)
        self.conv_layers = nn.Sequential(*layers)
        self.flat_size = channels * height * width
        self.dense = _dense(self.flat_size, output_size)
        self.output_size = output_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``[n, output_size]`` of images ``[n, C, H, W]``."""
        hidden = torch.flatten(self.conv_layers(images), 1)
        return F.leaky_relu(self.dense(hidden))


class SimpleVisualEncoder(_ConvEncoder):
    """Two convolutions (16@8x8 stride 4, 32@4x4 stride 2) and a dense layer; images >= 20x20."""

    def __init__(self, shape: tuple[int, int, int], output_size: int) -> None:
        super().__init__(shape, output_size, ((16, 8, 4), (32, 4, 2)))


class NatureVisualEncoder(_ConvEncoder):
    """The DQN "Nature" network (32@8x8/4, 64@4x4/2, 64@3x3/1) and a dense layer; images >=
    36x36."""

    def __init__(self, shape: tuple[int, int, int], output_size: int) -> None:
        super().__init__(shape, output_size, ((32, 8, 4), (64, 4, 2), (64, 3, 1)))


class SmallVisualEncoder(_ConvEncoder):
    """Two 3x3 stride-1 convolutions (35 and 144 channels) and a dense layer, for boards with
    one pixel per cell such as match-3 games; images >= 5x5. Its dense layer grows with the
    image area (144 x (H-4) x (W-4) inputs): meant for small boards."""

    def __init__(self, shape: tuple[int, int, int], output_size: int) -> None:
        super().__init__(shape, output_size, ((35, 3, 1), (144, 3, 1)))


class FullyConnectedVisualEncoder(nn.Module):
    """One LeakyReLU dense layer over the flattened image; any size."""

    def __init__(self, shape: tuple[int, int, int], output_size: int) -> None:
        super().__init__()
        channels, height, width = shape
        self.dense = _dense(channels * height * width, output_size)
        self.output_size = output_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``[n, output_size]`` of images ``[n, C, H, W]``."""
        return F.leaky_relu(self.dense(torch.flatten(images, 1)))


class ResidualBlock(nn.Module):
    """``x + conv(swish(conv(swish(x))))`` with 3x3 same-size convolutions."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(_swish(self.conv1(_swish(x))))


class ResNetVisualEncoder(nn.Module):
    """IMPALA's residual network: three stacks (16, 32, 32 channels) of a 3x3 convolution, a
    3x3 stride-2 max-pool and two residual blocks, then swish and a ReLU dense layer; images
    >= 15x15."""

    def __init__(self, shape: tuple[int, int, int], output_size: int) -> None:
        super().__init__()
        channels, height, width = shape
        layers: list[nn.Module] = []
        for out_channels in (16, 32, 32):
            layers += [
                nn.Conv2d(channels, out_channels, 3, 1, padding=1),
                nn.MaxPool2d(3, 2),
                ResidualBlock(out_channels),
                ResidualBlock(out_channels),
            ]
            channels = out_channels
            height = _conv_output_size(height, 3, 2)
            width = _conv_output_size(width, 3, 2)
        self.stacks = nn.Sequential(*layers)
        self.flat_size = channels * height * width
        self.dense = _dense(self.flat_size, output_size)
        self.output_size = output_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Features ``[n, output_size]`` of images ``[n, C, H, W]``."""
        hidden = torch.flatten(_swish(self.stacks(images)), 1)
        return torch.relu(self.dense(hidden))


#: ``vis_encode_type`` -> encoder class, each built as ``cls((C, H, W), output_size)``.
VISUAL_ENCODERS: dict[str, Callable[[tuple[int, int, int], int], nn.Module]] = {
    "simple": SimpleVisualEncoder,
    "nature_cnn": NatureVisualEncoder,
    "resnet": ResNetVisualEncoder,
    "match3": SmallVisualEncoder,
    "fully_connected": FullyConnectedVisualEncoder,
}


def make_visual_encoder(
    vis_encode_type: str, shape: tuple[int, ...], output_size: int, label: str = "observation"
) -> nn.Module:
    """The ``vis_encode_type`` encoder for images of ``shape`` ``(C, H, W)``.

    Args:
        vis_encode_type: one of :data:`VISUAL_ENCODERS`.
        shape: channel-first image shape.
        output_size: features per image (``hidden_units``).
        label: how error messages name the observation (e.g. ``"observation 1 ('camera')"``).

    Raises:
        ConfigError: unknown encoder, or the image is smaller than the encoder's minimum.
    """
    if vis_encode_type not in VISUAL_ENCODERS:
        raise ConfigError(
            f"network_settings.vis_encode_type: unknown visual encoder {vis_encode_type!r}; "
            f"use one of {', '.join(VISUAL_ENCODERS)}"
        )
    channels, height, width = (int(size) for size in shape)
    minimum = MIN_RESOLUTION[vis_encode_type]
    if height < minimum or width < minimum:
        fits = [name for name, size in MIN_RESOLUTION.items() if min(height, width) >= size]
        fix = (
            f"Use larger images or an encoder that accepts {height}x{width}: {', '.join(fits)}"
            if fits
            else "Images need at least one pixel."
        )
        raise ConfigError(
            f"{label} has shape {tuple(shape)} (channels, height, width): "
            f"{height}x{width} is smaller than the {minimum}x{minimum} minimum of "
            f"network_settings.vis_encode_type {vis_encode_type!r}. {fix}"
        )
    return VISUAL_ENCODERS[vis_encode_type]((channels, height, width), output_size)
