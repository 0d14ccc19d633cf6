package org.meshpose.core;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code meshpose-bench} results JSON that every machine writes (export/bench/schema.py): the
 * desktop CLI, the iOS app and this Android app. A row is one (model, runtime, precision, compute,
 * threads) measurement; every number is measured on the named machine or null (not measured).
 */
public final class BenchResults {
    public static final String SCHEMA = "meshpose-bench";
    public static final int SCHEMA_VERSION = 2;
    /** Version 1 files (before scope and stages_ms) still read; their rows are model rows. */
    public static final List<Integer> READABLE_VERSIONS = Arrays.asList(1, 2);
    public static final List<String> STATUSES = Arrays.asList("measured", "parity-failed", "not-runnable", "failed");
    /** "model": the model call alone; "pipeline": a whole frame, camera pixels in, mesh out. */
    public static final List<String> SCOPES = Arrays.asList("model", "pipeline");
    /** Pipeline stages in frame order; stages_ms holds the median of each (null: not part of the run). */
    public static final List<String> STAGES = Arrays.asList("detect", "preprocess", "inference", "postprocess", "render");

    /** Row fields in the order of schema.py's Row dataclass. */
    public static final List<String> ROW_FIELDS = Arrays.asList(
            "model", "runtime", "precision", "threads", "status", "compute", "artifact", "input_shape", "vertices",
            "latency_median_ms", "latency_p90_ms", "latency_min_ms", "fps", "runs", "warmup", "peak_rss_mb",
            "peak_model_mb", "artifact_bytes", "params", "macs", "macs_per_s", "efficiency", "export_seconds",
            "load_seconds", "parity_max_px", "parity_p99_px", "note", "scope", "stages_ms");

    private static final Set<String> STRING_FIELDS =
            Set.of("model", "runtime", "precision", "status", "compute", "artifact", "note", "scope");

    public static final class Machine {
        public final String name;
        public final String cpu;
        public final int cores;
        public final String os;
        public final Map<String, String> runtimes;
        public final String note;

        public Machine(String name, String cpu, int cores, String os, Map<String, String> runtimes, String note) {
            this.name = name;
            this.cpu = cpu;
            this.cores = cores;
            this.os = os;
            this.runtimes = new LinkedHashMap<>(runtimes);
            this.note = note;
        }

        JsonObject toJson() {
            JsonObject o = new JsonObject();
            o.addProperty("name", name);
            o.addProperty("cpu", cpu);
            o.addProperty("cores", cores);
            o.addProperty("os", os);
            JsonObject r = new JsonObject();
            runtimes.forEach(r::addProperty);
            o.add("runtimes", r);
            o.addProperty("note", note);
            return o;
        }
    }

    /** One results row; unset numbers stay null (not measured). */
    public static final class Row {
        private final Map<String, Object> values = new LinkedHashMap<>();

        public Row(String model, String runtime, String precision, Integer threads) {
            for (String f : ROW_FIELDS) {
                values.put(f, null);
            }
            values.put("model", model);
            values.put("runtime", runtime);
            values.put("precision", precision);
            values.put("threads", threads);
            values.put("status", "measured");
            values.put("compute", "cpu");
            values.put("artifact", "");
            values.put("input_shape", new int[0]);
            values.put("note", "");
            values.put("scope", "model");
        }

        /**
         * A whole-pipeline row: scope "pipeline" and the median of each stage (stage name -> ms, a
         * stage left out or null was not part of the run).
         */
        public Row pipelineStages(Map<String, Double> stageMedians) {
            Map<String, Double> stages = new LinkedHashMap<>();
            for (String stage : STAGES) {
                stages.put(stage, stageMedians.get(stage));
            }
            for (String key : stageMedians.keySet()) {
                if (!STAGES.contains(key)) {
                    throw new CoreException("invalid_results", "unknown pipeline stage " + key + "; stages are " + STAGES);
                }
            }
            values.put("scope", "pipeline");
            values.put("stages_ms", stages);
            return this;
        }

        /** Sets a field by its schema name (a number, a string, an int[] for input_shape, or null). */
        public Row set(String field, Object value) {
            if (!values.containsKey(field)) {
                throw new CoreException("invalid_results", "results row has no field " + field);
            }
            values.put(field, value);
            return this;
        }

        public Object get(String field) {
            return values.get(field);
        }

        /** Latency fields from timing samples, as the desktop bench fills them. */
        public Row timings(BenchStats s, int warmup) {
            return set("latency_median_ms", s.medianMs)
                    .set("latency_p90_ms", s.p90Ms)
                    .set("latency_min_ms", s.minMs)
                    .set("fps", s.fps())
                    .set("runs", s.runs)
                    .set("warmup", warmup);
        }

        JsonObject toJson() {
            JsonObject o = new JsonObject();
            for (Map.Entry<String, Object> e : values.entrySet()) {
                o.add(e.getKey(), toJsonValue(e.getValue()));
            }
            return o;
        }
    }

    private final Machine machine;
    private final List<Row> rows = new ArrayList<>();
    private final JsonObject peak = new JsonObject();

    public BenchResults(Machine machine) {
        this.machine = machine;
    }

    public BenchResults add(Row row) {
        rows.add(row);
        return this;
    }

    /** The machine's compute roof, where measured (schema.py's "peak"); empty otherwise. */
    public JsonObject peak() {
        return peak;
    }

    public JsonObject toJson() {
        JsonObject doc = new JsonObject();
        doc.addProperty("schema", SCHEMA);
        doc.addProperty("schema_version", SCHEMA_VERSION);
        doc.add("machine", machine.toJson());
        doc.add("peak", peak.deepCopy());
        JsonArray arr = new JsonArray();
        for (Row r : rows) {
            arr.add(r.toJson());
        }
        doc.add("rows", arr);
        validate(doc);
        return doc;
    }

