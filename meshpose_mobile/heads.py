"""MeshPose heads: VertexPose heatmaps, the foreground logit and the 1-D regression branches."""

from __future__ import annotations

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
