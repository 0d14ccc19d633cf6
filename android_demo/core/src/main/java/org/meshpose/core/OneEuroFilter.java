package org.meshpose.core;

/**
 * One-Euro smoothing (Casiez et al., CHI 2012), element-wise over a flat array of vertex
 * coordinates; the port of OneEuroFilter in export/runtime/tracking.py (its docstring has the formulas).
 * Timestamps in seconds; a sample not after the previous one is ignored (the last output is
 * returned). The app passes the person box height as valueScale so beta does not depend on how
 * large the person is in the frame.
 */
public final class OneEuroFilter {
    public static final class Params {
        public final double minCutoff;
        public final double beta;
        public final double dCutoff;

        public Params(double minCutoff, double beta, double dCutoff) {
            if (!(minCutoff > 0) || !Double.isFinite(minCutoff)) {
                throw new CoreException("invalid_params", "One-Euro min_cutoff must be a positive number of Hz, got " + minCutoff);
            }
            if (!(dCutoff > 0) || !Double.isFinite(dCutoff)) {
                throw new CoreException("invalid_params", "One-Euro d_cutoff must be a positive number of Hz, got " + dCutoff);
            }
            if (!(beta >= 0) || !Double.isFinite(beta)) {
                throw new CoreException("invalid_params", "One-Euro beta must be zero or positive, got " + beta);
            }
            this.minCutoff = minCutoff;
            this.beta = beta;
            this.dCutoff = dCutoff;
        }

        public static Params defaults() {
            return new Params(1.0, 0.0, 1.0);
        }
    }

    private final Params params;
    private double tPrev;
    private double[] xHat;
    private double[] dxHat;

    public OneEuroFilter(Params params) {
        this.params = params;
    }

    static double alpha(double cutoff, double dt) {
        double tau = 1.0 / (2.0 * Math.PI * cutoff);
        return 1.0 / (1.0 + tau / dt);
    }

    /** One sample: returns the smoothed values (a new array). */
    public double[] filter(double[] x, double t, double valueScale) {
        if (xHat == null) {
            xHat = x.clone();
            dxHat = new double[x.length];
            tPrev = t;
            return x.clone();
        }
        if (x.length != xHat.length) {
            throw new CoreException("invalid_value", "One-Euro sample has " + x.length + " values, the filter "
                    + xHat.length + "; reset() when the tracked person changes");
        }
        double dt = t - tPrev;
        if (!(dt > 0)) {
            return xHat.clone();
        }
        double aD = alpha(params.dCutoff, dt);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double dx = (x[i] - xHat[i]) / dt / valueScale;
            double d = aD * dx + (1.0 - aD) * dxHat[i];
            double cutoff = params.minCutoff + params.beta * Math.abs(d);
            double a = alpha(cutoff, dt);
            out[i] = a * x[i] + (1.0 - a) * xHat[i];
            dxHat[i] = d;
        }
        xHat = out.clone();
        tPrev = t;
        return out;
    }

    public double[] filter(double[] x, double t) {
        return filter(x, t, 1.0);
    }

    public void reset() {
        xHat = null;
        dxHat = null;
    }
}
