package org.meshpose.core;

import java.util.Arrays;

/** An immutable 2x3 affine: x' = a x + b y + tx, y' = c x + d y + ty. */
public final class Affine {
    public final double a, b, tx, c, d, ty;

    public Affine(double a, double b, double tx, double c, double d, double ty) {
        this.a = a;
        this.b = b;
        this.tx = tx;
        this.c = c;
        this.d = d;
        this.ty = ty;
    }

    public static Affine identity() {
        return new Affine(1, 0, 0, 0, 1, 0);
    }

    /** Rows [[a, b, tx], [c, d, ty]] as in the golden files. */
    public static Affine ofRows(double[][] rows) {
        return new Affine(rows[0][0], rows[0][1], rows[0][2], rows[1][0], rows[1][1], rows[1][2]);
    }

    public double[][] rows() {
        return new double[][] {{a, b, tx}, {c, d, ty}};
    }

    public double det() {
        return a * d - b * c;
    }

    public Affine inverse() {
        double det = det();
        if (det == 0 || !Double.isFinite(det)) {
            throw new CoreException("invalid_value", "affine is not invertible");
        }
        double ia = d / det, ib = -b / det, ic = -c / det, id = a / det;
        return new Affine(ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty));
    }

    /** The affine that applies {@code first}, then this one. */
    public Affine after(Affine first) {
        return new Affine(
                a * first.a + b * first.c,
                a * first.b + b * first.d,
                a * first.tx + b * first.ty + tx,
                c * first.a + d * first.c,
                c * first.b + d * first.d,
                c * first.tx + d * first.ty + ty);
    }

    public double x(double x, double y) {
        return a * x + b * y + tx;
    }

    public double y(double x, double y) {
        return c * x + d * y + ty;
    }

    /** Flat (N, 2) points -> new flat (N, 2) points. */
    public double[] applyPoints(double[] xy) {
        double[] out = new double[xy.length];
        for (int i = 0; i + 1 < xy.length; i += 2) {
            out[i] = x(xy[i], xy[i + 1]);
            out[i + 1] = y(xy[i], xy[i + 1]);
        }
        return out;
    }

    /** sqrt(|det|): how much the affine scales lengths (uniform for the crop contract). */
    public double scale() {
        return Math.sqrt(Math.abs(det()));
    }

    @Override
    public String toString() {
        return Arrays.deepToString(rows());
    }
}
