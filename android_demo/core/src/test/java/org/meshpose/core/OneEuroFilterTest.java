package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

class OneEuroFilterTest {
    @TestFactory
    Stream<DynamicTest> goldenSequences() {
        JsonObject doc = Golden.load("one_euro.json");
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : doc.getAsJsonArray("cases")) {
            JsonObject c = el.getAsJsonObject();
            tests.add(DynamicTest.dynamicTest(c.get("name").getAsString(), () -> {
                JsonObject p = c.getAsJsonObject("params");
                OneEuroFilter f = new OneEuroFilter(new OneEuroFilter.Params(
                        p.get("min_cutoff").getAsDouble(), p.get("beta").getAsDouble(), p.get("d_cutoff").getAsDouble()));
                double scale = c.get("value_scale").getAsDouble();
                double[] t = Golden.doubles(c.get("t"));
                JsonArray xs = c.getAsJsonArray("x");
                JsonArray want = c.getAsJsonArray("expected");
                for (int i = 0; i < t.length; i++) {
                    double[] out = f.filter(Golden.doubles(xs.get(i)), t[i], scale);
                    Golden.close(Golden.doubles(want.get(i)), out, 1e-7, "sample " + i);
                }
            }));
        }
        for (JsonElement el : doc.getAsJsonArray("invalid")) {
            JsonObject c = el.getAsJsonObject();
            JsonObject p = c.getAsJsonObject("params");
            tests.add(DynamicTest.dynamicTest("rejects " + p, () -> {
                CoreException e = assertThrows(CoreException.class, () -> new OneEuroFilter.Params(
                        p.get("min_cutoff").getAsDouble(), p.get("beta").getAsDouble(), p.get("d_cutoff").getAsDouble()));
                assertEquals(c.get("error").getAsString(), e.kind());
            }));
        }
        return tests.stream();
    }
}
