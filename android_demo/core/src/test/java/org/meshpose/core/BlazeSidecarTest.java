package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The toolkit's default model, meshpose_blaze (256x256, a square crop), through the core the app
 * uses. The fixture is the real sidecar meshpose-export wrote for the shipped weights
 * ({@code meshpose-export --variant meshpose_blaze --target tflite --precision fp16}, copied
 * unchanged to src/test/resources/): the golden sidecars are of meshpose_tiny and meshpose_xs
 * (256x192), so without it nothing showed that the core takes a square input.
 */
class BlazeSidecarTest {
    private static final String FIXTURE = "/meshpose_blaze_fp16.tflite.json";

    private static String text() {
        try (InputStream in = BlazeSidecarTest.class.getResourceAsStream(FIXTURE)) {
            assertNotNull(in, "test resource " + FIXTURE + " is missing");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + FIXTURE, e);
        }
    }

    private static Sidecar sidecar() {
        // Through the Reader path, as ModelAssets reads the app's asset.
        try (Reader r = new InputStreamReader(BlazeSidecarTest.class.getResourceAsStream(FIXTURE), StandardCharsets.UTF_8)) {
            return SidecarReader.read(r);
        } catch (IOException e) {
            throw new AssertionError("cannot read " + FIXTURE, e);
        }
    }

    @Test
    void readsTheRealBlazeSidecar() {
        Sidecar s = sidecar();
        JsonObject raw = JsonParser.parseString(text()).getAsJsonObject();
        assertEquals("meshpose_blaze", s.variant);
        assertEquals("tflite", s.target);
        assertEquals("fp16", s.precision);
        assertEquals("image", s.inputName);
        assertEquals(256, s.inputHeight);
        assertEquals(256, s.inputWidth);
        assertEquals(raw.getAsJsonObject("input").get("height").getAsInt(), s.inputHeight);
        assertEquals(raw.getAsJsonObject("input").get("width").getAsInt(), s.inputWidth);
        assertEquals(256, s.crop.inputHeight);
        assertEquals(256, s.crop.inputWidth);
        assertEquals(1.0, s.crop.aspect(), 0.0);
        assertEquals(raw.getAsJsonObject("crop").get("box_scale").getAsDouble(), s.crop.boxScale, 0.0);
        assertArrayEquals(new float[] {0f, 0f, 0f}, s.crop.border());
        // What ModelAssets requires: the app feeds raw RGB 0..255 floats.
        assertEquals("RGB", s.colorOrder);
        assertTrue(s.normalizationInModel);
        assertArrayEquals(new double[] {0, 0, 0}, s.mean(), 0.0);
        assertArrayEquals(new double[] {1, 1, 1}, s.std(), 0.0);

        int k = raw.getAsJsonObject("mesh").get("num_vertices").getAsInt();
        assertEquals(615, k);
        assertEquals(k, s.numVertices);
        assertArrayEquals(new int[] {1, k, 3}, s.output("vertices").shape());
        assertArrayEquals(new int[] {1, k}, s.output("visibility").shape());
        assertArrayEquals(new int[] {1, k, 2}, s.output("vertices_2d").shape());
        assertEquals(raw.getAsJsonArray("outputs").size(), s.outputs.size());
        for (OutputSpec o : s.outputs) {
            assertEquals("float32", o.dtype, o.name); // LiteRT fp16 weights, float32 outputs
        }
        JsonArray faces = raw.getAsJsonObject("mesh").getAsJsonArray("faces");
        assertEquals(faces.size(), (int) s.numFaces());
        int[] f = s.faces();
        for (int i = 0; i < faces.size(); i++) {
            JsonArray tri = faces.get(i).getAsJsonArray();
            for (int j = 0; j < 3; j++) {
                assertEquals(tri.get(j).getAsInt(), f[3 * i + j]);
            }
        }
    }

    /** Tall, wide and square boxes: the short side grows to a square, one scale on both axes. */
    @Test
    void cropContractIsSquare() {
        CropContract c = sidecar().crop;
        double[][] boxes = {{100, 20, 60, 300}, {-40, 50, 500, 90}, {10, 10, 200, 200}, {0.5, 0.25, 1, 3}};
        for (double[] b : boxes) {
            Box box = new Box(b[0], b[1], b[2], b[3]);
            Affine a = c.boxAffine(box);
            double side = Math.max(b[2], b[3]) * c.boxScale;
            assertEquals(256.0 / side, a.a, 1e-12, box.toString());
            assertEquals(a.a, a.d, 1e-12, box.toString());
            assertEquals(0.0, a.b, 0.0);
            assertEquals(0.0, a.c, 0.0);
            assertEquals(128.0, a.x(box.centerX(), box.centerY()), 1e-9);
            assertEquals(128.0, a.y(box.centerX(), box.centerY()), 1e-9);
            // c + (0, side/2) -> (W/2, H) and c + (side/2, 0) -> (W, H/2): the sidecar's rule.
            assertEquals(256.0, a.y(box.centerX(), box.centerY() + side / 2), 1e-9);
            assertEquals(256.0, a.x(box.centerX() + side / 2, box.centerY()), 1e-9);
            assertEquals(side / 256.0, CropContract.cropToImageScale(a), 1e-12);
            Box next = PersonTracker.aspectBox(box.centerX(), box.centerY(), box.w, box.h, c.aspect(), 1.0);
            assertEquals(next.w, next.h, 1e-9, "tracker boxes follow the model's aspect");
        }
    }

    /** The camera path at 256x256: bulk RGBA crop bit-identical to the per-byte reference, four rotations. */
    @Test
    void rgbaCropAtTheBlazeSize() {
        CropContract c = sidecar().crop;
        RgbaCropper cropper = new RgbaCropper(c);
        Random rnd = new Random(22);
        int n = c.inputHeight * c.inputWidth * 3;
        for (int rotation = 0; rotation < 360; rotation += 90) {
            int bw = 64 + rnd.nextInt(64), bh = 48 + rnd.nextInt(64);
            int rowStride = (bw + 3) * 4;
            ByteBuffer buf = ByteBuffer.allocateDirect(rowStride * bh);
            for (int i = 0; i < buf.capacity(); i++) {
                buf.put(i, (byte) rnd.nextInt(256));
            }
            int uw = rotation % 180 == 0 ? bw : bh, uh = rotation % 180 == 0 ? bh : bw;
            Box box = new Box(uw * 0.3, -uh * 0.2, uw * 0.5, uh * 1.1); // tall and partly outside
            FloatBuffer got = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
            FloatBuffer want = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
            Affine a = cropper.crop(buf, 0, bw, bh, rowStride, rotation, box, got);
            RgbaCropperTest.referenceCrop(c, buf, 0, bw, bh, rowStride, rotation, box, want);
            assertEquals(n, got.position());
            assertEquals(n, want.position());
            got.flip();
            want.flip();
            float[] g = new float[n], w = new float[n];
            got.get(g);
            want.get(w);
            assertArrayEquals(w, g, "rotation " + rotation);
            assertEquals(a.a, a.d, 1e-12);
        }
    }

    /** Outputs by name, in another order than the sidecar's: crop pixels back through the square crop. */
    @Test
    void decodesOutputsOfTheBlazeShape() {
        Sidecar s = sidecar();
        int k = s.numVertices;
        float[] verts = new float[k * 3];
        float[] vis = new float[k];
        for (int i = 0; i < k; i++) {
            verts[3 * i] = (i * 37) % 256;
            verts[3 * i + 1] = (i * 91) % 256;
            verts[3 * i + 2] = (i % 11) - 5;
            vis[i] = (i % 5) / 4f;
        }
        Map<String, float[]> outs = new LinkedHashMap<>();
        outs.put("visibility", vis);
        outs.put("vertices_2d", new float[k * 2]);
        outs.put("vertices", verts);
        Box box = new Box(40, 10, 120, 360);
        Affine a = s.crop.boxAffine(box);
        DecodedMesh m = new OutputDecoder(s).decode(outs, a);
        assertEquals(k, m.numVertices());
        double scale = 360 * s.crop.boxScale / 256.0;
        for (int i = 0; i < k; i++) {
            double x = box.centerX() + (verts[3 * i] - 128.0) * scale;
            double y = box.centerY() + (verts[3 * i + 1] - 128.0) * scale;
            assertEquals(x, m.xyz[3 * i], 1e-9);
            assertEquals(y, m.xyz[3 * i + 1], 1e-9);
            assertEquals(verts[3 * i + 2] * scale, m.xyz[3 * i + 2], 1e-9);
            assertEquals(vis[i], m.visibility[i], 0.0);
        }
    }
}
