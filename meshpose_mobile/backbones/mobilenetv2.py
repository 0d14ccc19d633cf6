"""MobileNetV2 (width 1.4) with a dilated last stride-2 stage and the light decoder.

Encoder names follow torchvision's ``mobilenet_v2().features`` (features.N.conv.K...), so ImageNet
weights converted from it load by name, minus the parts dropped here.

Dropped on purpose, for the parameter budget: MeshPose-XS must stay at or under 21.25 M parameters
and its heads take ~17.64 M at a 256-channel feature map, leaving ~3.6 M for backbone + decoder.
The 1.4x encoder up to its last inverted residual is already 3.51 M, so besides the classifier we
drop the final 1x1 expansion to 1792 channels (torchvision's features.18, ~0.81 M) *and* the last
inverted residual 224 -> 448 (the 320-channel row of the paper's table, features.17, ~0.92 M).
The decoder reads the 224-channel output of the dilated 160-row stage at stride 16, and the total
is ~2.8 M. ``keep_last_block=True`` restores features.17 (~3.73 M with the decoder, over budget).
"""

from __future__ import annotations

import torch
from torch import nn

from meshpose_mobile.backbones.decoder import LightDecoder
from meshpose_mobile.backbones.registry import register_backbone

# (expansion t, output channels c, repeats n, stride s), MobileNetV2 paper Table 2.
_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round channels as torchvision/TF do: nearest multiple of 8, never dropping more than 10%."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _conv_bn_relu6(
    in_ch: int, out_ch: int, kernel_size: int, stride: int = 1, dilation: int = 1, groups: int = 1
) -> nn.Sequential:
    # Numeric indices (0 conv, 1 bn, 2 act) as in torchvision's Conv2dNormActivation.
    padding = dilation * (kernel_size - 1) // 2
    return nn.Sequential(
        nn.Conv2d(
            in_ch,
            out_ch,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_ch),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int, expand_ratio: int, dilation: int = 1) -> None:
        super().__init__()
        hidden = round(in_ch * expand_ratio)
        self.use_res_connect = stride == 1 and in_ch == out_ch
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_relu6(in_ch, hidden, 1))
        layers += [
            _conv_bn_relu6(hidden, hidden, 3, stride=stride, dilation=dilation, groups=hidden),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2Decoder(nn.Module):
    """MobileNetV2 encoder (deepest stride 16) + light decoder -> (B, out_channels, H/4, W/4)."""

    def __init__(self, width_mult: float = 1.4, out_channels: int = 256, keep_last_block: bool = False) -> None:
        super().__init__()
        self.out_channels = out_channels
        in_ch = make_divisible(32 * width_mult)
        features: list[nn.Module] = [_conv_bn_relu6(3, in_ch, 3, stride=2)]
        stride_so_far = 2
        dilation = 1
        # Indices into `features` whose outputs are the stride-4 and stride-8 skips: the last block
        # before the next stride-2 stage.
        self._tap4 = self._tap8 = -1
        widths: dict[int, int] = {}
        settings = _SETTINGS if keep_last_block else _SETTINGS[:-1]
        for t, c, n, s in settings:
            out_ch = make_divisible(c * width_mult)
            for i in range(n):
                stride = s if i == 0 else 1
                block_dilation = dilation
                if stride == 2 and stride_so_far == 16:
                    # Output stride 16: drop the stride, dilate the stage's later blocks (DeepLab
                    # convention; the first block keeps the previous dilation).
                    stride = 1
                    dilation *= 2
                elif stride == 2:
                    stride_so_far *= 2
                features.append(InvertedResidual(in_ch, out_ch, stride, t, block_dilation))
                in_ch = out_ch
                widths[stride_so_far] = out_ch
                if stride_so_far == 4:
                    self._tap4 = len(features) - 1
                elif stride_so_far == 8:
                    self._tap8 = len(features) - 1
        self.features = nn.Sequential(*features)
        self.decoder = LightDecoder((widths[4], widths[8], widths[16]), out_channels=out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c4 = c8 = x
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i == self._tap4:
                c4 = x
            elif i == self._tap8:
                c8 = x
        return self.decoder(c4, c8, x)


@register_backbone("mobilenetv2_140")
def mobilenetv2_140(out_channels: int = 256) -> MobileNetV2Decoder:
    return MobileNetV2Decoder(width_mult=1.4, out_channels=out_channels)
