package org.meshpose.core;

import java.util.Arrays;

/**
 * Latency statistics exactly as the desktop bench computes them (export/bench/timing.py): median
 * (mean of the two middle samples for an even count), p90 by nearest rank (an observed sample,
 * never interpolated), min, and fps = 1000 / median.
 */
public final class BenchStats {
    public final double medianMs;
    public final double p90Ms;
    public final double minMs;
    public final int runs;

    private BenchStats(double medianMs, double p90Ms, double minMs, int runs) {
        this.medianMs = medianMs;
        this.p90Ms = p90Ms;
        this.minMs = minMs;
        this.runs = runs;
    }

    public static BenchStats of(double[] samplesMs) {
        if (samplesMs.length == 0) {
            throw new CoreException("invalid_value", "no timing samples: run at least once");
        }
        double[] s = samplesMs.clone();
        Arrays.sort(s);
        int n = s.length;
        double median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
        return new BenchStats(median, p90(s), s[0], n);
    }

    /** Nearest rank: sorted[min(n - 1, ceil(0.9 n) - 1)]. */
    static double p90(double[] sorted) {
        int n = sorted.length;
        int idx = Math.min(n - 1, (int) Math.ceil(0.9 * n) - 1);
        return sorted[Math.max(idx, 0)];
    }

    public double fps() {
        return 1000.0 / medianMs;
    }
}