    /** Pretty JSON with nulls written out (null = not measured, as the desktop files have it). */
    public String toJsonString() {
        Gson gson = new GsonBuilder().serializeNulls().setPrettyPrinting().create();
        return gson.toJson(toJson()) + "\n";
    }

    private static JsonElement toJsonValue(Object v) {
        if (v == null) {
            return JsonNull.INSTANCE;
        }
        if (v instanceof Map) {
            JsonObject o = new JsonObject();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                o.add(String.valueOf(e.getKey()), toJsonValue(e.getValue()));
            }
            return o;
        }
        if (v instanceof int[]) {
            JsonArray a = new JsonArray();
            for (int x : (int[]) v) {
                a.add(x);
            }
            return a;
        }
        if (v instanceof Number) {
            double d = ((Number) v).doubleValue();
            if (!Double.isFinite(d)) {
                throw new CoreException("invalid_results", "results hold a non-finite number; store null instead");
            }
            return new JsonPrimitive((Number) v);
        }
        if (v instanceof String) {
            return new JsonPrimitive((String) v);
        }
        throw new CoreException("invalid_results", "unsupported results value " + v.getClass().getSimpleName());
    }

    /** The checks of schema.py's validate(): raises {@code invalid_results} on the first problem. */
    public static void validate(JsonElement el) {
        if (!el.isJsonObject()) {
            throw new CoreException("invalid_results", "not a " + SCHEMA + " results file");
        }
        JsonObject doc = el.getAsJsonObject();
        JsonElement schema = doc.get("schema");
        JsonElement version = doc.get("schema_version");
        if (schema == null || !schema.isJsonPrimitive() || !SCHEMA.equals(schema.getAsString()) || version == null
                || !version.isJsonPrimitive() || !version.getAsJsonPrimitive().isNumber()
                || !READABLE_VERSIONS.contains((int) version.getAsDouble())
                || version.getAsDouble() != Math.rint(version.getAsDouble())) {
            throw new CoreException("invalid_results", "not a " + SCHEMA + " results file of version " + READABLE_VERSIONS);
        }
        JsonElement machine = doc.get("machine");
        if (machine == null || !machine.isJsonObject() || !truthyString(machine.getAsJsonObject().get("name"))) {
            throw new CoreException("invalid_results", "results file names no machine (machine.name)");
        }
        JsonElement rows = doc.get("rows");
        if (rows == null || rows.isJsonNull()) {
            return;
        }
        if (!rows.isJsonArray()) {
            throw new CoreException("invalid_results", "results rows must be a list");
        }
        for (JsonElement r : rows.getAsJsonArray()) {
            if (!r.isJsonObject()) {
                throw new CoreException("invalid_results", "results rows must be JSON objects");
            }
            JsonObject row = r.getAsJsonObject();
            for (String key : row.keySet()) {
                if (!ROW_FIELDS.contains(key)) {
                    throw new CoreException("invalid_results", "results row has unknown field " + key);
                }
            }
            for (String key : STRING_FIELDS) {
                JsonElement v = row.get(key);
                if (v != null && !v.isJsonNull() && !(v.isJsonPrimitive() && v.getAsJsonPrimitive().isString())) {
                    throw new CoreException("invalid_results", "results row field " + key + " must be a string");
                }
            }
            for (String key : List.of("model", "runtime", "precision")) {
                JsonElement v = row.get(key);
                if (v == null || v.isJsonNull()) {
                    throw new CoreException("invalid_results", "results row lacks field " + key);
                }
            }
            // schema.py defaults a missing status / scope but refuses null, which is not one of the names.
            for (String key : List.of("status", "scope")) {
                JsonElement v = row.get(key);
                if (v != null && v.isJsonNull()) {
                    throw new CoreException("invalid_results", "row " + key + " is null");
                }
            }
            JsonElement status = row.get("status");
            String st = status == null ? "measured" : status.getAsString();
            if (!STATUSES.contains(st)) {
                throw new CoreException("invalid_results", "row status " + st + " is not one of " + STATUSES);
            }
            JsonElement lat = row.get("latency_median_ms");
            boolean hasLatency = lat != null && lat.isJsonPrimitive() && lat.getAsJsonPrimitive().isNumber()
                    && lat.getAsDouble() > 0;
            if (st.equals("measured") && !hasLatency) {
                throw new CoreException("invalid_results", "row status measured but no latency");
            }
            JsonElement scope = row.get("scope");
            if (scope != null && !SCOPES.contains(scope.getAsString())) {
                throw new CoreException("invalid_results", "row scope " + scope.getAsString() + " is not one of " + SCOPES);
            }
            JsonElement stages = row.get("stages_ms");
            if (stages != null && !stages.isJsonNull()) {
                if (!stages.isJsonObject()) {
                    throw new CoreException("invalid_results", "row stages_ms must be an object");
                }
                for (Map.Entry<String, JsonElement> e : stages.getAsJsonObject().entrySet()) {
                    JsonElement v = e.getValue();
                    boolean ok = v.isJsonNull() || (v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber()
                            && v.getAsDouble() >= 0 && Double.isFinite(v.getAsDouble()));
                    if (!STAGES.contains(e.getKey()) || !ok) {
                        throw new CoreException("invalid_results", "stages_ms " + e.getKey()
                                + " must be one of " + STAGES + " with milliseconds >= 0 or null");
                    }
                }
            }
        }
    }

    private static boolean truthyString(JsonElement el) {
        return el != null && el.isJsonPrimitive() && !el.getAsString().isEmpty();
    }
}
