package com.google.mediapipe.tasks.vision.objectdetector;
import com.google.mediapipe.tasks.components.containers.Detection;
import java.util.List;
public abstract class ObjectDetectorResult {
    public abstract List<Detection> detections();
}
