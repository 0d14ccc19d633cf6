"""A topology with DensePose's own charts, built from the user's SMPL model and ``UV_Processed.mat``.

DensePose-COCO annotates points as (I, U, V) in the 24-chart atlas DensePose drew on SMPL's mesh.
Neither file may ship with this project (SMPL has its own licence; DensePose's atlas comes with
its data), so the user builds the topology on their machine::

    meshpose-topology from-smpl --smpl SMPL_NEUTRAL.pkl --densepose UV_Processed.mat \\
        --vertices 600 --out my_topology.npz

What the build does (numbers it prints are recorded in docs/design.md):

1. Reads SMPL's pickle with a restricted unpickler (no chumpy, no arbitrary classes: chumpy's
   ``Ch`` and scipy's sparse matrices are turned into NumPy, anything else is refused), or the
   same keys from an ``.npz``; reads DensePose's atlas with ``scipy.io.loadmat``.
2. Decimates the 6,890-vertex mesh with fast-simplification (quadric edge collapse) to the
   requested vertex count. The collapses are planned on a copy of the mesh whose hands and feet are
   shrunk about their joints and whose head and torso are enlarged (a smooth, skinning-weighted
   scaling), so quadric errors there are smaller or larger and the budget of vertices goes to the
   torso and face that DensePose's charts cover densely; the collapses are then replayed on the
   real mesh and every kept vertex sits exactly on an SMPL vertex.
3. Charts: every kept vertex is an SMPL vertex, so it has DensePose's exact (U, V) in each chart
   it belongs to (a vertex on a chart border belongs to each chart it borders). Each low-poly face
   is put in its own chart (one its three corners share, preferring the chart of the surface under
   its centre; a face whose corners share none takes the chart under its centre) and, when it
   crosses a border, also in each other chart one of its corners belongs to (``chart_faces``,
   ``chart_parts``, ``chart_uv``). A corner outside an entry's chart is projected onto that chart's
   part of the surface, i.e. onto its border (such faces are counted in the build report).
4. Skinning weights (SMPL's, merged into the toolkit's 20-joint skeleton so the synthetic generator
   poses it), rest joints and a joint regressor from SMPL's ``J_regressor``, a COCO keypoint
   regressor, and the map of all 6,890 SMPL vertices onto the low-poly surface (the upsampler's
   correspondence). Saved atomically: an error leaves no file.
"""

from __future__ import annotations

import codecs
import copyreg
import io
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_mobile.errors import MeshPoseError
from meshpose_mobile.topology import NUM_COCO_KEYPOINTS, NUM_PARTS, Topology


class SmplFileError(MeshPoseError):
    """An SMPL model or DensePose atlas file is missing, unreadable, or not what it claims to be."""


SMPL_KEYS = ("v_template", "f", "weights", "J_regressor", "kintree_table")
DENSEPOSE_FIELDS = ("All_FaceIndices", "All_Faces", "All_U_norm", "All_V_norm", "All_vertices")
NUM_SMPL_JOINTS = 24
# SMPL's published kinematic tree (parent of each of its 24 joints; the root's is -1).
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# The toolkit's 20-joint skeleton (the default topology's names and order, which synth.JOINT_LIMITS
# knows): (joint, parent, SMPL joints merged into it; the first gives its position).
SKELETON: tuple[tuple[str, str | None, tuple[int, ...]], ...] = (
    ("pelvis", None, (0,)),
    ("spine1", "pelvis", (3,)),
    ("spine2", "spine1", (6,)),
    ("spine3", "spine2", (9,)),
    ("neck", "spine3", (12,)),
    ("head", "neck", (15,)),
    ("left_clavicle", "spine3", (13,)),
    ("left_shoulder", "left_clavicle", (16,)),
    ("left_elbow", "left_shoulder", (18,)),
    ("left_wrist", "left_elbow", (20, 22)),
    ("right_clavicle", "spine3", (14,)),
    ("right_shoulder", "right_clavicle", (17,)),
    ("right_elbow", "right_shoulder", (19,)),
    ("right_wrist", "right_elbow", (21, 23)),
    ("left_hip", "pelvis", (1,)),
    ("left_knee", "left_hip", (4,)),
    ("left_ankle", "left_knee", (7, 10)),
    ("right_hip", "pelvis", (2,)),
    ("right_knee", "right_hip", (5,)),
    ("right_ankle", "right_knee", (8, 11)),
)

# Scale of each SMPL joint's region in the copy the collapses are planned on. Quadric errors grow
# with the square of the scale: 0.4 makes a hand or foot 6x cheaper to collapse, 1.6 makes the head
# 2.6x dearer. Chosen so hands/feet end coarse and the charts of torso and face keep their shape.
REGION_SCALE = {
    **dict.fromkeys((20, 21, 22, 23), 0.4),  # wrists and hands
    **dict.fromkeys((7, 8, 10, 11), 0.4),  # ankles and feet
    **dict.fromkeys((12, 15), 1.6),  # neck and head (face)
    **dict.fromkeys((0, 3, 6, 9, 13, 14), 1.25),  # torso
}

