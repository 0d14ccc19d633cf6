package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

class SidecarReaderTest {
    @TestFactory
    Stream<DynamicTest> goldenSidecars() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : Golden.load("sidecar.json").getAsJsonArray("cases")) {
            JsonObject c = el.getAsJsonObject();
            String name = c.get("name").getAsString();
            if (c.get("valid").getAsBoolean()) {
                tests.add(DynamicTest.dynamicTest("valid " + name, () -> checkValid(c)));
            } else {
                tests.add(DynamicTest.dynamicTest("invalid " + name, () -> {
                    String json = c.get("sidecar").toString();
                    CoreException e = assertThrows(CoreException.class, () -> SidecarReader.parse(json));
                    assertEquals(c.get("error").getAsString(), e.kind(), e.getMessage());
                }));
            }
        }
        return tests.stream();
    }

    private static void checkValid(JsonObject c) {
        Sidecar s = SidecarReader.parse(c.get("sidecar").toString());
        JsonObject e = c.getAsJsonObject("expected");
        assertEquals(e.get("target").getAsString(), s.target);
        assertEquals(e.get("precision").getAsString(), s.precision);
        assertEquals(e.get("variant").getAsString(), s.variant);
        assertEquals(e.get("input_name").getAsString(), s.inputName);
        assertEquals(e.get("input_height").getAsInt(), s.inputHeight);
        assertEquals(e.get("input_width").getAsInt(), s.inputWidth);
        assertEquals(e.get("color_order").getAsString(), s.colorOrder);
        Golden.close(Golden.doubles(e.get("mean")), s.mean(), 1e-12, "mean");
        Golden.close(Golden.doubles(e.get("std")), s.std(), 1e-12, "std");
        assertEquals(e.get("normalization_in_model").getAsBoolean(), s.normalizationInModel);
        JsonObject crop = e.getAsJsonObject("crop");
        assertEquals(crop.get("input_height").getAsInt(), s.crop.inputHeight);
        assertEquals(crop.get("input_width").getAsInt(), s.crop.inputWidth);
        assertEquals(crop.get("box_scale").getAsDouble(), s.crop.boxScale, 1e-12);
        float[] border = s.crop.border();
        double[] b = new double[] {border[0], border[1], border[2]};
        Golden.close(Golden.doubles(crop.get("border_value")), b, 1e-6, "border_value");
        assertEquals(e.get("num_vertices").getAsInt(), s.numVertices);
        if (e.get("num_faces").isJsonNull()) {
            assertEquals(null, s.numFaces());
            assertEquals(null, s.faces());
        } else {
            assertEquals(e.get("num_faces").getAsInt(), s.numFaces());
        }
        List<OutputSpec> outs = s.outputs;
        assertEquals(e.getAsJsonArray("outputs").size(), outs.size());
        for (int i = 0; i < outs.size(); i++) {
            JsonObject o = e.getAsJsonArray("outputs").get(i).getAsJsonObject();
            assertEquals(o.get("name").getAsString(), outs.get(i).name);
            assertArrayEquals(Golden.ints(o.get("shape")), outs.get(i).shape());
            assertEquals(o.get("dtype").getAsString(), outs.get(i).dtype, "dtype of " + outs.get(i).name);
            // Found by name whatever the list order.
            assertEquals(outs.get(i).name, s.output(o.get("name").getAsString()).name);
        }
    }

    @Test
    void brokenJsonIsNotASidecar() {
        CoreException e = assertThrows(CoreException.class, () -> SidecarReader.parse("{\"format\": "));
        assertEquals("not_a_sidecar", e.kind());
    }

    @Test
    void unknownOutputNameIsReported() {
        JsonObject c = Golden.load("sidecar.json").getAsJsonArray("cases").get(0).getAsJsonObject();
        Sidecar s = SidecarReader.parse(c.get("sidecar").toString());
        CoreException e = assertThrows(CoreException.class, () -> s.output("StatefulPartitionedCall:0"));
        assertEquals("missing_output", e.kind());
    }
}
