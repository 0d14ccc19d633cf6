package com.google.mediapipe.tasks.vision.objectdetector;
import android.content.Context;
import com.google.mediapipe.framework.image.MPImage;
import com.google.mediapipe.tasks.core.BaseOptions;
import com.google.mediapipe.tasks.vision.core.RunningMode;
import java.util.List;
public final class ObjectDetector implements AutoCloseable {
    public static ObjectDetector createFromOptions(Context context, ObjectDetectorOptions options) { throw new RuntimeException("stub"); }
    public ObjectDetectorResult detect(MPImage image) { throw new RuntimeException("stub"); }
    @Override public void close() {}
    public abstract static class ObjectDetectorOptions {
        public static Builder builder() { throw new RuntimeException("stub"); }
        public abstract static class Builder {
            public abstract Builder setBaseOptions(BaseOptions value);
            public abstract Builder setRunningMode(RunningMode value);
            public abstract Builder setMaxResults(Integer value);
            public abstract Builder setScoreThreshold(Float value);
            public abstract Builder setCategoryAllowlist(List<String> value);
            public final ObjectDetectorOptions build() { throw new RuntimeException("stub"); }
        }
    }
}
