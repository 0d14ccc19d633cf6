"""Photo -> body mesh in image pixels, with any checkpoint or exported artifact.

One code path for every runtime: the person box becomes the network's crop through the crop
contract (`meshpose_mobile.crop`), a runner maps the crop to the deployment graph's outputs (the
PyTorch deployment graph, or any exported artifact opened by its target: `target_for(path).open`),
and the crop-pixel outputs go back to the photo. An artifact's input size and crop contract come
from its sidecar JSON, so predictions here crop exactly like the apps.

The optional high-poly upsampler runs in PyTorch on the crop-pixel low-poly mesh, before the
mapping back to the photo: that is the space the network predicts in, whatever the box size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from meshpose_export.artifact import Runner
from meshpose_export.reference import reference_artifact
from meshpose_export.targets.base import find_target, get_target, list_targets
from meshpose_mobile.checkpoint import load_upsampler
from meshpose_mobile.crop import CropContract
from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.released import ReleasedConstants
from meshpose_mobile.topology import Topology, load_topology
from meshpose_mobile.upsampler import HighPolyUpsampler

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
JSON_FORMAT = "meshpose-prediction"
JSON_VERSION = 1


class PredictError(MeshPoseError):
    """An image, a box or a model file that prediction cannot use."""


@dataclass(frozen=True)
class ModelInfo:
    """What the JSON and the overlay say about the model that ran."""

    kind: str  # "pytorch" or the artifact's target name
    path: str
    variant: str
    precision: str
    num_vertices: int
    weights: str
    # Set when something other than the format's own runtime executed the artifact (CoreML on
    # Linux: the MIL interpreter), so no JSON passes an interpreter's mesh off as Core ML's.
    executed_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "path": self.path, "variant": self.variant, "precision": self.precision}
        out["weights"] = self.weights
        if self.executed_by:
            out["executed_by"] = self.executed_by
        return out


@dataclass(frozen=True, eq=False)
class Prediction:
    image_size: tuple[int, int]  # (width, height)
    box: tuple[float, float, float, float]  # COCO xywh, image pixels
    whole_image: bool  # no box was given: the whole photo was the box
    affine: np.ndarray  # (2, 3) image -> crop pixels
    scale: float  # crop pixel -> image pixels (box width / input width)
    xyz_lp: np.ndarray  # (K, 3) image pixels; z relative, arbitrary offset
    vertex_vis_lp: np.ndarray  # (K,) in [0, 1]
    xyz_hp: np.ndarray | None = None  # (N, 3) image pixels, with an upsampler
    crop_xyz_lp: np.ndarray | None = field(default=None, repr=False)  # (K, 3) crop pixels

    def to_dict(self, model: ModelInfo, image: str = "", decimals: int = 4) -> dict[str, Any]:
        def r(a: np.ndarray) -> Any:
            return np.round(np.asarray(a, dtype=np.float64), decimals).tolist()

        return {
            "format": JSON_FORMAT,
            "format_version": JSON_VERSION,
            "image": image,
            "image_size": list(self.image_size),
            "model": model.to_dict(),
            "box": [round(float(v), decimals) for v in self.box],
            "box_source": "whole image (no --box given)" if self.whole_image else "given",
            "crop_affine": r(self.affine),
            "crop_to_image_scale": float(self.scale),
            "units": (
                "image pixels, top-left pixel centre at (0, 0); z is relative depth in the same pixel "
                "scale with an arbitrary offset"
            ),
            "num_vertices_lp": len(self.xyz_lp),
            "xyz_lp": r(self.xyz_lp),
            "vertex_vis_lp": r(self.vertex_vis_lp),
            "num_vertices_hp": None if self.xyz_hp is None else len(self.xyz_hp),
            "xyz_hp": None if self.xyz_hp is None else r(self.xyz_hp),
        }


# Which 2-D estimate `Predictor.predict` places the vertices at: Eq. 7's fusion (what the app and
# every artifact's `vertices` output use) or the heatmap estimate alone.
POSITIONS = ("fused", "heatmap")


class Predictor:
    """A runner plus the crop contract it expects; `load` builds one from any model file."""

    def __init__(
        self,
        runner: Runner,
        contract: CropContract,
        info: ModelInfo,
        *,
        faces: np.ndarray | None = None,
        upsampler: HighPolyUpsampler | None = None,
    ) -> None:
        if upsampler is not None and upsampler.num_low != info.num_vertices:
            raise PredictError(
                f"the upsampler takes {upsampler.num_low} low-poly vertices but the model predicts "
                f"{info.num_vertices}; use an upsampler made for the model's topology"
            )
        self.runner = runner
        self.contract = contract
        self.info = info
        self.faces = faces
        self.upsampler = upsampler

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        upsampler: str | Path | HighPolyUpsampler | None = None,
        released_constants: ReleasedConstants | str | Path | None = None,
        box_scale: float | None = None,
        topology: Topology | str | Path | None = None,
    ) -> Predictor:
        """A checkpoint (ours or the released one) or an artifact of any registered target.

        `topology` (a `Topology` or a .npz path) is the mesh the user expects: a checkpoint or
        artifact made for another one is refused (by hash); the released checkpoint takes it as its mesh.
        """
        path = Path(path)
        if topology is not None and not isinstance(topology, Topology):
            topology = load_topology(topology)
        if not path.exists():
            raise PredictError(f"model not found: {path}; pass a checkpoint or an exported artifact to --model")
        if find_target(path) is None:
            if path.is_dir():
                suffixes = ", ".join(get_target(n).suffix for n in list_targets())
                raise PredictError(f"model {path} is a folder; pass a checkpoint file or an artifact ({suffixes})")
            runner, contract, info, faces = _from_checkpoint(path, released_constants, box_scale, topology)
        else:
            runner, contract, info, faces = _from_artifact(path, box_scale, topology)
        up = upsampler
        if up is not None and not isinstance(up, HighPolyUpsampler):
            up = load_upsampler(up, released_constants)
        return cls(runner, contract, info, faces=faces, upsampler=up)

    def predict(
        self, image: np.ndarray, box: tuple[float, float, float, float] | None = None, *, positions: str = "fused"
    ) -> Prediction:
        """HxWx3 RGB photo (uint8, or float 0..255) -> mesh in image pixels.

        `positions="heatmap"` puts every vertex at its VertexPose heatmap estimate (the graph's
        `vertices_2d`) instead of Eq. 7's fusion with the regressed position: a diagnostic that says
        which of the two estimates a wrong mesh comes from (meshpose-eval-real --positions)."""
        if positions not in POSITIONS:
            raise PredictError(f"positions {positions!r} is not one of {', '.join(POSITIONS)}")
        img = np.asarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 1:
            raise PredictError(f"image must be H x W x 3 RGB, got shape {img.shape}; convert it to RGB")
        h, w = img.shape[:2]
        whole = box is None
        if box is None:
            # Pixel centres sit at integer coordinates, so the photo spans -0.5 .. size - 0.5.
            box = (-0.5, -0.5, float(w), float(h))
        box = check_box(box, w, h)
        crop, affine = self.contract.crop(img, box)
        chw = np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32)
        outs = self.runner(chw)
        k = self.info.num_vertices
        verts = np.asarray(outs["vertices"], dtype=np.float64).reshape(k, 3)
        if positions == "heatmap":
            verts = verts.copy()
            verts[:, :2] = np.asarray(outs["vertices_2d"], dtype=np.float64).reshape(k, 2)
        vis = np.asarray(outs["visibility"], dtype=np.float64).reshape(k)
        hp = None
        if self.upsampler is not None:
            with torch.no_grad():
                hp_crop = self.upsampler(torch.from_numpy(verts).float()[None])[0].double().numpy()
            hp = self.contract.to_image(hp_crop, affine)
        scale = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))
        return Prediction(
            image_size=(w, h),
            box=box,
            whole_image=whole,
            affine=affine,
            scale=1.0 / scale,
            xyz_lp=self.contract.to_image(verts, affine),
            vertex_vis_lp=vis,
            xyz_hp=hp,
            crop_xyz_lp=verts,
        )


# --------------------------------------------------------------------------- inputs


def parse_box(text: str) -> tuple[float, float, float, float]:
    """'x,y,w,h' -> floats (COCO: top-left corner, width, height, image pixels)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise PredictError(f"--box {text!r} must be four numbers x,y,w,h (top-left corner, width, height)")
    return values  # type: ignore[return-value]


