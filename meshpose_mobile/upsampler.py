"""High-poly upsampler (method.md Sec. 6, paper App. C.2.3).

Two linear maps along the vertex axis, K -> K_mid -> N, shared by x, y and z (no nonlinearity),
optionally around a weighted centre of the low-poly mesh so the maps see root-relative shapes.
Our upsamplers normalise the centre weights to sum 1 (a weighted mean); the authors' released
upsampler uses its 16 weights exactly as given (they do not sum to 1), so its import keeps them.
Layer names follow the released upsampler (`upsampling`, `upsampling2`) so its weights import
without renaming.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from meshpose_mobile.atomic import torch_save_atomic
from meshpose_mobile.errors import CheckpointError, ConfigError


class HighPolyUpsampler(nn.Module):
    def __init__(
        self,
        num_low: int,
        num_mid: int,
        num_high: int,
        centre_weights: Tensor | None = None,
        *,
        normalize_centre: bool = True,
    ) -> None:
        super().__init__()
        self.upsampling = nn.Linear(num_low, num_mid)
        self.upsampling2 = nn.Linear(num_mid, num_high)
        if centre_weights is not None:
            centre_weights = torch.as_tensor(centre_weights, dtype=torch.float32).flatten()
            if centre_weights.numel() != num_low:
                raise ConfigError(
                    f"upsampler centre weights have {centre_weights.numel()} entries, expected {num_low} "
                    "(one per low-poly vertex, zeros allowed)"
                )
            total = float(centre_weights.sum())
            if abs(total) < 1e-8:
                raise ConfigError("upsampler centre weights sum to 0; give positive weights to the centre vertices")
            if normalize_centre:
                centre_weights = centre_weights / total
        self.register_buffer("centre_weights", centre_weights)

    @property
    def num_low(self) -> int:
        return self.upsampling.in_features

    def centre(self, low: Tensor) -> Tensor:
        """(B, K, 3) -> (B, 1, 3) weighted centre, zeros when centring is off."""
        if self.centre_weights is None:
            return low.new_zeros(low.shape[0], 1, 3)
        return (self.centre_weights.view(1, -1, 1) * low).sum(dim=1, keepdim=True)

    def forward(self, low: Tensor) -> Tensor:
        """(B, K, 3) low-poly vertices -> (B, N, 3) high-poly vertices; both stages' output
        is available through `stages` for training losses."""
        return self.stages(low)[1]

    def stages(self, low: Tensor) -> tuple[Tensor, Tensor]:
        c = self.centre(low)
        x = (low - c).transpose(1, 2)  # (B, 3, K): linear maps act on the vertex axis
        mid = self.upsampling(x)
        high = self.upsampling2(mid)
        return mid.transpose(1, 2) + c, high.transpose(1, 2) + c


UPSAMPLER_FORMAT = "meshpose-upsampler"


def save_upsampler(path: str | Path, upsampler: HighPolyUpsampler, extra: dict[str, Any] | None = None) -> Path:
    """Our upsampler file: sizes, centre weights and weights in one weights_only-loadable dict."""
    path = Path(path)
    payload = {
        "format": UPSAMPLER_FORMAT,
        "format_version": 1,
        "num_low": upsampler.num_low,
        "num_mid": upsampler.upsampling.out_features,
        "num_high": upsampler.upsampling2.out_features,
        "state_dict": {k: v.detach().cpu() for k, v in upsampler.state_dict().items()},
        "extra": extra or {},
    }
    return torch_save_atomic(payload, path)


def upsampler_from_payload(data: dict[str, Any], path: str | Path) -> HighPolyUpsampler:
    """Our upsampler file's dict (`save_upsampler`) -> the module; `meshpose_mobile.checkpoint.load_upsampler`
    reads any upsampler file, ours or the authors'."""
    try:
        state = data["state_dict"]
        centre = state.get("centre_weights")
        up = HighPolyUpsampler(int(data["num_low"]), int(data["num_mid"]), int(data["num_high"]), centre)
        up.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, AttributeError, ValueError) as err:
        raise CheckpointError(
            f"upsampler {path} is damaged ({str(err).splitlines()[0]}); retrain or re-save it"
        ) from None
    return up.eval()
