"""Synthetic training data from the body topology: posed, shaped, photographed and labelled.

Every sample is a pure function of ``(seed, index)``: the generator draws a body shape, a pose within
joint limits, a camera and a crop, renders the RGB image with a vectorised z-buffer and labels it
the way DensePose-COCO and mesh pseudo-ground-truth label real photos, plus exact 3D.

Coordinates of the labels follow the rest of the project: crop pixels with the top-left pixel's
centre at (0, 0); vertex depth ``z`` is in the same pixel units, ``(Z - Z_ref) * f / Z_ref`` with
``Z`` the camera distance (larger = farther) and ``Z_ref`` the body's mean distance, so x, y are the
true perspective projection and z the matching weak-perspective depth. ``pixels_per_metre`` is
``f / Z_ref`` and turns pixel errors into millimetres for MPJPE.

Barycentrics of the dense labels are screen-space ones: a labelled pixel is exactly the barycentric
combination of the projected face corners, which is what UV consistency (Eq. 6) compares.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_mobile import synth_photo
from meshpose_mobile.errors import ConfigError, DataError
from meshpose_mobile.machine import available_memory
from meshpose_mobile.paths import OutputError, is_user_os_error, prepare_out_dir, sweep_stale, write_error
from meshpose_mobile.topology import Topology, default_topology

NUM_PARTS = 24
APPEARANCES = ("flat", "photo")
# Framing codes of the photo look's `framing` label.
FRAMINGS = ("full", "selfie", "upper", "cut")
FORMAT = "meshpose-synth"
FORMAT_VERSION = 1
# Largest image side: 10x the largest model input (384). One sample of 4096x4096 already peaks at
# ~4.4 GB while it is drawn (`memory_needed`); larger crops train nothing the models can take.
MAX_SIDE = 4096
# Peak bytes per pixel while one sample is drawn (float64 image, depth and label buffers), and
# bytes per pixel of the sample kept afterwards (image, mask, part, uv): measured with tracemalloc
# at 256x192, 512x384 and 1024x768 (264, 263, 262 B/px; 9.25 B/px kept); appearance="photo" 270 and
# 265 B/px at the first two. The photo look keeps one byte more (the clothed `person` mask).
SAMPLE_PEAK_BYTES_PER_PX = 270
SAMPLE_KEPT_BYTES_PER_PX = 9.25
SAMPLE_KEPT_BYTES_PER_PX_PHOTO = 10.25
# The photo look draws a second (clothed) z-buffer and float32 picture layers: its peak, measured
# the same way over 6 samples at 256x192 and 512x384, was 467 and 462 B/px (the flat look: 364
# and 360 on the same samples), plus the decoded background photos held once per process (35 MB).
SAMPLE_PEAK_BYTES_PER_PX_PHOTO = 480
PHOTO_LIBRARY_BYTES = 40_000_000
# Closest a low-poly vertex may come to the camera, metres (a phone held at arm's length sees the
# hand at about this distance).
_NEAREST = 0.3

# Joint limits in degrees as (min, max) per local axis (x: flexion in the sagittal plane, y: twist
# about the vertical, z: abduction in the frontal plane), for the default skeleton's names. Signs
# follow the topology's axes (+y up, +z towards the viewer, +x the body's left): a negative x angle
# swings a downward limb forward. Limits are the comfortable ranges of everyday poses, not the
# anatomical extremes, so a uniformly drawn pose still looks like a person.
JOINT_LIMITS: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "pelvis": ((0, 0), (0, 0), (0, 0)),
    "spine1": ((-10, 25), (-15, 15), (-10, 10)),
    "spine2": ((-10, 20), (-15, 15), (-8, 8)),
    "spine3": ((-10, 15), (-10, 10), (-8, 8)),
    "neck": ((-20, 30), (-30, 30), (-15, 15)),
    "head": ((-20, 20), (-40, 40), (-15, 15)),
    "left_clavicle": ((-10, 10), (-10, 10), (-5, 15)),
    "left_shoulder": ((-110, 40), (-40, 40), (-40, 100)),
    "left_elbow": ((-110, 10), (-30, 30), (0, 0)),
    "left_wrist": ((-30, 30), (-30, 30), (-20, 20)),
    "right_clavicle": ((-10, 10), (-10, 10), (-15, 5)),
    "right_shoulder": ((-110, 40), (-40, 40), (-100, 40)),
    "right_elbow": ((-110, 10), (-30, 30), (0, 0)),
    "right_wrist": ((-30, 30), (-30, 30), (-20, 20)),
    "left_hip": ((-100, 25), (-30, 30), (-10, 40)),
    "left_knee": ((0, 120), (0, 0), (0, 0)),
    "left_ankle": ((-20, 25), (-10, 10), (-10, 10)),
    "right_hip": ((-100, 25), (-30, 30), (-40, 10)),
    "right_knee": ((0, 120), (0, 0), (0, 0)),
    "right_ankle": ((-20, 25), (-10, 10), (-10, 10)),
}

# DensePose parts grouped by what covers them, for clothing colours.
_SKIN_PARTS = (3, 4, 23, 24)
_UPPER_PARTS = (1, 2, 15, 16, 17, 18, 19, 20, 21, 22)
_LOWER_PARTS = (7, 8, 9, 10, 11, 12, 13, 14)
_FOOT_PARTS = (5, 6)
# Bones whose girth varies together: torso, arms, legs.
_GIRTH_GROUPS = {
    "torso": ("pelvis", "spine1", "spine2", "spine3", "neck", "left_clavicle", "right_clavicle"),
    "arms": ("left_shoulder", "left_elbow", "right_shoulder", "right_elbow"),
    "legs": ("left_hip", "left_knee", "right_hip", "right_knee"),
}


@dataclass(frozen=True)
class SynthConfig:
    """What the generator draws. Saved in every dataset it writes (``meta.json``)."""

    height: int = 384
    width: int = 288
    # DensePose-style points per sample (padded with dp_mask = 0 when fewer body pixels show).
    num_points: int = 96
    # Fraction of samples framed like a selfie: camera within arm's length, legs cut off.
    selfie_fraction: float = 0.25
    # Chance of each of up to `max_occluders` random shapes drawn in front of the body.
    occluder_prob: float = 0.35
    max_occluders: int = 2
    # Poses are drawn as `limit * u` with u uniform in [0, 1] times a per-sample intensity in
    # [pose_min_intensity, 1], so the data covers near-rest and extreme poses alike.
    pose_min_intensity: float = 0.2
    # Body orientation: yaw uniform in +-yaw_range (180 = all directions), pitch and roll small.
    yaw_range: float = 180.0
    tilt_range: float = 12.0
    # Body shape: overall scale and per-group girth (torso, arms, legs), both relative.
    scale_range: tuple[float, float] = (0.88, 1.10)
    girth_std: float = 0.12
    # Framing of full-body crops: the body's box fills this fraction of the crop's limiting side.
    fill_range: tuple[float, float] = (0.7, 1.0)
    # Gaussian pixel noise, standard deviation in 0..255 units drawn from this range.
    noise_range: tuple[float, float] = (0.0, 6.0)
    with_hires: bool = False
    # "flat": the original look (colour fields, flat shapes, one light), kept bit for bit: the
    # shipped meshpose_xs was trained on it and tests read it. "photo": clothes, hair, real photo
    # backgrounds, lights and camera effects (synth_photo.py, docs/training.md "Photo-like bodies").
    appearance: str = "flat"
    # "photo" only (the flat look keeps its two framings): of the samples that are not selfies,
    # these fractions are framed on the upper body from 1-2.5 m (video calls, AR) and zoomed
    # 1.2-1.8x onto a random joint so the crop's edges cut the body.
    upper_body_fraction: float = 0.2
    cut_fraction: float = 0.2
    # "photo" only: chance that part of the crop lies beyond the photo's edge and reads the crop
    # contract's border value (0), as an app's crop of a person cut by its camera frame does
    # (synth_photo.photo_edge_band). Those pixels show no body: no mask, parts or DensePose points.
    # Drawn from a generator of its own, so 0 leaves every sample bit for bit as before.
    photo_edge_prob: float = 0.0
    # Chance that an arm hangs by the body's side (upper arm 2-15 degrees out from straight down,
    # swung -25..+15 degrees, elbow bent 0-75 degrees), each arm on its own; the phone arm of a
    # selfie keeps its pose. The joint limits above centre on the rest pose, an A-pose with the
    # upper arm ~42 degrees out, so uniform draws put under 1 % of arms within 20 degrees of hanging
    # (docs/training.md, "Arms by the sides"), the most common arm pose of a person standing for a
    # photo. Drawn from a generator of its own, so 0 leaves every sample bit for bit as before.
    arms_down_prob: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"synth config: {name}={getattr(self, name)!r} {why}")

        for name in ("height", "width", "num_points"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise bad(name, "must be a positive integer")
        if self.height < 16 or self.width < 16:
            raise ConfigError(f"synth config: image {self.height}x{self.width} is too small; use at least 16x16")
        if self.num_points > self.height * self.width:
            raise bad(
                "num_points",
                f"is more than the {self.height * self.width} pixels of a {self.height}x{self.width} image",
            )
        if max(self.height, self.width) > MAX_SIDE:
            raise ConfigError(
                f"synth config: image {self.height}x{self.width} is larger than {MAX_SIDE} px a side (the "
                f"models take at most 384x288 crops); pass a smaller --height/--width"
            )
        if not isinstance(self.max_occluders, int) or self.max_occluders < 0:
            raise bad("max_occluders", "must be an integer >= 0")
        if self.appearance not in APPEARANCES:
            raise bad("appearance", f"is not one of {', '.join(map(repr, APPEARANCES))}")
        for name in (
            "selfie_fraction",
            "occluder_prob",
            "pose_min_intensity",
            "upper_body_fraction",
            "cut_fraction",
            "photo_edge_prob",
            "arms_down_prob",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise bad(name, "must be a number in [0, 1]")
        for name in ("yaw_range", "tilt_range", "girth_std"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise bad(name, "must be a finite number >= 0")
        for name in ("scale_range", "fill_range", "noise_range"):
            value = getattr(self, name)
            if (
                not isinstance(value, tuple | list)
                or len(value) != 2
                or not all(isinstance(v, int | float) and math.isfinite(v) for v in value)
                or value[0] > value[1]
                or value[0] < 0
            ):
                raise bad(name, "must be a pair (low, high) with 0 <= low <= high")
        if self.upper_body_fraction + self.cut_fraction > 1.0:
            raise ConfigError(
                f"synth config: upper_body_fraction + cut_fraction = {self.upper_body_fraction + self.cut_fraction:g} "
                "is more than 1; lower one of them"
            )
        if self.photo_edge_prob > 0 and self.appearance != "photo":
            raise ConfigError(
                f"synth config: photo_edge_prob={self.photo_edge_prob:g} needs appearance='photo' (the flat look "
                "is kept as it was); set appearance='photo' or photo_edge_prob=0"
            )
        if self.scale_range[0] <= 0 or self.fill_range[0] <= 0:
            raise ConfigError("synth config: scale_range and fill_range must start above 0")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"synth config: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)


# ------------------------------------------------------------------------------------ geometry


def _rot_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(*a.shape, 3, 3)


def _rot_y(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(*a.shape, 3, 3)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(*a.shape, 3, 3)


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """(..., 3) radians about local x, y, z -> (..., 3, 3), applied x first: R = Rz Ry Rx."""
    return _rot_z(angles[..., 2]) @ _rot_y(angles[..., 1]) @ _rot_x(angles[..., 0])


def rasterize(
    points: np.ndarray, depth: np.ndarray, faces: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffer the triangles at pixel centres.

    points (K, 2) pixels (top-left centre at (0, 0)), depth (K,) larger = farther, faces (F, 3).
    Returns face index per pixel (H, W) int64, -1 where empty, and screen-space barycentrics
    (H, W, 3) float32. Every (face, pixel) pair of the faces' bounding boxes is tested at once;
    the nearest covering face wins. No back-face culling: the z-buffer alone decides, so the
    result does not depend on the faces' winding.
    """
    tri = points[faces].astype(np.float64)  # (F, 3, 2)
    x0, y0 = tri[:, 0, 0], tri[:, 0, 1]
    e1x, e1y = tri[:, 1, 0] - x0, tri[:, 1, 1] - y0
    e2x, e2y = tri[:, 2, 0] - x0, tri[:, 2, 1] - y0
    det = e1x * e2y - e1y * e2x
    xmin = np.clip(np.ceil(tri[..., 0].min(1)), 0, width)
    xmax = np.clip(np.floor(tri[..., 0].max(1)), -1, width - 1)
    ymin = np.clip(np.ceil(tri[..., 1].min(1)), 0, height)
    ymax = np.clip(np.floor(tri[..., 1].max(1)), -1, height - 1)
    bw = (xmax - xmin + 1).astype(np.int64)
    bh = (ymax - ymin + 1).astype(np.int64)
    ok = (bw > 0) & (bh > 0) & (np.abs(det) > 1e-12)
    face_ids = np.flatnonzero(ok)
    face_out = np.full((height, width), -1, dtype=np.int64)
    bary_out = np.zeros((height, width, 3), dtype=np.float32)
    if face_ids.size == 0:
        return face_out, bary_out
    counts = bw[face_ids] * bh[face_ids]
    f = np.repeat(face_ids, counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    offs = np.arange(f.size, dtype=np.int64) - start
    px = xmin[f].astype(np.int64) + offs % bw[f]
    py = ymin[f].astype(np.int64) + offs // bw[f]
    dx, dy = px - x0[f], py - y0[f]
    inv = 1.0 / det[f]
    b1 = (dx * e2y[f] - dy * e2x[f]) * inv
    b2 = (e1x[f] * dy - e1y[f] * dx) * inv
    b0 = 1.0 - b1 - b2
    eps = -1e-9
    inside = (b0 >= eps) & (b1 >= eps) & (b2 >= eps)
    f, px, py, b0, b1, b2 = f[inside], px[inside], py[inside], b0[inside], b1[inside], b2[inside]
    d = depth[faces[f]]
    z = b0 * d[:, 0] + b1 * d[:, 1] + b2 * d[:, 2]
    pix = py * width + px
    order = np.lexsort((z, pix))
    pix_sorted = pix[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = pix_sorted[1:] != pix_sorted[:-1]
    win = order[first]
    face_out.reshape(-1)[pix[win]] = f[win]
    bary_out.reshape(-1, 3)[pix[win]] = np.stack([b0[win], b1[win], b2[win]], -1)
    return face_out, bary_out


# ------------------------------------------------------------------------------------ generator


@dataclass(frozen=True)
class BodyRig:
    """What posing needs, precomputed once per topology."""

    template: np.ndarray  # (K, 3)
    faces: np.ndarray
    parents: np.ndarray
    joints: np.ndarray  # (J, 3)
    weights: np.ndarray  # (K, J)
    girth: np.ndarray  # (3, K, 3): per girth group, the vertex offset from its bones' axes
    face_part: np.ndarray  # (F,)
    face_uv_weight: np.ndarray  # (F, 3): 1 for corners in the face's part (their UVs share its chart)
    limits: np.ndarray  # (J, 3, 2) radians
    head: np.ndarray  # (K,) bool, vertices of the head parts (selfie framing)
    hires: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # template, weights, girth offsets

    @classmethod
    def from_topology(cls, topo: Topology) -> BodyRig:
        missing = [
            name
            for name in ("template", "faces", "parts", "uv", "joint_parents", "joint_positions", "skin_weights")
            if getattr(topo, name) is None
        ]
        if topo.coco_regressor is None:
            missing.append("coco_regressor")
        if missing:
            raise DataError(
                f"topology {topo.name!r} lacks {', '.join(missing)}; the synthetic generator needs a posable "
                "topology (use 'default')"
            )
        names = list(topo.joint_names)
        unknown = [n for n in names if n not in JOINT_LIMITS]
        if unknown:
            raise DataError(
                f"topology {topo.name!r} has joints without limits ({', '.join(unknown[:3])}); "
                "add them to synth.JOINT_LIMITS"
            )
        assert topo.template is not None and topo.faces is not None and topo.parts is not None
        assert topo.joint_parents is not None and topo.joint_positions is not None and topo.skin_weights is not None
        template = topo.template.astype(np.float64)
        joints = topo.joint_positions.astype(np.float64)
        weights = topo.skin_weights.astype(np.float64)
        parents = topo.joint_parents.astype(np.int64)
        girth = _girth_offsets(template, joints, parents, names, weights)
        part_of = topo.parts[topo.faces]
        face_part = topo.face_parts
        face_uv_weight = (part_of == face_part[:, None]).astype(np.float64)
        limits = np.deg2rad(np.array([JOINT_LIMITS[n] for n in names], dtype=np.float64))
        hires = None
        if topo.hires_vertices is not None and topo.hires_face_index is not None and topo.hires_bary is not None:
            corner = topo.faces[topo.hires_face_index]  # (N, 3)
            bary = topo.hires_bary.astype(np.float64)
            hw = np.einsum("nc,ncj->nj", bary, weights[corner])
            hv = topo.hires_vertices.astype(np.float64)
            hg = _girth_offsets(hv, joints, parents, names, hw)
            hires = (hv, hw, hg)
        head = np.isin(topo.parts, (23, 24))
        return cls(
            template, topo.faces, parents, joints, weights, girth, face_part, face_uv_weight, limits, head, hires
        )


def _girth_offsets(
    verts: np.ndarray, joints: np.ndarray, parents: np.ndarray, names: Sequence[str], weights: np.ndarray
) -> np.ndarray:
    """(3, K, 3): for each girth group, sum_j w_kj * (offset of vertex k from bone j's axis).

    Scaling these offsets thickens or thins a limb without moving its bones.
    """
    children: dict[int, list[int]] = {}
    for j, p in enumerate(parents.tolist()):
        if p >= 0:
            children.setdefault(p, []).append(j)
    out = np.zeros((len(_GIRTH_GROUPS), len(verts), 3))
    for g, members in enumerate(_GIRTH_GROUPS.values()):
        for name in members:
            if name not in names:
                continue
            j = names.index(name)
            kids = children.get(j, [])
            end = joints[kids].mean(0) if kids else joints[j] + (joints[j] - joints[parents[j]])
            axis = end - joints[j]
            axis = axis / max(np.linalg.norm(axis), 1e-9)
            rel = verts - joints[j]
            perp = rel - (rel @ axis)[:, None] * axis
            out[g] += weights[:, j : j + 1] * perp
    return out


def _pose(rig_joints: np.ndarray, parents: np.ndarray, rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward kinematics. Returns skinning transforms (J, 3, 4) and posed joint centres (J, 3)."""
    num = len(parents)
    g_rot = np.zeros((num, 3, 3))
    g_pos = np.zeros((num, 3))
    for j in range(num):
        p = parents[j]
        if p < 0:
            g_rot[j] = rotations[j]
            g_pos[j] = rig_joints[j]
        else:
            g_rot[j] = g_rot[p] @ rotations[j]
            g_pos[j] = g_pos[p] + g_rot[p] @ (rig_joints[j] - rig_joints[p])
    trans = g_pos - np.einsum("jab,jb->ja", g_rot, rig_joints)
    return np.concatenate([g_rot, trans[..., None]], axis=2), g_pos


def _skin(verts: np.ndarray, weights: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    blended = (weights @ transforms.reshape(len(transforms), 12)).reshape(-1, 3, 4)
    return np.einsum("kab,kb->ka", blended[:, :, :3], verts) + blended[:, :, 3]


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a coarse random grid, bilinearly upsampled."""
    gh, gw = cells + 1, max(2, round(cells * width / height)) + 1
    grid = rng.random((gh, gw))
    ys = np.linspace(0, gh - 1, height)
    xs = np.linspace(0, gw - 1, width)
    y0 = np.minimum(ys.astype(np.int64), gh - 2)
    x0 = np.minimum(xs.astype(np.int64), gw - 2)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    a = grid[y0][:, x0]
    b = grid[y0][:, x0 + 1]
    c = grid[y0 + 1][:, x0]
    d = grid[y0 + 1][:, x0 + 1]
    return a * (1 - fy) * (1 - fx) + b * (1 - fy) * fx + c * fy * (1 - fx) + d * fy * fx


def _shape_mask(rng: np.random.Generator, height: int, width: int, cx: float, cy: float, size: float) -> np.ndarray:
    """A random ellipse or rotated rectangle centred near (cx, cy) with radius about `size`."""
    yy, xx = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    u = (xx - cx) * c + (yy - cy) * s
    v = -(xx - cx) * s + (yy - cy) * c
    a = size * rng.uniform(0.5, 1.5)
    b = size * rng.uniform(0.2, 1.0)
    if rng.random() < 0.5:
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    return (np.abs(u) <= a) & (np.abs(v) <= b)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(20, 235, size=3)


class SyntheticBodies:
    """``gen[i]`` is sample ``i`` of the stream ``seed``: a dict of numpy arrays (see `sample`)."""

    def __init__(self, config: SynthConfig | None = None, seed: int = 0, topology: Topology | None = None) -> None:
        self.config = config or SynthConfig()
        self.seed = int(seed)
        self.topology = topology or default_topology()
        if self.config.with_hires and self.topology.hires_vertices is None:
            raise DataError(
                f"synth config asks for hires vertices but topology {self.topology.name!r} has none; "
                "set with_hires=False or use 'default'"
            )

    @cached_property
    def rig(self) -> BodyRig:
        return BodyRig.from_topology(self.topology)

    @cached_property
    def photo_rig(self) -> synth_photo.PhotoRig:
        topo = self.topology
        assert topo.parts is not None
        return synth_photo.PhotoRig.build(self.rig.template, topo.parts, list(topo.joint_names), self.rig.joints)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        return self.sample(index)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        i = 0
        while True:
            yield self.sample(i)
            i += 1

    # ---------------------------------------------------------------- one sample

    def sample(self, index: int) -> dict[str, np.ndarray]:
        """Sample ``index``. Keys (K vertices, N = num_points, H x W crop):

        image (H, W, 3) uint8 RGB; mask (H, W) uint8 visible body; part (H, W) uint8 0 = background;
        uv (H, W, 2) float16; dp_pixels (N, 2), dp_part (N,), dp_uv (N, 2), dp_face (N,),
        dp_bary (N, 3), dp_mask (N,); vertices (K, 3) crop pixels + depth; joints_2d (17, 2),
        joints_2d_mask (17,) in the crop; joints_3d (17, 3); pixels_per_metre (); selfie ();
        hires_vertices (N_hi, 3) when ``with_hires``; with ``appearance="photo"`` also background ()
        (index into `synth_photo.BACKGROUND_PHOTOS`), framing () (index into `FRAMINGS`) and
        picture_box (4,) x0, y0, x1, y1: the crop-pixel rectangle that shows the photo (pixel edges;
        the whole crop unless `photo_edge_prob` drew a band beyond the photo's edge) and person (H, W)
        uint8: the clothed person's visible pixels (clothes and hair included; no loss reads it).
        """
        cfg, rig, topo = self.config, self.rig, self.topology
        rng = np.random.default_rng([self.seed, int(index)])
        height, width = cfg.height, cfg.width
        selfie = bool(rng.random() < cfg.selfie_fraction)
        photo = cfg.appearance == "photo"
        framing = "selfie" if selfie else "full"
        if photo and not selfie:  # the flat look draws nothing here, so its samples are unchanged
            u = rng.random() - cfg.upper_body_fraction
            framing = "upper" if u < 0 else "cut" if u < cfg.cut_fraction else "full"

        # Shape: girth per group, then a global scale about the pelvis.
        girth = np.clip(rng.normal(0.0, cfg.girth_std, size=3), -2.5 * cfg.girth_std, 2.5 * cfg.girth_std)
        verts = rig.template + np.einsum("g,gkc->kc", girth, rig.girth)

        # Pose: each joint's angles within its limits, scaled by one intensity per sample.
        intensity = rng.uniform(cfg.pose_min_intensity, 1.0)
        lo, hi = rig.limits[..., 0], rig.limits[..., 1]
        centre = np.clip(0.0, lo, hi)
        angles = centre + (rng.uniform(lo, hi) - centre) * intensity
        phone = None
        if selfie:
            # One arm holds the phone: raise the upper arm forward and bend the elbow.
            names = list(topo.joint_names)
            phone = side = "left" if rng.random() < 0.5 else "right"
            if f"{side}_shoulder" in names:
                angles[names.index(f"{side}_shoulder"), 0] = np.deg2rad(rng.uniform(-100, -60))
            if f"{side}_elbow" in names:
                angles[names.index(f"{side}_elbow"), 0] = np.deg2rad(rng.uniform(-80, -20))
        if cfg.arms_down_prob > 0:
            self._arms_down(angles, np.random.default_rng([self.seed, int(index), 2]), phone)
        rotations = euler_to_matrix(angles)
        transforms, _ = _pose(rig.joints, rig.parents, rotations)
        posed = _skin(verts, rig.weights, transforms)

        # Body orientation and scale in the world.
        scale = rng.uniform(*cfg.scale_range)
        yaw = np.deg2rad(rng.uniform(-cfg.yaw_range, cfg.yaw_range))
        if selfie:
            yaw = np.deg2rad(rng.uniform(-35, 35))
        elif framing == "upper":  # people face a call or an AR camera more often than not
            yaw = np.deg2rad(rng.uniform(-70, 70))
        tilt = np.deg2rad(rng.uniform(-cfg.tilt_range, cfg.tilt_range, size=2))
        world = euler_to_matrix(np.array([tilt[0], yaw, tilt[1]])) * scale
        posed_w = posed @ world.T

        # Camera: looks along -z of the world, so Z_cam = distance - z_world; image y points down.
        if selfie:
            distance = rng.uniform(0.55, 1.0)
            aim = np.array([0.0, 0.42 * scale, 0.0]) @ world.T
        else:
            distance = rng.uniform(2.2, 6.0)
            aim = np.array([0.0, rng.uniform(-0.1, 0.3) * scale, 0.0]) @ world.T
            if framing == "upper":
                distance = rng.uniform(1.0, 2.5)
        # A limb swung towards a close camera must stay in front of it: step the camera back instead.
        distance = max(distance, float((posed_w[:, 2] - aim[2]).max()) + _NEAREST)

        def camera(points_w: np.ndarray) -> np.ndarray:
            return np.stack(
                [points_w[:, 0] - aim[0], -(points_w[:, 1] - aim[1]), distance - (points_w[:, 2] - aim[2])], -1
            )

        cam = camera(posed_w)
        norm = cam[:, :2] / cam[:, 2:3]

        # COCO joints in 3D (regressed from the posed mesh), projected like the vertices below.
        assert topo.coco_regressor is not None
        joints_cam = topo.coco_regressor.astype(np.float64) @ cam
        j_norm = joints_cam[:, :2] / joints_cam[:, 2:3]

        # Crop: an affine of the normalised image plane (focal length and principal point).
        if framing in ("selfie", "upper"):
            # Framed on the head and upper torso whatever the arms do: from just above the head to
            # somewhere between the chest and below the hips, so the legs are always cut off.
            top = norm[rig.head, 1].min()
            shoulders = j_norm[[5, 6], 1].mean()
            hips = j_norm[[11, 12], 1].mean()
            torso = max(abs(hips - shoulders), shoulders - top, 1e-6)
            bottom = shoulders + rng.uniform(0.3, 1.3) * torso
            if framing == "upper":  # chest to mid-thigh: more of the body inside the decodable range
                bottom += 0.3 * torso
            top -= rng.uniform(0.02, 0.15) * (bottom - top)
            focal = height / (bottom - top)
            centre_x = np.concatenate([norm[rig.head, 0], j_norm[[5, 6], 0]]).mean()
            cx = width / 2 - focal * centre_x + rng.uniform(-0.08, 0.08) * width
            cy = -focal * top
        else:
            lo2, hi2 = norm.min(0), norm.max(0)
            size = np.maximum(hi2 - lo2, 1e-6)
            focal = min(width / size[0], height / size[1]) * rng.uniform(*cfg.fill_range)
            mid = (lo2 + hi2) / 2
            cx = width / 2 - focal * mid[0] + rng.uniform(-0.1, 0.1) * width
            cy = height / 2 - focal * mid[1] + rng.uniform(-0.1, 0.1) * height
            if framing == "cut":
                # Zoom onto a random joint placed anywhere in the middle of the crop, then shift so
                # the body stays inside the decodable range (registry.project_ranges: x within
                # -0.5..1.5 widths, y within -0.5..2.5 heights).
                focal *= rng.uniform(1.2, 1.8)
                k = int(rng.integers(len(j_norm)))
                cx = rng.uniform(0.2, 0.8) * width - focal * j_norm[k, 0]
                cy = rng.uniform(0.2, 0.8) * height - focal * j_norm[k, 1]
                lo_px, hi_px = focal * lo2 + (cx, cy), focal * hi2 + (cx, cy)
                cx += max(0.0, -0.45 * width - lo_px[0]) - max(0.0, hi_px[0] - 1.45 * width)
                cy += max(0.0, -0.45 * height - lo_px[1]) - max(0.0, hi_px[1] - 2.45 * height)
        z_ref = float(cam[:, 2].mean())
        ppm = focal / z_ref

        def label(points_cam: np.ndarray) -> np.ndarray:
            """Camera space -> crop pixels (-0.5: pixel centres at integers) + depth in pixels."""
            pix = focal * (points_cam[:, :2] / points_cam[:, 2:3]) + np.array([cx, cy]) - 0.5
            return np.concatenate([pix, ((points_cam[:, 2] - z_ref) * ppm)[:, None]], -1)

        vertices = label(cam)
        pix = vertices[:, :2]

        # Joint labels are the regressor applied to the labelled vertices, the same definition the
        # joint losses and metrics apply to predictions (regressing in camera space and projecting
        # would differ from it by the perspective, ~2 mm, and floor every metric there).
        joints_3d = topo.coco_regressor.astype(np.float64) @ vertices
        j_pix = joints_3d[:, :2]
        j_in = (
            (j_pix[:, 0] >= -0.5) & (j_pix[:, 0] < width - 0.5) & (j_pix[:, 1] >= -0.5) & (j_pix[:, 1] < height - 0.5)
        )

        face_map, bary = rasterize(pix, cam[:, 2], rig.faces, height, width)
        body = face_map >= 0

        # Part and UV of every body pixel, occluded or not: the picture's pattern uses them too.
        fidx = np.where(body, face_map, 0)
        part_map = rig.face_part[fidx]
        assert topo.uv is not None
        if topo.chart_uv is not None:
            # DensePose's atlas: each face's corners have their (U, V) in the face's own chart.
            face_uv = topo.chart_uv[: len(rig.faces)].astype(np.float64)[fidx]
            uv_map = np.einsum("hwc,hwcd->hwd", bary.astype(np.float64), face_uv)
        else:
            uvw = bary.astype(np.float64) * rig.face_uv_weight[fidx]
            uvw /= np.maximum(uvw.sum(-1, keepdims=True), 1e-12)
            uv_map = np.einsum("hwc,hwcd->hwd", uvw, topo.uv.astype(np.float64)[rig.faces[fidx]])

        extra: dict[str, np.ndarray] = {}
        if photo:
            image, occluded, crop, clothed = self._paint_photo(rng, posed_w, camera, label, body)
            edge_rng = np.random.default_rng([self.seed, int(index), 1])
            picture_box = np.array([-0.5, -0.5, width - 0.5, height - 0.5], np.float32)
            if edge_rng.random() < cfg.photo_edge_prob:
                edge = synth_photo.photo_edge_band(edge_rng, height, width)
                image[edge] = 0
                occluded = occluded | edge
                picture_box = synth_photo.picture_box(edge)
            extra = {
                # The clothed person as a photo's person segmentation sees it (clothes, hair; the
                # same occluders and edge cut it). No loss reads it by default: every training
                # label is the body under the clothes; benchmarks measure against it.
                "person": (clothed & ~occluded).astype(np.uint8),
                "background": np.int16(crop.photo),
                "framing": np.uint8(FRAMINGS.index(framing)),
                "picture_box": picture_box,
            }
        else:
            image, occluded = self._paint(rng, fidx, bary, part_map, uv_map, posed_w, body)
        mask = body & ~occluded
        part = np.where(mask, part_map, 0).astype(np.uint8)
        uv = np.where(mask[..., None], uv_map, 0.0).astype(np.float16)

        # Sparse DensePose-style points: a random subset of the visible body pixels.
        n = cfg.num_points
        ys, xs = np.nonzero(mask)
        take = rng.choice(ys.size, size=min(n, ys.size), replace=False) if ys.size else np.zeros(0, np.int64)
        m = take.size
        dp_pixels = np.zeros((n, 2), np.float32)
        dp_part = np.zeros(n, np.int64)
        dp_uv = np.zeros((n, 2), np.float32)
        dp_face = np.zeros(n, np.int64)
        dp_bary = np.zeros((n, 3), np.float32)
        dp_bary[:, 0] = 1.0
        dp_mask = np.zeros(n, np.float32)
        if m:
            py, px = ys[take], xs[take]
            dp_pixels[:m] = np.stack([px, py], -1)
            dp_part[:m] = part[py, px]
            dp_uv[:m] = uv[py, px]
            dp_face[:m] = face_map[py, px]
            dp_bary[:m] = bary[py, px]
            dp_mask[:m] = 1.0

        out: dict[str, np.ndarray] = {
            "image": image,
            "mask": mask.astype(np.uint8),
            "part": part,
            "uv": uv,
            "dp_pixels": dp_pixels,
            "dp_part": dp_part,
            "dp_uv": dp_uv,
            "dp_face": dp_face,
            "dp_bary": dp_bary,
            "dp_mask": dp_mask,
            "vertices": vertices.astype(np.float32),
            "joints_2d": j_pix.astype(np.float32),
            "joints_2d_mask": j_in.astype(np.float32),
            "joints_3d": joints_3d.astype(np.float32),
            "pixels_per_metre": np.float32(ppm),
            "selfie": np.bool_(selfie),
            **extra,
        }
        if cfg.with_hires:
            assert rig.hires is not None
            hv, hw, hg = rig.hires
            h_posed = _skin(hv + np.einsum("g,gkc->kc", girth, hg), hw, transforms) @ world.T
            h_cam = camera(h_posed)
            h_cam[:, 2] = np.maximum(h_cam[:, 2], 0.5 * _NEAREST)
            out["hires_vertices"] = label(h_cam).astype(np.float32)
        return out

    def _arms_down(self, angles: np.ndarray, rng: np.random.Generator, phone: str | None) -> None:
        """Hang each arm (but the phone's) by the body's side with chance `arms_down_prob`, in place.

        The shoulder's z angle that turns the rest upper arm straight down comes from the rig's own
        rest joints, so any topology's A- or T-pose works. Every draw happens whether or not an arm
        hangs, so one arm's draw never shifts the other's."""
        names = list(self.topology.joint_names)
        joints = self.rig.joints
        for side, sign in (("left", 1.0), ("right", -1.0)):
            hang, swing, out, bend = rng.random(), rng.uniform(-25, 15), rng.uniform(2, 15), rng.uniform(-75, 0)
            shoulder, elbow = f"{side}_shoulder", f"{side}_elbow"
            if side == phone or hang >= self.config.arms_down_prob or shoulder not in names or elbow not in names:
                continue
            s, e = names.index(shoulder), names.index(elbow)
            arm = joints[e] - joints[s]
            rest = np.degrees(np.arctan2(abs(arm[0]), -arm[1]))  # out from straight down, in the x-y plane
            angles[s, 0] = np.deg2rad(swing)
            angles[s, 2] = np.deg2rad(sign * (out - rest))
            angles[e, 0] = np.deg2rad(bend)

    def _paint(
        self,
        rng: np.random.Generator,
        fidx: np.ndarray,
        bary: np.ndarray,
        face_part: np.ndarray,
        uv: np.ndarray,
        posed_w: np.ndarray,
        body: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """RGB image and the occluder mask. fidx, face_part, uv: per pixel, valid where `body`."""
        cfg, rig = self.config, self.rig
        height, width = cfg.height, cfg.width

        # Background: two colours blended by smooth noise, plus a few flat shapes.
        c0, c1 = _random_colour(rng), _random_colour(rng)
        t = _smooth_noise(rng, height, width, int(rng.integers(2, 7)))[..., None]
        image = c0 * (1 - t) + c1 * t
        for _ in range(int(rng.integers(0, 4))):
            shape = _shape_mask(
                rng, height, width, rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.05, 0.3) * width
            )
            image[shape] = _random_colour(rng)

        # Body: a colour per clothing group, a UV pattern, Lambert shading from smooth normals.
        if body.any():
            colours = np.zeros((NUM_PARTS + 1, 3))
            skin = np.array([rng.uniform(60, 240), 0, 0])
            skin[1] = skin[0] * rng.uniform(0.62, 0.85)
            skin[2] = skin[1] * rng.uniform(0.65, 0.9)
            groups = ((_SKIN_PARTS, skin), (_UPPER_PARTS, _random_colour(rng)), (_LOWER_PARTS, _random_colour(rng)))
            for parts, colour in (*groups, (_FOOT_PARTS, _random_colour(rng))):
                colours[list(parts)] = colour
            if rng.random() < 0.5:  # short sleeves
                colours[[19, 20, 21, 22]] = skin
            base = colours[face_part]
            freq = rng.uniform(3, 12)
            pattern = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (uv[..., 0] if rng.random() < 0.5 else uv[..., 1]))
            clothed = ~np.isin(face_part, _SKIN_PARTS)
            base = base * (1 - 0.3 * rng.random() * (pattern * clothed)[..., None])
            normals = _vertex_normals(posed_w, rig.faces)
            n = np.einsum("hwc,hwcd->hwd", bary.astype(np.float64), normals[rig.faces[fidx]])
            n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
            light = rng.normal(size=3)
            light[2] = abs(light[2]) + 0.5  # from the camera's side
            light /= np.linalg.norm(light)
            shade = rng.uniform(0.25, 0.5) + rng.uniform(0.5, 0.8) * np.clip(n @ light, 0, 1)
            body_rgb = base * shade[..., None]
            image = np.where(body[..., None], body_rgb, image)

        # Occluders in front of the body, near it so they actually cover some of it.
        occluded = np.zeros((height, width), dtype=bool)
        if body.any():
            ys, xs = np.nonzero(body)
            for _ in range(cfg.max_occluders):
                if rng.random() >= cfg.occluder_prob:
                    continue
                k = int(rng.integers(ys.size))
                shape = _shape_mask(rng, height, width, xs[k], ys[k], rng.uniform(0.06, 0.22) * min(height, width))
                image[shape] = _random_colour(rng) * (0.8 + 0.4 * _smooth_noise(rng, height, width, 3)[shape, None])
                occluded |= shape

        gain = rng.uniform(0.7, 1.3)
        offset = rng.uniform(-20, 20)
        image = image * gain + offset + rng.normal(0.0, rng.uniform(*cfg.noise_range), size=image.shape)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8), occluded

    def _paint_photo(
        self,
        rng: np.random.Generator,
        posed_w: np.ndarray,
        camera: Callable[[np.ndarray], np.ndarray],
        label: Callable[[np.ndarray], np.ndarray],
        body: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, synth_photo.PhotoCrop, np.ndarray]:
        """The photo look: RGB image, the occluder mask, the background's source and the clothed
        surface's pixels.

        The clothed surface (the body moved out along its normals) is drawn with its own z-buffer;
        `body`, the naked body's pixels, only places the occluders, as in the flat look.
        """
        cfg, rig, look = self.config, self.rig, self.photo_rig
        height, width = cfg.height, cfg.width
        image, crop = synth_photo.background(rng, height, width)
        outfit = synth_photo.draw_outfit(rng, look)
        assert self.topology.parts is not None
        vertex_region = synth_photo.regions(rig.template, self.topology.parts, outfit, look)
        normals = _vertex_normals(posed_w, rig.faces)
        clothed = posed_w + synth_photo.vertex_offsets(vertex_region, rig.template, outfit, look)[:, None] * normals
        cam = camera(clothed)
        cam[:, 2] = np.maximum(cam[:, 2], 0.5 * _NEAREST)
        face_map, bary = rasterize(label(cam)[:, :2], cam[:, 2], rig.faces, height, width)
        cover = face_map >= 0
        idx = np.flatnonzero(cover)
        lights = synth_photo.draw_lights(rng, image.reshape(-1, 3).mean(0))
        if idx.size and rng.random() < 0.6:
            # A soft shadow on whatever is behind: the body stops floating in front of the photo.
            image *= 1 - rng.uniform(0.15, 0.45) * synth_photo.soft_shadow(rng, cover)[..., None]
        if idx.size:
            f = face_map.reshape(-1)[idx]
            b = bary.reshape(-1, 3)[idx].astype(np.float64)
            rest = np.einsum("nc,ncd->nd", b, rig.template[rig.faces[f]])
            region = synth_photo.regions(rest, rig.face_part[f], outfit, look)
            n = np.einsum("nc,ncd->nd", b, _vertex_normals(clothed, rig.faces)[rig.faces[f]])
            n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
            colour = synth_photo.albedo(rest, region, outfit, look) * synth_photo.shade(n, lights)
            image[idx // width, idx % width] = colour
            image = synth_photo.soften_edges(image, cover)

        # Occluders near the body, cut out of another photo and lit from one side.
        occluded = np.zeros((height, width), dtype=bool)
        if body.any():
            ys, xs = np.nonzero(body)
            for _ in range(cfg.max_occluders):
                if rng.random() >= cfg.occluder_prob:
                    continue
                k = int(rng.integers(ys.size))
                shape = _shape_mask(rng, height, width, xs[k], ys[k], rng.uniform(0.06, 0.22) * min(height, width))
                texture, _ = synth_photo.background(rng, height, width)
                ramp = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.2), width, dtype=np.float32)
                image[shape] = (texture * ramp[None, :, None])[shape]
                occluded |= shape

        effects = synth_photo.draw_effects(rng, height, width, cfg.noise_range)
        return synth_photo.apply_effects(image, effects, rng), occluded, crop, cover

    # ---------------------------------------------------------------- speed

    def throughput(self, count: int = 64) -> float:
        """Samples per second in this process (one core's worth)."""
        require_memory(self.config)
        self.sample(0)  # build the rig outside the timing
        start = time.perf_counter()
        for i in range(count):
            self.sample(i)
        return count / (time.perf_counter() - start)


