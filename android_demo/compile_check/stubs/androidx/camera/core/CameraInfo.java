package androidx.camera.core;
public interface CameraInfo {
    int getSensorRotationDegrees();
    int getSensorRotationDegrees(int relativeRotation);
}
