"""MeshPose heads: VertexPose heatmaps, the foreground logit and the 1-D regression branches."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RegressionBranch(nn.Module):
    """Pooled features -> per-vertex bin logits (method.md Sec. 3, paper App. C.2.1).

    The pooled C-vector is expanded by a k=1 Conv1d to ``mid * bins`` channels, read as ``mid``
    channels along a length-``bins`` 'indexed' axis, and a second k=1 Conv1d maps the ``mid``
    channels to K vertices, giving (B, K, bins). Both layers are k=1 so each becomes a 1x1 Conv2d
    in the deployment graph.
    """

    def __init__(self, in_channels: int, mid: int, bins: int, num_vertices: int) -> None:
        super().__init__()
        self.mid, self.bins = mid, bins
        self.conv1 = nn.Conv1d(in_channels, mid * bins, kernel_size=1)
        self.bn = nn.BatchNorm1d(mid * bins)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv1d(mid, num_vertices, kernel_size=1)

    def forward(self, pooled: Tensor) -> Tensor:
        """(B, C, 1) -> (B, K, bins)."""
        h = self.relu(self.bn(self.conv1(pooled)))
        return self.conv2(h.reshape(h.shape[0], self.mid, self.bins))

    @torch.no_grad()
    def start_at(self, u: Tensor, mu: Tensor, sd: Tensor | float, weight_scale: float) -> None:
        """Start at a Gaussian over the bins centred on `mu` (per vertex, a fraction of the range)
        with spread `sd`, keeping `weight_scale` of the input-dependent logits.

        A Gaussian over the bins is quadratic in u: -(u - mu)^2 / (2 sd^2) = u mu / sd^2 - u^2 / (2 sd^2)
        + const. Conv2's bias is per vertex (constant over bins), so the per-(vertex, bin) prior rides
        on two of the `mid` channels: their BatchNorm outputs the constant u (channel 0) and u^2
        (channel 1) for every input (gamma 0; still trainable), and conv2 weighs them per vertex.
        Used by the trainer's data prior and by the seeded heads on an imported encoder."""
        for m, values in enumerate((u, u * u)):
            sl = slice(m * self.bins, (m + 1) * self.bins)
            self.bn.weight[sl] = 0.0
            self.bn.bias[sl] = values.float()
        self.conv2.weight.mul_(weight_scale)
        self.conv2.weight[:, 0, 0] = torch.as_tensor(mu / sd**2).float()
        self.conv2.weight[:, 1, 0] = torch.as_tensor(-0.5 / sd**2).float()
        self.conv2.bias.zero_()