def _vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    fn = np.cross(b - a, c - a)
    vn = np.zeros_like(verts)
    for i in range(3):
        np.add.at(vn, faces[:, i], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=-1, keepdims=True), 1e-12)


# ------------------------------------------------------------------------------------ on disk


def memory_needed(config: SynthConfig, samples_held: int = 1) -> int:
    """Bytes a generator needs at its peak: one sample being drawn plus `samples_held` finished
    ones (a shard is stacked from its list of samples: twice its size while `np.stack` runs)."""
    px, points = config.height * config.width, config.num_points
    # Per DensePose point: 48 bytes kept (pixel, part, uv, face, barycentrics, mask), about twice
    # that while drawn.
    if config.appearance == "photo":
        peak = px * SAMPLE_PEAK_BYTES_PER_PX_PHOTO + 100 * points + PHOTO_LIBRARY_BYTES
        kept = SAMPLE_KEPT_BYTES_PER_PX_PHOTO
    else:
        peak = px * SAMPLE_PEAK_BYTES_PER_PX + 100 * points
        kept = SAMPLE_KEPT_BYTES_PER_PX
    return int(peak + 2 * samples_held * (px * kept + 48 * points))


def require_memory(config: SynthConfig, samples_held: int = 1, what: str = "drawing one sample") -> None:
    """Refuse before allocating when this machine cannot hold the generator's peak."""
    need, free = memory_needed(config, samples_held), available_memory()
    if free is not None and need > free:
        raise ConfigError(
            f"{config.height}x{config.width} images need about {need / 1e9:.1f} GB of memory for {what} but "
            f"{free / 1e9:.1f} GB is available; pass a smaller --height/--width"
        )


