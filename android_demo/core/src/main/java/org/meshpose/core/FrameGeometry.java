package org.meshpose.core;

/**
 * Camera buffer -> upright image -> view, and detector boxes; the port of
 * export/runtime/frame_geometry.py (read its docstring for the conventions).
 *
 * <p>Rotation is Android's {@code ImageInfo.rotationDegrees}: the clockwise angle that turns the
 * buffer upright, read from every frame (never assumed to be 90). The model sees the unmirrored
 * upright image; front-camera mirroring belongs to the view only. View coordinates are continuous
 * with (0, 0) at the view's top-left corner.
 */
public final class FrameGeometry {
    public enum Mode {
        /** Aspect fill: covers the view, overflow cropped (PreviewView FILL_CENTER). */
        FILL,
        /** Aspect fit: all of the image, with bars (PreviewView FIT_CENTER). */
        FIT
    }

    private FrameGeometry() {}

    static int checkRotation(int rotation) {
        if (rotation != 0 && rotation != 90 && rotation != 180 && rotation != 270) {
            throw new CoreException("invalid_rotation", "rotation " + rotation + " must be 0, 90, 180 or 270 degrees clockwise");
        }
        return rotation;
    }

    static void checkSize(double width, double height, String what) {
        if (!(width > 0 && height > 0) || !Double.isFinite(width) || !Double.isFinite(height)) {
            throw new CoreException("invalid_size", what + " size " + width + "x" + height + " must be positive");
        }
    }

    /** {width, height} of the upright image: a quarter turn swaps the buffer's sides. */
    public static int[] uprightSize(int bufferWidth, int bufferHeight, int rotation) {
        checkRotation(rotation);
        checkSize(bufferWidth, bufferHeight, "buffer");
        return rotation == 90 || rotation == 270
                ? new int[] {bufferHeight, bufferWidth}
                : new int[] {bufferWidth, bufferHeight};
    }

    /** Buffer pixels -> upright-image pixels (pixel centres: a flip is x -> (W - 1) - x). */
    public static Affine bufferToUprightMatrix(int bufferWidth, int bufferHeight, int rotation) {
        checkRotation(rotation);
        checkSize(bufferWidth, bufferHeight, "buffer");
        switch (rotation) {
            case 0:
                return Affine.identity();
            case 90: // the buffer's bottom-left pixel becomes the top-left one
                return new Affine(0, -1, bufferHeight - 1, 1, 0, 0);
            case 180:
                return new Affine(-1, 0, bufferWidth - 1, 0, -1, bufferHeight - 1);
            default: // 270: the buffer's top-right pixel becomes the top-left one
                return new Affine(0, 1, 0, -1, 0, bufferWidth - 1);
        }
    }

    /**
     * Buffer pixels -> upright-image pixels with a mirror: the clockwise turn, then, if {@code mirrored},
     * a horizontal flip of the upright image (the eight EXIF orientations).
     */
    public static Affine bufferToUprightMatrix(int bufferWidth, int bufferHeight, int rotation, boolean mirrored) {
        Affine turn = bufferToUprightMatrix(bufferWidth, bufferHeight, rotation);
        if (!mirrored) {
            return turn;
        }
        int uprightWidth = uprightSize(bufferWidth, bufferHeight, rotation)[0];
        return new Affine(-1, 0, uprightWidth - 1, 0, 1, 0).after(turn);
    }

    /**
     * What turns a camera frame upright and true (never a mirror image), and whether its view is a
     * mirror view; export/runtime/frame_geometry.py {@code camera_orientation} and {@code view_mirrored}.
     */
    public static final class Orientation {
        public final int rotation;
        /** Flip the upright image horizontally after the turn (false for every Android camera frame). */
        public final boolean mirrored;
        /** The preview of this camera is a mirror view (front camera): overlays are flipped with it. */
        public final boolean viewMirrored;

        Orientation(int rotation, boolean mirrored, boolean viewMirrored) {
            this.rotation = checkRotation(rotation);
            this.mirrored = mirrored;
            this.viewMirrored = viewMirrored;
        }

        public Affine bufferToUpright(int bufferWidth, int bufferHeight) {
            return bufferToUprightMatrix(bufferWidth, bufferHeight, rotation, mirrored);
        }
    }

    /**
     * An Android camera frame: ImageAnalysis delivers true images (the front camera's too; only its
     * preview is mirrored), so the frame's own {@code ImageInfo.rotationDegrees} is the whole turn.
     */
    public static Orientation forAndroidFrame(int rotationDegrees, boolean frontCamera) {
        return new Orientation(rotationDegrees, false, frontCamera);
    }

