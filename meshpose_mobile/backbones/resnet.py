"""ResNet-50 with a dilated last stage and the light decoder (MeshPose paper, App. C.1).

Module names follow torchvision (conv1, bn1, layer1..layer4, downsample.0/1) so ImageNet weights
converted from it load by name into the encoder part; the decoder lives under ``decoder``.
"""

from __future__ import annotations

import torch
from torch import nn

from meshpose_mobile.backbones.decoder import LightDecoder
from meshpose_mobile.backbones.registry import register_backbone


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _layer(inplanes: int, planes: int, blocks: int, stride: int, dilate: bool) -> nn.Sequential:
    if dilate:
        # torchvision's replace_stride_with_dilation: the first block keeps dilation 1 and drops
        # the stride, the rest use dilation 2, so the receptive field still grows like stride 2.
        first = Bottleneck(inplanes, planes, stride=1, dilation=1)
        rest_dilation = stride
    else:
        first = Bottleneck(inplanes, planes, stride=stride)
        rest_dilation = 1
    out = planes * Bottleneck.expansion
    rest = [Bottleneck(out, planes, dilation=rest_dilation) for _ in range(blocks - 1)]
    return nn.Sequential(first, *rest)


class ResNetDecoder(nn.Module):
    """ResNet-50 (layer4 dilated, deepest stride 16) + light decoder -> stride 4."""

    def __init__(self, layers: tuple[int, int, int, int] = (3, 4, 6, 3), out_channels: int = 256):
        super().__init__()
        self.out_channels = out_channels
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = _layer(64, 64, layers[0], stride=1, dilate=False)
        self.layer2 = _layer(256, 128, layers[1], stride=2, dilate=False)
        self.layer3 = _layer(512, 256, layers[2], stride=2, dilate=False)
        self.layer4 = _layer(1024, 512, layers[3], stride=2, dilate=True)
        self.decoder = LightDecoder((256, 512, 2048), out_channels=out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c4 = self.layer1(x)
        c8 = self.layer2(c4)
        c16 = self.layer4(self.layer3(c8))
        return self.decoder(c4, c8, c16)


@register_backbone("resnet50")
def resnet50(out_channels: int = 256) -> ResNetDecoder:
    return ResNetDecoder((3, 4, 6, 3), out_channels=out_channels)
