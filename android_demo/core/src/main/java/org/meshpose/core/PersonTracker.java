package org.meshpose.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Person tracking across frames; the port of PersonTracker in export/runtime/tracking.py (its docstring
 * states every rule). The detector runs only when needed (first frame, every redetectEvery
 * frames, or when a track's visibility dropped or it was lost); between detections the next
 * crop box comes from the previous mesh's visible vertices.
 */
public final class PersonTracker {
    public static final class Params {
        public double visibilityThreshold = 0.5;
        public int minVisible = 30;
        public double minMeanVisibility = 0.3;
        public int redetectEvery = 15;
        public double matchIou = 0.3;
        public double duplicateIou = 0.7;
        public int maxMissed = 5;
        public int maxPeople = 4;
        public double vertexBoxScale = 1.0;

        public Params validated() {
            check(visibilityThreshold >= 0 && visibilityThreshold <= 1, "visibility_threshold must lie in [0, 1]");
            check(minVisible >= 2, "min_visible must be at least 2 vertices");
            check(minMeanVisibility >= 0 && minMeanVisibility <= 1, "min_mean_visibility must lie in [0, 1]");
            check(redetectEvery >= 0, "redetect_every must be 0 (never) or a number of frames");
            check(matchIou > 0 && matchIou <= 1, "match_iou must lie in (0, 1]");
            check(duplicateIou > 0 && duplicateIou <= 1, "duplicate_iou must lie in (0, 1]");
            check(maxMissed >= 0, "max_missed must be zero or positive");
            check(maxPeople >= 1, "max_people must be at least 1");
            check(vertexBoxScale > 0, "vertex_box_scale must be positive");
            return this;
        }

        private static void check(boolean ok, String msg) {
            if (!ok) {
                throw new CoreException("invalid_params", "tracker: " + msg);
            }
        }
    }

    public static final class Track {
        public final int id;
        public Box box;
        public double score;
        public int age;
        public int missed;
        public boolean flagged;
        public boolean hasMesh;
        /** "detector" or "vertices": where the current box came from. */
        public String boxSource = "detector";

        Track(int id, Box box, double score) {
            this.id = id;
            this.box = box;
            this.score = score;
        }
    }

    private final Params params;
    private final double aspect;
    private final int[] imageSize; // {width, height} or null
    private final List<Track> tracks = new ArrayList<>();
    private int nextId;
    private int frame = -1;
    private int lastDetectionFrame = -1;

    /** aspect: the model's input width / height; imageSize: {width, height} to clip vertex boxes to, or null. */
    public PersonTracker(Params params, double aspect, int[] imageSize) {
        if (!(aspect > 0) || !Double.isFinite(aspect)) {
            throw new CoreException("invalid_params", "tracker: the model aspect must be positive, got " + aspect);
        }
        this.params = params.validated();
        this.aspect = aspect;
        this.imageSize = imageSize == null ? null : imageSize.clone();
    }

    public List<Track> tracks() {
        return Collections.unmodifiableList(tracks);
    }

    /** Advance to the next frame; returns whether the detector must run on it. */
    public boolean beginFrame() {
        frame++;
        for (Track t : tracks) {
            t.hasMesh = false;
        }
        return needsDetection();
    }

    public boolean needsDetection() {
        if (tracks.isEmpty() || lastDetectionFrame < 0) {
            return true;
        }
        if (params.redetectEvery > 0 && frame - lastDetectionFrame >= params.redetectEvery) {
            return true;
        }
        for (Track t : tracks) {
            if (t.flagged || t.missed > 0) {
                return true;
            }
        }
        return false;
    }

    public void applyDetections(List<Box> boxes, List<Double> scores) {
        if (boxes.size() != scores.size()) {
            throw new CoreException("invalid_value", "tracker: one score per detection box");
        }
        lastDetectionFrame = frame;
        List<Box> trackBoxes = new ArrayList<>();
        for (Track t : tracks) {
            trackBoxes.add(t.box);
        }
        List<int[]> matches = greedyMatch(trackBoxes, boxes, params.matchIou);
        boolean[] matchedT = new boolean[tracks.size()];
        boolean[] matchedD = new boolean[boxes.size()];
        for (int[] m : matches) {
            Track t = tracks.get(m[0]);
            matchedT[m[0]] = true;
            matchedD[m[1]] = true;
            if (t.flagged || t.missed > 0) {
                t.box = boxes.get(m[1]);
                t.score = scores.get(m[1]);
                t.boxSource = "detector";
            }
            t.missed = 0;
            t.flagged = false;
        }
        List<Track> kept = new ArrayList<>();
        for (int i = 0; i < tracks.size(); i++) {
            Track t = tracks.get(i);
            if (!matchedT[i]) {
                t.missed++;
            }
            if (t.missed <= params.maxMissed) {
                kept.add(t);
            }
        }
        tracks.clear();
        tracks.addAll(kept);
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < boxes.size(); i++) {
            order.add(i);
        }
        order.sort((a, b) -> {
            int c = Double.compare(scores.get(b), scores.get(a));
            return c != 0 ? c : Integer.compare(a, b);
        });
        for (int di : order) {
            if (matchedD[di] || tracks.size() >= params.maxPeople) {
                continue;
            }
            tracks.add(new Track(nextId++, boxes.get(di), scores.get(di)));
        }
    }

    /** Tracks to run the model on this frame, in id order. */
    public List<Track> activeTracks() {
        List<Track> out = new ArrayList<>();
        for (Track t : tracks) {
            if (t.missed == 0) {
                out.add(t);
            }
        }
        return out;
    }

    /** The mesh of a track this frame (flat (K, 2) xy, K visibilities) -> its next box, or null. */
    public Box applyMesh(int trackId, double[] xy, double[] visibility) {
        Track t = get(trackId);
        t.hasMesh = true;
        int count = visibleCount(visibility, params.visibilityThreshold);
        double mean = seqSum(visibility) / Math.max(visibility.length, 1);
        Box box = boxFromVertices(xy, visibility, params, aspect, imageSize);
        t.flagged = box == null || count < params.minVisible || mean < params.minMeanVisibility;
        if (box != null) {
            t.box = box;
            t.boxSource = "vertices";
        }
        return box;
    }

    public void endFrame() {
        for (Track t : tracks) {
            t.age++;
        }
        List<Track> active = activeTracks();
        List<Integer> drop = new ArrayList<>();
        for (int i = 0; i < active.size(); i++) {
            for (int j = i + 1; j < active.size(); j++) {
                Track a = active.get(i), b = active.get(j);
                if (drop.contains(a.id) || drop.contains(b.id)) {
                    continue;
                }
                if (a.box.iou(b.box) > params.duplicateIou) {
                    drop.add(Math.max(a.id, b.id));
                }
            }
        }
        tracks.removeIf(t -> drop.contains(t.id));
    }

    private Track get(int id) {
        for (Track t : tracks) {
            if (t.id == id) {
                return t;
            }
        }
        throw new CoreException("invalid_value", "tracker: no track with id " + id);
    }

    // ------------------------------------------------------------------ boxes

    /** Box centred at (cx, cy): the smaller side grown to w / h = aspect, then both sides times scale. */
    public static Box aspectBox(double cx, double cy, double w, double h, double aspect, double scale) {
        if (w > aspect * h) {
            h = w / aspect;
        } else {
            w = h * aspect;
        }
        w *= scale;
        h *= scale;
        return new Box(cx - w / 2.0, cy - h / 2.0, w, h);
    }

    /** The part of a box inside the image (-0.5 .. size - 0.5), or null when nothing is left. */
    public static Box clipBox(Box b, int imageWidth, int imageHeight) {
        double x0 = Math.max(b.x, -0.5), y0 = Math.max(b.y, -0.5);
        double x1 = Math.min(b.x + b.w, imageWidth - 0.5), y1 = Math.min(b.y + b.h, imageHeight - 0.5);
        if (!(x1 > x0 && y1 > y0)) {
            return null;
        }
        return new Box(x0, y0, x1 - x0, y1 - y0);
    }

    public static Box boxFromVertices(double[] xy, double[] visibility, Params p, double aspect, int[] imageSize) {
        if (visibleCount(visibility, p.visibilityThreshold) < p.minVisible) {
            return null;
        }
        double x0 = Double.POSITIVE_INFINITY, y0 = Double.POSITIVE_INFINITY;
        double x1 = Double.NEGATIVE_INFINITY, y1 = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < visibility.length; i++) {
            if (visibility[i] >= p.visibilityThreshold) {
                x0 = Math.min(x0, xy[2 * i]);
                x1 = Math.max(x1, xy[2 * i]);
                y0 = Math.min(y0, xy[2 * i + 1]);
                y1 = Math.max(y1, xy[2 * i + 1]);
            }
        }
        if (!(x1 > x0 && y1 > y0 && Double.isFinite(x1 - x0) && Double.isFinite(y1 - y0))) {
            return null;
        }
        Box tight = new Box(x0, y0, x1 - x0, y1 - y0);
        if (imageSize != null) {
            tight = clipBox(tight, imageSize[0], imageSize[1]);
            if (tight == null) {
                return null;
            }
        }
        return aspectBox(tight.x + tight.w / 2.0, tight.y + tight.h / 2.0, tight.w, tight.h, aspect, p.vertexBoxScale);
    }

    /** (track index, detection index) pairs by IoU >= minIou, highest first; ties by index; sorted by track. */
    public static List<int[]> greedyMatch(List<Box> trackBoxes, List<Box> detBoxes, double minIou) {
        List<double[]> pairs = new ArrayList<>();
        for (int ti = 0; ti < trackBoxes.size(); ti++) {
            for (int di = 0; di < detBoxes.size(); di++) {
                double v = trackBoxes.get(ti).iou(detBoxes.get(di));
                if (v >= minIou) {
                    pairs.add(new double[] {-v, ti, di});
                }
            }
        }
        pairs.sort((a, b) -> {
            for (int i = 0; i < 3; i++) {
                int c = Double.compare(a[i], b[i]);
                if (c != 0) {
                    return c;
                }
            }
            return 0;
        });
        boolean[] usedT = new boolean[trackBoxes.size()];
        boolean[] usedD = new boolean[detBoxes.size()];
        List<int[]> out = new ArrayList<>();
        for (double[] p : pairs) {
            int ti = (int) p[1], di = (int) p[2];
            if (!usedT[ti] && !usedD[di]) {
                usedT[ti] = true;
                usedD[di] = true;
                out.add(new int[] {ti, di});
            }
        }
        out.sort((a, b) -> a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]));
        return out;
    }

    static int visibleCount(double[] visibility, double threshold) {
        int n = 0;
        for (double v : visibility) {
            if (v >= threshold) {
                n++;
            }
        }
        return n;
    }

    /** Left-to-right sum, the rule the Python reference uses so that ports agree bit for bit. */
    static double seqSum(double[] values) {
        double s = 0.0;
        for (double v : values) {
            s += v;
        }
        return s;
    }
}
