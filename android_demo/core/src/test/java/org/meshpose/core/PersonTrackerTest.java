package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

class PersonTrackerTest {
    static PersonTracker.Params params(JsonObject p) {
        PersonTracker.Params out = new PersonTracker.Params();
        out.visibilityThreshold = p.get("visibility_threshold").getAsDouble();
        out.minVisible = p.get("min_visible").getAsInt();
        out.minMeanVisibility = p.get("min_mean_visibility").getAsDouble();
        out.redetectEvery = p.get("redetect_every").getAsInt();
        out.matchIou = p.get("match_iou").getAsDouble();
        out.duplicateIou = p.get("duplicate_iou").getAsDouble();
        out.maxMissed = p.get("max_missed").getAsInt();
        out.maxPeople = p.get("max_people").getAsInt();
        out.vertexBoxScale = p.get("vertex_box_scale").getAsDouble();
        return out;
    }

    @TestFactory
    Stream<DynamicTest> goldenReplays() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : Golden.load("tracker.json").getAsJsonArray("cases")) {
            JsonObject c = el.getAsJsonObject();
            tests.add(DynamicTest.dynamicTest(c.get("name").getAsString(), () -> replay(c)));
        }
        return tests.stream();
    }

    private static void replay(JsonObject c) {
        int[] size = c.get("image_size").isJsonNull() ? null : Golden.ints(c.get("image_size"));
        PersonTracker tracker = new PersonTracker(params(c.getAsJsonObject("params")), c.get("aspect").getAsDouble(), size);
        for (JsonElement fe : c.getAsJsonArray("frames")) {
            JsonObject f = fe.getAsJsonObject();
            String at = "frame " + f.get("frame").getAsInt();
            assertEquals(f.get("needs_detection").getAsBoolean(), tracker.beginFrame(), at + " needs_detection");
            if (!f.get("detections").isJsonNull()) {
                JsonObject d = f.getAsJsonObject("detections");
                List<Box> boxes = new ArrayList<>();
                for (JsonElement b : d.getAsJsonArray("boxes")) {
                    boxes.add(Golden.box(b));
                }
                List<Double> scores = new ArrayList<>();
                for (double s : Golden.doubles(d.get("scores"))) {
                    scores.add(s);
                }
                tracker.applyDetections(boxes, scores);
            }
            for (JsonElement me : f.getAsJsonArray("meshes")) {
                JsonObject m = me.getAsJsonObject();
                Box next = tracker.applyMesh(
                        m.get("track_id").getAsInt(), Golden.doubles(m.get("xy")), Golden.doubles(m.get("visibility")));
                if (m.get("next_box").isJsonNull()) {
                    assertNull(next, at + " next_box");
                } else {
                    Golden.close(Golden.doubles(m.get("next_box")), Golden.flat(next), 1e-6, at + " next_box");
                }
            }
            tracker.endFrame();
            JsonArray want = f.getAsJsonArray("tracks_after");
            List<PersonTracker.Track> got = tracker.tracks();
            assertEquals(want.size(), got.size(), at + " track count");
            for (int i = 0; i < want.size(); i++) {
                JsonObject w = want.get(i).getAsJsonObject();
                PersonTracker.Track t = got.get(i);
                String where = at + " track " + i;
                assertEquals(w.get("id").getAsInt(), t.id, where + " id");
                Golden.close(Golden.doubles(w.get("box")), Golden.flat(t.box), 1e-6, where + " box");
                assertEquals(w.get("score").getAsDouble(), t.score, 1e-6, where + " score");
                assertEquals(w.get("age").getAsInt(), t.age, where + " age");
                assertEquals(w.get("missed").getAsInt(), t.missed, where + " missed");
                assertEquals(w.get("flagged").getAsBoolean(), t.flagged, where + " flagged");
                assertEquals(w.get("box_source").getAsString(), t.boxSource, where + " box_source");
            }
        }
    }
}
