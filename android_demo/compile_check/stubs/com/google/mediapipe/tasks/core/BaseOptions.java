package com.google.mediapipe.tasks.core;
public abstract class BaseOptions {
    public static Builder builder() { throw new RuntimeException("stub"); }
    public abstract static class Builder {
        public abstract Builder setModelAssetPath(String value);
        public abstract BaseOptions build();
    }
}
