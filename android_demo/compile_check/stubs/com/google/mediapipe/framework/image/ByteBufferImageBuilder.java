package com.google.mediapipe.framework.image;
import java.nio.ByteBuffer;
public class ByteBufferImageBuilder {
    public ByteBufferImageBuilder(ByteBuffer byteBuffer, int width, int height, int imageFormat) {}
    public MPImage build() { throw new RuntimeException("stub"); }
}
