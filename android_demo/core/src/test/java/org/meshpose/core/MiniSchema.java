package org.meshpose.core;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The subset of JSON Schema draft 2020-12 that golden/schema/ uses, checked by hand: no JSON Schema
 * library is in the offline Maven repository. Keywords: type, required, properties,
 * additionalProperties, items, minItems, maxItems, enum, const, minimum, maximum, exclusiveMinimum,
 * minLength, anyOf, allOf, not, contains and $ref to "#/$defs/...". A keyword outside this set fails
 * the check, so a schema cannot quietly ask for more than is checked here.
 */
final class MiniSchema {
    private static final Set<String> ANNOTATIONS = Set.of("$schema", "$id", "title", "description", "$defs");
    private static final Set<String> KEYWORDS = Set.of("type", "required", "properties", "additionalProperties",
            "items", "minItems", "maxItems", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "minLength",
            "anyOf", "allOf", "not", "contains", "$ref");

    final JsonObject root;

    MiniSchema(JsonObject root) {
        this.root = root;
    }

    static MiniSchema load(String name) {
        try {
            return new MiniSchema(JsonParser.parseString(new String(
                    Files.readAllBytes(Golden.dir().resolve("schema").resolve(name)), StandardCharsets.UTF_8))
                    .getAsJsonObject());
        } catch (IOException e) {
            throw new AssertionError("cannot read golden/schema/" + name, e);
        }
    }

    /** Violations of the schema by {@code doc}: empty when it validates. */
    List<String> errors(JsonElement doc) {
        List<String> out = new ArrayList<>();
        check(root, doc, "$", out);
        return out;
    }

    JsonObject resolve(JsonObject schema) {
        while (schema.has("$ref")) {
            String ref = schema.get("$ref").getAsString();
            if (!ref.startsWith("#/$defs/")) {
                throw new AssertionError("unsupported $ref " + ref);
            }
            schema = root.getAsJsonObject("$defs").getAsJsonObject(ref.substring("#/$defs/".length()));
        }
        return schema;
    }

    private void check(JsonElement schemaEl, JsonElement v, String at, List<String> out) {
        if (schemaEl.isJsonPrimitive()) { // true / false schemas
            if (!schemaEl.getAsBoolean()) {
                out.add(at + ": not allowed");
            }
            return;
        }
        JsonObject s = resolve(schemaEl.getAsJsonObject());
        for (String key : s.keySet()) {
            if (!KEYWORDS.contains(key) && !ANNOTATIONS.contains(key)) {
                throw new AssertionError("MiniSchema does not implement the keyword " + key + " (at " + at + ")");
            }
        }
        if (s.has("type") && !typeMatches(s.get("type"), v)) {
            out.add(at + ": not of type " + s.get("type"));
            return;
        }
        if (s.has("const") && !s.get("const").equals(v)) {
            out.add(at + ": is not " + s.get("const"));
        }
        if (s.has("enum") && !s.getAsJsonArray("enum").contains(v)) {
            out.add(at + ": " + v + " is not one of " + s.get("enum"));
        }
        if (isNumber(v)) {
            double x = v.getAsDouble();
            if (s.has("minimum") && x < s.get("minimum").getAsDouble()) {
                out.add(at + ": below the minimum");
            }
            if (s.has("maximum") && x > s.get("maximum").getAsDouble()) {
                out.add(at + ": above the maximum");
            }
            if (s.has("exclusiveMinimum") && x <= s.get("exclusiveMinimum").getAsDouble()) {
                out.add(at + ": not above the exclusive minimum");
            }
        }
        if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isString() && s.has("minLength")
                && v.getAsString().codePointCount(0, v.getAsString().length()) < s.get("minLength").getAsInt()) {
            out.add(at + ": too short");
        }
        if (v.isJsonObject()) {
            JsonObject o = v.getAsJsonObject();
            if (s.has("required")) {
                for (JsonElement r : s.getAsJsonArray("required")) {
                    if (!o.has(r.getAsString())) {
                        out.add(at + ": lacks the required field " + r.getAsString());
                    }
                }
            }
            JsonObject props = s.has("properties") ? s.getAsJsonObject("properties") : new JsonObject();
            for (Map.Entry<String, JsonElement> e : o.entrySet()) {
                if (props.has(e.getKey())) {
                    check(props.get(e.getKey()), e.getValue(), at + "." + e.getKey(), out);
                } else if (s.has("additionalProperties")) {
                    check(s.get("additionalProperties"), e.getValue(), at + "." + e.getKey(), out);
                }
            }
        }
        if (v.isJsonArray()) {
            JsonArray a = v.getAsJsonArray();
            if (s.has("minItems") && a.size() < s.get("minItems").getAsInt()) {
                out.add(at + ": fewer than " + s.get("minItems") + " items");
            }
            if (s.has("maxItems") && a.size() > s.get("maxItems").getAsInt()) {
                out.add(at + ": more than " + s.get("maxItems") + " items");
            }
            if (s.has("items")) {
                for (int i = 0; i < a.size(); i++) {
                    check(s.get("items"), a.get(i), at + "[" + i + "]", out);
                }
            }
            if (s.has("contains")) {
                boolean any = false;
                for (JsonElement x : a) {
                    any |= valid(s.get("contains"), x);
                }
                if (!any) {
                    out.add(at + ": contains no item matching " + s.get("contains"));
                }
            }
        }
        if (s.has("allOf")) {
            for (JsonElement sub : s.getAsJsonArray("allOf")) {
                check(sub, v, at, out);
            }
        }
        if (s.has("anyOf")) {
            boolean any = false;
            for (JsonElement sub : s.getAsJsonArray("anyOf")) {
                any |= valid(sub, v);
            }
            if (!any) {
                out.add(at + ": matches none of anyOf");
            }
        }
        if (s.has("not") && valid(s.get("not"), v)) {
            out.add(at + ": matches what 'not' excludes");
        }
    }

    private boolean valid(JsonElement schema, JsonElement v) {
        List<String> sub = new ArrayList<>();
        check(schema, v, "", sub);
        return sub.isEmpty();
    }

    private static boolean isNumber(JsonElement v) {
        return v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber();
    }

    static boolean typeMatches(JsonElement type, JsonElement v) {
        if (type.isJsonArray()) {
            for (JsonElement t : type.getAsJsonArray()) {
                if (typeMatches(t, v)) {
                    return true;
                }
            }
            return false;
        }
        switch (type.getAsString()) {
            case "object": return v.isJsonObject();
            case "array": return v.isJsonArray();
            case "string": return v.isJsonPrimitive() && v.getAsJsonPrimitive().isString();
            case "boolean": return v.isJsonPrimitive() && v.getAsJsonPrimitive().isBoolean();
            case "null": return v.isJsonNull();
            case "number": return isNumber(v);
            case "integer": return isNumber(v) && v.getAsDouble() == Math.rint(v.getAsDouble());
            default: throw new AssertionError("unknown type " + type);
        }
    }
}
