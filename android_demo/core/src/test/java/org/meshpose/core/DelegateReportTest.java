package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

class DelegateReportTest {
    private static final JsonObject DOC = Golden.load("delegation.json");

    @TestFactory
    Stream<DynamicTest> goldenReports() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("cases")) {
            JsonObject c = el.getAsJsonObject();
            tests.add(DynamicTest.dynamicTest(c.get("name").getAsString(), () -> {
                List<String> log = null;
                if (!c.get("log").isJsonNull()) {
                    log = new ArrayList<>();
                    for (JsonElement l : c.getAsJsonArray("log")) {
                        log.add(l.getAsString());
                    }
                }
                DelegateReport r = DelegateReport.of(c.get("requested").getAsString(), log);
                JsonObject e = c.getAsJsonObject("expected");
                assertEquals(e.get("label").getAsString(), r.label, "label");
                assertEquals(e.get("status").getAsString(), r.status, "status");
                assertEquals(e.get("total_nodes").isJsonNull() ? null : e.get("total_nodes").getAsInt(), r.totalNodes);
                assertEquals(e.get("cpu_nodes").isJsonNull() ? null : e.get("cpu_nodes").getAsInt(), r.cpuNodes);
                Map<String, Integer> want = new LinkedHashMap<>();
                for (JsonElement p : e.getAsJsonArray("delegated")) {
                    JsonArray pair = p.getAsJsonArray();
                    want.put(pair.get(0).getAsString(), pair.get(1).getAsInt());
                }
                assertEquals(new ArrayList<>(want.entrySet()), new ArrayList<>(r.delegated.entrySet()), "delegated");
                assertEquals(e.get("summary").getAsString(), r.summary, "summary");
            }));
        }
        assertTrue(tests.size() >= 10, "golden/delegation.json has too few cases");
        return tests.stream();
    }

    @Test
    void aPartialGpuRunIsNotLabelledGpu() {
        DelegateReport r = DelegateReport.of("gpu", Arrays.asList(
                "Replacing 118 out of 125 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions for subgraph 0."));
        assertEquals("gpu+cpu", r.label);
        assertEquals(Integer.valueOf(7), r.cpuNodes);
        assertFalse(r.requestedTookNothing());
        assertTrue(DelegateReport.of("npu", new ArrayList<>()).requestedTookNothing());
    }

    @Test
    void logcatSliceKeepsThisThreadsTfliteLinesAfterTheMarker() {
        String marker = "meshpose-delegate-probe 42";
        List<String> logcat = Arrays.asList(
                "--------- beginning of main",
                "12-04 14:55:00.100  4321  4340 I tflite  : Replacing 9 out of 9 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions for subgraph 0.",
                "12-04 14:55:00.200  4321  4340 I MeshPoseRunner: meshpose-delegate-probe 41",
                "12-04 14:55:00.300  4321  4340 I MeshPoseRunner: " + marker,
                "12-04 14:55:00.400  4321  4340 I tflite  : Created TensorFlow Lite delegate for GPU.",
                "12-04 14:55:00.500  4321  4355 I tflite  : Replacing 30 out of 30 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 1 partitions for subgraph 0.",
                "12-04 14:55:00.600  4321  4340 I tflite  : Replacing 118 out of 125 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions for subgraph 0.",
                "12-04 14:55:00.700  4321  4340 W OtherTag: Replacing 1 out of 1 node(s) with delegate (X) node, yielding 1 partitions.",
                "not a threadtime line");
        List<String> slice = DelegateReport.logcatSlice(logcat, marker, 4340);
        assertEquals(Arrays.asList(
                "Created TensorFlow Lite delegate for GPU.",
                "Replacing 118 out of 125 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions for subgraph 0."),
                slice);
        assertEquals("gpu+cpu", DelegateReport.of("gpu", slice).label);
        assertNull(DelegateReport.logcatSlice(logcat, "meshpose-delegate-probe 43", 4340));
        assertEquals("gpu?", DelegateReport.of("gpu", DelegateReport.logcatSlice(logcat, "absent", 4340)).label);
    }
}
