package org.meshpose.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which LiteRT delegate took how many nodes of the model, and the label a run gets from it.
 *
 * <p>LiteRT's Java API does not say: {@code new Interpreter(model, options)} with a GPU or NNAPI
 * delegate succeeds when the delegate takes every node, some, or none (NNAPI with
 * {@code setUseNnapiCpu(false)} and no NPU driver takes none, silently). The runtime logs one
 * line per delegation under the tag {@code tflite}, on Android also in release builds:
 * {@code Replacing 118 out of 125 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2
 * partitions for subgraph 0.} This class reads those lines (the app collects them from its own
 * logcat, {@link #logcatSlice}) so a run is labelled by what really ran: {@code gpu} only when the
 * GPU delegate took every node, {@code gpu+cpu} when some stayed on the CPU's own kernels,
 * {@code cpu} when it took none, {@code gpu?} when the log could not be read.
 *
 * <p>The reference is {@code export/bench/delegation.py}; golden/delegation.json holds its answers.
 */
public final class DelegateReport {
    public static final String FULL = "full";
    public static final String PARTIAL = "partial";
    public static final String NONE = "none";
    public static final String UNKNOWN_TOTAL = "unknown_total";
    public static final String UNVERIFIED = "unverified";

    private static final Pattern LINE = Pattern.compile(
            "Replacing (\\d+)(?: out of (\\d+))? node\\(s\\) with delegate \\(([^)]*)\\) node, "
                    + "yielding (\\d+) partitions?(?: for subgraph (\\d+))?");

    /** logcat -v threadtime: date, time, pid, tid, level, tag, ": ", message. */
    private static final Pattern THREADTIME = Pattern.compile(
            "^\\S+\\s+\\S+\\s+(\\d+)\\s+(\\d+)\\s+([VDIWEFA])\\s+(.*?)\\s*: (.*)$");

    /** The run's compute: delegates that took nodes, the requested one first, "+cpu" for leftovers. */
    public final String label;
    public final String status;
    public final String requested;
    /** Nodes of the model's graph, or null when the runtime did not log it. */
    public final Integer totalNodes;
    /** Nodes left to the CPU's own kernels, or null when unknown. */
    public final Integer cpuNodes;
    /** compute -> nodes taken, in log order. */
    public final Map<String, Integer> delegated;
    /** One line for the screen and the benchmark row's note. */
    public final String summary;

    private DelegateReport(String label, String status, String requested, Integer totalNodes, Integer cpuNodes,
            Map<String, Integer> delegated, String summary) {
        this.label = label;
        this.status = status;
        this.requested = requested;
        this.totalNodes = totalNodes;
        this.cpuNodes = cpuNodes;
        this.delegated = Collections.unmodifiableMap(delegated);
        this.summary = summary;
    }

    /** The requested delegate took no node: the caller should fall back to XNNPACK and say so. */
    public boolean requestedTookNothing() {
        return NONE.equals(status);
    }

    /** {@code TfLiteGpuDelegateV2} -> {@code gpu}; an unknown delegate keeps its name, lower-cased. */
    public static String computeName(String delegate) {
        switch (delegate) {
            case "TfLiteGpuDelegateV2":
            case "TfLiteGpuDelegate":
                return "gpu";
            case "TfLiteNnapiDelegate":
                return "npu";
            case "TfLiteXNNPackDelegate":
                return "xnnpack";
            default:
                return delegate.toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** One delegation line of the model's graph. */
    public static final class Partitioning {
        public final String delegate;
        public final String compute;
        public final int nodes;
        public final Integer total;
        public final int partitions;

        Partitioning(String delegate, int nodes, Integer total, int partitions) {
            this.delegate = delegate;
            this.compute = computeName(delegate);
            this.nodes = nodes;
            this.total = total;
            this.partitions = partitions;
        }
    }

    /** The delegation lines of subgraph 0 (or of no named subgraph), in order. */
    public static List<Partitioning> parse(List<String> lines) {
        List<Partitioning> out = new ArrayList<>();
        for (String line : lines) {
            Matcher m = LINE.matcher(line);
            if (!m.find()) {
                continue;
            }
            String subgraph = m.group(5);
            if (subgraph != null && !subgraph.equals("0")) {
                continue;
            }
            out.add(new Partitioning(m.group(3), Integer.parseInt(m.group(1)),
                    m.group(2) != null ? Integer.valueOf(m.group(2)) : null, Integer.parseInt(m.group(4))));
        }
        return out;
    }

    /**
     * What ran, for a run that asked for {@code requested} ("gpu", "npu", "xnnpack" or "cpu"), from
     * the runtime's lines logged while the interpreter was created ({@code null}: not readable).
     */
    public static DelegateReport of(String requested, List<String> lines) {
        if (lines == null) {
            return new DelegateReport(requested.equals("cpu") ? requested : requested + "?", UNVERIFIED, requested,
                    null, null, new LinkedHashMap<>(),
                    requested + ": delegation not verified (the runtime's log could not be read)");
        }
        Map<String, Integer> delegated = new LinkedHashMap<>();
        Map<String, Integer> partitions = new LinkedHashMap<>();
        Integer total = null;
        for (Partitioning p : parse(lines)) {
            delegated.merge(p.compute, p.nodes, Integer::sum);
            partitions.merge(p.compute, p.partitions, Integer::sum);
            // Later delegates see the graph already partitioned (a smaller plan): the largest total is the model's.
            if (p.total != null && (total == null || p.total > total)) {
                total = p.total;
            }
        }
        int sum = 0;
        List<String> taken = new ArrayList<>();
        for (Map.Entry<String, Integer> e : delegated.entrySet()) {
            sum += e.getValue();
            if (e.getValue() > 0) {
                taken.add(e.getKey());
            }
        }
        Integer cpuNodes = total == null ? null : Math.max(0, total - sum);
        List<String> order = new ArrayList<>();
        if (taken.contains(requested)) {
            order.add(requested);
        }
        for (String c : taken) {
            if (!c.equals(requested)) {
                order.add(c);
            }
        }
        List<String> parts = new ArrayList<>(order);
        if (cpuNodes == null ? order.isEmpty() : (cpuNodes > 0 || order.isEmpty())) {
            parts.add("cpu");
        }
        String label = String.join("+", parts);
        int mine = delegated.getOrDefault(requested, 0);
        String status;
        if (requested.equals("cpu")) {
            status = taken.isEmpty() ? FULL : PARTIAL;
        } else if (mine == 0) {
            status = NONE;
        } else if (cpuNodes == null) {
            status = UNKNOWN_TOTAL;
        } else if (cpuNodes == 0 && order.size() == 1) {
            status = FULL;
        } else {
            status = PARTIAL;
        }
        List<String> pieces = new ArrayList<>();
        for (Map.Entry<String, Integer> e : delegated.entrySet()) {
            int np = partitions.get(e.getKey());
            pieces.add(e.getValue() + " on " + e.getKey() + " (" + np + " partition" + (np != 1 ? "s" : "") + ")");
        }
        if (cpuNodes != null) {
            pieces.add(cpuNodes + " on the CPU's own kernels");
        }
        if (!requested.equals("cpu") && mine == 0) {
            pieces.add(0, "the " + requested + " delegate took none");
        }
        String head = total != null ? label + " (" + total + " nodes)" : label + " (total nodes not logged)";
        String summary = pieces.isEmpty() ? label + ": no delegate took a node" : head + ": " + String.join(", ", pieces);
        return new DelegateReport(label, status, requested, total, cpuNodes, delegated, summary);
    }

    /**
     * The messages of {@code logcat -v threadtime} lines that thread {@code tid} logged under the
     * tag {@code tflite} after the last line containing {@code marker} (the app logs a unique
     * marker just before it creates the interpreter on that thread, so lines of the detector's own
     * runtime or of an earlier interpreter are left out). {@code null} when the marker is not in
     * the log: the log could not be read, and the report says "unverified".
     */
    public static List<String> logcatSlice(List<String> logcat, String marker, int tid) {
        int start = -1;
        for (int i = 0; i < logcat.size(); i++) {
            if (logcat.get(i).contains(marker)) {
                start = i;
            }
        }
        if (start < 0) {
            return null;
        }
        List<String> out = new ArrayList<>();
        for (int i = start + 1; i < logcat.size(); i++) {
            Matcher m = THREADTIME.matcher(logcat.get(i));
            if (m.matches() && Integer.parseInt(m.group(2)) == tid && m.group(4).equals("tflite")) {
                out.add(m.group(5));
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return summary;
    }
}