# Smallest person box side, in image pixels.
MIN_BOX_PX = 1.0


def check_box(box: tuple[float, ...], width: int, height: int) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in box)
    if not (np.isfinite([x, y, w, h]).all() and w > 0 and h > 0):
        raise PredictError(f"--box {_fmt_box(box)} needs finite x, y and a positive width and height")
    if w < MIN_BOX_PX or h < MIN_BOX_PX:
        # The crop would magnify a fraction of a pixel to the whole input: degenerate numbers,
        # not a person.
        raise PredictError(
            f"--box {_fmt_box(box)} is {w:g} x {h:g} pixels, smaller than {MIN_BOX_PX:g}; pass the person's box "
            "x,y,w,h in this image's pixels"
        )
    # A box that only partly covers the photo is fine (the crop pads with the border value);
    # one that misses it entirely is certainly a mistake.
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise PredictError(
            f"box {_fmt_box(box)} lies outside the {width}x{height} image; pass x,y,w,h in this image's pixels"
        )
    return (x, y, w, h)


def _fmt_box(box: tuple[float, ...]) -> str:
    return ",".join(f"{float(v):g}" for v in box)


def load_image(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 RGB, upright, any pixel format scaled by its real range (`images.load_rgb`)."""
    from meshpose_mobile.images import ImageError, load_rgb

    try:
        return load_rgb(path)
    except ImageError as err:
        raise PredictError(str(err)) from None


def list_images(path: str | Path) -> list[Path]:
    """A file -> [it]; a folder -> its images (not recursive), sorted."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise PredictError(f"folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)}); pass a photo or a folder")
        return found
    if not path.exists():
        raise PredictError(f"image not found: {path}; pass an image file or a folder of images")
    return [path]


