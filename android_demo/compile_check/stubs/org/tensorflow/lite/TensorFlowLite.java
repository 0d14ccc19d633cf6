package org.tensorflow.lite;
public final class TensorFlowLite {
    public static String runtimeVersion() { throw new RuntimeException("stub"); }
}
