"""Quantisation-aware training of the weights (`fake_quant = "int8"` in a train config).

Every convolution's weight is seen by the forward pass as it would be stored in an 8-bit artifact:
rounded symmetrically with one scale per output channel (max |w| / 127), the rounding TFLite's
int8 weights and CoreML's linear 8-bit weights apply. The gradient passes the rounding unchanged
(straight-through), so the float weights keep learning while the loss is the rounded network's.

Why per output channel of the *unfolded* weight is enough: the deployment graph folds BatchNorm
into the convolution before it, which multiplies each output channel by one number, and a
symmetric per-channel rounding commutes with that (q(s w) = s q(w)). The regression branches'
second layer is the exception (`deploy._equalise_columns` rescales its outlier input columns), so
there the trained rounding is close to, not equal to, the exported one.

The checkpoints a run writes hold the rounded values (`rounded_state_dict`), so the float checkpoint
and an 8-bit artifact of it hold the same numbers and parity measures the runtime, not the rounding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

MODES = ("none", "int8")
LEVELS = 127  # symmetric int8: -127..127, as TFLite and coremltools' linear_symmetric store weights


def _step(weight: Tensor, levels: int) -> Tensor:
    """One grid step per output channel (max |w| / levels), shaped to broadcast over `weight`."""
    step = weight.detach().abs().flatten(1).amax(dim=1).clamp_min(1e-12) / levels
    return step.view((-1,) + (1,) * (weight.dim() - 1))


def round_per_channel(weight: Tensor, levels: int = LEVELS) -> Tensor:
    """`weight` rounded to `levels` steps each side of zero, one scale per output channel."""
    step = _step(weight, levels)
    return torch.round(weight / step).clamp(-levels, levels) * step


def rounding_noise(net: nn.Module, levels: int) -> dict[str, Tensor]:
    """Every convolution weight of `net`, by parameter name, plus uniform noise of up to half a step
    of its own per-channel grid (`loss.weight_consistency`): drawn fresh, carrying no gradient."""
    convs = {
        id(m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight)
        for m in _convolutions(net)
    }
    return {
        name: p + (torch.rand_like(p) - 0.5) * _step(p, levels) for name, p in net.named_parameters() if id(p) in convs
    }


class _RoundedWeight(nn.Module):
    def forward(self, weight: Tensor) -> Tensor:
        return weight + (round_per_channel(weight) - weight).detach()


def _convolutions(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.Conv1d | nn.Conv2d)]


def attach(model: nn.Module, mode: str) -> int:
    """Make every convolution of `model` see its weights rounded (mode "int8"); returns how many."""
    if mode == "none":
        return 0
    if mode not in MODES:
        raise ValueError(f"fake_quant {mode!r}; choose one of {', '.join(MODES)}")
    convs = _convolutions(model)
    for conv in convs:
        if not parametrize.is_parametrized(conv, "weight"):
            parametrize.register_parametrization(conv, "weight", _RoundedWeight())
    return len(convs)


def plain_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """The model's state dict under the names of an unparametrised model (the float weights), so
    checkpoints written during quantisation-aware training load like any other."""
    out: dict[str, Tensor] = {}
    for key, value in model.state_dict().items():
        out[key.replace("parametrizations.weight.original", "weight")] = value
    return out


@torch.no_grad()
def rounded_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """`plain_state_dict` with each rounded convolution's weight as the forward pass sees it: the
    checkpoint a quantisation-aware run writes, so the file holds what its metrics measured."""
    out = plain_state_dict(model)
    for name, module in model.named_modules():
        if parametrize.is_parametrized(module, "weight"):
            out[f"{name}.weight" if name else "weight"] = round_per_channel(module.parametrizations.weight.original)
    return out
