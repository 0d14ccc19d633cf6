package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

class OutputDecoderTest {
    /** The bar: the decoded mesh equals Python's to 0.01 px. */
    static final double MAX_PX = 0.01;

    static List<OutputSpec> specs(JsonObject c) {
        List<OutputSpec> out = new ArrayList<>();
        for (JsonElement el : c.getAsJsonArray("sidecar_outputs")) {
            JsonObject o = el.getAsJsonObject();
            out.add(new OutputSpec(o.get("name").getAsString(), Golden.ints(o.get("shape")), o.get("dtype").getAsString()));
        }
        return out;
    }

    /**
     * Output name -> floats. float16 outputs are stored as their binary16 bit patterns; they go
     * through a native-order buffer and {@link OutputDecoder#toFloats}, as a runtime's raw
     * FLOAT16 output buffer would.
     */
    static Map<String, float[]> outputs(JsonObject c) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : c.getAsJsonObject("outputs").entrySet()) {
            JsonObject o = e.getValue().getAsJsonObject();
            String dtype = o.get("dtype").getAsString();
            if (dtype.equals("float16")) {
                int[] bits = Golden.ints(o.get("bits"));
                ByteBuffer raw = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.nativeOrder());
                for (int b : bits) {
                    assertTrue(b >= 0 && b <= 0xFFFF, e.getKey() + ": 16-bit pattern " + b);
                    raw.putShort((short) b);
                }
                out.put(e.getKey(), OutputDecoder.toFloats(raw, dtype, bits.length));
            } else {
                assertEquals("float32", dtype, e.getKey() + " dtype");
                out.put(e.getKey(), Golden.floats(o.get("data")));
            }
        }
        return out;
    }

    static boolean isFloat16(JsonObject c) {
        return c.getAsJsonObject("outputs").getAsJsonObject(OutputDecoder.VERTICES).get("dtype").getAsString()
                .equals("float16");
    }

    @TestFactory
    Stream<DynamicTest> decodesRealModelOutputsToPythonsMesh() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : Golden.load("decode.json").getAsJsonArray("cases")) {
            JsonObject c = el.getAsJsonObject();
            tests.add(DynamicTest.dynamicTest(c.get("name").getAsString(), () -> {
                JsonObject k = c.getAsJsonObject("contract");
                CropContract contract = new CropContract(
                        k.get("input_height").getAsInt(), k.get("input_width").getAsInt(), k.get("box_scale").getAsDouble());
                Affine affine = contract.boxAffine(Golden.box(c.get("box")));
                JsonObject e = c.getAsJsonObject("expected");
                Golden.close(Golden.affine(e.get("affine")), affine, 1e-6, "affine");
                assertEquals(e.get("crop_to_image_scale").getAsDouble(), CropContract.cropToImageScale(affine), 1e-6);
                OutputDecoder decoder = new OutputDecoder(specs(c), c.get("num_vertices").getAsInt());
                DecodedMesh mesh = decoder.decode(outputs(c), affine);
                double[] want = Golden.doubles(e.get("image_vertices"));
                assertEquals(want.length, mesh.xyz.length);
                double worst = 0;
                for (int i = 0; i < want.length; i++) {
                    worst = Math.max(worst, Math.abs(want[i] - mesh.xyz[i]));
                }
                if (worst > MAX_PX) {
                    throw new AssertionError("decoded mesh differs from Python's by " + worst + " px (> " + MAX_PX + ")");
                }
                Golden.close(Golden.doubles(e.get("visibility")), mesh.visibility, 1e-6, "visibility");
            }));
        }
        return tests.stream();
    }

    /**
     * The Core ML fp16 case: float16 outputs, the expected mesh decoded by Python from those
     * values. Rounding to float16 moves the mesh by far more than 0.01 px, so it must be there and
     * be read through the half-float path.
     */
    @Test
    void float16OutputsDecodeToPythonsMesh() {
        JsonObject half = null;
        for (JsonElement el : Golden.load("decode.json").getAsJsonArray("cases")) {
            if (isFloat16(el.getAsJsonObject())) {
                half = el.getAsJsonObject();
            }
        }
        assertNotNull(half, "golden/decode.json has no float16 case");
        JsonObject k = half.getAsJsonObject("contract");
        CropContract contract = new CropContract(
                k.get("input_height").getAsInt(), k.get("input_width").getAsInt(), k.get("box_scale").getAsDouble());
        Affine affine = contract.boxAffine(Golden.box(half.get("box")));
        DecodedMesh mesh = new OutputDecoder(specs(half), half.get("num_vertices").getAsInt()).decode(outputs(half), affine);
        JsonObject e = half.getAsJsonObject("expected");
        double[] want = Golden.doubles(e.get("image_vertices"));
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            worst = Math.max(worst, Math.abs(want[i] - mesh.xyz[i]));
        }
        assertTrue(worst <= MAX_PX, "float16 mesh differs from Python's by " + worst + " px");
        Golden.close(Golden.doubles(e.get("visibility")), mesh.visibility, 1e-6, "visibility");
        for (OutputSpec spec : specs(half)) {
            assertEquals("float16", spec.dtype, spec.name);
        }
    }

    @Test
    void missingOutputIsNamed() {
        JsonObject c = Golden.load("decode.json").getAsJsonArray("cases").get(0).getAsJsonObject();
        Map<String, float[]> outs = outputs(c);
        outs.remove("vertices");
        OutputDecoder decoder = new OutputDecoder(specs(c), c.get("num_vertices").getAsInt());
        CoreException e = assertThrows(CoreException.class, () -> decoder.decode(outs, Affine.identity()));
        assertEquals("missing_output", e.kind());
    }

    @Test
    void wrongSizeIsRejected() {
        JsonObject c = Golden.load("decode.json").getAsJsonArray("cases").get(0).getAsJsonObject();
        Map<String, float[]> outs = outputs(c);
        outs.put("visibility", new float[3]);
        OutputDecoder decoder = new OutputDecoder(specs(c), c.get("num_vertices").getAsInt());
        CoreException e = assertThrows(CoreException.class, () -> decoder.decode(outs, Affine.identity()));
        assertEquals("invalid_value", e.kind());
    }

    @Test
    void halfFloatsDecode() {
        // 1.0, -2.0, 0.5, 65504 (max half), smallest subnormal, +inf
        short[] halves = {0x3C00, (short) 0xC000, 0x3800, 0x7BFF, 0x0001, 0x7C00};
        float[] want = {1f, -2f, 0.5f, 65504f, (float) Math.pow(2, -24), Float.POSITIVE_INFINITY};
        ByteBuffer b = ByteBuffer.allocate(halves.length * 2).order(ByteOrder.nativeOrder());
        for (short h : halves) {
            b.putShort(h);
        }
        float[] got = OutputDecoder.toFloats(b, "float16", halves.length);
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], 0.0, "half " + i);
        }
    }
}
