"""Synthetic scenes and video sequences with ground truth, from the body generator's rig.

A scene is a few bodies in one camera view: each has its own shape, clothing and a smooth motion
(pose blended between two poses within the joint limits, a walk across the floor, a slow turn);
the camera pans sideways. People can start outside the view and walk in, or walk out. Frame `i`
is a pure function of ``(config, seed, i)``, so a sequence never needs storing to be compared.

Ground truth per person and frame: vertices in image pixels (x, y, and z in the same pixel units
as the training labels: (Z - Z_ref) * f / Z_ref), which vertices are visible (a corner of a face
that wins a pixel of the frame), and the visible-person box (COCO xywh of the person's pixels),
None when nobody's pixel shows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import numpy as np

from meshpose_mobile.errors import ConfigError
from meshpose_mobile.synth import (
    _FOOT_PARTS,
    _LOWER_PARTS,
    _SKIN_PARTS,
    _UPPER_PARTS,
    NUM_PARTS,
    BodyRig,
    _pose,
    _random_colour,
    _skin,
    _smooth_noise,
    _vertex_normals,
    euler_to_matrix,
    rasterize,
)
from meshpose_mobile.topology import Topology, default_topology


@dataclass(frozen=True)
class SceneConfig:
    width: int = 640
    height: int = 480
    fps: float = 30.0
    num_frames: int = 60
    num_people: int = 2
    # People walk at most this fast (metres per second); with `enter_leave` some start outside the
    # view and walk in, others walk out, within the sequence.
    max_speed: float = 0.8
    enter_leave: bool = False
    # Camera: sideways pan amplitude (metres) and its frequency (Hz); 0 = fixed camera.
    camera_pan: float = 0.3
    camera_pan_hz: float = 0.25
    # Pose blend frequency range (Hz) and how far into the joint limits the two poses reach.
    pose_hz: tuple[float, float] = (0.3, 0.8)
    pose_intensity: float = 0.5
    distance_range: tuple[float, float] = (3.0, 6.0)  # metres from the camera
    focal: float = 0.9  # focal length in units of the image width
    pixel_noise: float = 2.0  # standard deviation of the sensor noise, 0..255 units

    def __post_init__(self) -> None:
        if self.width < 32 or self.height < 32:
            raise ConfigError(f"scene: frame {self.width}x{self.height} is too small; use at least 32x32")
        if self.num_frames < 1 or self.num_people < 0:
            raise ConfigError("scene: num_frames must be >= 1 and num_people >= 0")
        if not (self.fps > 0 and self.focal > 0 and self.distance_range[0] > 0.5):
            raise ConfigError("scene: fps and focal must be positive; people must stand more than 0.5 m away")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True, eq=False)
class _Person:
    girth: np.ndarray
    scale: float
    pose_a: np.ndarray
    pose_b: np.ndarray
    pose_hz: float
    phase: float
    yaw0: float
    yaw_rate: float  # rad/s
    x0: float  # metres, world x at t = 0
    vx: float  # metres per second
    depth: float  # metres from the camera
    colours: np.ndarray  # (NUM_PARTS + 1, 3)


class SyntheticScene:
    """``scene.frame(i)`` -> {"image": (H, W, 3) uint8, "people": [{"id", "vertices", "visible", "box"}]}."""

    def __init__(self, config: SceneConfig | None = None, seed: int = 0, topology: Topology | None = None) -> None:
        self.config = config or SceneConfig()
        self.seed = int(seed)
        self.topology = topology or default_topology()

    @cached_property
    def rig(self) -> BodyRig:
        return BodyRig.from_topology(self.topology)

    @property
    def focal_px(self) -> float:
        return self.config.focal * self.config.width

    @cached_property
    def people(self) -> list[_Person]:
        cfg, rig = self.config, self.rig
        rng = np.random.default_rng([self.seed, 7])
        out = []
        duration = cfg.num_frames / cfg.fps
        for p in range(cfg.num_people):
            depth = rng.uniform(*cfg.distance_range)
            half_view = 0.5 * cfg.width / self.focal_px * depth  # half the visible width at that depth, metres
            lo, hi = rig.limits[..., 0], rig.limits[..., 1]
            centre = np.clip(0.0, lo, hi)
            poses = [centre + (rng.uniform(lo, hi) - centre) * cfg.pose_intensity for _ in range(2)]
            # Arms hang down from the rig's T-pose, whatever the blend does on top.
            for name, sign in (("left_shoulder", -1.0), ("right_shoulder", 1.0)):
                if name in self.topology.joint_names:
                    j = list(self.topology.joint_names).index(name)
                    for pose in poses:
                        pose[j, 2] = sign * np.deg2rad(rng.uniform(55, 75))
            if cfg.enter_leave and p % 2 == 1:
                # Walks in from one side, or out of it, over the sequence.
                side = 1.0 if rng.random() < 0.5 else -1.0
                entering = p % 4 == 1
                x_out = side * (half_view + 0.8)
                x_in = side * rng.uniform(0.0, 0.4) * half_view
                x0, x1 = (x_out, x_in) if entering else (x_in, x_out)
                vx = (x1 - x0) / duration
            else:
                slot = (p + 0.5) / max(cfg.num_people, 1) * 2.0 - 1.0
                x0 = slot * 0.8 * half_view + rng.uniform(-0.05, 0.05) * half_view
                vx = rng.uniform(-cfg.max_speed, cfg.max_speed) * 0.5
            colours = np.zeros((NUM_PARTS + 1, 3))
            skin = np.array([rng.uniform(60, 240), 0, 0])
            skin[1] = skin[0] * rng.uniform(0.62, 0.85)
            skin[2] = skin[1] * rng.uniform(0.65, 0.9)
            for parts, colour in (
                (_SKIN_PARTS, skin),
                (_UPPER_PARTS, _random_colour(rng)),
                (_LOWER_PARTS, _random_colour(rng)),
                (_FOOT_PARTS, _random_colour(rng)),
            ):
                colours[list(parts)] = colour
            out.append(
                _Person(
                    girth=np.clip(rng.normal(0.0, 0.1, size=3), -0.25, 0.25),
                    scale=float(rng.uniform(0.9, 1.08)),
                    pose_a=poses[0],
                    pose_b=poses[1],
                    pose_hz=float(rng.uniform(*cfg.pose_hz)),
                    phase=float(rng.uniform(0, 2 * math.pi)),
                    yaw0=float(rng.uniform(-0.6, 0.6)),
                    yaw_rate=float(rng.uniform(-0.3, 0.3)),
                    x0=float(x0),
                    vx=float(vx),
                    depth=float(depth),
                    colours=colours,
                )
            )
        return out

    @cached_property
    def background(self) -> np.ndarray:
        """A panorama wider than the frame; the camera pan slides it (parallax of a far wall)."""
        cfg = self.config
        rng = np.random.default_rng([self.seed, 11])
        extra = math.ceil(self._wall_shift(cfg.camera_pan)) * 2 + 2
        w = cfg.width + extra
        c0, c1 = _random_colour(rng), _random_colour(rng)
        t = _smooth_noise(rng, cfg.height, w, 4)[..., None]
        floor = np.linspace(0.0, 1.0, cfg.height)[:, None, None] > 0.62
        img = c0 * (1 - t) + c1 * t
        return np.where(floor, img * 0.7 + 20, img)

    def _wall_shift(self, cam_x: float) -> float:
        return self.focal_px * cam_x / 12.0  # the wall stands 12 m away

    def camera_x(self, t: float) -> float:
        cfg = self.config
        return cfg.camera_pan * math.sin(2 * math.pi * cfg.camera_pan_hz * t)

    def person_world(self, person: _Person, t: float) -> np.ndarray:
        """(K, 3) world vertices (metres; y up, camera looks along -z) at time t."""
        rig = self.rig
        blend = 0.5 - 0.5 * math.cos(2 * math.pi * person.pose_hz * t + person.phase)
        angles = person.pose_a + (person.pose_b - person.pose_a) * blend
        verts = rig.template + np.einsum("g,gkc->kc", person.girth, rig.girth)
        transforms, _ = _pose(rig.joints, rig.parents, euler_to_matrix(angles))
        posed = _skin(verts, rig.weights, transforms)
        world = euler_to_matrix(np.array([0.0, person.yaw0 + person.yaw_rate * t, 0.0])) * person.scale
        posed = posed @ world.T
        # Feet on the floor (y = -1: the camera is at y = 0, 1 m up), walking along x.
        posed[:, 1] += -1.0 - posed[:, 1].min()
        posed[:, 0] += person.x0 + person.vx * t
        posed[:, 2] += -person.depth
        return posed

    def project(self, index: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Frame `index` without rendering: per person (K, 3) labels (x, y image pixels, z depth in
        pixels) and (K,) camera distances."""
        cfg = self.config
        t = index / cfg.fps
        cam_x = self.camera_x(t)
        f = self.focal_px
        cx, cy = cfg.width / 2.0 - 0.5, cfg.height / 2.0 - 0.5
        labels, depths = [], []
        for person in self.people:
            w = self.person_world(person, t)
            z = -w[:, 2]  # distance along the view axis
            pix = np.stack([f * (w[:, 0] - cam_x) / z + cx, -f * w[:, 1] / z + cy], axis=1)
            z_ref = float(z.mean())
            labels.append(np.concatenate([pix, ((z - z_ref) * f / z_ref)[:, None]], axis=1))
            depths.append(z)
        return labels, depths

    def frame(self, index: int) -> dict[str, Any]:
        cfg, rig = self.config, self.rig
        t = index / cfg.fps
        cam_x = self.camera_x(t)
        k = len(rig.template)
        labels, depths = self.project(index)
        worlds = [self.person_world(person, t) for person in self.people]
        all_pix = [lab[:, :2] for lab in labels]
        all_depth = depths
        all_faces = [rig.faces + p * k for p in range(len(self.people))]
        shift = self._wall_shift(cam_x)
        bg = self.background
        x0 = round((bg.shape[1] - cfg.width) / 2 + shift)
        image = bg[:, x0 : x0 + cfg.width].copy()
        face_map = np.full((cfg.height, cfg.width), -1, dtype=np.int64)
        if self.people:
            face_map, bary = rasterize(
                np.concatenate(all_pix), np.concatenate(all_depth), np.concatenate(all_faces), cfg.height, cfg.width
            )
            covered = face_map >= 0
            nf = len(rig.faces)
            fidx = np.where(covered, face_map, 0)
            owner = fidx // nf
            local = fidx % nf
            normals = np.concatenate([_vertex_normals(w, rig.faces) for w in worlds])
            faces_all = np.concatenate(all_faces)
            n = np.einsum("hwc,hwcd->hwd", bary.astype(np.float64), normals[faces_all[fidx]])
            n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
            light = np.array([0.3, 0.5, 0.8]) / np.linalg.norm([0.3, 0.5, 0.8])
            shade = 0.35 + 0.65 * np.clip(n @ light, 0, 1)
            colours = np.stack([pp.colours for pp in self.people])  # (P, 25, 3)
            rgb = colours[owner, rig.face_part[local]] * shade[..., None]
            image = np.where(covered[..., None], rgb, image)
        rng = np.random.default_rng([self.seed, 13, int(index)])
        image = image + rng.normal(0.0, cfg.pixel_noise, size=image.shape)
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        people = []
        won = np.unique(face_map[face_map >= 0]) if self.people else np.zeros(0, np.int64)
        for p in range(len(self.people)):
            nf = len(rig.faces)
            mine = won[(won >= p * nf) & (won < (p + 1) * nf)] - p * nf
            visible = np.zeros(k, dtype=bool)
            visible[rig.faces[mine].reshape(-1)] = True
            ys, xs = np.nonzero((face_map >= p * nf) & (face_map < (p + 1) * nf))
            box = None
            if xs.size:
                box = (
                    float(xs.min()) - 0.5,
                    float(ys.min()) - 0.5,
                    float(xs.max() - xs.min() + 1),
                    float(ys.max() - ys.min() + 1),
                )
            people.append({"id": p, "vertices": labels[p], "visible": visible, "box": box})
        return {"image": image, "people": people, "time": t}
