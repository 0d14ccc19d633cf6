package org.meshpose.core;

import java.util.Arrays;

/** One named model output as the sidecar lists it. */
public final class OutputSpec {
    public final String name;
    private final int[] shape;
    /** "float32" or "float16" (CoreML fp16 programs output FLOAT16; LiteRT models output float32). */
    public final String dtype;

    public OutputSpec(String name, int[] shape, String dtype) {
        this.name = name;
        this.shape = shape.clone();
        this.dtype = dtype;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int elementCount() {
        int n = 1;
        for (int s : shape) {
            n *= s;
        }
        return n;
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape) + " " + dtype;
    }
}