# COCO body keypoints taken from SMPL's own joints: (COCO index, SMPL joint). SMPL's joints are
# centres of rotation, so hips sit a few cm inside and above COCO's annotated hips.
COCO_FROM_SMPL = (
    (5, 16),
    (6, 17),
    (7, 18),
    (8, 19),
    (9, 20),
    (10, 21),
    (11, 1),
    (12, 2),
    (13, 4),
    (14, 5),
    (15, 7),
    (16, 8),
)


# ----------------------------------------------------------------------------------------- reading


class _Ch:
    """Stand-in for chumpy's ``Ch``: keeps the pickled state; its array is ``state['x']``."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _Sparse:
    """Stand-in for a pickled scipy sparse matrix: keeps its CSC/CSR arrays (``fmt`` per subclass)."""

    fmt = "csc"
    state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _sparse_class(fmt: str) -> type:
    return type(f"_Sparse_{fmt}", (_Sparse,), {"fmt": fmt})


def _numpy_reconstruct() -> Callable[..., Any]:
    from numpy._core.multiarray import _reconstruct  # type: ignore[attr-defined]

    return _reconstruct  # type: ignore[no-any-return]


def _numpy_scalar() -> Callable[..., Any]:
    from numpy._core.multiarray import scalar  # type: ignore[attr-defined]

    return scalar  # type: ignore[no-any-return]


def _numpy_frombuffer() -> Callable[..., Any]:
    from numpy._core.numeric import _frombuffer  # type: ignore[attr-defined]

    return _frombuffer  # type: ignore[no-any-return]


_SPARSE = {fmt: _sparse_class(fmt) for fmt in ("csc", "csr")}
# (module, name) -> what it becomes. Python 2 pickles name copy_reg and __builtin__.
_ALLOWED: dict[tuple[str, str], Callable[[], Any]] = {
    ("chumpy.ch", "Ch"): lambda: _Ch,
    ("copy_reg", "_reconstructor"): lambda: copyreg._reconstructor,  # type: ignore[attr-defined]
    ("copyreg", "_reconstructor"): lambda: copyreg._reconstructor,  # type: ignore[attr-defined]
    ("__builtin__", "object"): lambda: object,
    ("builtins", "object"): lambda: object,
    # Protocol-2 pickles written by Python 3 store bytes as _codecs.encode(text, "latin1").
    ("_codecs", "encode"): lambda: codecs.encode,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy.core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _numpy_frombuffer,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}
for _fmt in ("csc", "csr"):
    for _mod in (f"scipy.sparse.{_fmt}", f"scipy.sparse._{_fmt}"):
        for _kind in ("matrix", "array"):
            _ALLOWED[(_mod, f"{_fmt}_{_kind}")] = lambda f=_fmt: _SPARSE[f]  # type: ignore[misc]


class _SmplUnpickler(pickle.Unpickler):
    def __init__(self, fh: io.BufferedIOBase, path: Path) -> None:
        super().__init__(fh, encoding="latin1")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        make = _ALLOWED.get((module, name))
        if make is None:
            raise SmplFileError(
                f"{self.path} holds a pickled {module}.{name}, which an SMPL model never does; refusing to load "
                "it (pass the SMPL_*.pkl from the SMPL website, or an .npz of its arrays)"
            )
        return make()


def _plain(value: Any, key: str, path: Path) -> Any:
    """chumpy and scipy stand-ins -> NumPy arrays."""
    if isinstance(value, _Ch):
        state = value.state
        arr = state.get("x") if isinstance(state, dict) else None
        if not isinstance(arr, np.ndarray):
            raise SmplFileError(f"{path}: {key} is a chumpy object without an array; pass an unmodified SMPL model")
        return arr
    if isinstance(value, _Sparse):
        import scipy.sparse

        s = value.state
        if not isinstance(s, dict) or not all(k in s for k in ("data", "indices", "indptr")):
            raise SmplFileError(f"{path}: {key} is a damaged sparse matrix; pass an unmodified SMPL model")
        shape = s.get("_shape", s.get("shape"))
        kind = scipy.sparse.csc_matrix if value.fmt == "csc" else scipy.sparse.csr_matrix
        try:
            return kind((s["data"], s["indices"], s["indptr"]), shape=tuple(shape)).toarray()
        except (TypeError, ValueError) as err:
            raise SmplFileError(
                f"{path}: {key} is a damaged sparse matrix ({err}); pass an unmodified SMPL model"
            ) from None
    return value


def read_smpl(path: str | Path) -> dict[str, np.ndarray]:
    """SMPL's arrays from its pickle (``.pkl``, chumpy not needed) or an ``.npz`` with the same keys.

    Returns float64 ``v_template`` (N, 3), int64 ``f`` (F, 3), float64 ``weights`` (N, 24), dense
    float64 ``J_regressor`` (24, N) and int64 ``kintree_table`` (2, 24), checked against each other.
    """
    path = Path(path)
    if not path.is_file():
        raise SmplFileError(f"SMPL model not found: {path}; pass --smpl SMPL_NEUTRAL.pkl (or .npz)")
    raw: Any
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                raw = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            why = " ".join(str(err).split())[:80] or type(err).__name__
            raise SmplFileError(
                f"cannot read {path} as an .npz ({why}); pass SMPL's .pkl or an .npz of its arrays"
            ) from None
    else:
        try:
            with path.open("rb") as fh:
                raw = _SmplUnpickler(fh, path).load()  # type: ignore[arg-type]
        except SmplFileError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as err:
            why = " ".join(str(err).split())[:80] or type(err).__name__
            raise SmplFileError(
                f"{path} is not a readable SMPL pickle ({why}); pass the SMPL_*.pkl from the SMPL website"
            ) from None
        if not isinstance(raw, dict):
            raise SmplFileError(
                f"{path} holds a pickled {type(raw).__name__}, not SMPL's dict of arrays; pass an SMPL model"
            )
    missing = [k for k in SMPL_KEYS if k not in raw]
    if missing:
        have = ", ".join(sorted(map(str, raw))[:6]) or "none"
        raise SmplFileError(
            f"{path} lacks SMPL's {', '.join(missing)} (it holds {have}); it is not an SMPL model, "
            "pass SMPL_NEUTRAL.pkl"
        )
    arrays = {k: _plain(raw[k], k, path) for k in SMPL_KEYS}
    try:
        out = {
            "v_template": np.asarray(arrays["v_template"], dtype=np.float64),
            "f": np.asarray(arrays["f"]).astype(np.int64),
            "weights": np.asarray(arrays["weights"], dtype=np.float64),
            "J_regressor": np.asarray(arrays["J_regressor"], dtype=np.float64),
            "kintree_table": np.asarray(arrays["kintree_table"]).astype(np.int64),
        }
    except (TypeError, ValueError) as err:
        raise SmplFileError(f"{path}: an SMPL array is not numeric ({err}); pass an unmodified SMPL model") from None
    _check_smpl(out, path)
    return out


def _check_smpl(s: dict[str, np.ndarray], path: Path) -> None:
    v, f, w, jr, kt = (s[k] for k in SMPL_KEYS)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) < 4:
        raise SmplFileError(f"{path}: v_template has shape {v.shape}, expected (N, 3); pass an SMPL model")
    n = len(v)
    if f.ndim != 2 or f.shape[1] != 3 or f.min() < 0 or f.max() >= n:
        raise SmplFileError(f"{path}: f has shape {f.shape} or indices outside 0..{n - 1}; pass an SMPL model")
    if w.shape != (n, NUM_SMPL_JOINTS):
        raise SmplFileError(
            f"{path}: weights has shape {w.shape} but v_template has {n} vertices and SMPL {NUM_SMPL_JOINTS} joints; "
            "the file's arrays do not belong together"
        )
    if jr.shape != (NUM_SMPL_JOINTS, n):
        raise SmplFileError(
            f"{path}: J_regressor has shape {jr.shape}, expected ({NUM_SMPL_JOINTS}, {n}); the file's arrays do not "
            "belong together"
        )
    if kt.shape != (2, NUM_SMPL_JOINTS):
        raise SmplFileError(f"{path}: kintree_table has shape {kt.shape}, expected (2, {NUM_SMPL_JOINTS})")
    parents = np.where(kt[0] > NUM_SMPL_JOINTS, -1, kt[0])
    if tuple(parents.tolist()) != SMPL_PARENTS:
        raise SmplFileError(f"{path}: kintree_table is not SMPL's 24-joint tree; pass an SMPL (not SMPL-X/H) model")
    for key in ("v_template", "weights", "J_regressor"):
        if not np.all(np.isfinite(s[key])):
            raise SmplFileError(f"{path}: {key} holds NaN or infinite values; pass an unmodified SMPL model")
    if np.any(w < -1e-6) or np.any(np.abs(w.sum(1) - 1.0) > 1e-3):
        raise SmplFileError(f"{path}: weights rows must be >= 0 and sum to 1; pass an unmodified SMPL model")


@dataclass(frozen=True)
class DensePoseAtlas:
    """DensePose's charts on SMPL (``UV_Processed.mat``), 0-based.

    DensePose splits SMPL's mesh along chart borders: ``uv_vertex`` maps each of its vertices to an
    SMPL vertex (a border vertex appears once per chart), ``faces`` index those vertices.
    """

    face_part: np.ndarray  # (Fd,) int64 1..24
    faces: np.ndarray  # (Fd, 3) int64 into the atlas vertices
    uv: np.ndarray  # (Nd, 2) float64 (U, V) in [0, 1]
    uv_vertex: np.ndarray  # (Nd,) int64 SMPL vertex

    @property
    def vertex_part(self) -> np.ndarray:
        """(Nd,) part of each atlas vertex (the part of the faces that use it)."""
        out = np.zeros(len(self.uv), np.int64)
        out[self.faces.ravel()] = np.repeat(self.face_part, 3)
        return out


def read_densepose_atlas(path: str | Path, num_smpl_vertices: int | None = None) -> DensePoseAtlas:
    """``UV_Processed.mat`` (All_FaceIndices, All_Faces, All_U_norm, All_V_norm, All_vertices; 1-based)."""
    path = Path(path)
    if not path.is_file():
        raise SmplFileError(
            f"DensePose atlas not found: {path}; pass --densepose UV_Processed.mat from DensePose's data"
        )
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        mat = scipy.io.loadmat(str(path))
    except (MatReadError, ValueError, TypeError, OSError, NotImplementedError, KeyError, EOFError) as err:
        why = " ".join(str(err).split())[:80] or type(err).__name__
        raise SmplFileError(
            f"cannot read {path} as a MATLAB .mat file ({why}); pass DensePose's UV_Processed.mat"
        ) from None
    missing = [k for k in DENSEPOSE_FIELDS if k not in mat]
    if missing:
        have = ", ".join(sorted(k for k in mat if not k.startswith("__"))[:5]) or "none"
        raise SmplFileError(
            f"{path} lacks DensePose's {', '.join(missing)} (it holds {have}); pass DensePose's UV_Processed.mat"
        )
    try:
        part = np.asarray(mat["All_FaceIndices"], dtype=np.float64).reshape(-1)
        faces = np.asarray(mat["All_Faces"], dtype=np.float64)
        u = np.asarray(mat["All_U_norm"], dtype=np.float64).reshape(-1)
        v = np.asarray(mat["All_V_norm"], dtype=np.float64).reshape(-1)
        vert = np.asarray(mat["All_vertices"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise SmplFileError(
            f"{path}: DensePose's fields are not numeric arrays; pass DensePose's UV_Processed.mat"
        ) from None
    if faces.ndim != 2 or 3 not in faces.shape:
        raise SmplFileError(f"{path}: All_Faces has shape {faces.shape}, expected (F, 3)")
    if faces.shape[1] != 3:
        faces = faces.T
    nd = len(vert)
    problems = []
    if len(part) != len(faces):
        problems.append(f"All_FaceIndices has {len(part)} entries for {len(faces)} faces")
    if len(u) != nd or len(v) != nd:
        problems.append(f"All_U_norm/All_V_norm have {len(u)}/{len(v)} entries for {nd} vertices")
    if problems:
        raise SmplFileError(f"{path}: {'; '.join(problems)}; the file is damaged, re-download DensePose's data")
    for name, arr in (("All_FaceIndices", part), ("All_Faces", faces), ("All_vertices", vert)):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise SmplFileError(f"{path}: {name} holds non-integer values; pass DensePose's UV_Processed.mat")
    if part.min() < 1 or part.max() > NUM_PARTS:
        raise SmplFileError(f"{path}: All_FaceIndices holds parts outside 1..{NUM_PARTS}; pass DensePose's atlas")
    if faces.min() < 1 or faces.max() > nd:
        raise SmplFileError(f"{path}: All_Faces indices fall outside 1..{nd} (1-based); pass DensePose's atlas")
    if (
        not (np.all(np.isfinite(u)) and np.all(np.isfinite(v)))
        or min(u.min(), v.min()) < 0
        or max(u.max(), v.max()) > 1
    ):
        raise SmplFileError(f"{path}: All_U_norm/All_V_norm must lie in [0, 1]; pass DensePose's atlas")
    if vert.min() < 1:
        raise SmplFileError(f"{path}: All_vertices indices must be 1-based SMPL vertices; pass DensePose's atlas")
    if num_smpl_vertices is not None and vert.max() > num_smpl_vertices:
        raise SmplFileError(
            f"{path} refers to SMPL vertex {int(vert.max())} but the SMPL model has {num_smpl_vertices} vertices; "
            "pass the SMPL model DensePose was made for (6,890 vertices)"
        )
    missing_parts = sorted(set(range(1, NUM_PARTS + 1)) - set(part.astype(int).tolist()))
    if missing_parts:
        raise SmplFileError(f"{path}: parts {missing_parts} have no face; pass DensePose's full atlas")
    return DensePoseAtlas(
        face_part=part.astype(np.int64),
        faces=faces.astype(np.int64) - 1,
        uv=np.stack([u, v], 1),
        uv_vertex=vert.astype(np.int64) - 1,
    )


# --------------------------------------------------------------------------------------- geometry


def closest_points(
    points: np.ndarray, tris: np.ndarray, candidates: int = 48, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest point on a set of triangles (T, 3, 3) for each point (P, 3).

    Returns the triangle index (P,), barycentrics (P, 3) (>= 0, sum 1) and the distance (P,).
    Per pair: project onto the plane; inside the triangle that is the answer, else the nearest
    point on the three edges. Only the `candidates` triangles with the nearest centroids are tried
    (all when there are fewer): on body meshes the closest triangle is always among them.
    """
    from scipy.spatial import cKDTree

    if len(tris) > candidates:
        _, cand = cKDTree(tris.mean(1)).query(points, k=candidates)
    else:
        cand = np.broadcast_to(np.arange(len(tris)), (len(points), len(tris)))
    idx = np.empty(len(points), np.int64)
    bary = np.empty((len(points), 3))
    dist = np.empty(len(points))
    for s in range(0, len(points), chunk):
        c_idx = cand[s : s + chunk]
        t = tris[c_idx]  # (P, C, 3, 3)
        k, b, d = _closest_pairs(points[s : s + chunk, None, :], t[..., 0, :], t[..., 1, :], t[..., 2, :])
        idx[s : s + chunk] = c_idx[np.arange(len(k)), k]
        bary[s : s + chunk] = b
        dist[s : s + chunk] = d
    bary = np.clip(bary, 0.0, None)
    bary /= bary.sum(1, keepdims=True)
    return idx, bary, dist


