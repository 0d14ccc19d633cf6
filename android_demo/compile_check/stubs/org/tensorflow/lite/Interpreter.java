package org.tensorflow.lite;
import java.nio.ByteBuffer;
import java.util.Map;
public final class Interpreter implements AutoCloseable {
    public static class Options {
        public Options() {}
        public Options setNumThreads(int numThreads) { return this; }
        public Options setUseXNNPACK(boolean useXNNPACK) { return this; }
        public Options addDelegate(Delegate delegate) { return this; }
    }
    public Interpreter(ByteBuffer byteBuffer, Options options) {}
    public String[] getSignatureKeys() { throw new RuntimeException("stub"); }
    public String[] getSignatureInputs(String signatureKey) { throw new RuntimeException("stub"); }
    public String[] getSignatureOutputs(String signatureKey) { throw new RuntimeException("stub"); }
    public Tensor getOutputTensorFromSignature(String outputName, String signatureKey) { throw new RuntimeException("stub"); }
    public void runSignature(Map<String, Object> inputs, Map<String, Object> outputs, String signatureKey) {}
    @Override public void close() {}
}
