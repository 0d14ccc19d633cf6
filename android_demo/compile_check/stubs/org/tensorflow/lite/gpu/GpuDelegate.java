package org.tensorflow.lite.gpu;
import org.tensorflow.lite.Delegate;
public class GpuDelegate implements Delegate {
    public static final class Options extends GpuDelegateFactory.Options {
        public Options() {}
    }
    public GpuDelegate(GpuDelegateFactory.Options options) {}
    public GpuDelegate() {}
    @Override public long getNativeHandle() { return 0; }
    @Override public void close() {}
}
