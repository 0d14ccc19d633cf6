"""Backbone registry.

A backbone maps an RGB crop (B, 3, H, W), already normalised, to one feature map at stride 4
(B, out_channels, H/4, W/4); every head of MeshPose reads that map. Each architecture lives in its
own module and registers a builder here, so variants name a backbone by string.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from meshpose_mobile.errors import ConfigError

BackboneBuilder = Callable[..., nn.Module]
_BACKBONES: dict[str, BackboneBuilder] = {}


def register_backbone(name: str) -> Callable[[BackboneBuilder], BackboneBuilder]:
    def deco(fn: BackboneBuilder) -> BackboneBuilder:
        if name in _BACKBONES:
            raise ValueError(f"backbone {name!r} registered twice")
        _BACKBONES[name] = fn
        return fn

    return deco


def build_backbone(name: str, **kwargs: Any) -> nn.Module:
    _import_builtin()
    try:
        builder = _BACKBONES[name]
    except KeyError:
        raise ConfigError(f"unknown backbone {name!r}; choose one of {', '.join(sorted(_BACKBONES))}") from None
    module = builder(**kwargs)
    if not isinstance(getattr(module, "out_channels", None), int):
        raise TypeError(f"backbone {name!r} must set an int `out_channels`")
    return module


def list_backbones() -> list[str]:
    _import_builtin()
    return sorted(_BACKBONES)


def _import_builtin() -> None:
    # Imported lazily so that `register_backbone` exists before the modules that use it load.
    from meshpose_mobile.backbones import blazepose, hrnet, mobilenetv2, resnet, tiny  # noqa: F401


def load_pretrained(backbone: nn.Module) -> str | None:
    """Load a backbone's imported weights when it has any (meshpose_blaze's BlazePose encoder);
    returns a one-line note of what was loaded, or None for backbones trained from scratch."""
    loader = getattr(backbone, "load_pretrained", None)
    return loader() if callable(loader) else None
