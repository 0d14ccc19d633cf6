package org.meshpose.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The Java core against golden/schema/, the JSON Schemas Python validates with (export/formats.py):
 * every golden file follows its schema, the schemas reject what SidecarReader and BenchResults
 * reject (golden cases), and every field the readers require is a required property of the type
 * they parse. Checked with MiniSchema (the subset of JSON Schema these files use).
 */
class SchemaContractTest {
    /** Sidecar rules across fields that JSON Schema cannot state; SidecarReader checks them. */
    private static final Set<String> ACROSS_FIELDS =
            Set.of("crop_size_mismatch", "vertex_count_mismatch", "face_index_out_of_range");

    @Test
    void everyGoldenFileFollowsItsSchema() throws IOException {
        List<String> files;
        try (Stream<Path> s = Files.list(Golden.dir())) {
            files = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".json")).sorted()
                    .collect(Collectors.toList());
        }
        assertTrue(files.size() >= 8, "golden files: " + files);
        for (String name : files) {
            MiniSchema schema = MiniSchema.load("golden-" + name.replace(".json", "") + ".schema.json");
            assertEquals(List.of(), schema.errors(Golden.load(name)), name);
        }
    }

    @Test
    void sidecarSchemaAcceptsWhatTheReaderAcceptsAndRejectsWhatItRejectsStructurally() {
        MiniSchema schema = MiniSchema.load("sidecar.schema.json");
        int valid = 0, rejected = 0;
        for (JsonElement el : Golden.load("sidecar.json").getAsJsonArray("cases")) {
            JsonObject c = el.getAsJsonObject();
            String name = c.get("name").getAsString();
            List<String> errors = schema.errors(c.get("sidecar"));
            if (c.get("valid").getAsBoolean()) {
                assertEquals(List.of(), errors, name);
                SidecarReader.parse(c.get("sidecar").toString()); // the app's reader takes it too
                valid++;
            } else {
                assertEquals(!ACROSS_FIELDS.contains(name), !errors.isEmpty(), name + ": " + errors);
                rejected += errors.isEmpty() ? 0 : 1;
            }
        }
        assertTrue(valid >= 6 && rejected >= 9, valid + " valid, " + rejected + " rejected");
    }

    @Test
    void everyFieldSidecarReaderNeedsIsRequiredWithItsType() {
        MiniSchema schema = MiniSchema.load("sidecar.schema.json");
        String[][] needs = {
            {"format", null}, {"format_version", null},
            {"input", "object"}, {"input.name", "string"}, {"input.height", "integer"}, {"input.width", "integer"},
            {"input.normalization", "object"}, {"input.normalization.mean", "array"},
            {"input.normalization.std", "array"},
            {"crop", "object"}, {"crop.input_height", "integer"}, {"crop.input_width", "integer"},
            {"crop.box_scale", "number"},
            {"mesh", "object"}, {"mesh.num_vertices", "integer"},
            {"outputs", "array"}, {"outputs[].name", "string"}, {"outputs[].shape", "array"},
        };
        for (String[] need : needs) {
            requiredWithType(schema, need[0], need[1]);
        }
    }

    @Test
    void benchSchemaMatchesBenchResults() {
        MiniSchema schema = MiniSchema.load("bench-results.schema.json");
        JsonObject bench = Golden.load("bench.json");
        assertEquals(List.of(), schema.errors(bench.getAsJsonObject("document_case").get("expected")));
        assertEquals(List.of(), schema.errors(bench.get("valid_v1")));
        for (JsonElement el : bench.getAsJsonArray("invalid")) {
            JsonObject c = el.getAsJsonObject();
            assertFalse(schema.errors(c.get("document")).isEmpty(), c.get("name").getAsString());
        }
        String[][] needs = {
            {"schema", null}, {"schema_version", null}, {"machine", "object"}, {"machine.name", "string"},
            // rows may be absent (no rows); a row needs these.
            {"rows?[].model", "string"}, {"rows?[].runtime", "string"}, {"rows?[].precision", "string"},
        };
        for (String[] need : needs) {
            requiredWithType(schema, need[0], need[1]);
        }
        // The row fields BenchResults writes and accepts are the schema's, in the same order.
        JsonObject row = schema.root.getAsJsonObject("$defs").getAsJsonObject("row");
        assertEquals(BenchResults.ROW_FIELDS, List.copyOf(row.getAsJsonObject("properties").keySet()));
        JsonObject stages = row.getAsJsonObject("properties").getAsJsonObject("stages_ms")
                .getAsJsonArray("anyOf").get(1).getAsJsonObject();
        assertEquals(BenchResults.STAGES, List.copyOf(stages.getAsJsonObject("properties").keySet()));
    }

    @Test
    void theCheckerRejectsABrokenFile() {
        JsonObject crop = Golden.load("crop.json");
        crop.getAsJsonArray("cases").get(0).getAsJsonObject().getAsJsonObject("contract")
                .addProperty("box_scale", "big");
        crop.remove("images");
        List<String> errors = MiniSchema.load("golden-crop.schema.json").errors(crop);
        // The case matches neither the expected nor the error form of a case.
        assertTrue(errors.stream().anyMatch(e -> e.startsWith("$.cases[0]")), errors.toString());
        assertTrue(errors.stream().anyMatch(e -> e.contains("images")), errors.toString());
    }

    /** {@code path} ("a.b", "rows?[].model") is required at every step not marked "?", its last schema of {@code type}. */
    private static void requiredWithType(MiniSchema schema, String path, String type) {
        JsonObject s = schema.root;
        String[] parts = path.split("\\.");
        for (String part : parts) {
            boolean item = part.endsWith("[]");
            String key = item ? part.substring(0, part.length() - 2) : part;
            boolean optional = key.endsWith("?");
            key = optional ? key.substring(0, key.length() - 1) : key;
            s = schema.resolve(s);
            assertTrue(optional || s.has("required") && s.getAsJsonArray("required").toString().contains("\"" + key + "\""),
                    path + ": " + key + " is not required");
            s = schema.resolve(s.getAsJsonObject("properties").getAsJsonObject(key));
            if (item) {
                s = schema.resolve(s.getAsJsonObject("items"));
            }
        }
        if (type != null) {
            assertTrue(s.has("type") && s.get("type").toString().contains("\"" + type + "\""),
                    path + " is not of type " + type + " in the schema: " + s.get("type"));
        }
    }
}
