"""Light decoder shared by the ResNet and MobileNet backbones (MeshPose paper, App. C.1).

The encoders run their last block dilated, so their deepest features sit at stride 16. The decoder
brings them to stride 4 in two x2 bilinear steps; after each step it concatenates a 1x1-projected
skip from the encoder stage at that stride (8, then 4) and mixes with a depthwise-separable block:

    c16 -> proj16 -> sep16 -> up x2 -> cat(proj8(c8))  -> sep8 -> up x2 -> cat(proj4(c4)) -> sep4
        -> out (separable, out_channels)

Concatenation (not addition) lets the projections stay narrow: skips carry detail, not width.
Everything is plain Conv2d -> BatchNorm2d -> ReLU so that fx fusion and the mobile exporters see the
simplest possible graph.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Sequential):
    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 1,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        relu6: bool = False,
    ) -> None:
        padding = dilation * (kernel_size - 1) // 2
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(
                    in_ch,
                    out_ch,
                    kernel_size,
                    stride=stride,
                    padding=padding,
                    dilation=dilation,
                    groups=groups,
                    bias=False,
                ),
                bn=nn.BatchNorm2d(out_ch),
                relu=nn.ReLU6(inplace=True) if relu6 else nn.ReLU(inplace=True),
            )
        )


class SeparableConv(nn.Sequential):
    """3x3 depthwise conv + BN + ReLU, then 1x1 pointwise conv + BN + ReLU."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            OrderedDict(
                depthwise=ConvBNReLU(in_ch, in_ch, 3, groups=in_ch),
                pointwise=ConvBNReLU(in_ch, out_ch, 1),
            )
        )


def _up2(x: torch.Tensor) -> torch.Tensor:
    # Fixed integer factor: the graph never reads a size off another tensor (static export shapes).
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class LightDecoder(nn.Module):
    """Stride-16 features + stride-8/4 skips -> (B, out_channels, H/4, W/4).

    ``in_channels`` are the encoder widths at strides (4, 8, 16); ``widths`` the decoder's widths
    for the skip projections at strides 4 and 8 and for the stride-16 trunk.
    """

    def __init__(
        self,
        in_channels: tuple[int, int, int],
        out_channels: int = 256,
        widths: tuple[int, int, int] = (48, 64, 128),
    ) -> None:
        super().__init__()
        c4, c8, c16 = in_channels
        w4, w8, w16 = widths
        self.out_channels = out_channels
        self.proj16 = ConvBNReLU(c16, w16)
        self.sep16 = SeparableConv(w16, w16)
        self.proj8 = ConvBNReLU(c8, w8)
        self.sep8 = SeparableConv(w16 + w8, w16)
        self.proj4 = ConvBNReLU(c4, w4)
        self.sep4 = SeparableConv(w16 + w4, out_channels)
        self.out = SeparableConv(out_channels, out_channels)

    def forward(self, c4: torch.Tensor, c8: torch.Tensor, c16: torch.Tensor) -> torch.Tensor:
        x = self.sep16(self.proj16(c16))
        x = self.sep8(torch.cat([_up2(x), self.proj8(c8)], dim=1))
        x = self.sep4(torch.cat([_up2(x), self.proj4(c4)], dim=1))
        return self.out(x)
