package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The bulk crop (RgbaCropper) against the per-byte crop it replaced, kept here as the reference:
 * the values must be bit-identical. The golden crops of crop.json run through it too
 * (CropContractTest, via CropContract.cropRgba).
 */
class RgbaCropperTest {

    /** The crop as it was: four absolute single-byte reads per channel, one put per float. */
    static void referenceCrop(CropContract k, ByteBuffer rgba, int offset, int bw, int bh, int rowStride, int rotation,
            Box box, FloatBuffer out) {
        float[] border = k.border();
        Affine affine = k.boxAffine(box);
        Affine cropToBuffer = FrameGeometry.bufferToUprightMatrix(bw, bh, rotation).inverse().after(affine.inverse());
        for (int y = 0; y < k.inputHeight; y++) {
            for (int x = 0; x < k.inputWidth; x++) {
                double sx = cropToBuffer.x(x, y), sy = cropToBuffer.y(x, y);
                double pxf = Math.max(0.0, Math.min(bw + 1.0, sx + 1.0));
                double pyf = Math.max(0.0, Math.min(bh + 1.0, sy + 1.0));
                int x0 = (int) Math.min(Math.floor(pxf), bw);
                int y0 = (int) Math.min(Math.floor(pyf), bh);
                double fx = pxf - x0, fy = pyf - y0;
                for (int c = 0; c < 3; c++) {
                    double v00 = at(rgba, offset, bw, bh, rowStride, x0, y0, c, border);
                    double v01 = at(rgba, offset, bw, bh, rowStride, x0 + 1, y0, c, border);
                    double v10 = at(rgba, offset, bw, bh, rowStride, x0, y0 + 1, c, border);
                    double v11 = at(rgba, offset, bw, bh, rowStride, x0 + 1, y0 + 1, c, border);
                    double top = v00 * (1 - fx) + v01 * fx;
                    double bottom = v10 * (1 - fx) + v11 * fx;
                    out.put((float) (top * (1 - fy) + bottom * fy));
                }
            }
        }
    }

    private static double at(ByteBuffer b, int offset, int w, int h, int rowStride, int px, int py, int c, float[] border) {
        if (px < 1 || px > w || py < 1 || py > h) {
            return border[c];
        }
        return b.get(offset + (py - 1) * rowStride + (px - 1) * 4 + c) & 0xFF;
    }

    private static FloatBuffer floats(int n) {
        return ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    private static float[] drain(FloatBuffer b) {
        float[] out = new float[b.position()];
        b.flip();
        b.get(out);
        return out;
    }

    @Test
    void bitIdenticalToThePerByteCropOnRandomFramesBoxesAndRotations() {
        Random rnd = new Random(20);
        CropContract k = new CropContract(24, 18, 1.25, new float[] {10f, 127.5f, 250f});
        RgbaCropper cropper = new RgbaCropper(k); // reused across sizes: scratch growth is part of the test
        int cases = 0;
        for (int trial = 0; trial < 60; trial++) {
            int bw = 1 + rnd.nextInt(40), bh = 1 + rnd.nextInt(30);
            int pad = rnd.nextInt(3), top = rnd.nextInt(3), left = rnd.nextInt(3);
            int rowStride = (bw + left + pad) * 4;
            ByteBuffer buf = ByteBuffer.allocateDirect(rowStride * (bh + top + 1));
            for (int i = 0; i < buf.capacity(); i++) {
                buf.put(i, (byte) rnd.nextInt(256));
            }
            int offset = top * rowStride + left * 4;
            int rotation = 90 * rnd.nextInt(4);
            boolean swap = rotation % 180 != 0;
            int uw = swap ? bh : bw, uh = swap ? bw : bh;
            // Boxes inside, across the edge, far outside, tiny and larger than the frame.
            double bx = -uw + rnd.nextDouble() * 3 * uw, by = -uh + rnd.nextDouble() * 3 * uh;
            double boxW = 0.2 + rnd.nextDouble() * 2 * uw, boxH = 0.2 + rnd.nextDouble() * 2 * uh;
            Box box = new Box(bx, by, boxW, boxH);
            int n = k.inputHeight * k.inputWidth * 3;
            FloatBuffer want = floats(n), got = floats(n + 5);
            got.put(1f); // writes start at the current position
            referenceCrop(k, buf, offset, bw, bh, rowStride, rotation, box, want);
            int before = buf.position();
            Affine a = cropper.crop(buf, offset, bw, bh, rowStride, rotation, box, got);
            assertEquals(before, buf.position(), "the frame's position is left alone");
            assertEquals(1 + n, got.position(), "exactly one crop written");
            float[] g = drain(got);
            float[] w = drain(want);
            float[] tail = new float[n];
            System.arraycopy(g, 1, tail, 0, n);
            assertArrayEquals(w, tail, "trial " + trial + ": " + bw + "x" + bh + " rot " + rotation + " box " + box);
            Golden.close(Golden.flat(k.boxAffine(box)), Golden.flat(a), 0, "affine");
            cases++;
        }
        assertEquals(60, cases);
        assertEquals(0, cropper.singleReads, "every read came from the bulk-copied rows");
    }

    @Test
    void detectorCopyIsTheSameCropAsRgbaBytes() {
        Random rnd = new Random(7);
        CropContract k = new CropContract(12, 16, 1.0);
        int bw = 30, bh = 20, rowStride = bw * 4 + 8;
        ByteBuffer buf = ByteBuffer.allocateDirect(rowStride * bh);
        for (int i = 0; i < buf.capacity(); i++) {
            buf.put(i, (byte) rnd.nextInt(256));
        }
        Box whole = new Box(-0.5, -0.5, bh, bw); // rotation 90: upright is 20 wide, 30 high
        FloatBuffer ref = floats(12 * 16 * 3);
        referenceCrop(k, buf, 0, bw, bh, rowStride, 90, whole, ref);
        float[] f = drain(ref);
        ByteBuffer px = ByteBuffer.allocateDirect(12 * 16 * 4);
        new RgbaCropper(k).cropToRgba(buf, 0, bw, bh, rowStride, 90, whole, px);
        assertEquals(px.capacity(), px.position());
        for (int i = 0; i < 12 * 16; i++) {
            for (int c = 0; c < 3; c++) {
                int want = Math.max(0, Math.min(255, (int) f[3 * i + c]));
                assertEquals(want, px.get(4 * i + c) & 0xFF, "pixel " + i + " channel " + c);
            }
            assertEquals(255, px.get(4 * i + 3) & 0xFF);
        }
    }

    @Test
    void rejectsABufferThatCannotBeAFrame() {
        CropContract k = new CropContract(4, 4, 1.0);
        ByteBuffer buf = ByteBuffer.allocateDirect(64);
        CoreException e = assertThrows(CoreException.class,
                () -> new RgbaCropper(k).crop(buf, 0, 4, 4, 8, 0, new Box(0, 0, 2, 2), floats(48)));
        assertEquals("invalid_value", e.kind());
    }
}
