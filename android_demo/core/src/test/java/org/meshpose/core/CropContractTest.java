package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

class CropContractTest {
    private static final JsonObject DOC = Golden.load("crop.json");

    static CropContract contract(JsonObject c) {
        return new CropContract(c.get("input_height").getAsInt(), c.get("input_width").getAsInt(),
                c.get("box_scale").getAsDouble(), Golden.floats(c.get("border_value")));
    }

    static float[] image(String name, int[] hw) {
        JsonObject img = DOC.getAsJsonObject("images").getAsJsonObject(name);
        int[] shape = Golden.ints(img.get("shape"));
        hw[0] = shape[0];
        hw[1] = shape[1];
        return Golden.floats(img.get("data"));
    }

    @TestFactory
    Stream<DynamicTest> goldenCrops() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("cases")) {
            JsonObject c = el.getAsJsonObject();
            String name = c.get("name").getAsString();
            CropContract contract = contract(c.getAsJsonObject("contract"));
            Box box = Golden.box(c.get("box"));
            if (c.has("error")) {
                tests.add(DynamicTest.dynamicTest("rejects " + name, () -> {
                    CoreException e = assertThrows(CoreException.class, () -> contract.boxAffine(box));
                    assertEquals(c.get("error").getAsString(), e.kind());
                }));
                continue;
            }
            JsonObject e = c.getAsJsonObject("expected");
            tests.add(DynamicTest.dynamicTest("affine " + name, () -> {
                Affine a = contract.boxAffine(box);
                Golden.close(Golden.affine(e.get("affine")), a, 1e-6, "affine");
                Golden.close(Golden.affine(e.get("inverse")), a.inverse(), 1e-6, "inverse");
                assertEquals(e.get("crop_to_image_scale").getAsDouble(), CropContract.cropToImageScale(a), 1e-6);
                double[] img = CropContract.toImage(Golden.doubles(e.get("crop_points")), a);
                Golden.close(Golden.doubles(e.get("image_points")), img, 1e-6, "image_points");
                Golden.close(Golden.doubles(e.get("crop_points")), CropContract.toCrop(img, a), 1e-9, "round trip");
            }));
            if (e.get("crop_pixels").isJsonNull()) {
                continue;
            }
            double[] want = Golden.doubles(e.getAsJsonObject("crop_pixels").get("data"));
            tests.add(DynamicTest.dynamicTest("pixels " + name, () -> {
                int[] hw = new int[2];
                float[] img = image(c.get("image").getAsString(), hw);
                float[] out = new float[contract.inputHeight * contract.inputWidth * 3];
                contract.crop(img, hw[0], hw[1], box, out);
                // Python samples in float32: 1e-3 of 255 levels.
                Golden.close(want, toDouble(out), 1e-3, "crop pixels");
            }));
            for (int rotation : new int[] {0, 90, 180, 270}) {
                tests.add(DynamicTest.dynamicTest("rgba buffer rotated " + rotation + " " + name, () -> {
                    int[] hw = new int[2];
                    float[] img = image(c.get("image").getAsString(), hw);
                    int[] bufSize = new int[2];
                    ByteBuffer rgba = sensorBuffer(img, hw[0], hw[1], rotation, bufSize, 3);
                    FloatBuffer out = ByteBuffer.allocateDirect(contract.inputHeight * contract.inputWidth * 3 * 4)
                            .order(ByteOrder.nativeOrder()).asFloatBuffer();
                    contract.cropRgba(rgba, bufSize[0], bufSize[1], bufSize[0] * 4 + 3 * 4, rotation, box, out);
                    float[] got = new float[out.capacity()];
                    out.rewind();
                    out.get(got);
                    Golden.close(want, toDouble(got), 1e-3, "crop pixels from the rotated RGBA buffer");
                    // The same frame as a crop rect inside a larger buffer (CameraX viewport crops).
                    int stride = bufSize[0] * 4 + 3 * 4, top = 2, left = 3;
                    int bigStride = stride + left * 4;
                    ByteBuffer big = ByteBuffer.allocateDirect(bigStride * (bufSize[1] + top + 1));
                    for (int i = 0; i < big.capacity(); i++) {
                        big.put(i, (byte) 77); // pixels outside the rect must not leak into the crop
                    }
                    for (int r = 0; r < bufSize[1]; r++) {
                        for (int b = 0; b < bufSize[0] * 4; b++) {
                            big.put((r + top) * bigStride + left * 4 + b, rgba.get(r * stride + b));
                        }
                    }
                    out.clear();
                    contract.cropRgba(big, top * bigStride + left * 4, bufSize[0], bufSize[1], bigStride, rotation, box, out);
                    out.rewind();
                    out.get(got);
                    Golden.close(want, toDouble(got), 1e-3, "crop pixels from a crop rect of the buffer");
                }));
            }
        }
        return tests.stream();
    }

    /**
     * The sensor buffer whose upright image is {@code img}: turned back by {@code rotation}, RGBA
     * bytes with padded rows (rowStride > width * 4, as camera buffers have).
     */
    static ByteBuffer sensorBuffer(float[] img, int h, int w, int rotation, int[] bufSize, int padPixels) {
        boolean swap = rotation == 90 || rotation == 270;
        int bw = swap ? h : w, bh = swap ? w : h;
        bufSize[0] = bw;
        bufSize[1] = bh;
        int stride = bw * 4 + padPixels * 4;
        ByteBuffer b = ByteBuffer.allocateDirect(stride * bh);
        Affine toUpright = FrameGeometry.bufferToUprightMatrix(bw, bh, rotation);
        for (int by = 0; by < bh; by++) {
            for (int bx = 0; bx < bw; bx++) {
                int ux = (int) Math.round(toUpright.x(bx, by)), uy = (int) Math.round(toUpright.y(bx, by));
                for (int ch = 0; ch < 3; ch++) {
                    b.put(by * stride + bx * 4 + ch, (byte) Math.round(img[(uy * w + ux) * 3 + ch]));
                }
                b.put(by * stride + bx * 4 + 3, (byte) 255);
            }
        }
        return b;
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
