"""The crop contract: box -> crop -> image, for any input size."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_mobile.crop import CropContract
from meshpose_mobile.errors import ConfigError


def test_released_anchor_points() -> None:
    c = CropContract(384, 288, box_scale=1.0)
    a = c.box_affine((100.0, 50.0, 150.0, 200.0))  # already aspect 0.75
    centre = np.array([175.0, 150.0])
    pts = np.stack([centre, centre + np.array([0.0, 100.0]), centre + np.array([75.0, 0.0])])
    mapped = pts @ a[:, :2].T + a[:, 2]
    assert np.allclose(mapped, [[144, 192], [144, 384], [288, 192]])


def test_smaller_side_grows_to_aspect() -> None:
    c = CropContract(256, 192, box_scale=1.25)
    a = c.box_affine((0.0, 0.0, 100.0, 100.0))  # square: height grows to 100 / 0.75
    h = 100.0 / 0.75 * 1.25
    assert a[1, 1] == pytest.approx(256.0 / h)
    assert a[0, 0] == pytest.approx(a[1, 1])


@pytest.mark.parametrize("size", [(384, 288), (256, 192), (64, 48)])
@pytest.mark.parametrize("box", [(10.0, 20.0, 300.0, 120.0), (-50.0, 30.0, 80.0, 400.0)])
def test_round_trip_image_crop_image(size: tuple[int, int], box) -> None:
    c = CropContract(*size, box_scale=1.1)
    a = c.box_affine(box)
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.uniform(-100, 600, size=(500, 2)), rng.uniform(-50, 50, size=(500, 1))], axis=1)
    back = c.to_image(c.to_crop(pts, a), a)
    assert np.abs(back - pts).max() < 0.01


def test_z_scales_with_box_width() -> None:
    c = CropContract(384, 288, box_scale=1.0)
    a = c.box_affine((0.0, 0.0, 576.0, 768.0))  # box twice the crop size
    out = c.to_image(np.array([[144.0, 192.0, 10.0]]), a)
    assert out[0, 2] == pytest.approx(10.0 * 576.0 / 288.0)


def test_crop_samples_image_pixels() -> None:
    img = np.zeros((100, 80, 3), dtype=np.uint8)
    img[40, 30] = [255, 128, 7]
    c = CropContract(64, 48, box_scale=1.0)
    box = (6.0, 8.0, 48.0, 64.0)  # same size as the crop: a pure shift by (W/2, H/2) - centre
    crop, a = c.crop(img, box)
    x, y = np.array([30.0, 40.0]) @ a[:, :2].T + a[:, 2]
    assert crop[round(y), round(x)].tolist() == pytest.approx([255, 128, 7], abs=1e-3)
    assert crop.shape == (64, 48, 3)


def test_border_is_constant() -> None:
    img = np.full((10, 10, 3), 200, dtype=np.uint8)
    crop, _ = CropContract(64, 48, border_value=0.0).crop(img, (0.0, 0.0, 10.0, 10.0))
    assert crop[0, 0].tolist() == [0, 0, 0]
    assert crop[32, 24].tolist() == [200, 200, 200]


def test_picture_box_is_where_the_crop_reads_the_image() -> None:
    """A person at the photo's left and bottom edges: the crop's picture box ends where its border
    pixels begin; a crop inside the image is all picture; a rotated crop has none."""
    contract = CropContract(64, 48, border_value=0.0)
    img = np.full((100, 80, 3), 200.0, np.float32)
    for box in ((0.0, 40.0, 30.0, 60.0), (20.0, 20.0, 30.0, 40.0)):
        crop, affine = contract.crop(img, box)
        x0, y0, x1, y1 = contract.picture_box(affine, 100, 80)
        ys, xs = np.nonzero(crop[..., 0] > 100)  # bilinear: a pixel half on the image reads 100
        shown = (xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5)
        assert (x0, y0, x1, y1) == pytest.approx(shown, abs=0.51)
    assert contract.picture_box(affine, 100, 80).tolist() == [-0.5, -0.5, 47.5, 63.5]
    rotated = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 50.0]])
    with pytest.raises(ConfigError, match="axis-aligned"):
        contract.picture_box(rotated, 100, 80)


def test_border_is_per_channel() -> None:
    img = np.full((10, 10, 3), 200, dtype=np.uint8)
    c = CropContract(64, 48, border_value=(127.5, 0.0, 10.0))
    crop, _ = c.crop(img, (0.0, 0.0, 10.0, 10.0))
    assert crop[0, 0].tolist() == [127.5, 0.0, 10.0]
    assert crop[32, 24].tolist() == [200, 200, 200]
    # Half-way between the photo's edge and the frame: an even blend, per channel.
    edge = c.crop(img, (-0.5, -0.5, 10.0, 10.0))[0]
    assert edge.min() >= 0 and edge.max() <= 200.001
    assert c.to_dict()["border_value"] == [127.5, 0.0, 10.0]
    assert CropContract(64, 48, border_value=3).border_value == (3.0, 3.0, 3.0)  # one number: every channel


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"border_value": (1.0, 2.0)}, "border_value"),
        ({"border_value": (1.0, 2.0, float("nan"))}, "border_value"),
        ({"border_value": (0.0, 0.0, 300.0)}, "border_value"),
        ({"box_scale": 0.0}, "box scale"),
        ({"box_scale": -1.1}, "box scale"),
        ({"box_scale": float("inf")}, "box scale"),
        ({"box_scale": float("nan")}, "box scale"),
    ],
)
def test_bad_contract_values(kwargs, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        CropContract(64, 48, **kwargs)


def test_large_photo_is_sampled_without_copies() -> None:
    """The crop reads only the neighbours of its samples: a big photo costs the crop's memory."""
    import tracemalloc

    img = np.zeros((4000, 3000, 3), dtype=np.uint8)  # 36 MB; a float32 copy would be 144 MB
    tracemalloc.start()
    CropContract(256, 192).crop(img, (100.0, 100.0, 2800.0, 3700.0))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 30e6, peak


@pytest.mark.parametrize("box", [(0, 0, 0, 10), (0, 0, 10, -1), (float("nan"), 0, 10, 10)])
def test_bad_box(box) -> None:
    with pytest.raises(ConfigError, match="box"):
        CropContract(64, 48).box_affine(box)
