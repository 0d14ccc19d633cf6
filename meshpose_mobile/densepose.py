"""DensePose-COCO annotations and mesh pseudo-ground-truth, mapped onto a topology.

DensePose-COCO is COCO instance json whose person annotations may carry, besides ``bbox``:

- ``dp_x``, ``dp_y``: point positions in a 256 x 256 frame stretched over the box, values 0..255.
  Image pixels (project convention: top-left pixel centre at (0, 0)) are
  ``x = bbox_x + dp_x / 255 * bbox_w - 0.5`` and likewise for y. The /255 follows DensePose's own
  visualisation notebook; the -0.5 turns COCO's continuous box coordinates (pixel *edges* at
  integers) into pixel-centre coordinates.
- ``dp_I`` (part 1..24), ``dp_U``, ``dp_V`` (in [0, 1]) per point.
- ``dp_masks``: 14 coarse part masks (1 torso, 2 right hand, 3 left hand, 4 left foot, 5 right foot,
  6/7 right/left upper leg, 8/9 right/left lower leg, 10/11 left/right upper arm, 12/13 left/right
  lower arm, 14 head), each a COCO RLE of a 256 x 256 mask over the box, or ``[]`` when absent.
  Mask cell (r, c) covers the box's [c, c+1) x [r, r+1) in 1/256 of its width and height.

Each (I, U, V) becomes a face of the topology and barycentrics over its 3 vertices (`SurfaceMapper`),
using the topology's own per-part UV charts. The default topology's charts are *not* DensePose's
SMPL charts (see docs/topology.md): real annotations need either a chart correspondence, passed as
``uv_transform``, or a topology that carries DensePose's own charts (`meshpose-topology from-smpl`,
meshpose_mobile/smpl_topology.py).

Mesh pseudo-ground-truth (3D supervision for in-the-wild images) is one ``.npz`` per dataset,
see `save_pseudo_gt` and docs/training.md.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_mobile.atomic import atomic_open
from meshpose_mobile.errors import DataError
from meshpose_mobile.topology import NUM_PARTS, Topology, default_topology

NUM_MASK_PARTS = 14
DP_FRAME = 256
DP_POINT_KEYS = ("dp_x", "dp_y", "dp_I", "dp_U", "dp_V")
# A point counts as inside a UV triangle down to this (negative) barycentric, for round-off.
_INSIDE_TOL = 1e-9

UVTransform = Callable[[np.ndarray, np.ndarray], np.ndarray]


class DensePoseError(DataError):
    """A DensePose or pseudo-ground-truth file is missing, malformed or does not fit the topology."""


# ------------------------------------------------------------------------------------- COCO RLE


def rle_decode(rle: dict[str, Any]) -> np.ndarray:
    """COCO RLE (uncompressed ``counts`` list or compressed string) -> (h, w) uint8 mask of 0/1.

    Runs alternate 0s and 1s starting with 0s, over the mask in column-major (Fortran) order. The
    compressed string is pycocotools' format: each count is a 5-bit-per-char little-endian varint
    (char - 48; bit 0x20 = more chars follow, bit 0x10 of the last char = negative), and counts
    from the fourth on are stored as the difference to the count two places earlier.
    """
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise DensePoseError("an RLE mask must be a dict with 'size' and 'counts'; re-encode the mask")
    try:
        h, w = (int(v) for v in rle["size"])
    except (TypeError, ValueError):
        raise DensePoseError(f"RLE size {rle['size']!r} is not [height, width]; re-encode the mask") from None
    counts = rle["counts"]
    if isinstance(counts, str | bytes):
        runs = _rle_string_to_counts(counts.decode("ascii") if isinstance(counts, bytes) else counts)
    elif isinstance(counts, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        runs = counts
    else:
        raise DensePoseError("RLE counts must be a list of integers or a compressed string; re-encode the mask")
    if any(c < 0 for c in runs) or sum(runs) != h * w:
        raise DensePoseError(
            f"RLE counts sum to {sum(runs)} (or hold negatives) but size {h}x{w} needs {h * w}; re-encode the mask"
        )
    values = np.zeros(len(runs), dtype=np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, np.asarray(runs, dtype=np.int64))
    return flat.reshape((w, h)).T.copy()


def rle_encode(mask: np.ndarray, *, compressed: bool = True) -> dict[str, Any]:
    """(h, w) mask (nonzero = 1) -> COCO RLE ``{'size': [h, w], 'counts': str | list[int]}``."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise DensePoseError(f"rle_encode needs a 2D mask, got shape {m.shape}")
    flat = (m.T.reshape(-1) != 0).astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:
        runs = [0, *runs]
    if not flat.size:
        runs = [0]
    size = [int(m.shape[0]), int(m.shape[1])]
    return {"size": size, "counts": _rle_counts_to_string(runs) if compressed else [int(r) for r in runs]}


