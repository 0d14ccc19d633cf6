package com.google.mediapipe.framework.image;
public class MPImage implements AutoCloseable {
    public static final int IMAGE_FORMAT_RGBA = 1;
    @Override public void close() {}
}
