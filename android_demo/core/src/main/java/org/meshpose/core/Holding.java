package org.meshpose.core;

/**
 * How the phone is held, from the accelerometer, for ImageAnalysis's target rotation; the port of
 * {@code holding_from_orientation_degrees}, {@code holding_from_gravity} and {@code target_rotation}
 * in export/runtime/frame_geometry.py (golden/geometry.json "orientation_events", "gravity",
 * "android_locked").
 *
 * <p>Why: CameraX turns analysis frames for the use case's target rotation, which the app used to
 * take from the display. With the UI locked, or the activity fixed to portrait, the display stops
 * following the phone and the model sees a person lying on their side. OrientationEventListener
 * keeps reporting how the phone is held; this class turns its degrees into a holding (with
 * hysteresis, so that 45 degrees does not flicker) and the holding into the target rotation.
 *
 * <p>Names follow where the home (bottom) edge is, as MeshPoseKit's HoldingOrientation does, since
 * "landscape left" means opposite things to UIDeviceOrientation and to UIInterfaceOrientation.
 * Rotations are relative to the device's natural orientation, as Surface rotations and
 * OrientationEventListener's degrees are, so a tablet whose natural orientation is landscape needs
 * nothing else.
 */
public enum Holding {
    /** Natural orientation: Surface.ROTATION_0. */
    PORTRAIT("portrait", 0, 0.0),
    /** Turned half a turn: Surface.ROTATION_180. */
    PORTRAIT_UPSIDE_DOWN("portrait_upside_down", 2, 180.0),
    /** Turned a quarter counter-clockwise as its user sees it, home edge on the right: Surface.ROTATION_90. */
    LANDSCAPE_HOME_RIGHT("landscape_left", 1, 270.0),
    /** Turned a quarter clockwise, home edge on the left: Surface.ROTATION_270. */
    LANDSCAPE_HOME_LEFT("landscape_right", 3, 90.0);

    /** OrientationEventListener.ORIENTATION_UNKNOWN: the phone lies (nearly) flat. */
    public static final int ORIENTATION_UNKNOWN = -1;
    /** Gravity in the screen's plane (g) below which the phone counts as lying flat. */
    public static final double GRAVITY_MIN_TILT = 0.5;
    /** A holding is kept until the phone is 45 + this many degrees away from it: no flicker at 45. */
    public static final double HYSTERESIS_DEGREES = 10.0;

    private final String referenceName;
    private final int surfaceRotation;
    /** Direction of gravity on the screen for this holding: OrientationEventListener's degrees. */
    private final double centreDegrees;

    Holding(String referenceName, int surfaceRotation, double centreDegrees) {
        this.referenceName = referenceName;
        this.surfaceRotation = surfaceRotation;
        this.centreDegrees = centreDegrees;
    }

    /** The name export/runtime/frame_geometry.py and golden/geometry.json use (UIDeviceOrientation's). */
    public String referenceName() {
        return referenceName;
    }

    /** The Surface.ROTATION_* value (0-3) for ImageAnalysis.setTargetRotation. */
    public int surfaceRotation() {
        return surfaceRotation;
    }

    public static Holding ofReferenceName(String name) {
        for (Holding h : values()) {
            if (h.referenceName.equals(name)) {
                return h;
            }
        }
        throw new CoreException("invalid_value", "holding " + name + " must be one of portrait, portrait_upside_down, "
                + "landscape_left, landscape_right");
    }

    /** The holding whose display is at Surface rotation {@code rotation} (0-3): the start value. */
    public static Holding ofSurfaceRotation(int rotation) {
        for (Holding h : values()) {
            if (h.surfaceRotation == rotation) {
                return h;
            }
        }
        throw new CoreException("invalid_rotation", "surface rotation " + rotation + " must be 0, 1, 2 or 3");
    }

    /**
     * From OrientationEventListener.onOrientationChanged's degrees (0 = natural orientation, 90 =
     * turned a quarter clockwise); a negative value (ORIENTATION_UNKNOWN, lying flat) keeps
     * {@code previous}, as does anything within the hysteresis of it.
     */
    public static Holding fromOrientationDegrees(int orientation, Holding previous) {
        if (previous == null) {
            throw new CoreException("invalid_value", "previous holding must not be null");
        }
        if (orientation < 0) {
            return previous;
        }
        return fromAngle(orientation, previous);
    }

    /**
     * From gravity in the phone's axes (x to the right edge, y to the top edge, z out of the
     * screen; CoreMotion's gravity, or Android's accelerometer negated): the angle
     * OrientationEventListener computes, with a flat threshold of {@link #GRAVITY_MIN_TILT}.
     */
    public static Holding fromGravity(double gx, double gy, double gz, Holding previous) {
        if (previous == null) {
            throw new CoreException("invalid_value", "previous holding must not be null");
        }
        if (!Double.isFinite(gx) || !Double.isFinite(gy) || !Double.isFinite(gz)) {
            return previous;
        }
        if (Math.hypot(gx, gy) < GRAVITY_MIN_TILT) {
            return previous;
        }
        return fromAngle(Math.toDegrees(Math.atan2(gx, -gy)), previous);
    }

    private static Holding fromAngle(double angle, Holding previous) {
        double a = angle % 360.0;
        if (a < 0) {
            a += 360.0;
        }
        if (previous.distance(a) <= 45.0 + HYSTERESIS_DEGREES) {
            return previous;
        }
        // Ties keep the reference's order (declaration order here).
        Holding best = PORTRAIT;
        for (Holding h : values()) {
            if (h.distance(a) < best.distance(a)) {
                best = h;
            }
        }
        return best;
    }

    private double distance(double angle) {
        double d = Math.abs(angle - centreDegrees) % 360.0;
        return Math.min(d, 360.0 - d);
    }
}
