package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** How the phone is held: golden/geometry.json "orientation_events" (the app's input) and "gravity" (MeshPoseKit's). */
class HoldingTest {
    private static final JsonObject DOC = Golden.load("geometry.json");

    @TestFactory
    Stream<DynamicTest> orientationEvents() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("orientation_events")) {
            JsonObject c = el.getAsJsonObject();
            int degrees = c.get("orientation").getAsInt();
            String previous = c.get("previous").getAsString();
            tests.add(DynamicTest.dynamicTest(degrees + " degrees after " + previous, () -> {
                Holding got = Holding.fromOrientationDegrees(degrees, Holding.ofReferenceName(previous));
                assertEquals(c.get("holding").getAsString(), got.referenceName());
                assertEquals(c.get("target_rotation").getAsInt(), got.surfaceRotation(), "target rotation");
            }));
        }
        assertTrue(tests.size() >= 10, "too few orientation cases");
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> gravity() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("gravity")) {
            JsonObject c = el.getAsJsonObject();
            double[] g = Golden.doubles(c.get("gravity"));
            String previous = c.get("previous").getAsString();
            tests.add(DynamicTest.dynamicTest(java.util.Arrays.toString(g) + " after " + previous, () -> {
                Holding got = Holding.fromGravity(g[0], g[1], g[2], Holding.ofReferenceName(previous));
                assertEquals(c.get("holding").getAsString(), got.referenceName());
            }));
        }
        assertTrue(tests.size() >= 8, "too few gravity cases");
        return tests.stream();
    }

    @Test
    void unknownNamesAndRotationsAreCoreErrors() {
        assertEquals("invalid_value", assertThrows(CoreException.class, () -> Holding.ofReferenceName("sideways")).kind());
        assertEquals("invalid_rotation", assertThrows(CoreException.class, () -> Holding.ofSurfaceRotation(4)).kind());
        assertEquals("invalid_value",
                assertThrows(CoreException.class, () -> Holding.fromOrientationDegrees(0, null)).kind());
        assertEquals(Holding.PORTRAIT, Holding.fromGravity(Double.NaN, 0, 0, Holding.PORTRAIT));
    }
}
