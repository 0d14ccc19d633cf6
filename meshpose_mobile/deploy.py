"""The deployment form of MeshPose (method.md Sec. 8): what every export target converts.

It is built from a trained `MeshPose` and holds standard layers only, so phone runtimes run it
without custom layers:

- BatchNorm folded into the preceding convolutions (backbone through torch.fx, regression by hand),
  except where the fold would cancel (`_fold_batchnorm`);
- the gain beta folded into the heatmap convolution;
- a calibrated `fusion_shift` (Eq. 7's weight only) is one constant add before a second sigmoid;
- input normalisation: the per-channel std goes into the first convolution's weights (exact, since
  scaling commutes with zero padding) and the mean is one subtraction at the input, or left to
  the caller (CoreML's ImageType bias) when ``normalize_in_graph=False``. Folding the mean into the
  conv bias instead would be wrong at the borders, where the padding would then pad raw zeros;
- Eq. 1 as softmax over the flattened heatmap, elementwise multiply with constant coordinate rows
  and reduce-sum (this layout survived int8 quantisation, a matmul against a grid did not); the
  bin expectations likewise. Constant rows are normalised to [-1, 1] and rescaled afterwards so
  FP16 runtimes keep sub-pixel precision;
- no 5-D tensors, no gather, batch 1, fixed shape.

Converters only call `MeshPose.deploy()` and read `input_spec` / `output_specs`; they never
reach into the network.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.fx
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights

from meshpose_mobile import decode
from meshpose_mobile.backbones import split_features
from meshpose_mobile.config import AXES
from meshpose_mobile.errors import ConfigError

INPUT_NAME = "image"
# How the heatmap expectation is computed: "reduce" (multiply + reduce-sum; survives int8) or
# "matmul" (one matmul against the (HW, 2) grid; float targets, opt-in).
EXPECTATIONS = ("reduce", "matmul")
OUTPUT_NAMES = ("vertices", "visibility", "vertices_2d")
# Branches whose logits go through a softmax over bins, so a per-vertex constant may leave them
# (`_centre_logits`); the visibility branch averages its logits instead.
CENTRED_BRANCHES = AXES
# A BatchNorm whose running mean lies further than this many standard deviations from zero (in
# some channel) stays out of its convolution's weights (`_fold_batchnorm`). Folded, the layer
# computes s * (W x) + (beta - s * mean): two large terms that cancel, so float16 storage of the
# scaled weights loses log2(|mean| / std) bits. Measured on the shipped meshpose_blaze (8 parity
# inputs, every weight rounded to float16 in PyTorch, which reproduces TFLite fp16 to 0.03 px): the
# neck's depthwise layer (|mean| / std up to 6.3; its weights alone 0.70 px) dominated the whole
# network's 0.76 px, and left unfolded the network moves 0.21 px. Every other backbone BatchNorm
# of the shipped variants stays below 2.3 (meshpose_xs: 59 of them), so their graphs are unchanged.
CANCELLING_MEAN = 4.0


@dataclass(frozen=True)
class InputSpec:
    """What the deployment graph's single input expects."""

    name: str
    shape: tuple[int, int, int, int]
    layout: str
    color_order: str
    value_range: tuple[float, float]
    normalize_in_graph: bool
    # Added per channel by the caller before the graph when the mean is not in it (CoreML
    # ImageType bias); zeros when it is.
    channel_bias: tuple[float, float, float]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True)
class OutputSpec:
    name: str
    shape: tuple[int, ...]
    units: str


