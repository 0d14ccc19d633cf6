package org.meshpose.core;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * The crop contract of meshpose_mobile/crop.py: how a person box becomes the network's input crop
 * and how crop-pixel outputs go back to the image. The numbers come from the model's sidecar.
 *
 * <p>The box centre c is grown on its smaller side to aspect W/H, both sides are scaled by
 * boxScale, and the affine maps c to (W/2, H/2) and the half-sides to the crop's half-sides.
 * Bilinear sampling, constant border per channel; pixel centres at integer coordinates.
 */
public final class CropContract {
    public final int inputHeight;
    public final int inputWidth;
    public final double boxScale;
    private final float[] border;

    public CropContract(int inputHeight, int inputWidth, double boxScale, float[] border) {
        if (inputHeight <= 0 || inputWidth <= 0) {
            throw new CoreException("invalid_value", "crop size " + inputHeight + "x" + inputWidth + " must be positive");
        }
        if (!(boxScale > 0) || !Double.isFinite(boxScale)) {
            throw new CoreException("invalid_value", "box_scale " + boxScale + " must be positive");
        }
        if (border == null || border.length != 3) {
            throw new CoreException("invalid_value", "border needs three values (R, G, B)");
        }
        this.inputHeight = inputHeight;
        this.inputWidth = inputWidth;
        this.boxScale = boxScale;
        this.border = border.clone();
    }

    public CropContract(int inputHeight, int inputWidth, double boxScale) {
        this(inputHeight, inputWidth, boxScale, new float[] {0f, 0f, 0f});
    }

    public float[] border() {
        return border.clone();
    }

    public double aspect() {
        return (double) inputWidth / inputHeight;
    }

    /** Image pixels -> crop pixels for a person box; {@code invalid_box} for an empty or non-finite box. */
    public Affine boxAffine(Box box) {
        if (!(Double.isFinite(box.x) && Double.isFinite(box.y) && Double.isFinite(box.w) && Double.isFinite(box.h))
                || !(box.w > 0 && box.h > 0)) {
            throw new CoreException("invalid_box", "person box " + box + " needs finite x, y and positive width and height");
        }
        double cx = box.x + box.w / 2.0, cy = box.y + box.h / 2.0;
        double w = box.w, h = box.h;
        if (w > aspect() * h) {
            h = w / aspect();
        } else {
            w = h * aspect();
        }
        w *= boxScale;
        h *= boxScale;
        double sx = inputWidth / w, sy = inputHeight / h;
        return new Affine(sx, 0, inputWidth / 2.0 - sx * cx, 0, sy, inputHeight / 2.0 - sy * cy);
    }

    /** Crop pixels -> image pixels scale of lengths and depth (= box width / input width). */
    public static double cropToImageScale(Affine imageToCrop) {
        return imageToCrop.inverse().scale();
    }

    /**
     * Crop of an H x W x 3 float image (row-major, channels last) into {@code out}
     * (inputHeight x inputWidth x 3); returns the image -> crop affine.
     */
    public Affine crop(float[] image, int height, int width, Box box, float[] out) {
        Affine affine = boxAffine(box);
        Affine inv = affine.inverse();
        int i = 0;
        float[] px = new float[3];
        for (int y = 0; y < inputHeight; y++) {
            for (int x = 0; x < inputWidth; x++) {
                sample(image, height, width, inv.x(x, y), inv.y(x, y), px);
                out[i++] = px[0];
                out[i++] = px[1];
                out[i++] = px[2];
            }
        }
        return affine;
    }

    /**
     * The crop straight from a camera frame: RGBA_8888 pixels of the sensor buffer (bufferWidth x
     * bufferHeight, rowStride bytes per row), the frame's rotation folded into the sampling, so no
     * rotated or converted copy of the frame is made. Writes NHWC float32 RGB 0..255 into
     * {@code out} from its current position (a reused direct buffer). {@code box} is in upright
     * image pixels; returns the upright image -> crop affine.
     */
    public Affine cropRgba(
            ByteBuffer rgba, int bufferWidth, int bufferHeight, int rowStride, int rotation, Box box, FloatBuffer out) {
        return cropRgba(rgba, 0, bufferWidth, bufferHeight, rowStride, rotation, box, out);
    }

    /**
     * As {@link #cropRgba(ByteBuffer, int, int, int, int, Box, FloatBuffer)} on a region of the
     * buffer that starts {@code offset} bytes in (CameraX's ImageProxy crop rect: top * rowStride +
     * left * 4): the region is the frame, and pixels outside it read the border.
     */
    public Affine cropRgba(ByteBuffer rgba, int offset, int bufferWidth, int bufferHeight, int rowStride, int rotation,
            Box box, FloatBuffer out) {
        // Bulk reads and one bulk write (RgbaCropper); the app keeps one cropper per thread so
        // that its scratch arrays are reused between frames.
        return new RgbaCropper(this).crop(rgba, offset, bufferWidth, bufferHeight, rowStride, rotation, box, out);
    }

    /**
     * Bilinear sample at (sx, sy) as meshpose_mobile/crop.py's bilinear_sample: the image padded by
     * one border pixel, positions clamped to the padded image (further out reads only border).
     */
    void sample(float[] image, int height, int width, double sx, double sy, float[] out) {
        double pxf = clamp(sx + 1.0, 0.0, width + 1.0);
        double pyf = clamp(sy + 1.0, 0.0, height + 1.0);
        int x0 = (int) Math.min(Math.floor(pxf), width);
        int y0 = (int) Math.min(Math.floor(pyf), height);
        double fx = pxf - x0, fy = pyf - y0;
        for (int c = 0; c < 3; c++) {
            double v00 = at(image, height, width, x0, y0, c);
            double v01 = at(image, height, width, x0 + 1, y0, c);
            double v10 = at(image, height, width, x0, y0 + 1, c);
            double v11 = at(image, height, width, x0 + 1, y0 + 1, c);
            double top = v00 * (1 - fx) + v01 * fx;
            double bottom = v10 * (1 - fx) + v11 * fx;
            out[c] = (float) (top * (1 - fy) + bottom * fy);
        }
    }

    private double at(float[] image, int height, int width, int px, int py, int c) {
        if (px < 1 || px > width || py < 1 || py > height) {
            return border[c];
        }
        return image[((py - 1) * width + (px - 1)) * 3 + c];
    }

    private static double clamp(double v, double lo, double hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    /** Flat (N, 3) crop points -> image pixels: x, y through the inverse affine, z times the scale. */
    public static double[] toImage(double[] xyz, Affine imageToCrop) {
        Affine inv = imageToCrop.inverse();
        double s = inv.scale();
        double[] out = new double[xyz.length];
        for (int i = 0; i + 2 < xyz.length; i += 3) {
            out[i] = inv.x(xyz[i], xyz[i + 1]);
            out[i + 1] = inv.y(xyz[i], xyz[i + 1]);
            out[i + 2] = xyz[i + 2] * s;
        }
        return out;
    }

    /** Inverse of {@link #toImage}. */
    public static double[] toCrop(double[] xyz, Affine imageToCrop) {
        double s = imageToCrop.scale();
        double[] out = new double[xyz.length];
        for (int i = 0; i + 2 < xyz.length; i += 3) {
            out[i] = imageToCrop.x(xyz[i], xyz[i + 1]);
            out[i + 1] = imageToCrop.y(xyz[i], xyz[i + 1]);
            out[i + 2] = xyz[i + 2] * s;
        }
        return out;
    }
}
