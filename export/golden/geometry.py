"""golden/geometry.json: frame geometry (export/runtime/frame_geometry.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from meshpose_export.golden.common import (
    BOX,
    MATRIX,
    PIXELS,
    _doc,
    _flat,
    _r,
)


def geometry_cases() -> dict[str, Any]:
    from meshpose_export.runtime import frame_geometry as fg
    from meshpose_mobile.errors import MeshPoseError

    rotation_cases = []
    for bw, bh in [(6, 4), (640, 480)]:
        pts = np.array([[0.0, 0.0], [bw - 1, 0.0], [0.0, bh - 1], [bw - 1, bh - 1], [1.25, 2.5], [-0.5, -0.5]])
        for rot in fg.ROTATIONS:
            m = fg.buffer_to_upright_matrix(bw, bh, rot)
            up = fg.buffer_to_upright(pts, bw, bh, rot)
            assert np.allclose(fg.upright_to_buffer(up, bw, bh, rot), pts)
            box = (1.0, 0.5, 2.5, 1.5)
            rotation_cases.append(
                {
                    "buffer_size": [bw, bh],
                    "rotation": rot,
                    "upright_size": list(fg.upright_size(bw, bh, rot)),
                    "buffer_to_upright": _r(m),
                    "buffer_points": _flat(pts),
                    "upright_points": _flat(up),
                    "buffer_box": list(box),
                    "upright_box": _r(list(fg.box_buffer_to_upright(box, bw, bh, rot))),
                }
            )
    view_cases = []
    for iw, ih, vw, vh in [(480, 640, 390, 844), (480, 640, 844, 390), (640, 480, 390, 844), (4, 3, 8, 3)]:
        pts = np.array([[0.0, 0.0], [iw - 1, ih - 1], [-0.5, -0.5], [iw - 0.5, ih - 0.5], [iw / 3, ih / 5]])
        for mode in fg.VIEW_MODES:
            for mirrored in (False, True):
                m = fg.image_to_view_matrix(iw, ih, vw, vh, mode, mirrored)
                view = fg.image_to_view(pts, iw, ih, vw, vh, mode, mirrored)
                assert np.allclose(fg.view_to_image(view, iw, ih, vw, vh, mode, mirrored), pts)
                view_cases.append(
                    {
                        "image_size": [iw, ih],
                        "view_size": [vw, vh],
                        "mode": mode,
                        "mirrored": mirrored,
                        "image_to_view": _r(m),
                        "image_points": _flat(pts),
                        "view_points": _flat(view),
                    }
                )
    buffer_view_cases = []
    for rot in fg.ROTATIONS:
        for mirrored in (False, True):
            bw, bh, vw, vh = 640, 480, 390, 844
            pts = np.array([[0.0, 0.0], [639.0, 479.0], [100.5, 50.25]])
            m = fg.buffer_to_view_matrix(bw, bh, rot, vw, vh, "fill", mirrored)
            buffer_view_cases.append(
                {
                    "buffer_size": [bw, bh],
                    "rotation": rot,
                    "view_size": [vw, vh],
                    "mode": "fill",
                    "mirrored": mirrored,
                    "buffer_to_view": _r(m),
                    "buffer_points": _flat(pts),
                    "view_points": _flat(fg.apply_affine(m, pts)),
                }
            )
    box_cases = []
    for kind, fn in [
        ("vision_bottom_left", fg.vision_box_to_pixels),
        ("normalized_top_left", fg.normalized_box_to_pixels),
    ]:
        norm_boxes = [
            ((0.0, 0.0, 1.0, 1.0), (480, 640)),
            ((0.25, 0.1, 0.5, 0.6), (480, 640)),
            ((0.3, 0.7, 0.2, 0.25), (7, 5)),
        ]
        for box, (w, h) in norm_boxes:
            box_cases.append(
                {"kind": kind, "image_size": [w, h], "box": list(box), "pixel_box": _r(list(fn(box, w, h)))}
            )
    for rect in [(0.0, 0.0, 480.0, 640.0), (10.0, 20.5, 110.0, 300.0)]:
        box_cases.append({"kind": "edge_rect", "rect": list(rect), "pixel_box": _r(list(fg.edge_rect_to_box(*rect)))})
    orientation_cases = []
    for rot in fg.ROTATIONS:
        for mirrored in (False, True):
            bw, bh = 6, 4
            pts = np.array([[0.0, 0.0], [bw - 1, 0.0], [0.0, bh - 1], [1.25, 2.5], [-0.5, -0.5]])
            m = fg.buffer_to_upright_matrix(bw, bh, rot, mirrored)
            orientation_cases.append(
                {
                    "buffer_size": [bw, bh],
                    "rotation": rot,
                    "mirrored": mirrored,
                    "exif": fg.exif_orientation(rot, mirrored),
                    "upright_size": list(fg.upright_size(bw, bh, rot)),
                    "buffer_to_upright": _r(m),
                    "buffer_points": _flat(pts),
                    "upright_points": _flat(fg.apply_affine(m, pts)),
                }
            )
    camera_cases = []
    for platform in fg.PLATFORMS:
        for camera in fg.CAMERAS:
            for holding in fg.HOLDINGS:
                rot, mirrored = fg.camera_orientation(platform, camera, holding)
                bw, bh = (1280, 720) if platform == "ios" else (640, 480)
                pts = np.array([[0.0, 0.0], [bw - 1, 0.0], [0.0, bh - 1], [100.5, 50.25]])
                m = fg.buffer_to_upright_matrix(bw, bh, rot, mirrored)
                vw, vh = (390, 844) if holding.startswith("portrait") else (844, 390)
                uw, uh = fg.upright_size(bw, bh, rot)
                view = fg.image_to_view_matrix(uw, uh, vw, vh, "fill", fg.view_mirrored(camera))
                camera_cases.append(
                    {
                        "platform": platform,
                        "camera": camera,
                        "holding": holding,
                        "rotation_degrees": fg.camerax_rotation_degrees(camera, holding)
                        if platform == "android"
                        else None,
                        "rotation": rot,
                        "mirrored": mirrored,
                        "exif": fg.exif_orientation(rot, mirrored),
                        "view_mirrored": fg.view_mirrored(camera),
                        "buffer_size": [bw, bh],
                        "upright_size": [uw, uh],
                        "buffer_to_upright": _r(m),
                        "buffer_points": _flat(pts),
                        "upright_points": _flat(fg.apply_affine(m, pts)),
                        "view_size": [vw, vh],
                        "buffer_to_view": _r(fg.compose(view, m)),
                    }
                )
    locked_cases = []  # orientation lock: the UI stays in `interface`, the phone is held as `holding`
    for camera in fg.CAMERAS:
        for holding, interface in [
            ("landscape_left", "portrait"),
            ("landscape_right", "portrait"),
            ("portrait_upside_down", "portrait"),
            ("portrait", "portrait"),
            ("portrait", "landscape_left"),
        ]:
            bw, bh, vw, vh = 1280, 720, 390, 844
            rot, mirrored = fg.camera_orientation("ios", camera, holding)
            display, _ = fg.camera_orientation("ios", camera, interface)
            uw, uh = fg.upright_size(bw, bh, rot)
            pts = np.array([[0.0, 0.0], [uw - 1, 0.0], [0.0, uh - 1], [100.5, 50.25]])
            m = fg.upright_to_view_matrix(bw, bh, rot, display, vw, vh, "fill", fg.view_mirrored(camera), mirrored)
            locked_cases.append(
                {
                    "camera": camera,
                    "holding": holding,
                    "interface": interface,
                    "buffer_size": [bw, bh],
                    "rotation": rot,
                    "display_rotation": display,
                    "view_size": [vw, vh],
                    "view_mirrored": fg.view_mirrored(camera),
                    "upright_to_view": _r(m),
                    "upright_points": _flat(pts),
                    "view_points": _flat(fg.apply_affine(m, pts)),
                }
            )
    gravity_cases = []
    s45 = float(np.sqrt(0.5))
    for g, previous in [
        ((0.0, -1.0, 0.0), "landscape_left"),
        ((0.0, 1.0, 0.0), "portrait"),
        ((-1.0, 0.0, 0.0), "portrait"),
        ((1.0, 0.0, 0.0), "portrait"),
        ((0.05, -0.2, -0.97), "landscape_right"),  # nearly flat on a table: keep
        ((-s45, -s45, 0.0), "portrait"),  # exactly between: keep
        ((-s45, -s45, 0.0), "landscape_left"),
        ((-0.766, -0.643, 0.0), "portrait"),  # 50 degrees: within the hysteresis, keep
        ((-0.866, -0.5, 0.0), "portrait"),  # 60 degrees: turn
        ((0.7, 0.6, -0.3), "portrait"),
    ]:
        gravity_cases.append(
            {"gravity": list(g), "previous": previous, "holding": fg.holding_from_gravity(*g, previous)}
        )
    # Android under orientation lock (or an activity fixed to portrait): the app sets ImageAnalysis's
    # target rotation from how the phone is held (OrientationEventListener -> holding ->
    # `target_rotation`), so CameraX turns frames by `rotation_degrees`; the preview keeps the
    # display's rotation (`display_rotation_degrees`, CameraInfo.getSensorRotationDegrees of it).
    android_locked_cases = []
    for camera in fg.CAMERAS:
        for holding, interface in [
            ("landscape_left", "portrait"),
            ("landscape_right", "portrait"),
            ("portrait_upside_down", "portrait"),
            ("portrait", "portrait"),
            ("portrait", "landscape_left"),
            ("landscape_left", "landscape_right"),
        ]:
            bw, bh, vw, vh = 640, 480, 412, 915
            if not interface.startswith("portrait"):
                vw, vh = vh, vw
            rot = fg.camerax_rotation_degrees(camera, holding)
            assert fg.camera_orientation("android", camera, holding) == (rot, False)
            display = fg.camerax_rotation_degrees(camera, interface)
            uw, uh = fg.upright_size(bw, bh, rot)
            pts = np.array([[0.0, 0.0], [uw - 1, 0.0], [0.0, uh - 1], [100.5, 50.25]])
            m = fg.upright_to_view_matrix(bw, bh, rot, display, vw, vh, "fill", fg.view_mirrored(camera), False)
            android_locked_cases.append(
                {
                    "camera": camera,
                    "holding": holding,
                    "interface": interface,
                    "target_rotation": fg.target_rotation(holding),
                    "display_target_rotation": fg.target_rotation(interface),
                    "buffer_size": [bw, bh],
                    "rotation_degrees": rot,
                    "display_rotation_degrees": display,
                    "view_size": [vw, vh],
                    "view_mirrored": fg.view_mirrored(camera),
                    "upright_to_view": _r(m),
                    "upright_points": _flat(pts),
                    "view_points": _flat(fg.apply_affine(m, pts)),
                }
            )
    orientation_event_cases = []
    for degrees, previous in [
        (0, "landscape_left"),
        (180, "portrait"),
        (90, "portrait"),  # turned clockwise: home edge on the left
        (270, "portrait"),
        (359, "landscape_right"),
        (fg.ORIENTATION_UNKNOWN, "landscape_right"),  # lying flat: keep
        (45, "portrait"),  # exactly between: keep
        (45, "landscape_right"),
        (55, "portrait"),  # the hysteresis' edge: keep
        (56, "portrait"),  # one degree past it: turn
        (304, "portrait"),
        (305, "portrait"),
        (134, "landscape_right"),
        (226, "portrait_upside_down"),
    ]:
        holding = fg.holding_from_orientation_degrees(degrees, previous)
        orientation_event_cases.append(
            {
                "orientation": degrees,
                "previous": previous,
                "holding": holding,
                "target_rotation": fg.target_rotation(holding),
            }
        )
    errors = []
    for rot in (45, -90, 360):
        try:
            fg.buffer_to_upright_matrix(640, 480, rot)
        except MeshPoseError:
            errors.append(
                {"call": "buffer_to_upright", "buffer_size": [640, 480], "rotation": rot, "error": "invalid_rotation"}
            )
    for size in ([0, 480], [640, -1]):
        try:
            fg.image_to_view_matrix(480, 640, size[0], size[1])
        except MeshPoseError:
            errors.append(
                {"call": "image_to_view", "image_size": [480, 640], "view_size": size, "error": "invalid_size"}
            )
    return _doc(
        "geometry",
        "Frame geometry of export/runtime/frame_geometry.py: sensor buffer -> upright image (rotation), upright "
        "image -> view (aspect fill / fit, front-camera mirroring), detector boxes -> COCO pixel boxes.",
        {
            "pixels": PIXELS + "; the same in the buffer and the upright image",
            "rotation": "clockwise degrees that turn the buffer upright (Android ImageInfo.rotationDegrees)",
            "view": "continuous coordinates, (0, 0) = the view's top-left corner; image centred and scaled "
            "uniformly: fill = max(vw/w, vh/h), fit = min(...)",
            "mirrored": "the view flipped horizontally about its centre after placing the image (front camera); "
            "the model always sees the unmirrored upright image",
            "box": BOX,
            "vision_bottom_left": "normalised x, y, w, h, origin bottom-left, y = bottom edge (Vision)",
            "normalized_top_left": "normalised x, y, w, h, origin top-left (MediaPipe relative boxes)",
            "edge_rect": "left, top, right, bottom in edge coordinates (0 = the image's left edge; RectF)",
            "matrix": MATRIX,
            "points": "flat (N, 2) x, y",
            "orientations": "buffer -> upright with a mirror: turn clockwise by `rotation`, then, if `mirrored`, "
            "flip the upright image horizontally; `exif` is the EXIF / CGImagePropertyOrientation raw value (1-8) "
            "of that buffer",
            "cameras": "export/runtime/frame_geometry.py camera_orientation: what turns a frame of `camera` upright "
            "and true "
            "(never a mirror image) with the phone held as `holding` (UIDeviceOrientation names: landscape_left = "
            "home edge on the right = Surface.ROTATION_90); ios: CameraSource's unmirrored connection; android: the "
            "frame's ImageInfo.rotationDegrees (`rotation_degrees`, CameraX, sensor orientation 90 back / 270 front) "
            "with no mirror; `view_mirrored`: the preview is a mirror view (front camera); `buffer_to_view`: fill mode",
            "locked": "orientation lock (ios): the model's image is turned for how the phone is held (`rotation`), the "
            "screen shows the frame turned for the interface (`display_rotation`); `upright_to_view` takes the model's "
            "upright pixels to the view (fill mode), export/runtime/frame_geometry.py upright_to_view_matrix",
            "gravity": "CoreMotion gravity (x right edge, y top edge, z out of the screen, in g) and the previous "
            "holding -> holding (export/runtime/frame_geometry.py holding_from_gravity)",
            "android_locked": "orientation lock (android): ImageAnalysis's target rotation follows how the phone is "
            "held (`target_rotation`, Surface.ROTATION_* 0-3), so CameraX turns frames by `rotation_degrees`; the "
            "preview keeps the display's (`display_target_rotation`, `display_rotation_degrees`); `upright_to_view` "
            "takes the model's upright pixels to the view (fill mode), "
            "export/runtime/frame_geometry.py upright_to_view_matrix",
            "orientation_events": "OrientationEventListener degrees (-1 = ORIENTATION_UNKNOWN, lying flat) and the "
            "previous holding -> holding (export/runtime/frame_geometry.py holding_from_orientation_degrees) and the "
            "ImageAnalysis target rotation for it (Surface.ROTATION_*, target_rotation)",
        },
        [],
        orientations=orientation_cases,
        cameras=camera_cases,
        locked=locked_cases,
        gravity=gravity_cases,
        android_locked=android_locked_cases,
        orientation_events=orientation_event_cases,
        rotations=rotation_cases,
        views=view_cases,
        buffer_to_view=buffer_view_cases,
        boxes=box_cases,
        errors=errors,
    )
