package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

class BenchResultsTest {
    private static final JsonObject DOC = Golden.load("bench.json");

    @TestFactory
    Stream<DynamicTest> statistics() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("cases")) {
            JsonObject c = el.getAsJsonObject();
            tests.add(DynamicTest.dynamicTest(c.get("name").getAsString(), () -> {
                BenchStats s = BenchStats.of(Golden.doubles(c.get("samples_ms")));
                JsonObject e = c.getAsJsonObject("expected");
                assertEquals(e.get("median_ms").getAsDouble(), s.medianMs, 1e-6);
                assertEquals(e.get("p90_ms").getAsDouble(), s.p90Ms, 1e-6);
                assertEquals(e.get("min_ms").getAsDouble(), s.minMs, 1e-6);
                assertEquals(e.get("fps").getAsDouble(), s.fps(), 1e-6);
                assertEquals(e.get("runs").getAsInt(), s.runs);
            }));
        }
        for (JsonElement el : DOC.getAsJsonArray("invalid")) {
            JsonObject c = el.getAsJsonObject();
            tests.add(DynamicTest.dynamicTest("rejects " + c.get("name").getAsString(), () -> {
                CoreException e = assertThrows(CoreException.class, () -> BenchResults.validate(c.get("document")));
                assertEquals(c.get("error").getAsString(), e.kind());
            }));
        }
        return tests.stream();
    }

    @Test
    void writerProducesTheDesktopDocument() {
        JsonObject c = DOC.getAsJsonObject("document_case");
        JsonObject m = c.getAsJsonObject("machine");
        Map<String, String> runtimes = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : m.getAsJsonObject("runtimes").entrySet()) {
            runtimes.put(e.getKey(), e.getValue().getAsString());
        }
        BenchResults results = new BenchResults(new BenchResults.Machine(m.get("name").getAsString(),
                m.get("cpu").getAsString(), m.get("cores").getAsInt(), m.get("os").getAsString(), runtimes,
                m.get("note").getAsString()));
        for (JsonElement re : c.getAsJsonArray("rows")) {
            JsonObject r = re.getAsJsonObject();
            BenchResults.Row row = new BenchResults.Row(r.get("model").getAsString(), r.get("runtime").getAsString(),
                    r.get("precision").getAsString(), r.get("threads").isJsonNull() ? null : r.get("threads").getAsInt());
            for (Map.Entry<String, JsonElement> e : r.entrySet()) {
                JsonElement v = e.getValue();
                Object value;
                if (v.isJsonObject()) { // stages_ms
                    Map<String, Double> stages = new LinkedHashMap<>();
                    for (Map.Entry<String, JsonElement> st : v.getAsJsonObject().entrySet()) {
                        stages.put(st.getKey(), st.getValue().isJsonNull() ? null : st.getValue().getAsDouble());
                    }
                    row.pipelineStages(stages);
                    continue;
                } else if (v.isJsonNull()) {
                    value = null;
                } else if (v.isJsonArray()) {
                    value = Golden.ints(v);
                } else if (v.getAsJsonPrimitive().isNumber()) {
                    String s = v.getAsString();
                    value = s.contains(".") || s.contains("e") ? (Object) v.getAsDouble() : (Object) v.getAsLong();
                } else {
                    value = v.getAsString();
                }
                row.set(e.getKey(), value);
            }
            results.add(row);
        }
        // Through the string form, as the file is written.
        JsonElement written = JsonParser.parseString(results.toJsonString());
        Golden.jsonEquals(c.get("expected"), written, 1e-6, "$");
    }

    @Test
    void versionOneFilesStillRead() {
        BenchResults.validate(DOC.get("valid_v1"));
        assertEquals(2, BenchResults.SCHEMA_VERSION);
    }

    @Test
    void unknownStageIsRefusedWhenWriting() {
        BenchResults.Row row = new BenchResults.Row("meshpose_xs", "litert-android", "fp16", null);
        CoreException e = assertThrows(CoreException.class, () -> row.pipelineStages(Map.of("paint", 1.0)));
        assertEquals("invalid_results", e.kind());
    }

    @Test
    void timingsFillTheLatencyFields() {
        BenchResults.Row row = new BenchResults.Row("meshpose_xs", "litert-android", "fp16", 4)
                .timings(BenchStats.of(new double[] {3, 1, 2, 10}), 5);
        assertEquals(2.5, (double) row.get("latency_median_ms"), 0.0);
        assertEquals(10.0, (double) row.get("latency_p90_ms"), 0.0);
        assertEquals(400.0, (double) row.get("fps"), 1e-12);
        assertEquals(4, row.get("runs"));
    }
}
