"""The trainable MeshPose network (paper Sec. 3): backbone, VertexPose and MeshPose lifting."""

from __future__ import annotations

from typing import TypedDict

import torch
from torch import Tensor, nn

from meshpose_mobile import decode
from meshpose_mobile.backbones import build_backbone, split_features
from meshpose_mobile.config import AXES, ModelConfig
from meshpose_mobile.deploy import MeshPoseDeploy
from meshpose_mobile.errors import ConfigError
from meshpose_mobile.heads import RegressionBranch
from meshpose_mobile.topology import Topology

REG_BRANCHES = (*AXES, "vis")


class MeshPoseOutput(TypedDict):
    heatmaps: Tensor  # (B, K, h, w) raw scores S (before the gain)
    foreground: Tensor | None  # (B, 1, h, w) logits, or None without a foreground head
    vertices_2d: Tensor  # (B, K, 2) VertexPose positions p_k, crop pixels
    regressed: Tensor  # (B, K, 3) r_k, crop pixels
    bin_logits: Tensor  # (B, 4, K, bins) logits of the x, y, z and visibility branches
    visibility_logits: Tensor  # (B, K)
    visibility: Tensor  # (B, K) w_k in [0, 1]
    vertices: Tensor  # (B, K, 3) Eq. 7 (after seam averaging when enabled)


class MeshPose(nn.Module):
    """MeshPose for one topology. Input: RGB crops (B, 3, H, W) with values 0..255.

    Taking raw pixels keeps one input contract for training, the deployment graph and every
    exported artifact; normalisation happens inside (and is folded away for deployment).
    """

    def __init__(self, config: ModelConfig, topology: Topology) -> None:
        super().__init__()
        if topology.num_vertices != config.num_vertices:
            raise ConfigError(
                f"topology {topology.name!r} has {topology.num_vertices} vertices but the config "
                f"expects {config.num_vertices}; build the config from this topology"
            )
        if config.seam_average and topology.seam_pairs is None:
            raise ConfigError(
                f"seam_average is on but topology {topology.name!r} has no seam_pairs; "
                "add them to the topology or set seam_average=False"
            )
        self.config = config
        self.topology = topology
        k = config.num_vertices
        self.backbone = build_backbone(config.backbone, **config.backbone_kwargs)
        divisor = getattr(self.backbone, "input_divisor", 16)
        if config.input_height % divisor or config.input_width % divisor:
            raise ConfigError(
                f"backbone {config.backbone!r} needs an input size divisible by {divisor}, got "
                f"{config.input_height}x{config.input_width}; change input_height/input_width"
            )
        stride = getattr(self.backbone, "out_stride", 4)
        if config.heatmap_stride != stride:
            raise ConfigError(
                f"backbone {config.backbone!r} outputs stride-{stride} features but heatmap_stride is "
                f"{config.heatmap_stride}; set heatmap_stride={stride}"
            )
        c = self.backbone.out_channels
        # A backbone may hand the regression branch its own (deeper) map: then it returns
        # (dense, deep) and names the deep map's width `regression_channels`.
        c_reg = getattr(self.backbone, "regression_channels", c)
        self.heatmap = nn.Conv2d(c, k, kernel_size=1)
        self.foreground = nn.Conv2d(c, 1, kernel_size=1) if config.foreground_head else None
        self.regression = nn.ModuleDict(
            {name: RegressionBranch(c_reg, config.head_mid, config.num_bins, k) for name in REG_BRANCHES}
        )
        f32 = torch.float32
        self.register_buffer(
            "pixel_mean", 255.0 * torch.tensor(config.mean, dtype=f32).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer(
            "pixel_std", 255.0 * torch.tensor(config.std, dtype=f32).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("grid_rows", decode.grid_rows(config).to(f32), persistent=False)
        self.register_buffer("bin_centres", decode.bin_centres(config).to(f32), persistent=False)
        pairs = torch.as_tensor(topology.seam_pairs) if config.seam_average else None
        self.register_buffer("seam", decode.seam_matrix(k, pairs).to(f32), persistent=False)

    def features(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """(dense map for the heatmaps, map for the regression branch); the same map for most backbones."""
        return split_features(self.backbone((image - self.pixel_mean) / self.pixel_std))

    def forward(self, image: Tensor) -> MeshPoseOutput:
        feats, deep = self.features(image)
        scores = self.heatmap(feats)
        p2d = decode.argsoftmax(scores, self.config.gain, self.grid_rows)
        pooled = deep.mean(dim=(2, 3)).unsqueeze(-1)
        logits = torch.stack([self.regression[name](pooled) for name in REG_BRANCHES], dim=1)
        regressed = torch.stack(
            [decode.bin_expectation(logits[:, i], self.bin_centres[i]) for i in range(len(AXES))], dim=-1
        )
        vis_logits = logits[:, 3].mean(dim=-1)
        visibility = torch.sigmoid(vis_logits)
        shift = self.config.fusion_shift
        weight = visibility if shift == 0.0 else torch.sigmoid(vis_logits + shift)
        vertices = decode.fuse_vertices(p2d, regressed, weight)
        if self.config.seam_average:
            vertices = self.seam @ vertices
        return MeshPoseOutput(
            heatmaps=scores,
            foreground=self.foreground(feats) if self.foreground is not None else None,
            vertices_2d=p2d,
            regressed=regressed,
            bin_logits=logits,
            visibility_logits=vis_logits,
            visibility=visibility,
            vertices=vertices,
        )

    def deploy(self, *, normalize_in_graph: bool = True, expectation: str = "reduce") -> nn.Module:
        """The eval-only, fixed-shape, batch-1 deployment graph (see `meshpose_mobile.deploy`)."""
        return MeshPoseDeploy(self, normalize_in_graph=normalize_in_graph, expectation=expectation)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
