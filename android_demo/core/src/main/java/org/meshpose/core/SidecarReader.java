package org.meshpose.core;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the sidecar JSON that meshpose-export writes beside every artifact ({@code <artifact>.json}).
 * Rules (the same as the iOS reader and scripts/make_golden.py's sidecar_view): format
 * "meshpose-sidecar", format_version 1; faces optional; outputs found by name; an output's dtype
 * is its dtype field, else float16 for CoreML below fp32, else float32; the crop border is one
 * number or three. Every failure is a {@link CoreException} whose message names the fix.
 */
public final class SidecarReader {
    public static final String FORMAT = "meshpose-sidecar";
    public static final int VERSION = 1;

    private SidecarReader() {}

    public static Sidecar read(Path path) throws IOException {
        return parse(new String(Files.readAllBytes(path), StandardCharsets.UTF_8));
    }

    public static Sidecar read(Reader reader) {
        try {
            return parse(JsonParser.parseReader(reader));
        } catch (JsonParseException e) {
            throw new CoreException("not_a_sidecar", "the sidecar is not valid JSON; copy the .json meshpose-export wrote");
        }
    }

    public static Sidecar parse(String json) {
        try {
            return parse(JsonParser.parseString(json));
        } catch (JsonParseException e) {
            throw new CoreException("not_a_sidecar", "the sidecar is not valid JSON; copy the .json meshpose-export wrote");
        }
    }

    public static Sidecar parse(JsonElement root) {
        if (!root.isJsonObject() || !FORMAT.equals(string(root.getAsJsonObject().get("format")))) {
            throw new CoreException("not_a_sidecar", "not a meshpose-export sidecar; bundle the .json written beside the model");
        }
        JsonObject doc = root.getAsJsonObject();
        JsonElement version = doc.get("format_version");
        if (!isNumber(version) || version.getAsDouble() != VERSION) {
            throw new CoreException("unsupported_version",
                    "sidecar format_version " + version + " is not " + VERSION + "; use an app made for this toolkit version");
        }
        JsonObject inp = object(need(doc, "input", ""), "input");
        JsonObject crop = object(need(doc, "crop", ""), "crop");
        JsonObject mesh = object(need(doc, "mesh", ""), "mesh");
        JsonElement outputs = need(doc, "outputs", "");
        int height = positiveInt(need(inp, "height", "input."), "input.height");
        int width = positiveInt(need(inp, "width", "input."), "input.width");
        JsonObject norm = object(need(inp, "normalization", "input."), "input.normalization");
        double[] mean = numbers(need(norm, "mean", "input.normalization."), "input.normalization.mean");
        double[] std = numbers(need(norm, "std", "input.normalization."), "input.normalization.std");
        if (mean.length != 3 || std.length != 3 || Math.min(std[0], Math.min(std[1], std[2])) <= 0) {
            throw invalid("input.normalization mean and std need 3 values, std > 0");
        }
        int cropH = positiveInt(need(crop, "input_height", "crop."), "crop.input_height");
        int cropW = positiveInt(need(crop, "input_width", "crop."), "crop.input_width");
        if (cropH != height || cropW != width) {
            throw invalid("crop size " + cropH + "x" + cropW + " differs from the input size " + height + "x" + width);
        }
        double boxScale = number(need(crop, "box_scale", "crop."), "crop.box_scale");
        if (boxScale <= 0) {
            throw invalid("crop.box_scale must be positive");
        }
        float[] border = border(crop.get("border_value"));
        int k = positiveInt(need(mesh, "num_vertices", "mesh."), "mesh.num_vertices");
        if (!outputs.isJsonArray()) {
            throw invalid("outputs must be a list");
        }
        String target = stringOr(doc.get("target"), "");
        String precision = stringOr(doc.get("precision"), "");
        String defaultDtype = "coreml".equals(target) && !"fp32".equals(precision) ? "float16" : "float32";
        Map<String, OutputSpec> byName = new LinkedHashMap<>();
        List<String> order = new ArrayList<>();
        for (JsonElement o : outputs.getAsJsonArray()) {
            String name = string(need(o, "name", "outputs[]."));
            if (name == null) {
                throw invalid("an output name is not a string");
            }
            JsonElement shapeEl = need(o, "shape", "outputs[" + name + "].");
            if (!shapeEl.isJsonArray() || shapeEl.getAsJsonArray().size() == 0) {
                throw invalid("output " + name + " has no shape");
            }
            JsonArray shapeArr = shapeEl.getAsJsonArray();
            int[] shape = new int[shapeArr.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = positiveInt(shapeArr.get(i), "output " + name + " shape");
            }
            JsonElement dt = o.getAsJsonObject().get("dtype");
            String dtype = dt == null || dt.isJsonNull() ? defaultDtype : stringOr(dt, "?");
            if (!dtype.equals("float32") && !dtype.equals("float16")) {
                throw invalid("output " + name + " dtype '" + dtype + "' is not float32 or float16");
            }
            byName.put(name, new OutputSpec(name, shape, dtype));
            order.add(name);
        }
        requireOutput(byName, "vertices", new int[] {1, k, 3});
        requireOutput(byName, "visibility", new int[] {1, k});
        int[] faces = faces(mesh.get("faces"), k);
        List<OutputSpec> specs = new ArrayList<>();
        for (String name : order) {
            specs.add(byName.get(name));
        }
        JsonElement applied = norm.get("applied");
        return new Sidecar(
                target,
                precision,
                stringOr(doc.get("variant"), ""),
                string(need(inp, "name", "input.")),
                height,
                width,
                stringOr(inp.get("color_order"), "RGB"),
                mean,
                std,
                applied != null && "inside the model".equals(stringOr(applied, "")),
                new CropContract(cropH, cropW, boxScale, border),
                k,
                faces,
                specs);
    }

    private static void requireOutput(Map<String, OutputSpec> byName, String name, int[] shape) {
        OutputSpec o = byName.get(name);
        if (o == null) {
            throw new CoreException("missing_output", "the sidecar lists no output named '" + name + "'; re-export the model");
        }
        if (!java.util.Arrays.equals(o.shape(), shape)) {
            throw invalid("output " + name + " shape " + java.util.Arrays.toString(o.shape()) + " is not "
                    + java.util.Arrays.toString(shape));
        }
    }

    private static int[] faces(JsonElement el, int k) {
        if (el == null || el.isJsonNull()) {
            return null;
        }
        String msg = "mesh.faces must be triangles of vertex indices below " + k;
        if (!el.isJsonArray() || el.getAsJsonArray().size() == 0) {
            throw invalid(msg);
        }
        JsonArray arr = el.getAsJsonArray();
        int[] out = new int[arr.size() * 3];
        int i = 0;
        for (JsonElement tri : arr) {
            if (!tri.isJsonArray() || tri.getAsJsonArray().size() != 3) {
                throw invalid(msg);
            }
            for (JsonElement v : tri.getAsJsonArray()) {
                if (!isInteger(v) || v.getAsLong() < 0 || v.getAsLong() >= k) {
                    throw invalid(msg);
                }
                out[i++] = v.getAsInt();
            }
        }
        return out;
    }

    private static float[] border(JsonElement el) {
        if (el == null || el.isJsonNull()) {
            return new float[] {0f, 0f, 0f};
        }
        if (el.isJsonArray()) {
            double[] v = numbers(el, "crop.border_value");
            if (v.length != 3) {
                throw invalid("crop.border_value must be one number or three (R, G, B)");
            }
            return new float[] {(float) v[0], (float) v[1], (float) v[2]};
        }
        float v = (float) number(el, "crop.border_value");
        return new float[] {v, v, v};
    }

    private static CoreException invalid(String message) {
        return new CoreException("invalid_value", "sidecar: " + message + "; re-export the model");
    }

    private static JsonElement need(JsonElement obj, String key, String where) {
        if (obj == null || !obj.isJsonObject()) {
            throw new CoreException("missing_field", "the sidecar has no " + where + key + "; re-export the model");
        }
        JsonElement v = obj.getAsJsonObject().get(key);
        if (v == null || v.isJsonNull()) {
            throw new CoreException("missing_field", "the sidecar has no " + where + key + "; re-export the model");
        }
        return v;
    }

    private static JsonObject object(JsonElement el, String what) {
        if (!el.isJsonObject()) {
            throw new CoreException("missing_field", "the sidecar's " + what + " is not an object; re-export the model");
        }
        return el.getAsJsonObject();
    }

    private static boolean isNumber(JsonElement el) {
        return el != null && el.isJsonPrimitive() && el.getAsJsonPrimitive().isNumber();
    }

    private static boolean isInteger(JsonElement el) {
        if (!isNumber(el)) {
            return false;
        }
        String s = el.getAsJsonPrimitive().getAsString();
        return !s.contains(".") && !s.contains("e") && !s.contains("E");
    }

    private static int positiveInt(JsonElement el, String what) {
        if (!isInteger(el) || el.getAsLong() <= 0 || el.getAsLong() > Integer.MAX_VALUE) {
            throw invalid(what + " must be a positive integer, got " + el);
        }
        return el.getAsInt();
    }

    private static double number(JsonElement el, String what) {
        if (!isNumber(el) || !Double.isFinite(el.getAsDouble())) {
            throw invalid(what + " must be a finite number, got " + el);
        }
        return el.getAsDouble();
    }

    private static double[] numbers(JsonElement el, String what) {
        if (!el.isJsonArray()) {
            throw invalid(what + " must be a list of numbers");
        }
        JsonArray a = el.getAsJsonArray();
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = number(a.get(i), what);
        }
        return out;
    }

    private static String string(JsonElement el) {
        return el != null && el.isJsonPrimitive() && ((JsonPrimitive) el).isString() ? el.getAsString() : null;
    }

    private static String stringOr(JsonElement el, String fallback) {
        if (el == null || el.isJsonNull() || !el.isJsonPrimitive()) {
            return fallback;
        }
        return el.getAsString();
    }
}