def write_dataset(
    out: str | Path,
    count: int,
    config: SynthConfig,
    seed: int = 0,
    topology: Topology | None = None,
    shard_size: int = 256,
    progress: bool = False,
) -> Path:
    """Write samples 0..count-1 of stream `seed` as npz shards plus meta.json, atomically."""
    if count <= 0:
        raise ConfigError(f"dataset size must be positive, got {count}; pass --count N with N > 0")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder; pass a new folder path")
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out} exists and is not empty; choose a new --out folder or remove it")
    require_memory(config, min(count, shard_size), f"a shard of {min(count, shard_size)} samples")
    gen = SyntheticBodies(config, seed, topology)
    # The dataset is built beside --out and renamed into place, so --out's parent must be writable.
    prepare_out_dir(out.parent, "--out's parent folder")
    prefix = f".{out.name}.staging-"
    sweep_stale(out.parent, prefix)  # left by a run that was killed (SIGKILL) mid-write
    try:
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=prefix))
    except OSError as err:
        raise write_error(out.parent, err) from None
    try:
        shards = []
        bar = _progress(count, "synth", progress)
        for start in range(0, count, shard_size):
            samples = []
            for i in range(start, min(count, start + shard_size)):
                samples.append(gen.sample(i))
                bar.update(1)
            name = f"shard-{len(shards):05d}.npz"
            np.savez_compressed(staging / name, **{k: np.stack([s[k] for s in samples]) for k in samples[0]})
            shards.append({"file": name, "count": len(samples)})
        bar.close()
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "count": count,
            "seed": seed,
            "topology": gen.topology.name,
            "topology_hash": gen.topology.hash,
            "config": config.to_dict(),
            "shards": shards,
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=1))
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except OSError as err:
        if is_user_os_error(err):
            raise write_error(out, err) from None
        raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return out


