"""Keep an imported encoder's features while it fine-tunes (`loss.feature_keep`, issue 22).

Why: meshpose_blaze's heatmap positions agree with BlazePose on real photos far better while the
imported encoder is frozen than after it has fine-tuned on synthetic bodies (PCK@0.2 0.83-0.86
frozen against 0.72-0.74 fine-tuned, docs/training.md, "Where the real-photo errors come from"),
while the synthetic error only falls once it trains. The term lets the encoder move for the
synthetic task but charges it for moving its maps away from the imported network's on the same
crops: the relative squared distance of each map the backbone reads from it (for meshpose_blaze
the 64x64x48 decoder map and the 2x2x288 deep map), summed over the maps. A distillation of the
encoder into itself (learning without forgetting, Li and Hoiem 2016); not a paper term.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from meshpose_mobile.errors import ConfigError


class FeatureKeep:
    """The frozen imported encoder beside the training one, and the term between their maps.

    A forward hook on the training encoder records its input and maps on the first training pass
    after each `term()`, so the term sees exactly what the trainer's main pass saw (both halves of a
    consistency batch included), not the weight-noise pass after it nor an evaluation."""

    def __init__(self, backbone: nn.Module) -> None:
        part = getattr(backbone, "pretrained_module", None)
        if part is None or not hasattr(backbone, "load_pretrained"):
            raise ConfigError(
                "loss.feature_keep is set but this variant has no imported encoder whose features it could "
                "keep; set loss.feature_keep = 0"
            )
        reference = copy.deepcopy(backbone)
        reference.load_pretrained()  # the imported weights, whatever an --init checkpoint holds
        self.reference = reference.pretrained_module().eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)
        self._seen: tuple[Tensor, tuple[Tensor, ...]] | None = None
        self._hook = part().register_forward_hook(self._record)

    def _record(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if self._seen is not None or not (module.training and torch.is_grad_enabled()):
            return
        maps = tuple(output) if isinstance(output, tuple | list) else (output,)
        self._seen = (args[0], maps)

    def to(self, device: torch.device) -> FeatureKeep:
        self.reference.to(device)
        return self

    def term(self) -> Tensor:
        """Sum over maps of |f - f0|^2 / |f0|^2 for the last pass (unweighted)."""
        if self._seen is None:
            raise RuntimeError("FeatureKeep.term() before any forward pass of the encoder")
        image, maps = self._seen
        self._seen = None
        with torch.no_grad():
            ref = self.reference(image.detach())
        ref = tuple(ref) if isinstance(ref, tuple | list) else (ref,)
        total = maps[0].new_zeros(())
        for m, r in zip(maps, ref, strict=True):
            total = total + ((m - r) ** 2).mean() / (r**2).mean().clamp_min(1e-12)
        return total

    def close(self) -> None:
        self._hook.remove()