    /** Upright-image pixels -> view coordinates: scaled uniformly, centred, then mirrored if asked. */
    public static Affine imageToViewMatrix(
            double imageWidth, double imageHeight, double viewWidth, double viewHeight, Mode mode, boolean mirrored) {
        checkSize(imageWidth, imageHeight, "image");
        checkSize(viewWidth, viewHeight, "view");
        double s = mode == Mode.FILL
                ? Math.max(viewWidth / imageWidth, viewHeight / imageHeight)
                : Math.min(viewWidth / imageWidth, viewHeight / imageHeight);
        double ox = (viewWidth - s * imageWidth) / 2.0, oy = (viewHeight - s * imageHeight) / 2.0;
        // The image's left edge is pixel -0.5: pixel x sits at ox + s (x + 0.5).
        Affine m = new Affine(s, 0, ox + 0.5 * s, 0, s, oy + 0.5 * s);
        if (mirrored) {
            m = new Affine(-1, 0, viewWidth, 0, 1, 0).after(m);
        }
        return m;
    }

    /** Buffer pixels straight to the view: rotate upright, place, mirror (front camera). */
    public static Affine bufferToViewMatrix(
            int bufferWidth, int bufferHeight, int rotation, double viewWidth, double viewHeight, Mode mode,
            boolean mirrored) {
        int[] up = uprightSize(bufferWidth, bufferHeight, rotation);
        return imageToViewMatrix(up[0], up[1], viewWidth, viewHeight, mode, mirrored)
                .after(bufferToUprightMatrix(bufferWidth, bufferHeight, rotation));
    }

    /**
     * The model's upright pixels -> the view, when the model's image was turned by {@code rotation}
     * (the frame's rotationDegrees: how the phone is held) while the preview shows the same buffer
     * turned by {@code displayRotation} (CameraInfo.getSensorRotationDegrees of the display's
     * rotation). The two differ under orientation lock; when they agree this is
     * {@link #imageToViewMatrix} of the upright image. export/runtime/frame_geometry.py
     * {@code upright_to_view_matrix}.
     */
    public static Affine uprightToViewMatrix(
            int bufferWidth, int bufferHeight, int rotation, int displayRotation, double viewWidth, double viewHeight,
            Mode mode, boolean viewMirrored, boolean mirrored) {
        Affine toModel = bufferToUprightMatrix(bufferWidth, bufferHeight, rotation, mirrored);
        Affine toDisplay = bufferToUprightMatrix(bufferWidth, bufferHeight, displayRotation);
        int[] shown = uprightSize(bufferWidth, bufferHeight, displayRotation);
        Affine view = imageToViewMatrix(shown[0], shown[1], viewWidth, viewHeight, mode, viewMirrored);
        return view.after(toDisplay).after(toModel.inverse());
    }

    /** Vision's normalised rect (origin bottom-left, y = bottom edge) -> COCO pixel box. */
    public static Box visionBoxToPixels(double x, double y, double w, double h, double imageWidth, double imageHeight) {
        checkSize(imageWidth, imageHeight, "image");
        return new Box(x * imageWidth - 0.5, (1.0 - y - h) * imageHeight - 0.5, w * imageWidth, h * imageHeight);
    }

    /** Top-left-origin normalised xywh (MediaPipe relative boxes) -> COCO pixel box. */
    public static Box normalizedBoxToPixels(double x, double y, double w, double h, double imageWidth, double imageHeight) {
        checkSize(imageWidth, imageHeight, "image");
        return new Box(x * imageWidth - 0.5, y * imageHeight - 0.5, w * imageWidth, h * imageHeight);
    }

    /** A rect in edge coordinates (Android RectF from MediaPipe's detectors) -> COCO pixel box. */
    public static Box edgeRectToBox(double left, double top, double right, double bottom) {
        return new Box(left - 0.5, top - 0.5, right - left, bottom - top);
    }

    /** A box found on the buffer -> the same region on the upright image (corners turned, bounded). */
    public static Box boxBufferToUpright(Box box, int bufferWidth, int bufferHeight, int rotation) {
        Affine m = bufferToUprightMatrix(bufferWidth, bufferHeight, rotation);
        double[] corners = {box.x, box.y, box.x + box.w, box.y, box.x, box.y + box.h, box.x + box.w, box.y + box.h};
        double[] t = m.applyPoints(corners);
        double x0 = Double.POSITIVE_INFINITY, y0 = Double.POSITIVE_INFINITY;
        double x1 = Double.NEGATIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < t.length; i += 2) {
            x0 = Math.min(x0, t[i]);
            x1 = Math.max(x1, t[i]);
            y0 = Math.min(y0, t[i + 1]);
            y1 = Math.max(y1, t[i + 1]);
        }
        return new Box(x0, y0, x1 - x0, y1 - y0);
    }
}