# --------------------------------------------------------------------------- model loading


def _from_checkpoint(
    path: Path,
    constants: ReleasedConstants | str | Path | None,
    box_scale: float | None,
    topology: Topology | None = None,
) -> tuple[Runner, CropContract, ModelInfo, np.ndarray | None]:
    from meshpose_mobile.checkpoint import load_checkpoint

    model = load_checkpoint(path, released_constants=constants, flag="--model", topology=topology)
    cfg = model.config
    # The deployment graph, not the training model: the very graph every artifact is made from.
    contract = CropContract.for_config(cfg, box_scale)
    runner = reference_artifact(model.deploy(), contract, path=path)
    info = ModelInfo("pytorch", str(path), cfg.variant, "fp32", cfg.num_vertices, f"checkpoint {path.name}")
    return runner, contract, info, model.topology.faces


def _from_artifact(
    path: Path, box_scale: float | None, topology: Topology | None = None
) -> tuple[Runner, CropContract, ModelInfo, np.ndarray | None]:
    target = find_target(path)
    assert target is not None
    try:
        artifact = target.open(path)
    except MeshPoseError as err:
        raise PredictError(str(err)) from None
    side = artifact.sidecar
    made_for = side.mesh.get("topology_hash")
    if topology is not None and made_for != topology.hash:
        raise PredictError(
            f"{path.name} was exported for topology {side.mesh.get('topology')!r} (hash {str(made_for)[:12]}), not "
            f"{topology.name!r} ({topology.hash[:12]}); drop --topology or pass the matching one"
        )
    if not artifact.can_run:
        runnable = ", ".join(get_target(n).suffix for n in list_targets() if get_target(n).runs_here())
        raise PredictError(f"{path.name}: {artifact.reason}; predict with an artifact that runs here ({runnable})")
    contract = (
        side.crop
        if box_scale is None
        else CropContract(
            side.crop.input_height, side.crop.input_width, box_scale=box_scale, border_value=side.crop.border_value
        )
    )
    faces = np.asarray(side.mesh["faces"], dtype=np.int64) if side.mesh.get("faces") else None
    info = ModelInfo(
        artifact.target,
        str(path),
        side.variant,
        side.precision,
        side.num_vertices,
        side.weights,
        executed_by=artifact.executor.note if artifact.executor is not None else "",
    )
    _dry_run(artifact, side.num_vertices)
    return artifact, contract, info, faces


def _dry_run(artifact: Any, num_vertices: int) -> None:
    """One run on a blank crop: a sidecar that belongs to another export (another input size or
    vertex count) fails here with one line, not inside the runtime on the first photo."""
    try:
        outs = artifact(np.zeros(artifact.input_shape, dtype=np.float32))
        got = int(np.asarray(outs["vertices"]).reshape(-1, 3).shape[0])
    except MeshPoseError:
        raise
    except Exception as err:  # the runtime's own error types
        why = " ".join(str(err).split())[:120] or type(err).__name__
        raise PredictError(
            f"{artifact.name} does not run with its sidecar's {artifact.input_shape[2]}x{artifact.input_shape[3]} "
            f"input ({why}); the .json beside it belongs to another export: re-export or restore it"
        ) from None
    if got != num_vertices:
        raise PredictError(
            f"{artifact.name} predicts {got} vertices but its sidecar says {num_vertices}; the .json beside it "
            "belongs to another export: re-export or restore it"
        )
