package org.meshpose.core;

/**
 * A person box, COCO xywh in image pixels: top-left corner, width, height. Pixel centres sit at
 * integer coordinates, so the whole W x H image is (-0.5, -0.5, W, H).
 */
public final class Box {
    public final double x, y, w, h;

    public Box(double x, double y, double w, double h) {
        this.x = x;
        this.y = y;
        this.w = w;
        this.h = h;
    }

    public double centerX() {
        return x + w / 2.0;
    }

    public double centerY() {
        return y + h / 2.0;
    }

    public double[] toArray() {
        return new double[] {x, y, w, h};
    }

    public static Box of(double[] v) {
        return new Box(v[0], v[1], v[2], v[3]);
    }

    /** Intersection over union; 0 when either box is empty or they do not overlap. */
    public double iou(Box o) {
        double iw = Math.min(x + w, o.x + o.w) - Math.max(x, o.x);
        double ih = Math.min(y + h, o.y + o.h) - Math.max(y, o.y);
        if (iw <= 0 || ih <= 0) {
            return 0.0;
        }
        double inter = iw * ih;
        double union = w * h + o.w * o.h - inter;
        return union > 0 ? inter / union : 0.0;
    }

    @Override
    public String toString() {
        return "Box(" + x + ", " + y + ", " + w + ", " + h + ")";
    }
}
