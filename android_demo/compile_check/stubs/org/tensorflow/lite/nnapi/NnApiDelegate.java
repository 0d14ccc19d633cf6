package org.tensorflow.lite.nnapi;
import org.tensorflow.lite.Delegate;
public class NnApiDelegate implements Delegate {
    public static final class Options {
        public static final int EXECUTION_PREFERENCE_UNDEFINED = -1;
        public static final int EXECUTION_PREFERENCE_LOW_POWER = 0;
        public static final int EXECUTION_PREFERENCE_FAST_SINGLE_ANSWER = 1;
        public static final int EXECUTION_PREFERENCE_SUSTAINED_SPEED = 2;
        public Options() {}
        public Options setExecutionPreference(int preference) { return this; }
        public Options setAllowFp16(boolean enable) { return this; }
        public Options setUseNnapiCpu(boolean enable) { return this; }
    }
    public NnApiDelegate(Options options) {}
    @Override public long getNativeHandle() { return 0; }
    @Override public void close() {}
}
