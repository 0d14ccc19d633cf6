"""A few-thousand-parameter backbone for fast unit tests; not meant to be trained for accuracy."""

from __future__ import annotations

import torch
from torch import nn

from meshpose_mobile.backbones.decoder import ConvBNReLU
from meshpose_mobile.backbones.registry import register_backbone


class TinyBackbone(nn.Module):
    def __init__(self, out_channels: int = 16, width: int = 8) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.stem = ConvBNReLU(3, width, 3, stride=2)
        self.down = ConvBNReLU(width, 2 * width, 3, stride=2)
        self.mix = ConvBNReLU(2 * width, 2 * width, 3)
        self.proj = ConvBNReLU(2 * width, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.mix(self.down(self.stem(x))))


@register_backbone("tiny")
def tiny(out_channels: int = 16, width: int = 8) -> TinyBackbone:
    return TinyBackbone(out_channels=out_channels, width=width)
