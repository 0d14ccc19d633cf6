package com.google.mediapipe.tasks.components.containers;
import android.graphics.RectF;
import java.util.List;
public abstract class Detection {
    public abstract List<Category> categories();
    public abstract RectF boundingBox();
}
