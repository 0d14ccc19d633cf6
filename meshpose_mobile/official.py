"""Key map between the authors' released HRNet-W32 state dict and `meshpose_hrnet32`.

Facts used (../shared/docs/official-checkpoint.md): backbone entries sit under
``model.model.0.encoder.`` with standard HRNet names, heads under ``model.model.1.``. Besides the
learned tensors, their state dict stores two decoding constants (the 64 bin positions of each 1-D
branch and the 96x72 cell grid); our model derives those from its config, so the import checks
their shapes and consumes them instead of loading them.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from meshpose_mobile.errors import CheckpointError

BACKBONE_PREFIX = "model.model.0.encoder."
HEAD_PREFIX = "model.model.1."
_BRANCHES = {"x": "SP_VERTEX_X", "y": "SP_VERTEX_Y", "z": "SP_VERTEX_Z", "vis": "SP_VISIBILITY"}
_BRANCH_LAYERS = {"conv1": "conv_z_1.0", "bn": "conv_z_1.1", "conv2": "conv_z_2.0"}


def official_key_map(model: nn.Module) -> dict[str, str]:
    """Our state-dict name -> the released checkpoint's name, for every entry of ours."""
    mapping: dict[str, str] = {}
    for name in model.state_dict():
        if name.startswith("backbone."):
            mapping[name] = BACKBONE_PREFIX + name.removeprefix("backbone.")
        elif name.startswith("heatmap."):
            mapping[name] = HEAD_PREFIX + "head_layers.SP_MESHPOSE." + name.removeprefix("heatmap.")
        elif name.startswith("regression."):
            _, branch, layer, leaf = name.split(".", 3)
            mapping[name] = f"{HEAD_PREFIX}head_layers.{_BRANCHES[branch]}.{_BRANCH_LAYERS[layer]}.{leaf}"
        else:
            raise CheckpointError(
                f"model entry {name!r} has no counterpart in the released checkpoint; "
                "import it into meshpose_hrnet32 without a foreground head"
            )
    return mapping


def official_constant_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Released entries that hold decoding constants our config derives: name -> expected shape."""
    cfg = model.config
    # Only the coordinate branches decode by argsoftmax; visibility averages its bins.
    coords = [_BRANCHES[a] for a in ("x", "y", "z")]
    shapes = {f"{HEAD_PREFIX}head_layers.{b}.softargmax1D.positions": (cfg.num_bins,) for b in coords}
    shapes[f"{HEAD_PREFIX}branch_models.SP_MESHPOSE.grid"] = (cfg.heatmap_height, cfg.heatmap_width, 2)
    return shapes


def convert_official_state_dict(theirs: Mapping[str, Tensor], model: nn.Module) -> dict[str, Tensor]:
    """Their state dict -> ours. Every entry of theirs must be used and every entry of ours filled;
    anything else is a CheckpointError naming the first offending keys."""
    mapping = official_key_map(model)
    constants = official_constant_shapes(model)
    ours = model.state_dict()
    missing = [their for their in mapping.values() if their not in theirs]
    missing += [name for name in constants if name not in theirs]
    unused = sorted(set(theirs) - set(mapping.values()) - set(constants))
    if missing or unused:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unused:
            parts.append(f"{len(unused)} unexpected (e.g. {unused[0]})")
        raise CheckpointError(
            f"released-checkpoint import: {', '.join(parts)}; the file does not match "
            f"meshpose_hrnet32 with {model.config.num_vertices} vertices (check --topology)"
        )
    for name, shape in constants.items():
        if tuple(theirs[name].shape) != shape:
            raise CheckpointError(
                f"released-checkpoint import: {name} has shape {tuple(theirs[name].shape)}, expected "
                f"{shape}; the checkpoint was made for another input size"
            )
    converted: dict[str, Tensor] = {}
    for name, their_name in mapping.items():
        value = theirs[their_name]
        if tuple(value.shape) != tuple(ours[name].shape):
            raise CheckpointError(
                f"released-checkpoint import: {their_name} has shape {tuple(value.shape)} but the model "
                f"expects {tuple(ours[name].shape)}; use the topology the checkpoint was trained with"
            )
        converted[name] = value
    return converted
