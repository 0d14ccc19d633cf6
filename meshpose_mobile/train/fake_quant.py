"""Quantisation-aware training (`fake_quant = "int8"` or `"int8_full"` in a train config).

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

`"int8_full"` also rounds the backbone's activations where TFLite's full-integer file rounds them
(`attach_activations`): every tensor the backbone hands from one int8 op to the next, on a 256-step
asymmetric grid over the tensor's range, a convolution, BatchNorm or add followed by its activation
counting as one fused op. The per-vertex heads stay float, as the export keeps them. The ranges
follow the training batches (a moving average of min and max); the export calibrates its own, so
they are not saved. Without it the shipped meshpose_blaze moves 60 px from activation rounding
alone (48 px on the photo crops), 36 px from the first ReLU6's output alone
(`benchmarks/int8_activations.py`).

Two noise sources serve the trainer's robustness terms rather than a mode: `rounding_noise` (weights
off by up to half an int8 step, `loss.weight_consistency`) and `activation_noise` (every
convolution's output off by up to 2^-11 of itself, float16's rounding, `loss.activation_consistency`).
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn
from torch.nn.utils import parametrize

MODES = ("none", "int8", "int8_full")
LEVELS = 127  # symmetric int8: -127..127, as TFLite and coremltools' linear_symmetric store weights
# Activations: TFLite's asymmetric int8, -128..127 with a zero point.
ACTIVATION_STEPS = 255
# Moving-average constant of the activation ranges (torch.ao's MovingAverageMinMaxObserver's).
RANGE_MOMENTUM = 0.01


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


@contextmanager
def activation_noise(net: nn.Module, bits: int) -> Iterator[None]:
    """Inside the block every convolution of `net` multiplies its output by 1 + u, u drawn fresh per
    element, uniform within +-2^-bits (`loss.activation_consistency`); the noise carries no gradient,
    the output does. The hooks are gone when the block ends, also on an error."""
    scale = 2.0**-bits

    def hook(_module: nn.Module, _args: Any, out: Tensor) -> Tensor:
        return out * (1.0 + (torch.rand_like(out) * 2.0 - 1.0) * scale)

    handles = [conv.register_forward_hook(hook) for conv in _convolutions(net)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class _RoundedWeight(nn.Module):
    def forward(self, weight: Tensor) -> Tensor:
        return weight + (round_per_channel(weight) - weight).detach()


def _convolutions(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.Conv1d | nn.Conv2d)]


def attach(model: nn.Module, mode: str) -> int:
    """Make every convolution of `model` see its weights rounded (modes "int8", "int8_full") and, for
    "int8_full", its backbone's activations too (`attach_activations`); returns how many convolutions."""
    if mode == "none":
        return 0
    if mode not in MODES:
        raise ValueError(f"fake_quant {mode!r}; choose one of {', '.join(MODES)}")
    convs = _convolutions(model)
    for conv in convs:
        if not parametrize.is_parametrized(conv, "weight"):
            parametrize.register_parametrization(conv, "weight", _RoundedWeight())
    if mode == "int8_full":
        attach_activations(model.backbone)
    return len(convs)


def fake_int8(x: Tensor, lo: float | Tensor, hi: float | Tensor) -> Tensor:
    """`x` on TFLite's activation grid over [min(lo, 0), max(hi, 0)] (256 steps, zero exact), clamped."""
    lo = torch.clamp(torch.as_tensor(lo, dtype=x.dtype, device=x.device), max=0.0)
    hi = torch.clamp(torch.as_tensor(hi, dtype=x.dtype, device=x.device), min=0.0)
    scale = torch.clamp(hi - lo, min=1e-12) / ACTIVATION_STEPS
    zero = torch.round(-128 - lo / scale)
    return (torch.clamp(torch.round(x / scale) + zero, -128, 127) - zero) * scale


_ACTIVATION_FNS = (F.hardtanh, F.relu, F.relu6, torch.relu)
_ACTIVATION_MODULES = (nn.ReLU, nn.ReLU6, nn.Hardtanh)


def _activation(gm: fx.GraphModule, node: fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(gm.get_submodule(str(node.target)), _ACTIVATION_MODULES)
    return node.op == "call_function" and node.target in _ACTIVATION_FNS


def _fused_into_next(gm: fx.GraphModule, node: fx.Node) -> bool:
    """A convolution, BatchNorm or add whose only user is a BatchNorm or an activation: one fused
    TFLite op with it, so its output is never rounded on its own."""
    mod = gm.get_submodule(str(node.target)) if node.op == "call_module" else None
    fusable = isinstance(mod, nn.Conv2d | nn.BatchNorm2d) or (
        node.op == "call_function" and node.target in (operator.add, torch.add)
    )
    if not fusable or len(node.users) != 1:
        return False
    (user,) = node.users
    return _activation(gm, user) or (
        user.op == "call_module" and isinstance(gm.get_submodule(str(user.target)), nn.BatchNorm2d)
    )


def activation_points(gm: fx.GraphModule) -> list[fx.Node]:
    """The nodes of a traced backbone whose outputs a full-integer TFLite file stores in int8."""
    kinds = ("placeholder", "call_module", "call_function", "call_method")
    return [n for n in gm.graph.nodes if n.op in kinds and not _fused_into_next(gm, n)]


class _RoundedActivation(nn.Module):
    """One rounded tensor: the moving range in training mode (of `owner`, whose mode it follows),
    the rounding with a straight-through gradient in both modes."""

    def __init__(self, owner: nn.Module) -> None:
        super().__init__()
        object.__setattr__(self, "owner", owner)  # a reference, not a child: no state-dict keys
        self.lo: Tensor | None = None
        self.hi: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or not x.is_floating_point():
            return x
        if self.owner.training or self.lo is None:
            with torch.no_grad():
                lo, hi = x.detach().min(), x.detach().max()
                if self.lo is None or self.hi is None:
                    self.lo, self.hi = lo, hi
                else:
                    self.lo = self.lo.to(lo) + RANGE_MOMENTUM * (lo - self.lo.to(lo))
                    self.hi = self.hi.to(hi) + RANGE_MOMENTUM * (hi - self.hi.to(hi))
        assert self.lo is not None and self.hi is not None
        return x + (fake_int8(x, self.lo, self.hi) - x).detach()


def attach_activations(backbone: nn.Module) -> int:
    """Make `backbone` round its activations as a full-integer TFLite file does; returns how many
    tensors. The traced graph, with a rounding after each point, becomes the instance's forward:
    it calls the backbone's own submodules, so the state dict, the parameters and the weights'
    rounding are unchanged, and the deployment graph (traced from the class's forward) is float."""
    gm = fx.symbolic_trace(backbone)
    points = activation_points(gm)
    for i, node in enumerate(points):
        name = f"rounded_activation_{i}"
        gm.add_submodule(name, _RoundedActivation(backbone))
        with gm.graph.inserting_after(node):
            rounded = gm.graph.call_module(name, (node,))
        node.replace_all_uses_with(rounded, delete_user_cb=lambda user, r=rounded: user is not r)
    gm.recompile()
    backbone.forward = gm.forward
    return len(points)


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
