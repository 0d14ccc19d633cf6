package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Reads the shared golden vectors (repository golden/, written by scripts/make_golden.py). */
final class Golden {
    private Golden() {}

    static Path dir() {
        String d = System.getProperty("golden.dir");
        Path p = d != null ? Paths.get(d) : Paths.get("..", "..", "golden");
        if (!Files.isDirectory(p)) {
            fail("golden vectors not found at " + p.toAbsolutePath() + "; run from android_demo/core");
        }
        return p;
    }

    static JsonObject load(String name) {
        try {
            JsonObject doc = JsonParser.parseString(
                    new String(Files.readAllBytes(dir().resolve(name)), StandardCharsets.UTF_8)).getAsJsonObject();
            assertEquals("meshpose-golden", doc.get("format").getAsString());
            assertEquals(1, doc.get("format_version").getAsInt());
            return doc;
        } catch (IOException e) {
            throw new AssertionError("cannot read golden/" + name, e);
        }
    }

    static double[] doubles(JsonElement el) {
        JsonArray a = el.getAsJsonArray();
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonElement v = a.get(i);
            out[i] = v.getAsJsonPrimitive().isString() && v.getAsString().equals("NaN") ? Double.NaN : v.getAsDouble();
        }
        return out;
    }

    static float[] floats(JsonElement el) {
        double[] d = doubles(el);
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (float) d[i];
        }
        return out;
    }

    static int[] ints(JsonElement el) {
        JsonArray a = el.getAsJsonArray();
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsInt();
        }
        return out;
    }

    static Affine affine(JsonElement rows) {
        JsonArray r = rows.getAsJsonArray();
        return Affine.ofRows(new double[][] {doubles(r.get(0)), doubles(r.get(1))});
    }

    static Box box(JsonElement el) {
        return Box.of(doubles(el));
    }

    static void close(double[] expected, double[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            double scale = Math.max(1.0, Math.abs(e));
            if (!(Math.abs(e - a) <= tol * scale)) {
                fail(what + "[" + i + "]: expected " + e + ", got " + a + " (tolerance " + tol + ")");
            }
        }
    }

    static void close(Affine expected, Affine actual, double tol, String what) {
        close(flat(expected), flat(actual), tol, what);
    }

    static double[] flat(Affine m) {
        return new double[] {m.a, m.b, m.tx, m.c, m.d, m.ty};
    }

    static double[] flat(Box b) {
        return b.toArray();
    }

    /** Parsed JSON equality: numbers within tol (relative), everything else exact. */
    static void jsonEquals(JsonElement expected, JsonElement actual, double tol, String where) {
        if (expected.isJsonObject()) {
            assertTrue(actual.isJsonObject(), where + " is not an object");
            JsonObject e = expected.getAsJsonObject(), a = actual.getAsJsonObject();
            assertEquals(e.keySet(), a.keySet(), where + " keys");
            for (String k : e.keySet()) {
                jsonEquals(e.get(k), a.get(k), tol, where + "." + k);
            }
        } else if (expected.isJsonArray()) {
            assertTrue(actual.isJsonArray(), where + " is not an array");
            JsonArray e = expected.getAsJsonArray(), a = actual.getAsJsonArray();
            assertEquals(e.size(), a.size(), where + " length");
            for (int i = 0; i < e.size(); i++) {
                jsonEquals(e.get(i), a.get(i), tol, where + "[" + i + "]");
            }
        } else if (expected.isJsonNull()) {
            assertTrue(actual.isJsonNull(), where + " should be null, is " + actual);
        } else if (expected.getAsJsonPrimitive().isNumber()) {
            assertTrue(actual.isJsonPrimitive() && actual.getAsJsonPrimitive().isNumber(), where + " is not a number");
            close(new double[] {expected.getAsDouble()}, new double[] {actual.getAsDouble()}, tol, where);
        } else {
            assertEquals(expected, actual, where);
        }
    }
}