class MeshPoseDeploy(nn.Module):
    """Eval-only MeshPose: image (1, 3, H, W) in 0..255 RGB -> (vertices, visibility, vertices_2d)."""

    def __init__(self, model: nn.Module, *, normalize_in_graph: bool = True, expectation: str = "reduce") -> None:
        super().__init__()
        if expectation not in EXPECTATIONS:
            raise ConfigError(f"unknown expectation layout {expectation!r}; choose one of {', '.join(EXPECTATIONS)}")
        cfg = model.config
        model = copy.deepcopy(model).eval()
        # A model in quantisation-aware training (train/fake_quant.py) deploys the weights its
        # forward pass sees, as its checkpoint stores them: left parametrised, folding and the
        # input scaling below would rewrite the float weights and round the result again.
        for module in model.modules():
            if parametrize.is_parametrized(module):
                for name in list(module.parametrizations):
                    parametrize.remove_parametrizations(module, name, leave_parametrized=True)
        # Built in the model's dtype: a float64 model gives a float64 graph, which is how tests
        # separate the algebra of folding from float32 rounding.
        dtype = model.heatmap.weight.dtype
        self.config = cfg
        self.topology = model.topology
        self.normalize_in_graph = normalize_in_graph
        self.expectation = expectation
        k, hw = cfg.num_vertices, cfg.heatmap_height * cfg.heatmap_width
        self.k, self.hw, self.mid, self.bins = k, hw, cfg.head_mid, cfg.num_bins

        self.backbone = _fold_batchnorm(model.backbone)
        _scale_input_channels(self.backbone, 1.0 / model.pixel_std.flatten())
        _align_corners_resize_as_matmul(self.backbone, torch.zeros(cfg.input_shape, dtype=dtype))
        self.register_buffer("pixel_mean", model.pixel_mean.clone())

        self.heatmap = nn.Conv2d(model.heatmap.in_channels, k, 1, dtype=dtype)
        self.heatmap.weight.data = model.heatmap.weight.data * cfg.gain
        self.heatmap.bias.data = model.heatmap.bias.data * cfg.gain

        self.expand = nn.ModuleDict()
        self.to_vertices = nn.ModuleDict()
        for name, branch in model.regression.items():
            w, b = fuse_conv_bn_weights(
                branch.conv1.weight,
                branch.conv1.bias,
                branch.bn.running_mean,
                branch.bn.running_var,
                branch.bn.eps,
                branch.bn.weight,
                branch.bn.bias,
            )
            self.expand[name] = _conv2d_from_1d(w, b)
            self.to_vertices[name] = _conv2d_from_1d(branch.conv2.weight, branch.conv2.bias)
            offset = branch.bn.bias.detach().to(dtype).clone()
            _equalise_columns(self.expand[name], self.to_vertices[name], self.bins, offset)
            if name in CENTRED_BRANCHES:
                floor, table = _centre_logits(self.expand[name], self.to_vertices[name], offset, self.bins)
                self.register_buffer(f"floor_{name}", floor)
                self.register_buffer(f"table_{name}", table)

        grid = decode.grid_rows(cfg)
        for i, axis in enumerate(("x", "y")):
            row, centre, half = _normalised(grid[i])
            self.register_buffer(f"grid_{axis}", row.view(1, 1, hw).to(dtype))
            self.register_buffer(f"grid_{axis}_affine", torch.tensor([half, centre], dtype=dtype))
        if expectation == "matmul":
            # Both heatmap expectations as one (K, HW) x (HW, 2) product: ONNX Runtime's profile of
            # meshpose_xs shows the two multiply + reduce-sum passes over the K x HW probabilities
            # (and TFLite's MUL / SUM pairs) costing more than one pass through a matmul.
            self.register_buffer(
                "grid_xy", torch.cat([self.grid_x, self.grid_y], dim=1).reshape(2, hw).t().contiguous()
            )
            self.register_buffer(
                "grid_xy_scale", torch.stack([self.grid_x_affine[0], self.grid_y_affine[0]]).view(1, 1, 2)
            )
            self.register_buffer(
                "grid_xy_shift", torch.stack([self.grid_x_affine[1], self.grid_y_affine[1]]).view(1, 1, 2)
            )
        centres = decode.bin_centres(cfg)
        for i, axis in enumerate(AXES):
            row, centre, half = _normalised(centres[i])
            self.register_buffer(f"bins_{axis}", row.view(1, 1, cfg.num_bins).to(dtype))
            self.register_buffer(f"bins_{axis}_affine", torch.tensor([half, centre], dtype=dtype))
        self.seam: Tensor | None
        if cfg.seam_average:
            self.register_buffer("seam", model.seam.clone())
        else:
            self.seam = None
        for p in self.parameters():
            p.requires_grad_(False)

    # --- the contract that export targets read ------------------------------------------------
    @property
    def input_spec(self) -> InputSpec:
        cfg = self.config
        bias = (0.0, 0.0, 0.0) if self.normalize_in_graph else tuple(-255.0 * m for m in cfg.mean)
        return InputSpec(
            name=INPUT_NAME,
            shape=cfg.input_shape,
            layout="NCHW",
            color_order="RGB",
            value_range=(0.0, 255.0),
            normalize_in_graph=self.normalize_in_graph,
            channel_bias=bias,
            mean=tuple(cfg.mean),
            std=tuple(cfg.std),
        )

    @property
    def output_specs(self) -> tuple[OutputSpec, ...]:
        k = self.k
        return (
            OutputSpec("vertices", (1, k, 3), "crop pixels (x, y); z: relative depth in pixel units"),
            OutputSpec("visibility", (1, k), "probability in [0, 1]"),
            OutputSpec("vertices_2d", (1, k, 2), "crop pixels (VertexPose heatmap estimate)"),
        )

    def example_input(self, seed: int = 0) -> Tensor:
        g = torch.Generator().manual_seed(seed)
        return (torch.rand(self.config.input_shape, generator=g) * 255.0).to(self.pixel_mean.dtype)

    # --- the graph ----------------------------------------------------------------------------
    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = image - self.pixel_mean if self.normalize_in_graph else image
        feats, deep = split_features(self.backbone(x))
        prob = torch.softmax(self.heatmap(feats).reshape(1, self.k, self.hw), dim=-1)
        rx, ry, rz, vis_logit = self._regress(deep)
        vis = torch.sigmoid(vis_logit)
        shift = self.config.fusion_shift
        # Eq. 7's weight: the visibility itself, or (calibrated) a shifted copy; `vis` stays the output.
        weight = vis if shift == 0.0 else torch.sigmoid(vis_logit + shift)
        if self.expectation == "matmul":
            # x and y stay paired in the last axis (no slicing: Gather and Split are not in every
            # phone runtime's op set).
            p2d = torch.matmul(prob, self.grid_xy) * self.grid_xy_scale + self.grid_xy_shift
            rxy = torch.stack([rx, ry], dim=-1)
            qxy = rxy + weight.unsqueeze(-1) * (p2d - rxy)
            vertices = torch.cat([qxy, rz.unsqueeze(-1)], dim=-1)
        else:
            px = _expect(prob, self.grid_x, self.grid_x_affine)
            py = _expect(prob, self.grid_y, self.grid_y_affine)
            qx = rx + weight * (px - rx)
            qy = ry + weight * (py - ry)
            vertices = torch.stack([qx, qy, rz], dim=-1)
            p2d = torch.stack([px, py], dim=-1)
        if self.seam is not None:
            vertices = torch.matmul(self.seam, vertices)
        return vertices, vis, p2d

    def _regress(self, feats: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The regression branches: bin expectations for x, y, z and the visibility logit."""
        pooled = feats.mean(dim=(2, 3), keepdim=True)
        logits = {name: self._branch(name, pooled) for name in self.expand}
        rx = _expect(torch.softmax(logits["x"], dim=-1), self.bins_x, self.bins_x_affine)
        ry = _expect(torch.softmax(logits["y"], dim=-1), self.bins_y, self.bins_y_affine)
        rz = _expect(torch.softmax(logits["z"], dim=-1), self.bins_z, self.bins_z_affine)
        return rx, ry, rz, logits["vis"].mean(dim=-1)

    def _branch(self, name: str, pooled: Tensor) -> Tensor:
        if name not in CENTRED_BRANCHES:
            h = torch.relu(self.expand[name](pooled)).reshape(1, self.mid, self.bins, 1)
            return self.to_vertices[name](h).reshape(1, self.k, self.bins)
        # relu(p) = o + max(p - o, -o): the expected part o of each channel goes through conv2 once,
        # at build time, into a per-vertex-centred table (see `_centre_logits`).
        h = torch.maximum(self.expand[name](pooled), getattr(self, f"floor_{name}"))
        logits = self.to_vertices[name](h.reshape(1, self.mid, self.bins, 1)).reshape(1, self.k, self.bins)
        return logits + getattr(self, f"table_{name}")


def _expect(prob: Tensor, row: Tensor, affine: Tensor) -> Tensor:
    return (prob * row).sum(dim=-1) * affine[0] + affine[1]


def _normalised(values: Tensor) -> tuple[Tensor, float, float]:
    lo, hi = float(values.min()), float(values.max())
    centre, half = (hi + lo) / 2.0, max((hi - lo) / 2.0, 1e-12)
    return (values - centre) / half, centre, half


# A middle channel of a regression branch whose conv2 column is this many times the median
# column's largest weight gets rescaled (`_equalise_columns`).
EQUALISE_RATIO = 8.0


def _equalise_columns(expand: nn.Conv2d, to_vertices: nn.Conv2d, bins: int, offset: Tensor | None = None) -> None:
    """Scale outlier middle channels of a regression branch up in `expand` and down in `to_vertices`.

    The function is unchanged (ReLU commutes with a positive scale; cross-layer equalisation), but
    per-channel int8 / 8-bit weights quantise each conv2 row (one vertex) with one scale, and a
    column far larger than the rest (the data-prior channels of `prior_init`, whose weights are
    1 / sd^2 of the bin Gaussian: hundreds) would round every other weight of the row to zero.
    `expand`'s rows have a scale each, so moving the magnitude there costs no weight precision.
    `offset` (one value per `expand` output, in its units) is scaled with the rows it belongs to.
    """
    with torch.no_grad():
        w = to_vertices.weight
        col = w.abs().amax(dim=(0, 2, 3)).double()
        ref = col.median().clamp(min=1e-12)
        scale = torch.where(col > EQUALISE_RATIO * ref, col / ref, torch.ones_like(col))
        if bool((scale == 1).all()):
            return
        w.div_(scale.view(1, -1, 1, 1).to(w.dtype))
        rows = scale.repeat_interleave(bins).to(expand.weight.dtype)
        expand.weight.mul_(rows.view(-1, 1, 1, 1))
        expand.bias.mul_(rows)
        if offset is not None:
            offset.mul_(rows.to(offset.dtype))


def _centre_logits(expand: nn.Conv2d, to_vertices: nn.Conv2d, offset: Tensor, bins: int) -> tuple[Tensor, Tensor]:
    """Move each middle channel's expected value `offset` (BatchNorm's beta: the channel's mean
    under the running statistics) out of the input-dependent path of an x / y / z branch.

    With p = expand(pooled) and any o, relu(p) = o + max(p - o, -o), so the branch's logits are
    conv2(max(p - o, -o)) + conv2(o) exactly. conv2(o) plus conv2's bias is a constant (K, bins)
    table, computed here in float64, and the softmax over bins ignores a per-vertex constant, so
    the table is stored minus each vertex's maximum. Why: the data-prior channels (`prior_init`)
    carry u mu / sd^2 - u^2 / (2 sd^2), two terms of tens that cancel near the bin the vertex sits
    in. Float16 weights or compute round each term by ~0.02 and move the expectation along the
    axis (0.6-1.2 px of z on the trained meshpose_blaze); the centred table is near zero where the
    probability is, and what stays input-dependent is the small p - o. Returns (-o as the floor of
    the max, (1, K, bins) table); shrinks `expand`'s bias by o and zeroes conv2's bias.
    """
    with torch.no_grad():
        o = offset.double()
        w2 = to_vertices.weight.double().flatten(1)  # (K, mid)
        table = w2 @ o.view(-1, bins) + to_vertices.bias.double().view(-1, 1)  # (K, bins)
        table = table - table.amax(dim=1, keepdim=True)
        expand.bias.sub_(offset.to(expand.bias.dtype))
        to_vertices.bias.zero_()
        dtype = expand.weight.dtype
        return (-o).view(1, -1, 1, 1).to(dtype), table.unsqueeze(0).to(dtype)


def _conv2d_from_1d(weight: Tensor, bias: Tensor) -> nn.Conv2d:
    out_c, in_c, _ = weight.shape
    conv = nn.Conv2d(in_c, out_c, 1)
    conv.weight.data = weight.detach().reshape(out_c, in_c, 1, 1).clone()
    conv.bias.data = bias.detach().clone()
    return conv


class AlignCornersResize(nn.Module):
    """Bilinear resize with align_corners=True as two products with constant interpolation
    matrices: rows (H_out, H_in) @ x @ cols (W_in, W_out). Exactly the same arithmetic, in MatMul,
    which every runtime executes alike; onnx2tf 1.29 converts an opset-18 Resize with
    align_corners as a half-pixel resize (71 px on meshpose_hrnet32's TFLite file)."""

    def __init__(self, in_hw: tuple[int, int], out_hw: tuple[int, int], dtype: torch.dtype) -> None:
        super().__init__()
        self.register_buffer("rows", _interpolation_matrix(out_hw[0], in_hw[0]).to(dtype))
        self.register_buffer("cols", _interpolation_matrix(out_hw[1], in_hw[1]).t().contiguous().to(dtype))

    def forward(self, x: Tensor) -> Tensor:
        return torch.matmul(self.rows, torch.matmul(x, self.cols))


def _interpolation_matrix(n_out: int, n_in: int) -> Tensor:
    """(n_out, n_in) weights of 1-D linear interpolation with aligned corners."""
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    for i in range(n_out):
        src = i * scale
        i0 = min(int(src), n_in - 1)
        frac = src - i0
        m[i, i0] += 1.0 - frac
        if frac > 0:
            m[i, i0 + 1] += frac
    return m


def _align_corners_resize_as_matmul(gm: torch.fx.GraphModule, example: Tensor) -> None:
    """Replace every bilinear align_corners interpolate of the traced backbone (HRNet's fusion)
    by `AlignCornersResize`, with the shapes this fixed-size graph sees."""
    from torch.fx.passes.shape_prop import ShapeProp

    targets = [
        n for n in gm.graph.nodes
        if n.op == "call_function" and n.target is torch.nn.functional.interpolate
        and n.kwargs.get("mode") == "bilinear" and n.kwargs.get("align_corners")
    ]  # fmt: skip
    if not targets:
        return
    ShapeProp(gm).propagate(example)
    for i, node in enumerate(targets):
        in_shape = node.args[0].meta["tensor_meta"].shape
        out_shape = node.meta["tensor_meta"].shape
        name = f"align_corners_resize_{i}"
        gm.add_submodule(name, AlignCornersResize(tuple(in_shape[-2:]), tuple(out_shape[-2:]), example.dtype))
        with gm.graph.inserting_after(node):
            new = gm.graph.call_module(name, (node.args[0],))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
    gm.recompile()


def _fold_batchnorm(module: nn.Module) -> torch.fx.GraphModule:
    """Trace `module` and fold each Conv2d -> BatchNorm2d pair into the convolution, except where
    the BatchNorm's mean cancels (`CANCELLING_MEAN`): there the convolution keeps its own weights,
    its bias becomes b - mean (the stored values, float16 ones in a float16 checkpoint, so exact),
    and the BatchNorm becomes a 1x1 depthwise convolution (weight gamma / std, bias beta). Not a
    multiply and an add: TFLite's and Core ML's converters fuse a constant multiply straight
    after a convolution back into its weights (measured: TFLite fp16 unchanged, 0.77 px); they
    leave two convolutions apart, and the extra one costs one multiply-add per value of one map."""
    gm = torch.fx.symbolic_trace(copy.deepcopy(module))  # shares submodules with what it traces
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        bn = modules.get(node.target) if node.op == "call_module" else None
        src = node.args[0] if node.args else None
        if type(bn) is not nn.BatchNorm2d or not bn.track_running_stats or not isinstance(src, torch.fx.Node):
            continue
        conv = modules.get(src.target) if src.op == "call_module" else None
        if type(conv) is not nn.Conv2d or len(src.users) > 1:
            continue
        assert bn.running_mean is not None and bn.running_var is not None
        std = torch.sqrt(bn.running_var + bn.eps)
        if bool((bn.running_mean.abs() > CANCELLING_MEAN * std).any()):
            c = bn.num_features
            affine = nn.Conv2d(c, c, 1, groups=c, dtype=std.dtype)
            with torch.no_grad():
                affine.weight.copy_((bn.weight / std if bn.affine else 1.0 / std).view(c, 1, 1, 1))
                affine.bias.copy_(bn.bias if bn.affine else torch.zeros_like(std))
                bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                conv.bias = nn.Parameter(bias - bn.running_mean)
            gm.set_submodule(str(node.target), affine)
            continue
        gm.set_submodule(str(src.target), fuse_conv_bn_eval(conv, bn))
        node.replace_all_uses_with(src)
        gm.graph.erase_node(node)
    gm.graph.lint()
    gm.recompile()
    gm.delete_all_unused_submodules()
    return gm


def _scale_input_channels(gm: torch.fx.GraphModule, scale: Tensor) -> None:
    """Multiply input channel c by scale[c], inside the first convolution when it is the input's
    only consumer (the usual case), else as an explicit multiply at the top of the graph."""
    (placeholder,) = [n for n in gm.graph.nodes if n.op == "placeholder"]
    users = list(placeholder.users)
    if len(users) == 1 and users[0].op == "call_module":
        conv = gm.get_submodule(users[0].target)
        if isinstance(conv, nn.Conv2d) and conv.groups == 1 and conv.padding_mode == "zeros":
            conv.weight.data = conv.weight.data * scale.view(1, -1, 1, 1)
            return
    gm.register_buffer("input_scale", scale.view(1, -1, 1, 1).clone())
    with gm.graph.inserting_after(placeholder):
        attr = gm.graph.get_attr("input_scale")
    with gm.graph.inserting_after(attr):
        scaled = gm.graph.call_function(torch.mul, (placeholder, attr))
    placeholder.replace_all_uses_with(scaled, delete_user_cb=lambda n: n is not scaled)
    gm.recompile()
