package org.meshpose.core;

import java.util.Collections;
import java.util.List;

/** What the app needs from an artifact's sidecar JSON; built by {@link SidecarReader}. */
public final class Sidecar {
    public final String target;
    public final String precision;
    public final String variant;
    public final String inputName;
    public final int inputHeight;
    public final int inputWidth;
    public final String colorOrder;
    private final double[] mean;
    private final double[] std;
    /** True when the model normalises itself: feed raw RGB 0..255. */
    public final boolean normalizationInModel;
    public final CropContract crop;
    public final int numVertices;
    private final int[] faces; // flat triangles, or null (the released model publishes none)
    public final List<OutputSpec> outputs;

    Sidecar(String target, String precision, String variant, String inputName, int inputHeight, int inputWidth,
            String colorOrder, double[] mean, double[] std, boolean normalizationInModel, CropContract crop,
            int numVertices, int[] faces, List<OutputSpec> outputs) {
        this.target = target;
        this.precision = precision;
        this.variant = variant;
        this.inputName = inputName;
        this.inputHeight = inputHeight;
        this.inputWidth = inputWidth;
        this.colorOrder = colorOrder;
        this.mean = mean.clone();
        this.std = std.clone();
        this.normalizationInModel = normalizationInModel;
        this.crop = crop;
        this.numVertices = numVertices;
        this.faces = faces == null ? null : faces.clone();
        this.outputs = Collections.unmodifiableList(outputs);
    }

    public double[] mean() {
        return mean.clone();
    }

    public double[] std() {
        return std.clone();
    }

    /** Flat triangle vertex indices (3 per face), or null: draw points then. */
    public int[] faces() {
        return faces == null ? null : faces.clone();
    }

    public Integer numFaces() {
        return faces == null ? null : faces.length / 3;
    }

    /** The output called {@code name}; outputs are always looked up by name, never by position. */
    public OutputSpec output(String name) {
        for (OutputSpec o : outputs) {
            if (o.name.equals(name)) {
                return o;
            }
        }
        throw new CoreException("missing_output", "the sidecar lists no output named '" + name + "'; re-export the model");
    }
}
