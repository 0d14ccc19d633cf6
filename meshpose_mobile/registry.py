"""Named MeshPose variants (timm-style registry).

A variant is a function from a topology to a `ModelConfig`; `create_model` builds the network.
Overrides change single config fields, e.g. ``create_model("meshpose_xs", num_bins=32)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from meshpose_mobile.config import ModelConfig
from meshpose_mobile.errors import ConfigError
from meshpose_mobile.model import MeshPose
from meshpose_mobile.topology import Topology, default_topology

# meshpose_blaze since its trained weights beat meshpose_xs's on real photos (issue 22,
# docs/results/realphoto.md); meshpose_xs stays available by name.
DEFAULT_VARIANT = "meshpose_blaze"
ConfigFactory = Callable[[Topology], ModelConfig]


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    make_config: ConfigFactory


_VARIANTS: dict[str, Variant] = {}


def register_variant(name: str, description: str) -> Callable[[ConfigFactory], ConfigFactory]:
    def deco(fn: ConfigFactory) -> ConfigFactory:
        _VARIANTS[name] = Variant(name, description, fn)
        return fn

    return deco


def list_variants() -> list[Variant]:
    return list(_VARIANTS.values())


def get_variant(name: str) -> Variant:
    try:
        return _VARIANTS[name]
    except KeyError:
        raise ConfigError(f"unknown variant {name!r}; choose one of {', '.join(_VARIANTS)}") from None


def make_config(name: str, topology: Topology | None = None, **overrides: Any) -> ModelConfig:
    topology = topology if topology is not None else default_topology()
    cfg = get_variant(name).make_config(topology)
    return cfg.replace(**overrides) if overrides else cfg


def create_model(name: str = DEFAULT_VARIANT, topology: Topology | None = None, **overrides: Any) -> MeshPose:
    topology = topology if topology is not None else default_topology()
    return MeshPose(make_config(name, topology, **overrides), topology)


def project_ranges(height: int, width: int) -> dict[str, tuple[float, float]]:
    """method.md Sec. 3 starting ranges: y reaches far below the crop for selfie crops whose legs
    fall outside it; z spans +-W around the root."""
    return {
        "x_range": (-0.5 * width, 1.5 * width),
        "y_range": (-0.5 * height, 2.5 * height),
        "z_range": (-1.0 * width, 1.0 * width),
    }


def _project_config(variant: str, backbone: str, topology: Topology, height: int, width: int, **kw: Any) -> ModelConfig:
    return ModelConfig(
        variant=variant,
        backbone=backbone,
        num_vertices=topology.num_vertices,
        topology=topology.name,
        input_height=height,
        input_width=width,
        **project_ranges(height, width),
        **kw,
    )


@register_variant(
    "meshpose_hrnet32",
    "HRNet-W32, 384x288: the released model's exact layout (gain 10, 64 bins, its decoding numbers)",
)
def meshpose_hrnet32(topology: Topology) -> ModelConfig:
    # The released model decodes heatmap cells as integer index * 4 (no half-cell offset) and
    # maps bin b to lo + 27 b pixels (official-checkpoint.md: x = 4 (6.75 b - 96), etc.); it has
    # no foreground head and normalises with mean = std = 0.5.
    return ModelConfig(
        variant="meshpose_hrnet32",
        backbone="hrnet_w32",
        num_vertices=topology.num_vertices,
        topology=topology.name,
        backbone_kwargs={"final_width": 256},
        input_height=384,
        input_width=288,
        gain=10.0,
        num_bins=64,
        head_mid=256,
        x_range=(-384.0, -384.0 + 27.0 * 64),
        y_range=(-288.0, -288.0 + 27.0 * 64),
        z_range=(-576.0, -576.0 + 27.0 * 64),
        bin_offset=0.0,
        cell_offset=0.0,
        pixel_offset=0.0,
        foreground_head=False,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )


def _dilated_config(variant: str, backbone: str, topology: Topology) -> ModelConfig:
    """meshpose_s and meshpose_xs differ only in their backbone (paper App. C.1)."""
    return _project_config(
        variant, backbone, topology, 256, 192, backbone_kwargs={"out_channels": 256},
        gain=10.0, num_bins=64, head_mid=256,
    )  # fmt: skip


@register_variant("meshpose_s", "ResNet-50 (dilated, stride 16) + separable decoder, 256x192")
def meshpose_s(topology: Topology) -> ModelConfig:
    return _dilated_config("meshpose_s", "resnet50", topology)


@register_variant("meshpose_xs", "MobileNetV2-1.4 (dilated, stride 16) + separable decoder, 256x192")
def meshpose_xs(topology: Topology) -> ModelConfig:
    return _dilated_config("meshpose_xs", "mobilenetv2_140", topology)


@register_variant("meshpose_tiny", "a few convolutions at 64x48, for tests and quick experiments")
def meshpose_tiny(topology: Topology) -> ModelConfig:
    return _project_config(
        "meshpose_tiny",
        "tiny",
        topology,
        64,
        48,
        backbone_kwargs={"out_channels": 16},
        gain=10.0,
        num_bins=16,
        head_mid=8,
    )


@register_variant(
    "meshpose_blaze",
    "BlazePose GHUM full's encoder (imported from MediaPipe's .tflite) + light heads, 256x256, [0, 1] input",
)
def meshpose_blaze(topology: Topology) -> ModelConfig:
    # BlazePose's region of interest: a square 256x256 RGB crop scaled to [0, 1] (mean 0, std 1 of
    # the 0..255 input), zero outside the photo. Heads sized for phones (docs/design.md): heatmaps
    # at stride 8 from a 96-channel neck, and a 32 x 64 regression expansion (2,048 wide, not 16,384).
    return _project_config(
        "meshpose_blaze", "blazepose_full", topology, 256, 256, backbone_kwargs={"out_channels": 96},
        heatmap_stride=8, gain=10.0, num_bins=64, head_mid=32, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
    )  # fmt: skip