def _rle_string_to_counts(text: str) -> list[int]:
    counts: list[int] = []
    p = 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            if p >= len(text):
                raise DensePoseError("compressed RLE string ends inside a count; re-encode the mask")
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                raise DensePoseError(
                    f"compressed RLE string holds {text[p]!r}, not a valid character; re-encode the mask"
                )
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def _rle_counts_to_string(counts: Sequence[int]) -> str:
    out: list[str] = []
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5  # arithmetic shift, like pycocotools' signed long
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


# ------------------------------------------------------------------------ surface mapping (I,U,V)


def _barycentrics(points: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentrics (N, F, 3) of points (N, 2) in triangles (F, 3, 2), and twice the signed areas (F,)."""
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    area2 = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    safe = np.where(np.abs(area2) < 1e-300, 1.0, area2)
    p = points[:, None, :]

    def cross(o: np.ndarray, d: np.ndarray) -> np.ndarray:
        return (d[:, 0] - o[:, 0]) * (p[..., 1] - o[:, 1]) - (d[:, 1] - o[:, 1]) * (p[..., 0] - o[:, 0])

    bary = np.stack([cross(b, c), cross(c, a), cross(a, b)], axis=-1) / safe[None, :, None]
    return bary, area2


def _closest_on_triangles(points: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance (N, F) from each point to each triangle's boundary and the barycentrics (N, F, 3)
    of that closest boundary point (only used for points outside every triangle)."""
    n, f = len(points), len(tris)
    best_d = np.full((n, f), np.inf)
    best_b = np.zeros((n, f, 3))
    for i in range(3):
        j = (i + 1) % 3
        a, b = tris[:, i], tris[:, j]
        e = b - a
        length_sq = np.maximum((e * e).sum(-1), 1e-300)
        t = np.clip(((points[:, None, :] - a) * e).sum(-1) / length_sq, 0.0, 1.0)
        d = ((points[:, None, :] - (a + t[..., None] * e)) ** 2).sum(-1)
        better = d < best_d
        best_d = np.where(better, d, best_d)
        cand = np.zeros((n, f, 3))
        cand[..., i] = 1.0 - t
        cand[..., j] = t
        best_b = np.where(better[..., None], cand, best_b)
    return best_d, best_b


@dataclass(frozen=True, eq=False)
class SurfaceMapper:
    """Maps DensePose surface points (part I, U, V) to (face, barycentrics) of a topology.

    Candidate faces of part I are those whose 3 vertices all lie in part I (only their UVs share
    one chart); a part without such a face falls back to the faces whose majority part is I. The
    point's face is the candidate whose UV triangle contains (U, V), the smallest such triangle
    when several do (charts that wrap around, like the hands' full-angle V, make long seam-crossing
    triangles that also contain it); barycentrics are in UV space. A point outside every candidate
    triangle goes to the nearest one, with the barycentrics of the closest point on it, so every
    point gets barycentrics >= 0 that sum to 1 on a face of its own part.

    A topology with charts per face (``chart_faces``, ``chart_parts``, ``chart_uv``: DensePose's own
    atlas, from `meshpose-topology from-smpl`) is mapped through those instead: part I's candidates
    are the chart entries of part I, each with its corners' (U, V) in that chart, so faces along and
    across a chart border map too.
    """

    topology: Topology
    _faces: dict[int, np.ndarray] = field(init=False, repr=False)
    _entry: dict[tuple[int, int], int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        topo = self.topology
        if topo.faces is None or topo.parts is None or topo.uv is None:
            raise DensePoseError(
                f"topology {topo.name!r} lacks faces, parts or uv; DensePose mapping needs all three "
                "(use 'default' or a topology built with them)"
            )
        part_of = topo.parts[topo.faces]  # (F, 3)
        pure = (part_of[:, 0] == part_of[:, 1]) & (part_of[:, 1] == part_of[:, 2])
        majority = topo.face_parts
        by_part: dict[int, np.ndarray] = {}
        for part in range(1, NUM_PARTS + 1):
            if topo.chart_parts is not None:
                # Candidates are chart entries here; `map` turns them into faces.
                cand = np.flatnonzero(topo.chart_parts == part)
            else:
                cand = np.flatnonzero(pure & (part_of[:, 0] == part))
            if cand.size == 0:
                cand = np.flatnonzero(majority == part)
            if cand.size == 0:
                raise DensePoseError(
                    f"topology {topo.name!r} has no face on part {part}; every part 1..24 needs faces for DensePose"
                )
            by_part[part] = cand
        object.__setattr__(self, "_faces", by_part)
        entry: dict[tuple[int, int], int] = {}
        if topo.chart_faces is not None and topo.chart_parts is not None:
            for c in range(len(topo.chart_faces) - 1, -1, -1):  # the first entry of a (face, part) wins
                entry[(int(topo.chart_faces[c]), int(topo.chart_parts[c]))] = c
        object.__setattr__(self, "_entry", entry)

    def face_parts(self) -> dict[int, np.ndarray]:
        """Candidate face indices per part 1..24."""
        return dict(self._faces)

    def _corner_uv(self, cand: np.ndarray) -> np.ndarray:
        """(N, 3, 2) float64 (U, V) of the corners of candidates `cand` (faces, or chart entries)."""
        topo = self.topology
        assert topo.faces is not None and topo.uv is not None
        if topo.chart_uv is not None:
            return topo.chart_uv[cand].astype(np.float64)
        return topo.uv.astype(np.float64)[topo.faces[cand]]

    def _to_face(self, cand: np.ndarray) -> np.ndarray:
        chart_faces = self.topology.chart_faces
        return cand if chart_faces is None else chart_faces[cand]

    def to_uv(
        self, face: np.ndarray, bary: np.ndarray, parts: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of `map`: (N,) faces and (N, 3) barycentrics -> part (N,) and (U, V) (N, 2).

        A face that crosses a chart border has a (U, V) in each chart it touches: `parts` picks
        which (default: the face's own chart).
        """
        face = np.asarray(face, dtype=np.int64).reshape(-1)
        bary = np.asarray(bary, dtype=np.float64).reshape(-1, 3)
        out_parts = self.topology.face_parts[face].astype(np.int64)
        cand = face
        if parts is not None and self._entry:
            parts = np.asarray(parts, dtype=np.int64).reshape(-1)
            cand = np.array([self._entry.get((int(f), int(p)), int(f)) for f, p in zip(face, parts, strict=True)])
            out_parts = np.asarray(self.topology.chart_parts)[cand].astype(np.int64)
        uv = np.einsum("nc,ncd->nd", bary, self._corner_uv(cand))
        return out_parts, uv

    def map(self, parts: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,) parts in 1..24 and (N, 2) UVs -> face index (N,) int64 and barycentrics (N, 3) float64."""
        parts = np.asarray(parts).astype(np.int64).reshape(-1)
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        bad = parts[(parts < 1) | (parts > NUM_PARTS)]
        if bad.size:
            raise DensePoseError(f"DensePose part index {int(bad[0])} is outside 1..{NUM_PARTS}; fix dp_I")
        face_out = np.zeros(len(parts), dtype=np.int64)
        bary_out = np.zeros((len(parts), 3), dtype=np.float64)
        for part in np.unique(parts).tolist():
            sel = np.flatnonzero(parts == part)
            cand = self._faces[part]
            tris = self._corner_uv(cand)  # (Fp, 3, 2)
            bary, area2 = _barycentrics(uv[sel], tris)
            proper = np.abs(area2) > 1e-12
            inside = (bary >= -_INSIDE_TOL).all(-1) & proper[None, :]
            size = np.where(inside, np.abs(area2)[None, :], np.inf)
            best_inside = size.argmin(axis=1)
            has_inside = inside.any(axis=1)
            dist, edge_bary = _closest_on_triangles(uv[sel], tris)
            nearest = dist.argmin(axis=1)
            pick = np.where(has_inside, best_inside, nearest)
            rows = np.arange(len(sel))
            chosen = np.where(has_inside[:, None], bary[rows, pick], edge_bary[rows, pick])
            chosen = np.clip(chosen, 0.0, None)
            face_out[sel] = self._to_face(cand[pick])
            bary_out[sel] = chosen / chosen.sum(axis=1, keepdims=True)
        return face_out, bary_out


# --------------------------------------------------------------------------------- the json file


@dataclass(frozen=True)
class DensePoseImage:
    id: int
    file_name: str
    height: int
    width: int


@dataclass(frozen=True, eq=False)
class DensePoseAnnotation:
    """One person's DensePose points, already on the mesh. Points are image pixels (pixel centres)."""

    id: int
    image_id: int
    bbox: tuple[float, float, float, float]  # x, y, w, h (COCO: continuous, top-left corner)
    points: np.ndarray  # (N, 2) float64 image pixels
    parts: np.ndarray  # (N,) int64 in 1..24
    uv: np.ndarray  # (N, 2) float64 as annotated (before any uv_transform)
    face_index: np.ndarray  # (N,) int64
    bary: np.ndarray  # (N, 3) float64 over the face's vertices in topology.faces order
    dp_masks: tuple[dict[str, Any] | None, ...] | None  # 14 raw RLEs (None = part absent), or no masks

    @property
    def num_points(self) -> int:
        return len(self.parts)

    def part_mask(self) -> np.ndarray | None:
        """(256, 256) uint8 coarse part label 0..14 over the box (later parts win overlaps, as in DensePose)."""
        if self.dp_masks is None:
            return None
        out = np.zeros((DP_FRAME, DP_FRAME), dtype=np.uint8)
        for i, rle in enumerate(self.dp_masks, start=1):
            if rle is None:
                continue
            try:
                m = rle_decode(rle)
            except DensePoseError as exc:
                raise DensePoseError(f"annotation {self.id}: dp_masks[{i - 1}]: {exc}") from None
            if m.shape != (DP_FRAME, DP_FRAME):
                raise DensePoseError(
                    f"annotation {self.id}: dp_masks[{i - 1}] is {m.shape[0]}x{m.shape[1]}, expected "
                    f"{DP_FRAME}x{DP_FRAME}; DensePose masks live in the 256x256 box frame"
                )
            out[m > 0] = i
        return out

    def image_mask(self, height: int, width: int) -> np.ndarray | None:
        """(height, width) uint8 coarse part labels in image pixels (nearest sampling of `part_mask`)."""
        frame = self.part_mask()
        if frame is None:
            return None
        x0, y0, bw, bh = self.bbox
        # Pixel u's centre is the continuous coordinate u + 0.5 (COCO boxes are continuous).
        cols = np.floor((np.arange(width) + 0.5 - x0) / bw * DP_FRAME).astype(np.int64)
        rows = np.floor((np.arange(height) + 0.5 - y0) / bh * DP_FRAME).astype(np.int64)
        ok_c = (cols >= 0) & (cols < DP_FRAME)
        ok_r = (rows >= 0) & (rows < DP_FRAME)
        out = frame[np.clip(rows, 0, DP_FRAME - 1)][:, np.clip(cols, 0, DP_FRAME - 1)]
        return np.where(ok_r[:, None] & ok_c[None, :], out, 0).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class DensePoseDataset:
    images: dict[int, DensePoseImage]
    annotations: tuple[DensePoseAnnotation, ...]
    # Person annotations without DensePose points (plain COCO ones): kept out, counted.
    skipped: int = 0

    def for_image(self, image_id: int) -> list[DensePoseAnnotation]:
        return [a for a in self.annotations if a.image_id == image_id]


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DensePoseError(f"DensePose file not found: {path}; pass the path to a DensePose-COCO json")
    try:
        with path.open("rb") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        msg = " ".join(str(exc).split())
        raise DensePoseError(f"{path} is not valid json ({msg}); re-download or re-export it") from None


def _number_list(ann: dict[str, Any], key: str, where: str) -> np.ndarray:
    value = ann.get(key)
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        raise DensePoseError(f"{where}: {key} must be a list of finite numbers; fix the annotation")
    return np.asarray(value, dtype=np.float64)


def _parse_masks(ann: dict[str, Any], where: str) -> tuple[dict[str, Any] | None, ...] | None:
    if "dp_masks" not in ann:
        return None
    masks = ann["dp_masks"]
    if not isinstance(masks, list) or len(masks) != NUM_MASK_PARTS:
        raise DensePoseError(f"{where}: dp_masks must be a list of {NUM_MASK_PARTS} RLEs (or []); fix the annotation")
    out: list[dict[str, Any] | None] = []
    for i, m in enumerate(masks):
        if m == [] or m is None:
            out.append(None)
        elif isinstance(m, dict) and "size" in m and "counts" in m:
            out.append(m)
        else:
            raise DensePoseError(
                f"{where}: dp_masks[{i}] is neither an RLE dict with size and counts nor []; fix the annotation"
            )
    return tuple(out)


def load_densepose(
    path: str | Path,
    topology: Topology | None = None,
    *,
    uv_transform: UVTransform | None = None,
) -> DensePoseDataset:
    """Read a DensePose-COCO json and map every point onto ``topology`` (default: the packaged mesh).

    ``uv_transform(parts, uv) -> uv`` converts DensePose's (U, V) into the topology's charts before
    mapping (identity when None: the file's UVs are taken to be in the topology's charts already).
    Annotations without ``dp_x`` are plain COCO persons and are skipped (counted in ``skipped``).
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict):
        raise DensePoseError(f"{path}: top level must be a json object with 'images' and 'annotations'")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise DensePoseError(f"{path}: missing or non-list '{key}'; this is not a COCO annotation file")
    images: dict[int, DensePoseImage] = {}
    for i, img in enumerate(data["images"]):
        missing = [k for k in ("id", "file_name", "height", "width") if not isinstance(img, dict) or k not in img]
        if missing:
            raise DensePoseError(f"{path}: images[{i}] lacks {', '.join(missing)}; fix the image entry")
        images[int(img["id"])] = DensePoseImage(
            int(img["id"]), str(img["file_name"]), int(img["height"]), int(img["width"])
        )
    mapper = SurfaceMapper(topology if topology is not None else default_topology())
    annotations: list[DensePoseAnnotation] = []
    skipped = 0
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise DensePoseError(f"{path}: annotations[{i}] is not an object; fix the annotation")
        where = f"{path}: annotation {ann.get('id', f'#{i}')}"
        if "dp_x" not in ann:
            skipped += 1
            continue
        missing = [k for k in ("id", "image_id", "bbox", *DP_POINT_KEYS) if k not in ann]
        if missing:
            raise DensePoseError(
                f"{where}: missing key(s) {', '.join(missing)}; DensePose annotations need all of them"
            )
        if int(ann["image_id"]) not in images:
            raise DensePoseError(f"{where}: image_id {ann['image_id']} is not in 'images'; add the image entry")
        bbox = _number_list(ann, "bbox", where)
        if bbox.shape != (4,) or bbox[2] <= 0 or bbox[3] <= 0:
            raise DensePoseError(f"{where}: bbox must be [x, y, w, h] with w, h > 0; fix the box")
        cols = {k: _number_list(ann, k, where) for k in DP_POINT_KEYS}
        sizes = {len(v) for v in cols.values()}
        if len(sizes) != 1:
            lens = ", ".join(f"{k}={len(v)}" for k, v in cols.items())
            raise DensePoseError(f"{where}: point lists differ in length ({lens}); give every point all five values")
        parts = cols["dp_I"]
        if np.any(parts != np.round(parts)):
            raise DensePoseError(f"{where}: dp_I holds non-integer part indices; use parts 1..{NUM_PARTS}")
        bad = parts[(parts < 1) | (parts > NUM_PARTS)]
        if bad.size:
            raise DensePoseError(f"{where}: part index {bad[0]:g} is outside 1..{NUM_PARTS}; fix dp_I")
        uv = np.stack([cols["dp_U"], cols["dp_V"]], axis=-1).reshape(-1, 2)
        if np.any(uv < 0.0) or np.any(uv > 1.0):
            raise DensePoseError(f"{where}: dp_U/dp_V must lie in [0, 1]; fix the point coordinates")
        parts_i = parts.astype(np.int64)
        chart_uv = uv if uv_transform is None else np.asarray(uv_transform(parts_i, uv), dtype=np.float64)
        face, bary = mapper.map(parts_i, chart_uv)
        x0, y0, bw, bh = bbox.tolist()
        points = np.stack(
            [x0 + cols["dp_x"] / (DP_FRAME - 1) * bw - 0.5, y0 + cols["dp_y"] / (DP_FRAME - 1) * bh - 0.5], axis=-1
        ).reshape(-1, 2)
        annotations.append(
            DensePoseAnnotation(
                id=int(ann["id"]),
                image_id=int(ann["image_id"]),
                bbox=(x0, y0, bw, bh),
                points=points,
                parts=parts_i,
                uv=uv,
                face_index=face,
                bary=bary,
                dp_masks=_parse_masks(ann, where),
            )
        )
    return DensePoseDataset(images=images, annotations=tuple(annotations), skipped=skipped)


# ------------------------------------------------------------------------------ mesh pseudo-GT

PSEUDO_GT_REQUIRED = ("annotation_id", "vertices")


@dataclass(frozen=True)
class PseudoGTEntry:
    vertices: np.ndarray  # (K, 3) float32: image pixels x, y; z depth in pixels (origin free)
    joints_3d: np.ndarray | None  # (J, 3) float32 in the same frame, COCO order
    weight: float  # confidence in [0, 1]; becomes the sample's loss-mask weight


@dataclass(frozen=True, eq=False)
class PseudoGT:
    """Mesh pseudo-ground-truth for a set of annotations, indexed by annotation id."""

    annotation_id: np.ndarray  # (N,) int64
    vertices: np.ndarray  # (N, K, 3) float32
    joints_3d: np.ndarray | None  # (N, J, 3) float32
    weight: np.ndarray  # (N,) float32
    topology_hash: str | None
    _row: dict[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_row", {int(a): i for i, a in enumerate(self.annotation_id.tolist())})

    def __len__(self) -> int:
        return len(self.annotation_id)

    def get(self, annotation_id: int) -> PseudoGTEntry | None:
        row = self._row.get(int(annotation_id))
        if row is None:
            return None
        joints = None if self.joints_3d is None else self.joints_3d[row]
        return PseudoGTEntry(self.vertices[row], joints, float(self.weight[row]))


def save_pseudo_gt(
    path: str | Path,
    annotation_id: Sequence[int] | np.ndarray,
    vertices: np.ndarray,
    *,
    joints_3d: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    topology: Topology | None = None,
) -> None:
    """Write pseudo-GT as one compressed, pickle-free ``.npz`` (format in docs/training.md)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise DensePoseError(f"pseudo-GT files must end in .npz, got {path}; rename the output")
    arrays: dict[str, np.ndarray] = {
        "annotation_id": np.asarray(annotation_id, dtype=np.int64),
        "vertices": np.asarray(vertices, dtype=np.float32),
    }
    if joints_3d is not None:
        arrays["joints_3d"] = np.asarray(joints_3d, dtype=np.float32)
    if weight is not None:
        arrays["weight"] = np.asarray(weight, dtype=np.float32)
    if topology is not None:
        arrays["topology_hash"] = np.array(topology.hash)
    _check_pseudo_gt(arrays, str(path), topology)
    with atomic_open(path) as fh:
        np.savez_compressed(fh, **arrays)


def load_pseudo_gt(path: str | Path, topology: Topology | None = None) -> PseudoGT:
    """Read and check a pseudo-GT ``.npz``; with ``topology``, its K (and hash, when stored) must match."""
    path = Path(path)
    if not path.is_file():
        raise DensePoseError(f"pseudo-GT file not found: {path}; pass a .npz written by save_pseudo_gt")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError):
        raise DensePoseError(
            f"cannot read pseudo-GT {path}: not a valid .npz; re-save it with save_pseudo_gt"
        ) from None
    _check_pseudo_gt(arrays, str(path), topology)
    n = len(arrays["annotation_id"])
    stored_hash = arrays.get("topology_hash")
    return PseudoGT(
        annotation_id=arrays["annotation_id"].astype(np.int64),
        vertices=arrays["vertices"].astype(np.float32),
        joints_3d=arrays["joints_3d"].astype(np.float32) if "joints_3d" in arrays else None,
        weight=arrays["weight"].astype(np.float32) if "weight" in arrays else np.ones(n, dtype=np.float32),
        topology_hash=None if stored_hash is None else str(stored_hash.item()),
    )


def _check_pseudo_gt(arrays: dict[str, np.ndarray], where: str, topology: Topology | None) -> None:
    missing = [k for k in PSEUDO_GT_REQUIRED if k not in arrays]
    if missing:
        raise DensePoseError(f"{where}: pseudo-GT lacks {', '.join(missing)}; write it with save_pseudo_gt")
    ids, verts = arrays["annotation_id"], arrays["vertices"]
    n = len(ids) if ids.ndim == 1 else -1
    if ids.ndim != 1 or verts.ndim != 3 or verts.shape[0] != n or verts.shape[2] != 3:
        raise DensePoseError(
            f"{where}: expected annotation_id (N,) and vertices (N, K, 3), got {ids.shape} and {verts.shape}"
        )
    if len(np.unique(ids)) != n:
        raise DensePoseError(f"{where}: annotation_id has duplicates; keep one mesh per annotation")
    for key in ("vertices", "joints_3d", "weight"):
        if key in arrays and arrays[key].dtype.kind == "f" and not np.all(np.isfinite(arrays[key])):
            raise DensePoseError(f"{where}: {key} holds NaN or infinite values; fix the pseudo-GT")
    if "joints_3d" in arrays:
        j = arrays["joints_3d"]
        if j.ndim != 3 or j.shape[0] != n or j.shape[2] != 3:
            raise DensePoseError(f"{where}: joints_3d must be (N, J, 3) with N={n}, got {j.shape}")
    if "weight" in arrays:
        w = arrays["weight"]
        if w.shape != (n,) or np.any(w < 0) or np.any(w > 1):
            raise DensePoseError(f"{where}: weight must be (N,) with values in [0, 1]; fix the confidences")
    if topology is not None:
        if verts.shape[1] != topology.num_vertices:
            raise DensePoseError(
                f"{where}: meshes have {verts.shape[1]} vertices but topology {topology.name!r} has "
                f"{topology.num_vertices}; fit the pseudo-GT on this topology"
            )
        stored = arrays.get("topology_hash")
        if stored is not None and str(stored.item()) != topology.hash:
            raise DensePoseError(
                f"{where}: pseudo-GT was made for another topology (hash {str(stored.item())[:12]}...); "
                f"refit it on {topology.name!r}"
            )
