"""Backbone registry.

A backbone maps an RGB crop (B, 3, H, W), already normalised, to one feature map at stride 4
(B, out_channels, H/4, W/4); every head of MeshPose reads that map. Each architecture lives in its
own module and registers a builder here, so variants name a backbone by string.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

# The built-in backbones register themselves on import.
from meshpose_mobile.backbones import blazepose, hrnet, mobilenetv2, resnet, tiny  # noqa: F401
from meshpose_mobile.backbones.registry import _BACKBONES, BackboneBuilder, register_backbone
from meshpose_mobile.errors import ConfigError

__all__ = [
    "BackboneBuilder",
    "build_backbone",
    "list_backbones",
    "load_pretrained",
    "register_backbone",
    "split_features",
]


def build_backbone(name: str, **kwargs: Any) -> nn.Module:
    try:
        builder = _BACKBONES[name]
    except KeyError:
        raise ConfigError(f"unknown backbone {name!r}; choose one of {', '.join(sorted(_BACKBONES))}") from None
    module = builder(**kwargs)
    if not isinstance(getattr(module, "out_channels", None), int):
        raise TypeError(f"backbone {name!r} must set an int `out_channels`")
    return module


def list_backbones() -> list[str]:
    return sorted(_BACKBONES)


def load_pretrained(backbone: nn.Module) -> str | None:
    """Load a backbone's imported weights when it has any (meshpose_blaze's BlazePose encoder);
    returns a one-line note of what was loaded, or None for backbones trained from scratch."""
    loader = getattr(backbone, "load_pretrained", None)
    return loader() if callable(loader) else None


def split_features(out: Tensor | tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """A backbone's output as (features, deep features): one map serves as both."""
    return out if isinstance(out, tuple) else (out, out)
