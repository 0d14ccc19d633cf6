package org.meshpose.core;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * {@link CropContract}'s crop straight from an RGBA_8888 camera buffer, read and written in bulk.
 *
 * <p>A camera frame is a direct buffer: every absolute {@code get(int)} on it is a bounds-checked
 * call, and the bilinear crop needs four reads per channel, about 790k per 256x256 crop (590k at
 * 256x192); writing each float with {@code put(float)} adds 197k more (147k). Here the rows of
 * the buffer the crop can touch (the bounding box of the crop's corners mapped into the buffer)
 * are copied once into a reused {@code byte[]} with one bulk {@code get} per row, the crop is
 * computed from that array into a reused {@code float[]}, and the result goes out with one bulk
 * {@code put}.
 *
 * <p>The arithmetic is {@code CropContract.sample}'s, so the values are bit-identical to the
 * per-byte reference (CropContractTest checks this on random buffers, rotations and boxes).
 *
 * <p>One instance per thread: the scratch arrays are reused between calls and not synchronised.
 */
public final class RgbaCropper {
    private final CropContract contract;
    private final float[] border;
    private byte[] region = new byte[0];
    /** Single-byte reads outside the copied rows (expected: none; RgbaCropperTest checks). */
    long singleReads;
    private final float[] values;
    private final byte[] rgbaValues;

    public RgbaCropper(CropContract contract) {
        this.contract = contract;
        this.border = contract.border();
        this.values = new float[contract.inputHeight * contract.inputWidth * 3];
        this.rgbaValues = new byte[contract.inputHeight * contract.inputWidth * 4];
    }

    public CropContract contract() {
        return contract;
    }

    /**
     * NHWC float32 RGB 0..255 into {@code out} from its current position (one bulk put); returns
     * the upright image -> crop affine. Arguments as {@link CropContract#cropRgba(ByteBuffer, int,
     * int, int, int, int, Box, FloatBuffer)}.
     */
    public Affine crop(ByteBuffer rgba, int offset, int bufferWidth, int bufferHeight, int rowStride, int rotation,
            Box box, FloatBuffer out) {
        Affine affine = sample(rgba, offset, bufferWidth, bufferHeight, rowStride, rotation, box);
        out.put(values, 0, values.length);
        return affine;
    }

    /**
     * The same crop as RGBA_8888 bytes (alpha 255), each channel truncated towards zero and clamped
     * to 0..255: the small upright copy the person detector reads. Written into {@code out} from its
     * current position, one bulk put; returns the upright image -> crop affine.
     */
    public Affine cropToRgba(ByteBuffer rgba, int offset, int bufferWidth, int bufferHeight, int rowStride,
            int rotation, Box box, ByteBuffer out) {
        Affine affine = sample(rgba, offset, bufferWidth, bufferHeight, rowStride, rotation, box);
        int n = contract.inputHeight * contract.inputWidth;
        byte[] bytes = rgbaValues;
        for (int i = 0, j = 0; i < n; i++) {
            bytes[j++] = toByte(values[3 * i]);
            bytes[j++] = toByte(values[3 * i + 1]);
            bytes[j++] = toByte(values[3 * i + 2]);
            bytes[j++] = (byte) 255;
        }
        out.put(bytes);
        return affine;
    }

    private static byte toByte(float v) {
        // Kotlin's toInt() then coerceIn(0, 255), as the detector did per byte: NaN -> 0.
        int i = (int) v;
        return (byte) Math.max(0, Math.min(255, i));
    }

    private Affine sample(ByteBuffer rgba, int offset, int bufferWidth, int bufferHeight, int rowStride, int rotation,
            Box box) {
        if (bufferWidth <= 0 || bufferHeight <= 0 || rowStride < 4 * bufferWidth || offset < 0) {
            throw new CoreException("invalid_value", "RGBA buffer " + bufferWidth + "x" + bufferHeight + " with row stride "
                    + rowStride + " and offset " + offset + " is not a valid frame");
        }
        int h = contract.inputHeight, w = contract.inputWidth;
        Affine affine = contract.boxAffine(box);
        Affine uprightToBuffer = FrameGeometry.bufferToUprightMatrix(bufferWidth, bufferHeight, rotation).inverse();
        Affine cropToBuffer = uprightToBuffer.after(affine.inverse());

        // Padded coordinates (buffer pixel i at i + 1, as sample()) the crop's corners reach; an
        // affine map takes the grid's extremes to its corners. One pixel of slack on each side
        // absorbs rounding; reads outside the copied rows fall back to the buffer (never seen).
        double minX = Double.POSITIVE_INFINITY, maxX = Double.NEGATIVE_INFINITY;
        double minY = Double.POSITIVE_INFINITY, maxY = Double.NEGATIVE_INFINITY;
        for (int cy = 0; cy < 2; cy++) {
            for (int cx = 0; cx < 2; cx++) {
                double x = cropToBuffer.x(cx * (w - 1), cy * (h - 1)) + 1.0;
                double y = cropToBuffer.y(cx * (w - 1), cy * (h - 1)) + 1.0;
                minX = Math.min(minX, x);
                maxX = Math.max(maxX, x);
                minY = Math.min(minY, y);
                maxY = Math.max(maxY, y);
            }
        }
        // Padded pixels px in [1, bufferWidth] are real; the region holds px in [rx0, rx1]. The
        // corners are clamped as the samples are, so a crop beyond an edge still copies that edge.
        int rx0 = (int) Math.max(1, Math.floor(clamp(minX, 0.0, bufferWidth + 1.0)) - 1);
        int rx1 = (int) Math.min(bufferWidth, Math.floor(clamp(maxX, 0.0, bufferWidth + 1.0)) + 2);
        int ry0 = (int) Math.max(1, Math.floor(clamp(minY, 0.0, bufferHeight + 1.0)) - 1);
        int ry1 = (int) Math.min(bufferHeight, Math.floor(clamp(maxY, 0.0, bufferHeight + 1.0)) + 2);
        int span = Math.max(0, rx1 - rx0 + 1) * 4;
        int rows = Math.max(0, ry1 - ry0 + 1);
        if (region.length < span * rows) {
            region = new byte[span * rows];
        }
        if (span > 0 && rows > 0) {
            ByteBuffer src = rgba.duplicate();
            for (int r = 0; r < rows; r++) {
                src.position(offset + (ry0 - 1 + r) * rowStride + (rx0 - 1) * 4);
                src.get(region, r * span, span);
            }
        }

        Region reg = new Region(rgba, offset, rowStride, bufferWidth, bufferHeight, rx0, rx1, ry0, ry1, span);
        int i = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double sx = cropToBuffer.x(x, y), sy = cropToBuffer.y(x, y);
                double pxf = clamp(sx + 1.0, 0.0, bufferWidth + 1.0);
                double pyf = clamp(sy + 1.0, 0.0, bufferHeight + 1.0);
                int x0 = (int) Math.min(Math.floor(pxf), bufferWidth);
                int y0 = (int) Math.min(Math.floor(pyf), bufferHeight);
                double fx = pxf - x0, fy = pyf - y0;
                if (x0 >= rx0 && x0 + 1 <= rx1 && y0 >= ry0 && y0 + 1 <= ry1) {
                    // All four neighbours inside the copied rows (and so inside the frame): index
                    // the array directly; the same arithmetic as below.
                    int i00 = (y0 - ry0) * span + (x0 - rx0) * 4;
                    int i10 = i00 + span;
                    for (int c = 0; c < 3; c++) {
                        double v00 = region[i00 + c] & 0xFF;
                        double v01 = region[i00 + 4 + c] & 0xFF;
                        double v10 = region[i10 + c] & 0xFF;
                        double v11 = region[i10 + 4 + c] & 0xFF;
                        double top = v00 * (1 - fx) + v01 * fx;
                        double bottom = v10 * (1 - fx) + v11 * fx;
                        values[i++] = (float) (top * (1 - fy) + bottom * fy);
                    }
                    continue;
                }
                for (int c = 0; c < 3; c++) {
                    double v00 = reg.at(x0, y0, c);
                    double v01 = reg.at(x0 + 1, y0, c);
                    double v10 = reg.at(x0, y0 + 1, c);
                    double v11 = reg.at(x0 + 1, y0 + 1, c);
                    double top = v00 * (1 - fx) + v01 * fx;
                    double bottom = v10 * (1 - fx) + v11 * fx;
                    values[i++] = (float) (top * (1 - fy) + bottom * fy);
                }
            }
        }
        return affine;
    }

    private static double clamp(double v, double lo, double hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    /** The copied rows, with the border outside the frame. */
    private final class Region {
        private final ByteBuffer rgba;
        private final int offset, rowStride, w, h, rx0, rx1, ry0, ry1, span;

        Region(ByteBuffer rgba, int offset, int rowStride, int w, int h, int rx0, int rx1, int ry0, int ry1, int span) {
            this.rgba = rgba;
            this.offset = offset;
            this.rowStride = rowStride;
            this.w = w;
            this.h = h;
            this.rx0 = rx0;
            this.rx1 = rx1;
            this.ry0 = ry0;
            this.ry1 = ry1;
            this.span = span;
        }

        double at(int px, int py, int c) {
            if (px < 1 || px > w || py < 1 || py > h) {
                return border[c];
            }
            if (px < rx0 || px > rx1 || py < ry0 || py > ry1) {
                singleReads++;
                return rgba.get(offset + (py - 1) * rowStride + (px - 1) * 4 + c) & 0xFF;
            }
            return region[(py - ry0) * span + (px - rx0) * 4 + c] & 0xFF;
        }
    }
}