def _closest_pairs(
    p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p (P, 1, 3) against triangles a, b, c (P, C, 3): best column, its barycentrics and distance."""
    e0, e1 = b - a, c - a
    d00, d01, d11 = (e0 * e0).sum(-1), (e0 * e1).sum(-1), (e1 * e1).sum(-1)
    denom = d00 * d11 - d01 * d01
    ok = np.abs(denom) > 1e-20
    denom = np.where(ok, denom, 1.0)
    ap = p - a
    d20, d21 = (ap * e0).sum(-1), (ap * e1).sum(-1)
    v = (d11 * d20 - d01 * d21) / denom
    w = (d00 * d21 - d01 * d20) / denom
    u = 1.0 - v - w
    inside = ok & (u >= 0) & (v >= 0) & (w >= 0)
    best_b = np.stack([u, v, w], -1)
    q = a + v[..., None] * e0 + w[..., None] * e1
    best_d = np.where(inside, ((p - q) ** 2).sum(-1), np.inf)
    for pa, pb, ia, ib in ((a, b, 0, 1), (b, c, 1, 2), (c, a, 2, 0)):
        e = pb - pa
        t = np.clip(((p - pa) * e).sum(-1) / np.maximum((e * e).sum(-1), 1e-30), 0.0, 1.0)
        d = ((p - (pa + t[..., None] * e)) ** 2).sum(-1)
        better = (d < best_d) & ~inside
        cand = np.zeros(best_b.shape)
        cand[..., ia] = 1.0 - t
        cand[..., ib] = t
        best_b = np.where(better[..., None], cand, best_b)
        best_d = np.where(better, d, best_d)
    k = best_d.argmin(1)
    rows = np.arange(len(k))
    return k, best_b[rows, k], np.sqrt(best_d[rows, k])


def _signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    return float(np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6.0)


def _vertex_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    vn = np.zeros_like(v)
    for i in range(3):
        np.add.at(vn, f[:, i], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-12)


def decimate(
    vertices: np.ndarray, faces: np.ndarray, weights: np.ndarray, joints: np.ndarray, target: int
) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation to ``target`` vertices, region-weighted (see the module docstring).

    Returns the kept SMPL vertex of each low-poly vertex (K,) and the low-poly faces (F', 3).
    """
    import fast_simplification

    scale = np.array([REGION_SCALE.get(j, 1.0) for j in range(NUM_SMPL_JOINTS)])
    # Each vertex scaled about each joint by that joint's factor, blended by its skinning weights.
    planned = np.einsum("kj,kjd->kd", weights, joints[None] + scale[None, :, None] * (vertices[:, None] - joints[None]))
    n, nf = len(vertices), len(faces)
    # Every collapse on a closed manifold removes one vertex and two faces.
    target_faces = nf - 2 * (n - target)
    _, _, collapses = fast_simplification.simplify(
        planned, faces.astype(np.int32), target_count=target_faces, agg=3.0, return_collapses=True
    )
    optimal, low_faces, mapping = fast_simplification.replay_simplification(
        vertices.astype(np.float32), faces.astype(np.int32), collapses
    )
    mapping = np.asarray(mapping, np.int64)
    low_faces = np.asarray(low_faces, np.int64)
    k = int(mapping.max()) + 1
    # Each low-poly vertex becomes the SMPL vertex of its cluster nearest to the quadric-optimal
    # position: it keeps DensePose's exact (U, V) and SMPL's weights, and (measured on the test
    # body) flips no face, where keeping the cluster's never-collapsed vertex flipped 7 of 1,196.
    d = np.linalg.norm(vertices - np.asarray(optimal, np.float64)[mapping], axis=1)
    order = np.lexsort((d, mapping))
    first = np.r_[True, mapping[order][1:] != mapping[order][:-1]]
    keep = np.full(k, -1, np.int64)
    keep[mapping[order][first]] = order[first]
    if np.any(keep < 0):
        raise SmplFileError(
            "the decimation left an empty vertex cluster; the SMPL mesh is not a closed manifold "
            "(pass an unmodified SMPL model)"
        )
    used = np.unique(low_faces)
    if len(used) != k:
        raise SmplFileError(
            "the decimation left unreferenced vertices; pass an unmodified SMPL model or other --vertices"
        )
    return keep, low_faces


# ------------------------------------------------------------------------------------------ build


@dataclass(frozen=True)
class BuildReport:
    vertices: int
    faces: int
    straddling_faces: int  # faces whose corners share no chart (outside corners projected)
    flipped_faces: int  # faces whose normal opposes the SMPL surface under them
    hires_mean_mm: float  # SMPL vertices to the low-poly surface
    hires_max_mm: float
    part_vertices: dict[int, int]
    coco_offsets_mm: tuple[float, ...]

    def lines(self) -> list[str]:
        return [
            f"low-poly: {self.vertices} vertices, {self.faces} faces",
            f"faces whose corners share no chart (corners projected): {self.straddling_faces}; "
            f"faces flipped against the SMPL surface: {self.flipped_faces}",
            f"SMPL vertices to the low-poly surface: mean {self.hires_mean_mm:.1f} mm, max {self.hires_max_mm:.1f} mm",
            f"vertices per part (primary chart): {self.part_vertices}",
        ]


def _face_keypoints(v: np.ndarray, normals: np.ndarray, head: np.ndarray) -> tuple[int, int, int, int, int]:
    """SMPL vertices for COCO's nose, eyes and ears, found on the rest mesh's head (facing +z).

    No vertex numbers are taken from elsewhere: the nose is the head's most forward vertex; the
    ears its widest points at nose height; the eyes the forward-facing vertices nearest to points
    a third of the way from the nose to each ear and 3.5 cm above the nose.
    """
    hv = np.flatnonzero(head)
    nose = int(hv[np.argmax(v[hv, 2])])
    band = hv[np.abs(v[hv, 1] - v[nose, 1]) < 0.04]
    if band.size == 0:
        band = hv
    left_ear, right_ear = int(band[np.argmax(v[band, 0])]), int(band[np.argmin(v[band, 0])])
    front = hv[normals[hv, 2] > 0.3]
    if front.size == 0:
        front = hv
    eyes = []
    for ear in (left_ear, right_ear):
        target = v[nose] + (v[ear] - v[nose]) / 3.0
        target = np.array([target[0], v[nose, 1] + 0.035, v[nose, 2]])
        d = np.abs(v[front, 0] - target[0]) + np.abs(v[front, 1] - target[1]) + 0.25 * np.abs(v[front, 2] - target[2])
        eyes.append(int(front[np.argmin(d)]))
    return nose, eyes[0], eyes[1], left_ear, right_ear


def build_smpl_topology(
    smpl: dict[str, np.ndarray], atlas: DensePoseAtlas, num_vertices: int, name: str | None = None
) -> tuple[Topology, BuildReport]:
    """The low-poly topology with DensePose's charts (see the module docstring for each step)."""
    v_full = smpl["v_template"].astype(np.float64)
    f_full = smpl["f"].astype(np.int64)
    w_full = smpl["weights"].astype(np.float64)
    jreg_full = np.clip(smpl["J_regressor"].astype(np.float64), 0.0, None)
    jreg_full /= np.maximum(jreg_full.sum(1, keepdims=True), 1e-12)
    n = len(v_full)
    if atlas.uv_vertex.max() >= n:
        raise SmplFileError(
            f"the DensePose atlas refers to SMPL vertex {int(atlas.uv_vertex.max()) + 1} but the SMPL model has {n} "
            "vertices; pass the SMPL model DensePose was made for (6,890 vertices)"
        )
    if not 24 <= num_vertices < n:
        raise SmplFileError(f"--vertices {num_vertices} must lie in 24..{n - 1} (the SMPL mesh has {n})")
    # Toolkit axes: metres, +y up, +z the way the body faces, +x the body's left (SMPL's own axes);
    # centred vertically like the default topology.
    joints = jreg_full @ v_full
    if not (joints[15, 1] > joints[0, 1] and joints[1, 0] > joints[2, 0]):
        raise SmplFileError(
            "the SMPL model is not in SMPL's axes (head up +y, left hip at +x); pass an unmodified model"
        )
    shift = np.array([0.0, -(v_full[:, 1].min() + v_full[:, 1].max()) / 2, 0.0])
    v_full = v_full + shift
    joints = joints + shift
    if _signed_volume(v_full, f_full) < 0:  # faces must be counter-clockwise seen from outside
        f_full = f_full[:, ::-1].copy()

    keep, faces = decimate(v_full, f_full, w_full, joints, num_vertices)
    k = len(keep)
    template = v_full[keep]
    full_normals = _vertex_normals(v_full, f_full)

    # ---- charts
    vpart = atlas.vertex_part
    charts: list[dict[int, np.ndarray]] = [{} for _ in range(n)]
    for u in range(len(atlas.uv)):
        charts[int(atlas.uv_vertex[u])].setdefault(int(vpart[u]), atlas.uv[u])
    atlas_tris = v_full[atlas.uv_vertex[atlas.faces]]  # (Fd, 3, 3)
    centroids = template[faces].mean(1)
    under, _, _ = closest_points(centroids, atlas_tris)
    under_part = atlas.face_part[under]
    # Chart entries: each face in its own chart first, then in every other chart one of its
    # corners belongs to (a face crossing a border), so each chart's triangles reach its border.
    entry_face: list[int] = []
    entry_part: list[int] = []
    straddling = 0
    own: list[int] = []
    others: list[list[int]] = []
    for fi, corners in enumerate(keep[faces]):
        sets = [set(charts[int(c)]) for c in corners]
        common = sets[0] & sets[1] & sets[2]
        part = int(under_part[fi])
        if part not in common and common:
            part = min(common)
        if not common:
            straddling += 1
        own.append(part)
        others.append(sorted((sets[0] | sets[1] | sets[2]) - {part}))
    for fi, part in enumerate(own):
        entry_face.append(fi)
        entry_part.append(part)
    for fi, extra in enumerate(others):
        for part in extra:
            entry_face.append(fi)
            entry_part.append(part)
    chart_faces = np.array(entry_face, np.int64)
    chart_parts = np.array(entry_part, np.int64)
    chart_uv = np.zeros((len(chart_faces), 3, 2))
    pending: list[tuple[int, int, int]] = []  # (entry, corner, part): corners outside the entry's chart
    for e, (fi, part) in enumerate(zip(entry_face, entry_part, strict=True)):
        for ci, c in enumerate(keep[faces[fi]]):
            uv = charts[int(c)].get(part)
            if uv is None:
                pending.append((e, ci, part))
            else:
                chart_uv[e, ci] = uv
    # A corner outside the chart goes to the nearest point of that chart's surface (on its border).
    for part in sorted({p for _, _, p in pending}):
        rows = [(e, ci) for e, ci, p in pending if p == part]
        sel = np.flatnonzero(atlas.face_part == part)
        pts = np.array([template[faces[entry_face[e], ci]] for e, ci in rows])
        hit, bary, _ = closest_points(pts, atlas_tris[sel])
        uv = np.einsum("pc,pcd->pd", bary, atlas.uv[atlas.faces[sel[hit]]])
        for (e, ci), value in zip(rows, uv, strict=True):
            chart_uv[e, ci] = value
    # Extra entries that collapse to a sliver in UV (a face along a border, one corner projected
    # onto it) cover nothing: drop them.
    d1, d2 = chart_uv[:, 1] - chart_uv[:, 0], chart_uv[:, 2] - chart_uv[:, 0]
    area = 0.5 * np.abs(d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])
    keep_entry = (np.arange(len(chart_faces)) < len(faces)) | (area > 1e-6)
    chart_faces, chart_parts, chart_uv = chart_faces[keep_entry], chart_parts[keep_entry], chart_uv[keep_entry]
    face_charts = chart_parts[: len(faces)]

    # Each vertex's primary part and (U, V): the chart most of its faces are in.
    counts = np.zeros((k, NUM_PARTS + 1), np.int64)
    np.add.at(counts, (faces.ravel(), np.repeat(face_charts, 3)), 1)
    parts = counts.argmax(1)
    for p in range(1, NUM_PARTS + 1):
        if not np.any(parts == p) and counts[:, p].any():
            parts[int(np.argmax(counts[:, p] - counts.max(1)))] = p
    missing = sorted(set(range(1, NUM_PARTS + 1)) - set(parts.tolist()))
    if missing:
        raise SmplFileError(
            f"at {k} vertices the parts {missing} keep no vertex; raise --vertices (DensePose's 24 charts need them)"
        )
    uv_vertex = np.zeros((k, 2))
    for fi in range(len(faces)):
        for ci in range(3):
            vi = faces[fi, ci]
            if face_charts[fi] == parts[vi]:
                uv_vertex[vi] = chart_uv[fi, ci]

    # ---- the 6,890 SMPL vertices on the low-poly surface (upsampler correspondence, regressors)
    hi_face, hi_bary, hi_dist = closest_points(v_full, template[faces])
    proj = np.zeros((n, k))
    np.add.at(proj, (np.repeat(np.arange(n), 3), faces[hi_face].ravel()), hi_bary.ravel())
    # A kept vertex is itself: the closest point may be on any face around it; make it exact.
    proj[keep] = np.eye(k)
    face_normals = np.cross(
        template[faces[:, 1]] - template[faces[:, 0]], template[faces[:, 2]] - template[faces[:, 0]]
    )
    flipped = int(((face_normals * full_normals[keep[faces]].sum(1)).sum(1) < 0).sum())

    # ---- skeleton, skinning, regressors
    names = tuple(j[0] for j in SKELETON)
    index = {nm: i for i, nm in enumerate(names)}
    parents = np.array([-1 if p is None else index[p] for _, p, _ in SKELETON], np.int64)
    merge = np.zeros((NUM_SMPL_JOINTS, len(names)))
    for j, (_, _, smpl_joints) in enumerate(SKELETON):
        merge[list(smpl_joints), j] = 1.0
    skin = (w_full @ merge)[keep]
    skin = np.clip(skin, 0.0, None)
    skin /= skin.sum(1, keepdims=True)
    first = [sj[0] for _, _, sj in SKELETON]
    joint_positions = joints[first]
    joint_regressor = jreg_full[first] @ proj
    joint_regressor /= joint_regressor.sum(1, keepdims=True)

    coco_full = np.zeros((NUM_COCO_KEYPOINTS, n))
    for coco, sj in COCO_FROM_SMPL:
        coco_full[coco] = jreg_full[sj]
    head = w_full[:, 15] + w_full[:, 12] >= 0.5
    for coco, vid in enumerate(_face_keypoints(v_full, full_normals, head)):
        coco_full[coco, vid] = 1.0
    coco_low = coco_full @ proj
    coco_low /= coco_low.sum(1, keepdims=True)
    coco_offsets = np.linalg.norm(coco_full @ v_full - coco_low @ template, axis=1) * 1000

    def f32_rows(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float32)
        return a / a.sum(1, keepdims=True, dtype=np.float64).astype(np.float32)

    topo = Topology(
        name=name or f"smpl-densepose-{k}",
        num_vertices=k,
        template=template.astype(np.float32),
        faces=faces,
        parts=parts,
        uv=np.clip(uv_vertex, 0.0, 1.0).astype(np.float32),
        joint_names=names,
        joint_parents=parents,
        joint_positions=joint_positions.astype(np.float32),
        skin_weights=f32_rows(skin),
        coco_regressor=f32_rows(coco_low),
        hires_vertices=v_full.astype(np.float32),
        hires_faces=f_full,
        hires_face_index=hi_face,
        hires_bary=hi_bary.astype(np.float32),
        chart_faces=chart_faces,
        chart_parts=chart_parts,
        chart_uv=np.clip(chart_uv, 0.0, 1.0).astype(np.float32),
        joint_regressor=f32_rows(joint_regressor),
    )
    topo.validate()
    report = BuildReport(
        vertices=k,
        faces=len(faces),
        straddling_faces=straddling,
        flipped_faces=flipped,
        hires_mean_mm=float(hi_dist.mean() * 1000),
        hires_max_mm=float(hi_dist.max() * 1000),
        part_vertices={p: int((parts == p).sum()) for p in range(1, NUM_PARTS + 1)},
        coco_offsets_mm=tuple(float(x) for x in coco_offsets),
    )
    return topo, report


def topology_from_smpl(
    smpl_path: str | Path, densepose_path: str | Path, num_vertices: int, out: str | Path, name: str | None = None
) -> tuple[Topology, BuildReport]:
    """Read both files, build, and save ``out`` (.npz) atomically; nothing is written on an error."""
    out = Path(out)
    if out.suffix != ".npz":
        raise SmplFileError(f"--out {out} must end in .npz (a topology file); rename it")
    smpl = read_smpl(smpl_path)
    atlas = read_densepose_atlas(densepose_path, len(smpl["v_template"]))
    topo, report = build_smpl_topology(smpl, atlas, num_vertices, name)
    topo.save(out)
    return topo, report
