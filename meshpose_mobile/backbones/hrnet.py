"""HRNet-W32 as used by the released MeshPose checkpoint.

Written from the published description of the authors' variant (docs/official-checkpoint.md), not
from their code. It differs from the standard pose HRNet in two places, both of which matter for
loading their weights and reproducing their outputs:

* fusion upsampling is bilinear with ``align_corners=True`` (standard HRNet uses nearest);
* the last module of stage 4 projects *every* branch, the 32-wide one included, to 256 channels
  with a 1x1 conv + BN, upsamples and sums them, so the output is (B, 256, H/4, W/4).

Module names follow the standard HRNet code (conv1, bn1, layer1, transitionN, stageN.M.branches,
stageN.M.fuse_layers) so that ``state_dict()`` matches the checkpoint's
``model.model.0.encoder.*`` entries one for one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from meshpose_mobile.backbones.registry import register_backbone

_STAGE_CHANNELS: tuple[int, ...] = (32, 64, 128, 256)
_STAGE_MODULES: dict[int, int] = {2: 1, 3: 4, 4: 3}
_BLOCKS_PER_BRANCH = 4


def _conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)


def _upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    # Fixed python-int factor (not the skip's size) keeps the graph static for ONNX/CoreML/TFLite;
    # with H, W multiples of 32 every branch size divides exactly, so the result is identical.
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=True)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _down_path(in_ch: int, out_ch: int, steps: int) -> nn.Sequential:
    """Fusion path from a higher-resolution branch: ``steps`` stride-2 3x3 convs.

    Intermediate convs keep the source width and end in ReLU; the last maps to the target width and
    has no ReLU because the sum that follows is rectified once.
    """
    layers: list[nn.Module] = []
    for k in range(steps):
        if k == steps - 1:
            layers.append(nn.Sequential(_conv3x3(in_ch, out_ch, 2), nn.BatchNorm2d(out_ch)))
        else:
            layers.append(nn.Sequential(_conv3x3(in_ch, in_ch, 2), nn.BatchNorm2d(in_ch), nn.ReLU(inplace=True)))
    return nn.Sequential(*layers)


def _up_path(in_ch: int, out_ch: int) -> nn.Sequential:
    # Upsampling itself happens in forward (fixed factor); the checkpoint only holds conv + BN.
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch))


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks followed by all-to-all fusion.

    With ``final_width`` set, the module has a single output at the highest resolution: every
    branch (including branch 0) is projected to ``final_width`` channels and the results summed.
    """

    def __init__(self, channels: tuple[int, ...], final_width: int | None = None) -> None:
        super().__init__()
        self.num_branches = len(channels)
        self.final = final_width is not None
        self.branches = nn.ModuleList(
            nn.Sequential(*(BasicBlock(c) for _ in range(_BLOCKS_PER_BRANCH))) for c in channels
        )
        fuse_layers: list[nn.ModuleList] = []
        if final_width is not None:
            fuse_layers.append(nn.ModuleList(_up_path(c, final_width) for c in channels))
        else:
            for i, ci in enumerate(channels):
                row: list[nn.Module | None] = []
                for j, cj in enumerate(channels):
                    if j > i:
                        row.append(_up_path(cj, ci))
                    elif j == i:
                        row.append(None)
                    else:
                        row.append(_down_path(cj, ci, i - j))
                fuse_layers.append(nn.ModuleList(row))
        self.fuse_layers = nn.ModuleList(fuse_layers)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        outs: list[torch.Tensor] = []
        for i, row in enumerate(self.fuse_layers):
            y: torch.Tensor | None = None
            for j, layer in enumerate(row):
                if layer is None:
                    z = xs[j]
                elif j > i:
                    z = _upsample(layer(xs[j]), 2 ** (j - i))
                else:
                    z = layer(xs[j])
                y = z if y is None else y + z
            assert y is not None
            outs.append(self.relu(y))
        return outs


class HRNet(nn.Module):
    """HRNet-W32 backbone; RGB crop (B, 3, H, W) -> (B, final_width, H/4, W/4)."""

    # The stride-32 branch is upsampled by a fixed x8; other sizes would not line up.
    input_divisor = 32

    def __init__(self, final_width: int = 256) -> None:
        super().__init__()
        self.out_channels = final_width
        self.conv1 = _conv3x3(3, 64, 2)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = _conv3x3(64, 64, 2)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(Bottleneck(64, 64), *(Bottleneck(256, 64) for _ in range(3)))

        c = _STAGE_CHANNELS
        self.transition1 = self._transition((256,), c[:2])
        self.stage2 = self._stage(c[:2], _STAGE_MODULES[2])
        self.transition2 = self._transition(c[:2], c[:3])
        self.stage3 = self._stage(c[:3], _STAGE_MODULES[3])
        self.transition3 = self._transition(c[:3], c[:4])
        self.stage4 = self._stage(c[:4], _STAGE_MODULES[4], final_width=final_width)

    @staticmethod
    def _transition(pre: tuple[int, ...], cur: tuple[int, ...]) -> nn.ModuleList:
        layers: list[nn.Module | None] = []
        for i, ch in enumerate(cur):
            if i < len(pre):
                if pre[i] == ch:
                    layers.append(None)
                else:
                    layers.append(nn.Sequential(_conv3x3(pre[i], ch), nn.BatchNorm2d(ch), nn.ReLU(inplace=True)))
            else:
                # New lower-resolution branch: stride-2 convs from the last existing branch.
                steps: list[nn.Module] = []
                for k in range(i + 1 - len(pre)):
                    out = ch if k == i - len(pre) else pre[-1]
                    steps.append(nn.Sequential(_conv3x3(pre[-1], out, 2), nn.BatchNorm2d(out), nn.ReLU(inplace=True)))
                layers.append(nn.Sequential(*steps))
        return nn.ModuleList(layers)

    @staticmethod
    def _stage(channels: tuple[int, ...], num_modules: int, final_width: int | None = None) -> nn.Sequential:
        mods = [
            HighResolutionModule(channels, final_width if k == num_modules - 1 else None) for k in range(num_modules)
        ]
        return nn.Sequential(*mods)

    @staticmethod
    def _apply_transition(transition: nn.ModuleList, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for i, layer in enumerate(transition):
            src = xs[i] if i < len(xs) else xs[-1]
            out.append(src if layer is None else layer(src))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.layer1(x)
        xs = self._apply_transition(self.transition1, [x])
        xs = self.stage2(xs)
        xs = self._apply_transition(self.transition2, xs)
        xs = self.stage3(xs)
        xs = self._apply_transition(self.transition3, xs)
        xs = self.stage4(xs)
        return xs[0]


@register_backbone("hrnet_w32")
def hrnet_w32(final_width: int = 256) -> HRNet:
    return HRNet(final_width=final_width)
