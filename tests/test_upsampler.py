"""High-poly upsampler (method.md Sec. 6)."""

from __future__ import annotations

import pytest
import torch

from meshpose_mobile.errors import ConfigError
from meshpose_mobile.upsampler import HighPolyUpsampler


def test_shapes_and_released_names() -> None:
    up = HighPolyUpsampler(518, 1723, 6890)
    names = {k: tuple(v.shape) for k, v in up.state_dict().items()}
    assert names == {
        "upsampling.weight": (1723, 518),
        "upsampling.bias": (1723,),
        "upsampling2.weight": (6890, 1723),
        "upsampling2.bias": (6890,),
    }
    mid, high = up.stages(torch.randn(2, 518, 3))
    assert mid.shape == (2, 1723, 3) and high.shape == (2, 6890, 3)


def test_per_axis_linear_maps() -> None:
    up = HighPolyUpsampler(4, 3, 5)
    low = torch.randn(1, 4, 3)
    expected = up.upsampling2(up.upsampling(low[0].t())).t()
    assert torch.allclose(up(low)[0], expected, atol=1e-6)


def test_centring_makes_translation_pass_through() -> None:
    """With centring, a translated input gives the translated output whenever the maps send the
    zero-centred shape to itself; here identity maps make that exact."""
    k = 6
    w = torch.zeros(k)
    w[:2] = 1.0
    up = HighPolyUpsampler(k, k, k, centre_weights=w)
    with torch.no_grad():
        for layer in (up.upsampling, up.upsampling2):
            layer.weight.copy_(torch.eye(k))
            layer.bias.zero_()
    low = torch.randn(1, k, 3)
    shift = torch.tensor([10.0, -4.0, 2.0])
    assert torch.allclose(up(low + shift), up(low) + shift, atol=1e-5)
    assert torch.allclose(up.centre(low)[0, 0], low[0, :2].mean(0), atol=1e-6)


def test_bad_centre_weights() -> None:
    with pytest.raises(ConfigError, match="entries"):
        HighPolyUpsampler(5, 4, 3, centre_weights=torch.ones(4))
    with pytest.raises(ConfigError, match="sum to 0"):
        HighPolyUpsampler(5, 4, 3, centre_weights=torch.zeros(5))
