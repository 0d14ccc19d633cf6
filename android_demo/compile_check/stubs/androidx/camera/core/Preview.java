package androidx.camera.core;
public final class Preview extends UseCase {
    public interface SurfaceProvider {}
    public void setSurfaceProvider(SurfaceProvider surfaceProvider) {}
    public int getTargetRotation() { return 0; }
    public void setTargetRotation(int targetRotation) {}
    public static final class Builder {
        public Builder() {}
        public Builder setTargetRotation(int rotation) { return this; }
        public Preview build() { throw new RuntimeException("stub"); }
    }
}
