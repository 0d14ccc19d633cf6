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
import org.junit.jupiter.api.TestFactory;

class FrameGeometryTest {
    private static final JsonObject DOC = Golden.load("geometry.json");

    static FrameGeometry.Mode mode(JsonObject c) {
        return c.get("mode").getAsString().equals("fill") ? FrameGeometry.Mode.FILL : FrameGeometry.Mode.FIT;
    }

    @TestFactory
    Stream<DynamicTest> rotations() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("rotations")) {
            JsonObject c = el.getAsJsonObject();
            int[] size = Golden.ints(c.get("buffer_size"));
            int rot = c.get("rotation").getAsInt();
            tests.add(DynamicTest.dynamicTest("rotation " + rot + " of " + size[0] + "x" + size[1], () -> {
                assertArrayEquals(Golden.ints(c.get("upright_size")), FrameGeometry.uprightSize(size[0], size[1], rot));
                Affine m = FrameGeometry.bufferToUprightMatrix(size[0], size[1], rot);
                Golden.close(Golden.affine(c.get("buffer_to_upright")), m, 1e-6, "matrix");
                double[] up = m.applyPoints(Golden.doubles(c.get("buffer_points")));
                Golden.close(Golden.doubles(c.get("upright_points")), up, 1e-6, "upright points");
                Golden.close(Golden.doubles(c.get("buffer_points")), m.inverse().applyPoints(up), 1e-6, "back");
                Box b = FrameGeometry.boxBufferToUpright(Golden.box(c.get("buffer_box")), size[0], size[1], rot);
                Golden.close(Golden.doubles(c.get("upright_box")), Golden.flat(b), 1e-6, "upright box");
            }));
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> orientations() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("orientations")) {
            JsonObject c = el.getAsJsonObject();
            int[] size = Golden.ints(c.get("buffer_size"));
            int rot = c.get("rotation").getAsInt();
            boolean mirrored = c.get("mirrored").getAsBoolean();
            tests.add(DynamicTest.dynamicTest("orientation " + rot + (mirrored ? " mirrored" : ""), () -> {
                Affine m = FrameGeometry.bufferToUprightMatrix(size[0], size[1], rot, mirrored);
                Golden.close(Golden.affine(c.get("buffer_to_upright")), m, 1e-6, "matrix");
                double[] up = m.applyPoints(Golden.doubles(c.get("buffer_points")));
                Golden.close(Golden.doubles(c.get("upright_points")), up, 1e-6, "upright points");
                Golden.close(Golden.doubles(c.get("buffer_points")), m.inverse().applyPoints(up), 1e-6, "back");
            }));
        }
        return tests.stream();
    }

    /** Front and back camera in every holding; the Android cases also through the app's mapping. */
    @TestFactory
    Stream<DynamicTest> cameras() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("cameras")) {
            JsonObject c = el.getAsJsonObject();
            String platform = c.get("platform").getAsString();
            boolean front = c.get("camera").getAsString().equals("front");
            String name = platform + " " + c.get("camera").getAsString() + " " + c.get("holding").getAsString();
            tests.add(DynamicTest.dynamicTest(name, () -> {
                int rot = c.get("rotation").getAsInt();
                boolean mirrored = c.get("mirrored").getAsBoolean();
                boolean viewMirrored = c.get("view_mirrored").getAsBoolean();
                if (platform.equals("android")) {
                    FrameGeometry.Orientation o = FrameGeometry.forAndroidFrame(c.get("rotation_degrees").getAsInt(), front);
                    assertEquals(rot, o.rotation, "rotation");
                    assertEquals(mirrored, o.mirrored, "mirrored");
                    assertEquals(viewMirrored, o.viewMirrored, "view mirrored");
                }
                int[] buf = Golden.ints(c.get("buffer_size"));
                double[] view = Golden.doubles(c.get("view_size"));
                assertArrayEquals(Golden.ints(c.get("upright_size")), FrameGeometry.uprightSize(buf[0], buf[1], rot));
                Affine m = FrameGeometry.bufferToUprightMatrix(buf[0], buf[1], rot, mirrored);
                Golden.close(Golden.affine(c.get("buffer_to_upright")), m, 1e-6, "matrix");
                Golden.close(Golden.doubles(c.get("upright_points")), m.applyPoints(Golden.doubles(c.get("buffer_points"))),
                        1e-6, "upright points");
                int[] up = FrameGeometry.uprightSize(buf[0], buf[1], rot);
                Affine v = FrameGeometry.imageToViewMatrix(up[0], up[1], view[0], view[1], FrameGeometry.Mode.FILL,
                        viewMirrored).after(m);
                Golden.close(Golden.affine(c.get("buffer_to_view")), v, 1e-6, "buffer to view");
            }));
        }
        return tests.stream();
    }

    /**
     * Orientation lock on iOS (golden "locked"): the model's turn and the screen's differ. The
     * matrices are the same mathematics on both platforms; the upright mirror comes from the
     * matching "cameras" case.
     */
    @TestFactory
    Stream<DynamicTest> lockedIos() {
        java.util.Map<String, Boolean> uprightMirrored = new java.util.HashMap<>();
        for (JsonElement el : DOC.getAsJsonArray("cameras")) {
            JsonObject c = el.getAsJsonObject();
            uprightMirrored.put(c.get("platform").getAsString() + " " + c.get("camera").getAsString() + " "
                    + c.get("holding").getAsString(), c.get("mirrored").getAsBoolean());
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("locked")) {
            JsonObject c = el.getAsJsonObject();
            String camera = c.get("camera").getAsString();
            String name = "ios locked " + camera + " held " + c.get("holding").getAsString() + " interface "
                    + c.get("interface").getAsString();
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Boolean mirrored = uprightMirrored.get("ios " + camera + " " + c.get("holding").getAsString());
                assertEquals(true, mirrored != null, "no cameras case for " + name);
                int[] buf = Golden.ints(c.get("buffer_size"));
                double[] view = Golden.doubles(c.get("view_size"));
                Affine m = FrameGeometry.uprightToViewMatrix(buf[0], buf[1], c.get("rotation").getAsInt(),
                        c.get("display_rotation").getAsInt(), view[0], view[1], FrameGeometry.Mode.FILL,
                        c.get("view_mirrored").getAsBoolean(), mirrored);
                Golden.close(Golden.affine(c.get("upright_to_view")), m, 1e-6, "upright to view");
                Golden.close(Golden.doubles(c.get("view_points")), m.applyPoints(Golden.doubles(c.get("upright_points"))),
                        1e-6, "view points");
            }));
        }
        return tests.stream();
    }

    /**
     * Orientation lock on Android (golden "android_locked"), through the app's mapping: the holding
     * sets ImageAnalysis's target rotation, CameraX turns the frame by rotation_degrees (taken from
     * the case, as the app takes it from the frame), the preview keeps the display's rotation.
     */
    @TestFactory
    Stream<DynamicTest> lockedAndroid() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("android_locked")) {
            JsonObject c = el.getAsJsonObject();
            boolean front = c.get("camera").getAsString().equals("front");
            String name = "android locked " + c.get("camera").getAsString() + " held " + c.get("holding").getAsString()
                    + " interface " + c.get("interface").getAsString();
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Holding holding = Holding.ofReferenceName(c.get("holding").getAsString());
                Holding shown = Holding.ofReferenceName(c.get("interface").getAsString());
                assertEquals(c.get("target_rotation").getAsInt(), holding.surfaceRotation(), "target rotation");
                assertEquals(c.get("display_target_rotation").getAsInt(), shown.surfaceRotation(), "display rotation");
                assertEquals(shown, Holding.ofSurfaceRotation(shown.surfaceRotation()), "holding of a display");
                FrameGeometry.Orientation o = FrameGeometry.forAndroidFrame(c.get("rotation_degrees").getAsInt(), front);
                assertEquals(c.get("view_mirrored").getAsBoolean(), o.viewMirrored, "view mirrored");
                int[] buf = Golden.ints(c.get("buffer_size"));
                double[] view = Golden.doubles(c.get("view_size"));
                Affine m = FrameGeometry.uprightToViewMatrix(buf[0], buf[1], o.rotation,
                        c.get("display_rotation_degrees").getAsInt(), view[0], view[1], FrameGeometry.Mode.FILL,
                        o.viewMirrored, o.mirrored);
                Golden.close(Golden.affine(c.get("upright_to_view")), m, 1e-6, "upright to view");
                Golden.close(Golden.doubles(c.get("view_points")), m.applyPoints(Golden.doubles(c.get("upright_points"))),
                        1e-6, "view points");
                if (c.get("rotation_degrees").getAsInt() == c.get("display_rotation_degrees").getAsInt()) {
                    // Held as the UI stands: the plain placement of the upright image.
                    int[] up = FrameGeometry.uprightSize(buf[0], buf[1], o.rotation);
                    Golden.close(Golden.flat(FrameGeometry.imageToViewMatrix(up[0], up[1], view[0], view[1],
                            FrameGeometry.Mode.FILL, o.viewMirrored)), Golden.flat(m), 1e-9, "unlocked");
                }
            }));
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> views() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement el : DOC.getAsJsonArray("views")) {
            JsonObject c = el.getAsJsonObject();
            double[] img = Golden.doubles(c.get("image_size"));
            double[] view = Golden.doubles(c.get("view_size"));
            boolean mirrored = c.get("mirrored").getAsBoolean();
            String name = String.format("image %.0fx%.0f in view %.0fx%.0f %s%s", img[0], img[1], view[0], view[1],
                    c.get("mode").getAsString(), mirrored ? " mirrored" : "");
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Affine m = FrameGeometry.imageToViewMatrix(img[0], img[1], view[0], view[1], mode(c), mirrored);
                Golden.close(Golden.affine(c.get("image_to_view")), m, 1e-6, "matrix");
                double[] v = m.applyPoints(Golden.doubles(c.get("image_points")));
                Golden.close(Golden.doubles(c.get("view_points")), v, 1e-6, "view points");
                Golden.close(Golden.doubles(c.get("image_points")), m.inverse().applyPoints(v), 1e-6, "back");
            }));
        }
        for (JsonElement el : DOC.getAsJsonArray("buffer_to_view")) {
            JsonObject c = el.getAsJsonObject();
            int[] buf = Golden.ints(c.get("buffer_size"));
            double[] view = Golden.doubles(c.get("view_size"));
            int rot = c.get("rotation").getAsInt();
            boolean mirrored = c.get("mirrored").getAsBoolean();
            tests.add(DynamicTest.dynamicTest("buffer to view, rotation " + rot + (mirrored ? " mirrored" : ""), () -> {
                Affine m = FrameGeometry.bufferToViewMatrix(buf[0], buf[1], rot, view[0], view[1], mode(c), mirrored);
                Golden.close(Golden.affine(c.get("buffer_to_view")), m, 1e-6, "matrix");
                Golden.close(Golden.doubles(c.get("view_points")), m.applyPoints(Golden.doubles(c.get("buffer_points"))),
                        1e-6, "view points");
            }));
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> boxesAndErrors() {
        List<DynamicTest> tests = new ArrayList<>();
        int i = 0;
        for (JsonElement el : DOC.getAsJsonArray("boxes")) {
            JsonObject c = el.getAsJsonObject();
            String kind = c.get("kind").getAsString();
            tests.add(DynamicTest.dynamicTest(kind + " box " + (i++), () -> {
                Box got;
                if (kind.equals("edge_rect")) {
                    double[] r = Golden.doubles(c.get("rect"));
                    got = FrameGeometry.edgeRectToBox(r[0], r[1], r[2], r[3]);
                } else {
                    double[] b = Golden.doubles(c.get("box"));
                    double[] s = Golden.doubles(c.get("image_size"));
                    got = kind.equals("vision_bottom_left")
                            ? FrameGeometry.visionBoxToPixels(b[0], b[1], b[2], b[3], s[0], s[1])
                            : FrameGeometry.normalizedBoxToPixels(b[0], b[1], b[2], b[3], s[0], s[1]);
                }
                Golden.close(Golden.doubles(c.get("pixel_box")), Golden.flat(got), 1e-6, kind);
            }));
        }
        for (JsonElement el : DOC.getAsJsonArray("errors")) {
            JsonObject c = el.getAsJsonObject();
            String call = c.get("call").getAsString();
            tests.add(DynamicTest.dynamicTest("error " + call + " " + c, () -> {
                CoreException e = assertThrows(CoreException.class, () -> {
                    if (call.equals("buffer_to_upright")) {
                        int[] s = Golden.ints(c.get("buffer_size"));
                        FrameGeometry.bufferToUprightMatrix(s[0], s[1], c.get("rotation").getAsInt());
                    } else {
                        double[] s = Golden.doubles(c.get("image_size"));
                        double[] v = Golden.doubles(c.get("view_size"));
                        FrameGeometry.imageToViewMatrix(s[0], s[1], v[0], v[1], FrameGeometry.Mode.FILL, false);
                    }
                });
                assertEquals(c.get("error").getAsString(), e.kind());
            }));
        }
        return tests.stream();
    }
}
