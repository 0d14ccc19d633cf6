"""The picture of a prediction: the mesh on the photo coloured by visibility, and a side view.

Matplotlib with the Agg backend (no display needed). The front panel draws the low-poly faces
when the topology has them (semi-transparent, so the photo stays readable) and the vertices
otherwise; the side panel plots z against y at the photo's scale, so depth reads in the same pixels
as height. The PNG is written atomically.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np

from meshpose_export.runtime.predict import Prediction
from meshpose_mobile.atomic import write_bytes_atomic

CMAP = "plasma"


def render_overlay(
    image: np.ndarray,
    prediction: Prediction,
    faces: np.ndarray | None = None,
    *,
    title: str = "",
    dpi: int = 100,
    compact: bool = False,
) -> bytes:
    """PNG bytes: photo + mesh (left), side view z vs y (right). `compact` writes a 256-colour
    (dithered) PNG, about a third of the size, for documentation and reports."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    h, w = image.shape[:2]
    xyz, vis = prediction.xyz_lp, np.clip(prediction.vertex_vis_lp, 0.0, 1.0)
    # The side panel spans the same rows as the photo; its width is a fixed share of the height.
    side_ratio = 0.5
    fig_h = 6.0
    fig = Figure(figsize=(fig_h * (w / h + side_ratio) + 1.2, fig_h + 0.6), dpi=dpi)
    grid = fig.add_gridspec(1, 3, width_ratios=[w / h, side_ratio, 0.04], wspace=0.08)
    front, side, bar = (fig.add_subplot(grid[0, i]) for i in range(3))
    cmap = matplotlib.colormaps[CMAP]

    # The panel is about fig_h * dpi pixels tall: a photo much larger than that is shown through
    # every n-th pixel (same extent), so a 100-megapixel photo costs no full-size RGBA copies.
    step = max(1, int(h // (3 * fig_h * dpi)))
    front.imshow(image[::step, ::step], extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    bx, by, bw, bh = prediction.box
    front.add_patch(Rectangle((bx, by), bw, bh, fill=False, ec="white", ls="--", lw=1.0))
    if faces is not None and len(faces):
        face_vis = vis[faces].mean(axis=1)
        # Far faces first so the near side of the body stays on top; +z faces the viewer.
        order = np.argsort(xyz[faces, 2].mean(axis=1))
        polys = PolyCollection(
            xyz[faces[order], :2], facecolors=cmap(face_vis[order]), edgecolors="none", alpha=0.45, linewidths=0
        )
        front.add_collection(polys)
        edges = PolyCollection(xyz[faces, :2], facecolors="none", edgecolors=(1, 1, 1, 0.25), linewidths=0.3)
        front.add_collection(edges)
    else:
        front.scatter(xyz[:, 0], xyz[:, 1], c=vis, cmap=CMAP, vmin=0, vmax=1, s=6, lw=0)
    front.set_xlim(-0.5, w - 0.5)
    front.set_ylim(h - 0.5, -0.5)
    front.set_axis_off()
    # Wrapped: a weights note runs to ~250 characters and would widen the tight-cropped figure.
    wrapped = "\n".join(textwrap.fill(line, 80) for line in (title or "mesh on the photo").splitlines())
    front.set_title(wrapped, fontsize=10)

    if prediction.xyz_hp is not None:
        hp = prediction.xyz_hp
        side.scatter(hp[:, 2], hp[:, 1], s=0.3, c="0.75", lw=0)
    side.scatter(xyz[:, 2], xyz[:, 1], c=vis, cmap=CMAP, vmin=0, vmax=1, s=5, lw=0)
    zc = float(np.median(xyz[:, 2])) if len(xyz) else 0.0
    half = side_ratio * h / 2.0
    side.set_xlim(zc - half, zc + half)
    side.set_ylim(h - 0.5, -0.5)
    side.set_aspect("equal", adjustable="box")
    side.set_title("side view (z vs y)", fontsize=10)
    side.set_xlabel("z (px, relative)", fontsize=8)
    side.tick_params(labelsize=7, labelleft=False)
    side.grid(True, lw=0.3, alpha=0.5)

    mappable = matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, 1), cmap=CMAP)
    cb = fig.colorbar(mappable, cax=bar)
    cb.set_label("visibility (0 hidden, 1 visible)", fontsize=8)
    cb.ax.tick_params(labelsize=7)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.1)
    if not compact:
        return buf.getvalue()
    from PIL import Image

    buf.seek(0)
    with Image.open(buf) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def save_overlay(
    path: str | Path,
    image: np.ndarray,
    prediction: Prediction,
    faces: np.ndarray | None = None,
    *,
    title: str = "",
    dpi: int = 100,
    compact: bool = False,
) -> Path:
    png = render_overlay(image, prediction, faces, title=title, dpi=dpi, compact=compact)
    return write_bytes_atomic(path, png)
