"""DensePose-COCO persons (plus optional mesh pseudo-GT and COCO keypoints) as training samples.

Each annotated person becomes one crop through the same `CropContract` the exported models use
(box -> crop), so a model trained here expects exactly the crops `meshpose-predict` and the apps
make. What a sample carries depends on the annotation: DensePose points always (the reason the
file is used); the coarse body mask when ``dp_masks`` is there; 2D joints when the annotation has
COCO ``keypoints``; 3D vertices and joints when a pseudo-GT file covers it (with its weight as the
loss mask). Missing labels are simply absent, and `Collate` masks their terms off.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from meshpose_mobile.config import ModelConfig
from meshpose_mobile.crop import DEFAULT_BOX_SCALE, CropContract, invert_affine
from meshpose_mobile.densepose import UVTransform, load_densepose, load_pseudo_gt
from meshpose_mobile.errors import DataError
from meshpose_mobile.topology import Topology

# Fixed point count per sample so batches stack; DensePose-COCO persons carry at most ~190.
MAX_POINTS = 196


class DensePoseSource:
    def __init__(
        self,
        annotations: str | Path,
        images: str | Path,
        model_config: ModelConfig,
        topology: Topology,
        *,
        pseudo_gt: str | Path | None = None,
        uv_transform: UVTransform | None = None,
        box_scale: float = DEFAULT_BOX_SCALE,
    ) -> None:
        annotations, images = Path(annotations), Path(images)
        if not images.is_dir():
            raise DataError(
                f"image folder not found: {images}; set data.images (or data.val_images) to the folder of "
                f"{annotations.name}'s file_name entries"
            )
        self.dataset = load_densepose(annotations, topology, uv_transform=uv_transform)
        self.items = list(self.dataset.annotations)
        if not self.items:
            raise DataError(f"{annotations} has no person with DensePose points; check the file")
        for ann in self.items:
            path = images / self.dataset.images[ann.image_id].file_name
            if not path.is_file():
                raise DataError(f"image {path} (annotation {ann.id}) not found; check data.images")
        self.images = images
        self.topology = topology
        self.contract = CropContract.for_config(model_config, box_scale)
        self.pseudo = load_pseudo_gt(pseudo_gt, topology) if pseudo_gt else None
        raw = json.loads(annotations.read_text())
        self.keypoints = {
            int(a["id"]): np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3)
            for a in raw.get("annotations", [])
            if isinstance(a, dict) and isinstance(a.get("keypoints"), list) and len(a["keypoints"]) == 51
        }

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        from PIL import Image

        ann = self.items[index]
        info = self.dataset.images[ann.image_id]
        with Image.open(self.images / info.file_name) as im:
            image = np.asarray(im.convert("RGB"))
        if image.shape[:2] != (info.height, info.width):
            raise DataError(
                f"image {info.file_name} is {image.shape[1]}x{image.shape[0]} but the json says "
                f"{info.width}x{info.height}; the annotation file and images do not match"
            )
        crop, affine = self.contract.crop(image.astype(np.float32), ann.bbox)
        h, w = self.contract.input_height, self.contract.input_width
        out: dict[str, np.ndarray] = {
            "image": np.clip(np.rint(crop), 0, 255).astype(np.uint8),
            # A person at the photo's edge: vertices past it are labelled unseen (losses.partial_visibility_labels).
            "picture_box": self.contract.picture_box(affine, info.height, info.width),
        }

        pts = self.contract.to_crop(ann.points, affine)
        n = min(len(pts), MAX_POINTS)
        dp_pixels = np.zeros((MAX_POINTS, 2), np.float32)
        dp_face = np.zeros(MAX_POINTS, np.int64)
        dp_bary = np.zeros((MAX_POINTS, 3), np.float32)
        dp_bary[:, 0] = 1.0
        dp_part = np.zeros(MAX_POINTS, np.int64)
        dp_uv = np.zeros((MAX_POINTS, 2), np.float32)
        dp_mask = np.zeros(MAX_POINTS, np.float32)
        dp_pixels[:n] = pts[:n]
        dp_face[:n] = ann.face_index[:n]
        dp_bary[:n] = ann.bary[:n]
        dp_part[:n] = ann.parts[:n]
        dp_uv[:n] = ann.uv[:n]
        dp_mask[:n] = 1.0
        out.update(dp_pixels=dp_pixels, dp_face=dp_face, dp_bary=dp_bary, dp_part=dp_part, dp_uv=dp_uv, dp_mask=dp_mask)

        part_mask = ann.image_mask(info.height, info.width)
        if part_mask is not None:
            inv = invert_affine(affine)
            ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
            sx = np.floor(inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2] + 0.5).astype(np.int64)
            sy = np.floor(inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2] + 0.5).astype(np.int64)
            ok = (sx >= 0) & (sx < info.width) & (sy >= 0) & (sy < info.height)
            values = part_mask[np.clip(sy, 0, info.height - 1), np.clip(sx, 0, info.width - 1)]
            out["mask"] = ((values > 0) & ok).astype(np.uint8)

        kp = self.keypoints.get(ann.id)
        if kp is not None:
            # COCO keypoints are continuous coordinates; pixel centres sit at +0.5 there.
            out["joints_2d"] = self.contract.to_crop(kp[:, :2] - 0.5, affine).astype(np.float32)
            out["joints_2d_mask"] = (kp[:, 2] > 0).astype(np.float32)

        entry = self.pseudo.get(ann.id) if self.pseudo is not None else None
        if entry is not None:
            verts = self.contract.to_crop(entry.vertices.astype(np.float64), affine)
            out["vertices"] = verts.astype(np.float32)
            out["vertices_weight"] = np.float32(entry.weight)
            if entry.joints_3d is not None:
                out["joints_3d"] = self.contract.to_crop(entry.joints_3d.astype(np.float64), affine).astype(np.float32)
                out["joints_3d_weight"] = np.float32(entry.weight)
        return out
