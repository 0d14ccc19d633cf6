package org.meshpose.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Named model outputs -> image-space mesh, as meshpose_mobile/predict.py decodes them. Outputs
 * are always looked up by the names the sidecar lists (LiteRT: through the model's signature),
 * never by position: converters reorder outputs.
 */
public final class OutputDecoder {
    public static final String VERTICES = "vertices";
    public static final String VISIBILITY = "visibility";

    private final List<OutputSpec> outputs;
    private final int k;

    public OutputDecoder(Sidecar sidecar) {
        this(sidecar.outputs, sidecar.numVertices);
    }

    public OutputDecoder(List<OutputSpec> outputs, int numVertices) {
        this.outputs = outputs;
        this.k = numVertices;
        spec(VERTICES);
        spec(VISIBILITY);
    }

    private OutputSpec spec(String name) {
        for (OutputSpec o : outputs) {
            if (o.name.equals(name)) {
                return o;
            }
        }
        throw new CoreException("missing_output", "the sidecar lists no output named '" + name + "'; re-export the model");
    }

    /** {@code outputs}: output name -> float values in row-major order. */
    public DecodedMesh decode(Map<String, float[]> outputs, Affine imageToCrop) {
        float[] verts = named(outputs, VERTICES);
        float[] vis = named(outputs, VISIBILITY);
        double[] crop = new double[k * 3];
        for (int i = 0; i < crop.length; i++) {
            crop[i] = verts[i];
        }
        double[] visibility = new double[k];
        for (int i = 0; i < k; i++) {
            visibility[i] = vis[i];
        }
        return new DecodedMesh(CropContract.toImage(crop, imageToCrop), visibility, imageToCrop);
    }

    private float[] named(Map<String, float[]> outputs, String name) {
        OutputSpec spec = spec(name);
        float[] v = outputs.get(name);
        if (v == null) {
            throw new CoreException("missing_output", "the model returned no output named '" + name
                    + "' (it returned " + outputs.keySet() + "); export it with meshpose-export");
        }
        if (v.length != spec.elementCount()) {
            throw new CoreException("invalid_value", "output " + name + " has " + v.length + " values, the sidecar says "
                    + Arrays.toString(spec.shape()));
        }
        return v;
    }

    /** Float values of a runtime output buffer in the dtype the sidecar gives (float16 or float32). */
    public static float[] toFloats(ByteBuffer raw, String dtype, int count) {
        ByteBuffer b = raw.duplicate().order(ByteOrder.nativeOrder());
        b.rewind();
        float[] out = new float[count];
        if ("float16".equals(dtype)) {
            for (int i = 0; i < count; i++) {
                out[i] = halfToFloat(b.getShort());
            }
        } else {
            FloatBuffer f = b.asFloatBuffer();
            f.get(out);
        }
        return out;
    }

    /** IEEE 754 half -> float (Float.float16ToFloat is Java 20+). */
    public static float halfToFloat(short half) {
        int h = half & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // Subnormal half: normalise into a float.
            float v = mant / 1024.0f * (float) Math.pow(2, -14);
            return sign == 0 ? v : -v;
        }
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }
}