class SynthDiskDataset:
    """A dataset written by `write_dataset`: ``ds[i]`` is the same dict the generator gave."""

    def __init__(self, path: str | Path, topology: Topology | None = None) -> None:
        path = Path(path)
        if not path.exists():
            raise DataError(f"dataset not found: {path}; write one with meshpose-synth --out {path} or fix the path")
        meta_path = path / "meta.json"
        if not meta_path.is_file():
            raise DataError(f"{path} has no meta.json, so it is not a meshpose-synth dataset; check the path")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DataError(f"{meta_path} is not valid JSON ({err}); rewrite the dataset") from None
        fix = "regenerate the dataset with meshpose-synth"
        if not isinstance(meta, dict):
            raise DataError(
                f"{meta_path} holds a JSON {type(meta).__name__}, not the object meshpose-synth writes; {fix}"
            )
        if meta.get("format") != FORMAT:
            raise DataError(f"{meta_path} is not a {FORMAT} dataset (format={meta.get('format')!r})")
        if topology is not None and meta.get("topology_hash") != topology.hash:
            raise DataError(
                f"dataset {path} was made for topology {meta.get('topology')!r}, not {topology.name!r}; "
                "regenerate it with this topology"
            )
        self.path = path
        self.meta = meta
        if not isinstance(meta.get("config"), dict):
            raise DataError(f"{meta_path} has no 'config' object (got {meta.get('config')!r}); {fix}")
        try:
            self.config = SynthConfig.from_dict(meta["config"])
        except (ConfigError, TypeError) as err:
            raise DataError(f"{meta_path} has an invalid config ({err}); {fix}") from None
        shards = meta.get("shards")
        if not isinstance(shards, list) or not shards:
            raise DataError(f"{meta_path} lists no shards (shards={shards!r}); {fix}")
        self._index: list[tuple[str, int]] = []
        for shard in shards:
            file = shard.get("file") if isinstance(shard, dict) else None
            count = shard.get("count") if isinstance(shard, dict) else None
            if not isinstance(file, str) or Path(file).name != file or file in ("", ".", ".."):
                raise DataError(f"{meta_path} has a shard entry without a plain file name ({shard!r}); {fix}")
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise DataError(f"{meta_path}: shard {file} has count={count!r}, not a positive integer; {fix}")
            _check_shard(path / file, path, fix)
            self._index += [(file, i) for i in range(count)]
        self._cache: tuple[str, dict[str, np.ndarray]] | None = None

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        file, row = self._index[index]
        if self._cache is None or self._cache[0] != file:
            try:
                with np.load(self.path / file) as data:
                    self._cache = (file, {k: data[k] for k in data.files})
            except Exception as err:  # zipfile, zlib, pickle and OS errors alike on a damaged shard
                why = " ".join(str(err).split())[:100] or type(err).__name__
                raise DataError(
                    f"dataset shard {self.path / file} is truncated or damaged ({why}); regenerate the dataset with "
                    "meshpose-synth"
                ) from None
        try:
            return {k: v[row] for k, v in self._cache[1].items()}
        except IndexError:
            raise DataError(
                f"dataset shard {self.path / file} holds fewer samples than its meta.json says; regenerate the dataset"
            ) from None


def _check_shard(file: Path, dataset: Path, fix: str) -> None:
    """Present and a whole .npz: a zip's directory sits at its end, so reading it (a few kB, not
    the data) finds a truncated file before any run files are written; damage inside the data
    is found when the shard is read (`SynthDiskDataset.__getitem__`)."""
    import zipfile

    if not file.is_file():
        raise DataError(f"dataset {dataset} is missing {file.name}; {fix}")
    try:
        with zipfile.ZipFile(file) as zf:
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        why = " ".join(str(err).split())[:100] or type(err).__name__
        raise DataError(f"dataset shard {file} is truncated or damaged ({why}); {fix}") from None
    if "image.npy" not in names:
        raise DataError(f"dataset shard {file} holds no images (arrays: {', '.join(names)[:100]}); {fix}")


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, unit="img", dynamic_ncols=True)
